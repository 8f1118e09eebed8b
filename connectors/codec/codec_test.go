package codec

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
)

func TestDataErrorPath(t *testing.T) {
	err := InField(InKey(InIndex(InField(Errorf("bad %d", 1), "v"), 2), "k"), "after")
	var de *DataError
	if !errors.As(err, &de) || de.Path != `after["k"][2].v` || err.Error() != `field after["k"][2].v: bad 1` {
		t.Fatalf("err %v, path %q", err, de.Path)
	}
	if got := InKey(Errorf("x"), 7).Error(); got != "field [7]: x" {
		t.Errorf("non-string key: %q", got)
	}
	plain := fmt.Errorf("not a data error")
	if InField(plain, "f") != plain {
		t.Error("a foreign error must pass unchanged")
	}
	ts := &connectors.Schema{Type: connectors.Int64, Name: "io.debezium.time.MicroTimestamp"}
	if got := TypeError(ts, "x", "an int64").Error(); got != "Go value of type string does not fit schema type int64 (io.debezium.time.MicroTimestamp); want an int64" {
		t.Errorf("TypeError: %q", got)
	}
}

func TestSchemaEqual(t *testing.T) {
	mk := func(doc string) *connectors.Schema {
		return &connectors.Schema{Type: connectors.Struct, Name: "r", Fields: []connectors.Field{
			{Name: "a", Schema: &connectors.Schema{Type: connectors.String, Parameters: map[string]string{"p": "1"}}},
			{Name: "b", Index: 1, Schema: &connectors.Schema{Type: connectors.Array, Items: &connectors.Schema{Type: connectors.Int32}, Doc: doc}},
		}}
	}
	if !SchemaEqual(mk(""), mk("")) || SchemaEqual(mk(""), mk("x")) || SchemaEqual(mk(""), nil) || !SchemaEqual(nil, nil) {
		t.Error("SchemaEqual")
	}
}
