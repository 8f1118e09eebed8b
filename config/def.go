// Package config holds typed configuration definitions (one per connector
// and one for the worker), their parsing and validation in Kafka Connect's
// shapes, the worker config loader, and the config providers.
package config

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Type is a property's type, spelled as Kafka's ConfigDef spells it.
type Type string

// Property types.
const (
	String   Type = "STRING"
	Boolean  Type = "BOOLEAN"
	Int      Type = "INT"
	Short    Type = "SHORT"
	Long     Type = "LONG"
	Double   Type = "DOUBLE"
	List     Type = "LIST"
	Class    Type = "CLASS"
	Password Type = "PASSWORD"
)

// Importance is a property's importance, as in Kafka's ConfigDef.
type Importance string

// Importances.
const (
	High   Importance = "HIGH"
	Medium Importance = "MEDIUM"
	Low    Importance = "LOW"
)

// NoDefault marks a required property.
var NoDefault = noDefault{}

type noDefault struct{}

// Validator checks one parsed value; the error's text is shown to the user
// as the field's error, so it says what is allowed.
type Validator func(name string, value any) error

// Recommender lists the values that make sense for a property given the
// others (for UIs), and whether the property is visible.
type Recommender func(name string, parsed map[string]any) (values []any, visible bool)

// Key is one property definition.
type Key struct {
	Name string
	Type Type
	// Default is the default in its string form (as a user would write
	// it), or NoDefault for a required property. nil means "no value".
	Default     any
	Importance  Importance
	Doc         string
	Group       string
	Order       int
	DisplayName string
	Dependents  []string
	Validator   Validator
	Recommender Recommender
	// Sensitive hides the value in responses and logs. Password keys are
	// always sensitive.
	Sensitive bool
	// Deprecated names that mean the same property (accepted, later
	// names win).
	Aliases []string
	// ConnectionIdentity marks a property that says which server or
	// account a connection goes to (host, port, user, database, URL). A
	// write that sends a secret back as [hidden] keeps the stored secret
	// only while every such property is unchanged, so a stored password
	// is never sent to a new server.
	ConnectionIdentity bool
}

// Required reports whether the key has no default.
func (k *Key) Required() bool { _, ok := k.Default.(noDefault); return ok }

// IsSensitive reports whether the key's value must never be shown.
func (k *Key) IsSensitive() bool { return k.Sensitive || k.Type == Password }

// Def is an ordered set of property definitions. Build it once (usually in
// a package variable) and treat it as read-only after; it is then safe for
// concurrent use.
type Def struct {
	keys   []*Key
	byName map[string]*Key
}

// NewDef returns a definition with the given keys.
func NewDef(keys ...Key) *Def {
	d := &Def{byName: map[string]*Key{}}
	for _, k := range keys {
		d.Define(k)
	}
	return d
}

// Define adds k and returns d. A second definition of a name replaces the
// first.
func (d *Def) Define(k Key) *Def {
	if k.Importance == "" {
		k.Importance = Medium
	}
	if k.DisplayName == "" {
		k.DisplayName = k.Name
	}
	kk := &k
	if old, ok := d.byName[k.Name]; ok {
		*old = k
		return d
	}
	d.keys = append(d.keys, kk)
	d.byName[k.Name] = kk
	for _, a := range k.Aliases {
		d.byName[a] = kk
	}
	return d
}

// Merge returns a new definition with d's keys followed by other's.
func (d *Def) Merge(other *Def) *Def {
	out := NewDef()
	for _, src := range []*Def{d, other} {
		if src == nil {
			continue
		}
		for _, k := range src.keys {
			out.Define(*k)
		}
	}
	return out
}

// Keys returns the definitions in order.
func (d *Def) Keys() []*Key { return d.keys }

// Key returns the definition of name (or of an alias).
func (d *Def) Key(name string) (*Key, bool) { k, ok := d.byName[name]; return k, ok }

