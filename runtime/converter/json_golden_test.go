package converter

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestJSONGoldenEnvelope pins the exact bytes of a Debezium change event
// (key and value) with and without schemas. Refresh with
// go test ./runtime/converter -run Golden -update.
func TestJSONGoldenEnvelope(t *testing.T) {
	key, value := fxEnvelope(1)
	for _, schemas := range []string{"true", "false"} {
		c := NewJSON()
		if err := c.Configure(map[string]string{SchemasEnable: schemas}, false); err != nil {
			t.Fatal(err)
		}
		kb, err := c.Encode(nil, "dbserver1.public.customers", fxKeySchema, key)
		if err != nil {
			t.Fatal(err)
		}
		vb, err := c.Encode(nil, "dbserver1.public.customers", fxValueSchema, value)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range []struct {
			name string
			got  []byte
		}{{"key", kb}, {"value", vb}} {
			if !json.Valid(g.got) {
				t.Fatalf("schemas.enable=%s %s: invalid JSON %s", schemas, g.name, g.got)
			}
			path := filepath.Join("testdata", "envelope_"+g.name+"_schemas_"+schemas+".json")
			if *update {
				if err := os.WriteFile(path, append(g.got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(append(g.got, '\n'), want) {
				t.Errorf("schemas.enable=%s %s differs from %s:\ngot  %s\nwant %s", schemas, g.name, path, g.got, want)
			}
		}
	}
}
