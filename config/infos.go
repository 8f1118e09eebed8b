package config

import (
	"fmt"
	"strings"
)

// KeyInfo is a property definition in the JSON shape of Kafka Connect's
// ConfigKeyInfo (GET /connector-plugins/{p}/config and the "definition" of
// a validate result).
type KeyInfo struct {
	Name          string   `json:"name"`
	Type          Type     `json:"type"`
	Required      bool     `json:"required"`
	DefaultValue  *string  `json:"default_value"`
	Importance    string   `json:"importance"`
	Documentation string   `json:"documentation"`
	Group         *string  `json:"group"`
	OrderInGroup  int      `json:"order"`
	Width         string   `json:"width"`
	DisplayName   string   `json:"display_name"`
	Dependents    []string `json:"dependents"`
}

// ValueInfo is a property's validated value in the shape of Connect's
// ConfigValueInfo.
type ValueInfo struct {
	Name              string   `json:"name"`
	Value             *string  `json:"value"`
	RecommendedValues []string `json:"recommended_values"`
	Errors            []string `json:"errors"`
	Visible           bool     `json:"visible"`
}

// Info pairs a definition with its validated value (Connect's ConfigInfo).
type Info struct {
	Definition KeyInfo   `json:"definition"`
	Value      ValueInfo `json:"value"`
}

// Infos is the result of a validation (Connect's ConfigInfos).
type Infos struct {
	Name       string   `json:"name"`
	ErrorCount int      `json:"error_count"`
	Groups     []string `json:"groups"`
	Configs    []Info   `json:"configs"`
}

// KeyInfos returns every definition in Connect's ConfigKeyInfo shape.
func (d *Def) KeyInfos() []KeyInfo {
	out := make([]KeyInfo, 0, len(d.keys))
	for _, k := range d.keys {
		out = append(out, keyInfo(k))
	}
	return out
}

func keyInfo(k *Key) KeyInfo {
	ki := KeyInfo{Name: k.Name, Type: k.Type, Required: k.Required(), Importance: string(k.Importance),
		Documentation: k.Doc, OrderInGroup: k.Order, Width: "NONE", DisplayName: k.DisplayName,
		Dependents: k.Dependents}
	if ki.Dependents == nil {
		ki.Dependents = []string{}
	}
	if !k.Required() && k.Default != nil {
		s := fmt.Sprint(k.Default)
		if k.IsSensitive() {
			s = "[hidden]"
		}
		ki.DefaultValue = &s
	}
	if k.Group != "" {
		g := k.Group
		ki.Group = &g
	}
	if ki.OrderInGroup == 0 {
		ki.OrderInGroup = -1
	}
	return ki
}

// Validate checks props against d and returns the per-field result. extra
// holds errors found by a connector's own checks, by property name; errors
// under a name d does not define are added as their own entries. name is
// the plugin's class, as Connect reports it.
func (d *Def) Validate(name string, props map[string]string, extra map[string][]string) Infos {
	return d.ValidateResolved(name, &Resolved{Values: props}, extra)
}