// Groups returns the group names in first-use order.
func (d *Def) Groups() []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range d.keys {
		if k.Group != "" && !seen[k.Group] {
			seen[k.Group] = true
			out = append(out, k.Group)
		}
	}
	return out
}

// Error is a problem with one property.
type Error struct {
	Key    string
	Value  string
	Reason string
}

func (e *Error) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("%s %q: %s", e.Key, e.Value, e.Reason)
}

// Errors is every problem found in one config.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return fmt.Sprintf("configuration is invalid and contains the following %d error(s):\n%s",
		len(es), strings.Join(parts, "\n"))
}

// ByKey returns err's problems by property, as a Validate answer wants
// them: an *Error or the Errors under their keys, any other error under
// "" (the config as a whole). It returns nil for a nil err.
func ByKey(err error) map[string][]string {
	if err == nil {
		return nil
	}
	out := map[string][]string{}
	var errs Errors
	var one *Error
	switch {
	case errors.As(err, &errs):
		for _, e := range errs {
			out[e.Key] = append(out[e.Key], e.Reason)
		}
	case errors.As(err, &one):
		out[one.Key] = append(out[one.Key], one.Reason)
	default:
		out[""] = append(out[""], err.Error())
	}
	return out
}

// Values is a parsed config: every defined key has a typed value (its
// default when absent), and Raw keeps every property as given, defined or
// not (connectors pass unknown ones on, e.g. producer.override.*).
type Values struct {
	def    *Def
	parsed map[string]any
	Raw    map[string]string
}

// Parse parses and validates props against d. Unknown properties are kept
// in Raw. It returns Errors listing every invalid property.
func (d *Def) Parse(props map[string]string) (*Values, error) {
	v, errs := d.parse(props)
	if len(errs) > 0 {
		return v, errs
	}
	return v, nil
}

func (d *Def) parse(props map[string]string) (*Values, Errors) {
	return d.parseShown(props, nil)
}

// parseShown parses props; errors show a value as display gives it (for
// a value resolved from a reference: the reference as written), or as
// shown otherwise.
func (d *Def) parseShown(props map[string]string, display map[string]string) (*Values, Errors) {
	show := func(k *Key, raw string) string {
		if s, ok := display[k.Name]; ok {
			return shown(k, s)
		}
		return shown(k, raw)
	}
	v := &Values{def: d, parsed: make(map[string]any, len(d.keys)), Raw: props}
	var errs Errors
	for _, k := range d.keys {
		raw, ok := lookup(props, k)
		if !ok {
			if k.Required() {
				reason := "missing required configuration \"" + k.Name + "\" which has no default value"
				if typo := d.mistypedAs(props, k.Name); typo != "" {
					reason += fmt.Sprintf("; the config has %q, which is not a property: did you mean %s? rename it", typo, k.Name)
				}
				errs = append(errs, &Error{Key: k.Name, Reason: reason})
				continue
			}
			if k.Default == nil {
				v.parsed[k.Name] = nil
				continue
			}
			raw = fmt.Sprint(k.Default)
		}
		val, err := ParseValue(k.Type, raw)
		if err != nil {
			errs = append(errs, &Error{Key: k.Name, Value: show(k, raw), Reason: err.Error()})
			continue
		}
		if k.Validator != nil && (ok || k.Default != nil) {
			if err := k.Validator(k.Name, val); err != nil {
				errs = append(errs, &Error{Key: k.Name, Value: show(k, raw), Reason: RedactText(err.Error())})
				continue
			}
		}
		v.parsed[k.Name] = val
	}
	return v, errs
}

func lookup(props map[string]string, k *Key) (string, bool) {
	if s, ok := props[k.Name]; ok {
		return s, true
	}
	for _, a := range k.Aliases {
		if s, ok := props[a]; ok {
			return s, true
		}
	}
	return "", false
}

func shown(k *Key, raw string) string { return Shown(k, raw) }

