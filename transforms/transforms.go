// Package transforms holds single message transforms (SMTs) and
// predicates, registered under their Kafka Connect / Debezium class names
// and short names, and the chain that applies them to records.
package transforms

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

// Transform changes one record. Apply returns the record to pass on (r
// itself, changed, or a new one) or nil to drop it. A transform is used
// by one task goroutine at a time.
type Transform interface {
	Config() *config.Def
	Configure(props map[string]string) error
	Apply(r *connectors.Record) (*connectors.Record, error)
}

// Predicate decides whether a transform applies to a record.
type Predicate interface {
	Config() *config.Def
	Configure(props map[string]string) error
	Test(r *connectors.Record) bool
}

// Plugin describes an installed transform or predicate.
type Plugin struct {
	Name    string
	Class   string
	Aliases []string
	// Doc says what the plugin does, for the reference page.
	Doc string
	// Exactly one of NewTransform and NewPredicate is set.
	NewTransform func() Transform
	NewPredicate func() Predicate
}

// Registry maps class names, aliases and short names to transform and
// predicate plugins. Read-only after construction.
type Registry struct {
	byName  map[string]*Plugin
	plugins []*Plugin
}

// NewRegistry returns a registry of plugins; it panics on a duplicate name.
func NewRegistry(plugins ...Plugin) *Registry {
	r := &Registry{byName: map[string]*Plugin{}}
	for i := range plugins {
		p := &plugins[i]
		if p.Class == "" {
			p.Class = p.Name
		}
		for _, n := range append([]string{p.Name, p.Class}, p.Aliases...) {
			if n == "" {
				continue
			}
			if q, ok := r.byName[n]; ok && q != p {
				panic(fmt.Sprintf("transforms: name %q registered twice", n))
			}
			r.byName[n] = p
		}
		r.plugins = append(r.plugins, p)
	}
	sort.Slice(r.plugins, func(i, j int) bool { return r.plugins[i].Class < r.plugins[j].Class })
	return r
}

// Lookup finds a plugin by class name, alias or short name.
func (r *Registry) Lookup(name string) (*Plugin, bool) {
	p, ok := r.byName[name]
	return p, ok
}

// Plugins lists the registered plugins by class name.
func (r *Registry) Plugins() []*Plugin { return r.plugins }

// Chain is a configured list of transforms with their predicates.
type Chain struct {
	steps []step
}

type step struct {
	name   string
	t      Transform
	pred   Predicate
	negate bool
}

// Apply runs r through the chain; nil means a transform dropped it.
func (c *Chain) Apply(r *connectors.Record) (*connectors.Record, error) {
	if c == nil {
		return r, nil
	}
	for _, s := range c.steps {
		if s.pred != nil && s.pred.Test(r) == s.negate {
			continue
		}
		var err error
		if r, err = s.t.Apply(r); err != nil {
			return nil, fmt.Errorf("transform %s: %w", s.name, err)
		}
		if r == nil {
			return nil, nil
		}
	}
	return r, nil
}

// Len returns the number of transforms.
func (c *Chain) Len() int {
	if c == nil {
		return 0
	}
	return len(c.steps)
}

// NewChain builds the chain a connector config describes with Kafka
// Connect's properties: transforms=a,b; transforms.a.type=<class>;
// transforms.a.<option>=...; transforms.a.predicate=p and
// transforms.a.negate; predicates=p; predicates.p.type=<class>. Errors
// name the property to fix.
func (r *Registry) NewChain(props map[string]string) (*Chain, error) {
	preds := map[string]Predicate{}
	for _, name := range splitList(props["predicates"]) {
		prefix := "predicates." + name + "."
		class := props[prefix+"type"]
		if class == "" {
			return nil, &config.Error{Key: prefix + "type", Reason: "missing; set it to a predicate class"}
		}
		p, ok := r.Lookup(class)
		if !ok || p.NewPredicate == nil {
			return nil, &config.Error{Key: prefix + "type", Value: class, Reason: "not an installed predicate; installed: " + r.names(false)}
		}
		pr := p.NewPredicate()
		if err := pr.Configure(sub(props, prefix)); err != nil {
			return nil, prefixed("predicate "+name, prefix, err)
		}
		preds[name] = pr
	}
	c := &Chain{}
	for _, name := range splitList(props["transforms"]) {
		prefix := "transforms." + name + "."
		class := props[prefix+"type"]
		if class == "" {
			return nil, &config.Error{Key: prefix + "type", Reason: "missing; set it to a transform class"}
		}
		p, ok := r.Lookup(class)
		if !ok || p.NewTransform == nil {
			return nil, &config.Error{Key: prefix + "type", Value: class, Reason: "not an installed transform; installed: " + r.names(true)}
		}
		t := p.NewTransform()
		if err := t.Configure(sub(props, prefix)); err != nil {
			return nil, prefixed("transform "+name, prefix, err)
		}
		s := step{name: name, t: t}
		if pn := props[prefix+"predicate"]; pn != "" {
			pr, ok := preds[pn]
			if !ok {
				return nil, &config.Error{Key: prefix + "predicate", Value: pn, Reason: "no such predicate; list it in predicates"}
			}
			s.pred = pr
			s.negate = strings.EqualFold(props[prefix+"negate"], "true")
		}
		c.steps = append(c.steps, s)
	}
	return c, nil
}

// FieldErrors are the invalid options of one transform or predicate,
// named by their full property (transforms.<name>.<option>). errors.As
// finds each *config.Error through Unwrap.
type FieldErrors struct {
	What string
	Errs config.Errors
}

func (e *FieldErrors) Error() string { return e.What + ": " + e.Errs.Error() }

// Unwrap returns the errors, one per property.
func (e *FieldErrors) Unwrap() []error {
	out := make([]error, len(e.Errs))
	for i, x := range e.Errs {
		out[i] = x
	}
	return out
}

// prefixed names a transform's or predicate's config errors by their
// full property, so that a 400 points at the property to fix.
func prefixed(what, prefix string, err error) error {
	var ce *config.Error
	var ces config.Errors
	switch {
	case errors.As(err, &ces):
		out := make(config.Errors, len(ces))
		for i, e := range ces {
			out[i] = &config.Error{Key: prefix + e.Key, Value: e.Value, Reason: e.Reason}
		}
		return &FieldErrors{What: what, Errs: out}
	case errors.As(err, &ce):
		return &FieldErrors{What: what, Errs: config.Errors{{Key: prefix + ce.Key, Value: ce.Value, Reason: ce.Reason}}}
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (r *Registry) names(transforms bool) string {
	var out []string
	for _, p := range r.plugins {
		if (p.NewTransform != nil) == transforms {
			out = append(out, p.Class)
		}
	}
	if len(out) == 0 {
		return "(none)"
	}
	return strings.Join(out, ", ")
}

func sub(props map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range props {
		if rest, ok := strings.CutPrefix(k, prefix); ok && rest != "type" && rest != "predicate" && rest != "negate" {
			out[rest] = v
		}
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