// ValidateResolved is Validate for a config whose provider references
// were resolved: values are checked resolved but shown as written, and
// every message is scrubbed of resolved values and URL credentials.
func (d *Def) ValidateResolved(name string, r *Resolved, extra map[string][]string) Infos {
	props := r.Values
	v, errs := d.parseShown(props, r.raw)
	byKey := map[string][]string{}
	for _, e := range errs {
		reason := e.Reason
		if e.Value != "" {
			// Kafka Connect's wording, so the value the user gave is shown.
			reason = fmt.Sprintf("Invalid value %s for configuration %s: %s", e.Value, e.Key, e.Reason)
		}
		byKey[e.Key] = append(byKey[e.Key], reason)
	}
	for k, es := range extra {
		if key, ok := d.byName[k]; ok {
			k = key.Name
		}
		byKey[k] = append(byKey[k], es...)
	}
	for k, es := range byKey {
		for i := range es {
			es[i] = RedactText(r.Scrub(es[i]))
		}
		byKey[k] = es
	}
	infos := Infos{Name: name, Groups: d.Groups(), Configs: []Info{}}
	if infos.Groups == nil {
		infos.Groups = []string{}
	}
	for _, k := range d.keys {
		vi := ValueInfo{Name: k.Name, RecommendedValues: []string{}, Errors: byKey[k.Name], Visible: true}
		if vi.Errors == nil {
			vi.Errors = []string{}
		}
		if w, ok := r.Raw(k.Name); ok {
			// A reference is shown as written, for sensitive keys too.
			s := RedactText(w)
			vi.Value = &s
		} else if raw, ok := lookup(props, k); ok {
			s := shown(k, raw)
			vi.Value = &s
		} else if k.Default != nil && !k.Required() {
			s := shown(k, fmt.Sprint(k.Default))
			vi.Value = &s
		}
		if k.Recommender != nil {
			vals, visible := k.Recommender(k.Name, v.parsed)
			vi.Visible = visible
			for _, r := range vals {
				vi.RecommendedValues = append(vi.RecommendedValues, fmt.Sprint(r))
			}
		}
		infos.ErrorCount += len(vi.Errors)
		infos.Configs = append(infos.Configs, Info{Definition: keyInfo(k), Value: vi})
		delete(byKey, k.Name)
	}
	// Errors about properties the definition does not know (or about the
	// config as a whole, under "").
	for _, k := range SortedKeys(byKey) {
		es := byKey[k]
		var val *string
		if raw, ok := props[k]; ok {
			if w, ok := r.Raw(k); ok {
				raw = w
			}
			raw = RedactText(raw)
			val = &raw
		}
		infos.ErrorCount += len(es)
		infos.Configs = append(infos.Configs, Info{
			Definition: KeyInfo{Name: k, Type: String, Importance: string(Low), Width: "NONE", DisplayName: k,
				OrderInGroup: -1, Dependents: []string{}},
			Value: ValueInfo{Name: k, Value: val, RecommendedValues: []string{}, Errors: es, Visible: true},
		})
	}
	return infos
}

// Messages lists every error of a validation as "name: reason" lines, for
// the 400 answer to an invalid create.
func (in Infos) Messages() []string {
	var out []string
	for _, c := range in.Configs {
		for _, e := range c.Value.Errors {
			if c.Value.Name == "" || strings.Contains(e, "configuration "+c.Value.Name) {
				out = append(out, e)
			} else {
				out = append(out, c.Value.Name+": "+e)
			}
		}
	}
	return out
}

// Markdown renders d as a reference page: one table row per property.
func (d *Def) Markdown(title, intro string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", title)
	if intro != "" {
		b.WriteString(strings.TrimSpace(intro) + "\n\n")
	}
	b.WriteString("<!-- Generated from the config definitions by `make docs`; do not edit. -->\n\n")
	groups := append([]string{""}, d.Groups()...)
	for _, g := range groups {
		var rows []*Key
		for _, k := range d.keys {
			if k.Group == g {
				rows = append(rows, k)
			}
		}
		if len(rows) == 0 {
			continue
		}
		if g != "" {
			fmt.Fprintf(&b, "## %s\n\n", g)
		}
		b.WriteString("| property | type | default | importance | description |\n|---|---|---|---|---|\n")
		for _, k := range rows {
			def := "*required*"
			if !k.Required() {
				if k.Default == nil {
					def = "*none*"
				} else {
					def = "`" + fmt.Sprint(k.Default) + "`"
					if fmt.Sprint(k.Default) == "" {
						def = `""`
					}
				}
			}
			name := "`" + k.Name + "`"
			for _, a := range k.Aliases {
				name += " (also `" + a + "`)"
			}
			doc := strings.ReplaceAll(strings.TrimSpace(k.Doc), "\n", " ")
			doc = strings.ReplaceAll(doc, "|", "\\|")
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", name, strings.ToLower(string(k.Type)), def,
				strings.ToLower(string(k.Importance)), doc)
		}
		b.WriteString("\n")
	}
	return b.String()
}
