package codec

import (
	"reflect"

	"github.com/sluice-cdc/sluice/connectors"
)

// SchemaEqual compares two schemas structurally, as Connect's
// ConnectSchema.equals does. Codecs call it only when a struct value
// carries a schema pointer other than its field's.
func SchemaEqual(a, b *connectors.Schema) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	if a.Type != b.Type || a.Optional != b.Optional || a.Name != b.Name || a.Version != b.Version ||
		a.Doc != b.Doc || len(a.Fields) != len(b.Fields) || len(a.Parameters) != len(b.Parameters) {
		return false
	}
	for k, v := range a.Parameters {
		if w, ok := b.Parameters[k]; !ok || w != v {
			return false
		}
	}
	for i := range a.Fields {
		if a.Fields[i].Name != b.Fields[i].Name || !SchemaEqual(a.Fields[i].Schema, b.Fields[i].Schema) {
			return false
		}
	}
	return SchemaEqual(a.Items, b.Items) && SchemaEqual(a.Keys, b.Keys) && SchemaEqual(a.Values, b.Values) &&
		reflect.DeepEqual(a.Default, b.Default)
}
