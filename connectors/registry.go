package connectors

import (
	"fmt"
	"sort"
	"strings"
)

// PluginType is a plugin's role as Kafka Connect's plugin listing names it.
type PluginType string

// Plugin types.
const (
	SourceType PluginType = "source"
	SinkType   PluginType = "sink"
)

// Plugin describes an installed connector.
type Plugin struct {
	// Name is the short name ("postgres").
	Name string
	// Class is the canonical class name reported in listings; for
	// connectors with a Java twin it is that class.
	Class string
	// Aliases are further names accepted as connector.class.
	Aliases []string
	Type    PluginType
	Version string
	// New returns a fresh connector: a SourceConnector or SinkConnector
	// as Type says.
	New func() Connector
}

// Registry maps names to plugins. It is filled at start-up and read-only
// afterwards, so it is safe for concurrent reads.
type Registry struct {
	byName  map[string]*Plugin
	plugins []*Plugin
}

// NewRegistry returns a registry of the given plugins. It panics when two
// plugins claim the same name: that is a build error.
func NewRegistry(plugins ...Plugin) *Registry {
	r := &Registry{byName: map[string]*Plugin{}}
	for i := range plugins {
		p := &plugins[i]
		if p.Class == "" {
			p.Class = p.Name
		}
		for _, n := range append([]string{p.Name, p.Class}, p.Aliases...) {
			key := strings.ToLower(n)
			if q, ok := r.byName[key]; ok && q != p {
				panic(fmt.Sprintf("connectors: plugin name %q registered twice", n))
			}
			r.byName[key] = p
		}
		r.plugins = append(r.plugins, p)
	}
	sort.Slice(r.plugins, func(i, j int) bool { return r.plugins[i].Class < r.plugins[j].Class })
	return r
}

// Lookup finds a plugin by short name, class name or alias. Case is
// ignored. A class name's simple form ("PostgresConnector") also matches,
// as in Kafka Connect.
func (r *Registry) Lookup(name string) (*Plugin, error) {
	if p, ok := r.byName[strings.ToLower(name)]; ok {
		return p, nil
	}
	for _, p := range r.plugins {
		for _, n := range append([]string{p.Class}, p.Aliases...) {
			if i := strings.LastIndexByte(n, '.'); i >= 0 && strings.EqualFold(n[i+1:], name) {
				return p, nil
			}
		}
	}
	return nil, &UnknownPluginError{Name: name, Installed: r.Names()}
}

// Plugins lists the installed plugins ordered by class name.
func (r *Registry) Plugins() []*Plugin { return r.plugins }

// Names lists every plugin's short name and class, for error messages.
func (r *Registry) Names() []string {
	var out []string
	for _, p := range r.plugins {
		if p.Class != p.Name {
			out = append(out, p.Name+" ("+p.Class+")")
		} else {
			out = append(out, p.Name)
		}
	}
	return out
}

// UnknownPluginError says that no installed plugin has the name.
type UnknownPluginError struct {
	Name      string
	Installed []string
}

func (e *UnknownPluginError) Error() string {
	return fmt.Sprintf("connector.class %q is not an installed connector plugin; installed plugins: %s",
		e.Name, strings.Join(e.Installed, ", "))
}