// ParseValue parses the string form of a value of type t.
func ParseValue(t Type, raw string) (any, error) {
	s := strings.TrimSpace(raw)
	switch t {
	case Boolean:
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("expected a boolean (true or false)")
	case Int, Short:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("expected a 32-bit integer")
		}
		return int(n), nil
	case Long:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("expected a 64-bit integer")
		}
		return n, nil
	case Double:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("expected a number")
		}
		return f, nil
	case List:
		if s == "" {
			return []string{}, nil
		}
		parts := strings.Split(s, ",")
		out := make([]string, 0, len(parts))
		for _, p := range parts {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	case String, Class, Password:
		return raw, nil
	}
	return nil, fmt.Errorf("unknown config type %s", t)
}

// Get returns the parsed value of name (nil when unset with no default).
func (v *Values) Get(name string) any { return v.parsed[v.canonical(name)] }

func (v *Values) canonical(name string) string {
	if k, ok := v.def.byName[name]; ok {
		return k.Name
	}
	panic(fmt.Sprintf("config: %q is not defined", name))
}

// String returns a STRING, CLASS or PASSWORD value ("" when unset).
func (v *Values) String(name string) string { s, _ := v.Get(name).(string); return s }

// Int returns an INT or SHORT value.
func (v *Values) Int(name string) int { n, _ := v.Get(name).(int); return n }

// Long returns a LONG value.
func (v *Values) Long(name string) int64 {
	switch n := v.Get(name).(type) {
	case int64:
		return n
	case int:
		return int64(n)
	}
	return 0
}

// Duration returns a LONG value in milliseconds as a duration.
func (v *Values) Duration(name string) time.Duration {
	return time.Duration(v.Long(name)) * time.Millisecond
}

// Bool returns a BOOLEAN value.
func (v *Values) Bool(name string) bool { b, _ := v.Get(name).(bool); return b }

// Double returns a DOUBLE value.
func (v *Values) Double(name string) float64 { f, _ := v.Get(name).(float64); return f }

// List returns a LIST value.
func (v *Values) List(name string) []string { l, _ := v.Get(name).([]string); return l }

// IsSet reports whether the user gave name (or an alias) explicitly.
func (v *Values) IsSet(name string) bool {
	_, ok := lookup(v.Raw, v.def.byName[v.canonical(name)])
	return ok
}

// In returns a validator accepting exactly the given values (case is
// ignored), as Kafka's ValidString.in.
func In(allowed ...string) Validator {
	return func(name string, value any) error {
		s, _ := value.(string)
		for _, a := range allowed {
			if strings.EqualFold(a, s) {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
	}
}

// Regex accepts a string that compiles as a (Go RE2) regular expression.
func Regex(name string, value any) error {
	s, _ := value.(string)
	if _, err := regexp.Compile(s); err != nil {
		return errors.New("not a valid regular expression: " + err.Error())
	}
	return nil
}

// TimeZone accepts an IANA time zone name, or "" (unset).
func TimeZone(name string, value any) error {
	s, _ := value.(string)
	if _, err := time.LoadLocation(s); err != nil {
		return errors.New("unknown time zone; use an IANA name such as UTC or Europe/Paris")
	}
	return nil
}

// AtLeast returns a validator for numbers >= min.
func AtLeast(min float64) Validator {
	return func(name string, value any) error {
		var f float64
		switch n := value.(type) {
		case int:
			f = float64(n)
		case int64:
			f = float64(n)
		case float64:
			f = n
		}
		if f < min {
			return fmt.Errorf("must be at least %v", min)
		}
		return nil
	}
}

// NonEmpty rejects an empty string.
func NonEmpty(name string, value any) error {
	if s, _ := value.(string); strings.TrimSpace(s) == "" {
		return fmt.Errorf("must not be empty")
	}
	return nil
}

// Redact returns a copy of props with every sensitive value of d replaced by
// "[hidden]" and credentials inside URLs hidden, for logs and error
// messages.
func (d *Def) Redact(props map[string]string) map[string]string {
	out := make(map[string]string, len(props))
	for k, v := range props {
		out[k] = Shown(d.byName[k], v)
	}
	return out
}

// SortedKeys returns the names of m in order, for deterministic output.
func SortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
