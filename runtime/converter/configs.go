package converter

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/runtime/registry"
)

// Worker and connector properties naming the converters.
const (
	KeyConverter   = "key.converter"
	ValueConverter = "value.converter"
)

// Setting is the converter setting of one side (keys or values) of a worker
// or connector config: the class and the properties given with the side's
// prefix, prefix stripped.
type Setting struct {
	Class string
	Props map[string]string
	// Registry is the worker's built-in schema registry (nil: none). It
	// belongs to the worker, so a converter a connector chooses gets it
	// too; see RegistryUser.
	Registry registry.Client
}

// SettingFrom extracts key.converter and the key.converter.* properties
// (isKey) or value.converter and value.converter.* from a config.
func SettingFrom(props map[string]string, isKey bool) Setting {
	prop := prefixFor(isKey)
	s := Setting{Class: strings.TrimSpace(props[prop]), Props: map[string]string{}}
	for k, v := range props {
		if rest, ok := strings.CutPrefix(k, prop+"."); ok && rest != "" {
			s.Props[rest] = v
		}
	}
	return s
}

func prefixFor(isKey bool) string {
	if isKey {
		return KeyConverter
	}
	return ValueConverter
}

// Configs returns the configured converter, from the catalog, for the keys
// (isKey) or the values of a connector, as Kafka Connect's Worker chooses
// it: when the connector config sets key.converter (value.converter), that
// class is used with the connector's key.converter.* (value.converter.*)
// properties only; otherwise the worker's setting is used with the worker's
// properties only. In particular a connector that sets
// value.converter.schemas.enable without setting value.converter does not
// change the worker's converter, exactly as in Kafka Connect; set
// value.converter in the connector config as well.
func (cat *Catalog) Configs(connector map[string]string, worker Setting, isKey bool) (Converter, error) {
	prop := prefixFor(isKey)
	where, s := "connector", SettingFrom(connector, isKey)
	if s.Class == "" {
		where, s = "worker", worker
	}
	s.Registry = worker.Registry
	if strings.TrimSpace(s.Class) == "" {
		return nil, &config.Error{Key: prop, Reason: "no converter is set in the connector config nor in the worker config; set " +
			prop + " to one of: " + strings.Join(cat.Names(), ", ")}
	}
	c, err := cat.New(s.Class)
	if err != nil {
		return nil, fmt.Errorf("%s %q in the %s config: %w; set %s to one of them", prop, s.Class, where, err, prop)
	}
	if ru, ok := c.(RegistryUser); ok {
		ru.UseRegistry(s.Registry)
	}
	props := s.Props
	if props == nil {
		props = map[string]string{}
	}
	if err := c.Configure(props, isKey); err != nil {
		return nil, fmt.Errorf("configuring %s %s from the %s config: %w", prop, s.Class, where, err)
	}
	return c, nil
}

// parseProps parses a converter's properties with its definition and names
// every invalid one with its full worker/connector property name
// ("value.converter.schemas.enable"), so the user knows what to fix.
func parseProps(def *config.Def, props map[string]string, isKey bool) (*config.Values, error) {
	v, err := def.Parse(props)
	if err == nil {
		return v, nil
	}
	var errs config.Errors
	if !errors.As(err, &errs) {
		return nil, err
	}
	out := make(config.Errors, len(errs))
	for i, e := range errs {
		ee := *e
		ee.Key = prefixFor(isKey) + "." + e.Key
		out[i] = &ee
	}
	return nil, out
}
