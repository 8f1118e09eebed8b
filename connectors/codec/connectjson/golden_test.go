package connectjson

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-cdc/sluice/connectors/codec/codectest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestJSONGoldenEnvelope pins the exact bytes of a Debezium change event
// (key and value) with and without schemas. Refresh with
// go test ./connectors/codec/connectjson -run Golden -update.
func TestJSONGoldenEnvelope(t *testing.T) {
	key, value := codectest.Envelope(1)
	for _, schemas := range []string{"true", "false"} {
		c := New(opts(schemas == "true"))
		kb, err := c.Encode(nil, codectest.KeySchema, key)
		if err != nil {
			t.Fatal(err)
		}
		vb, err := c.Encode(nil, codectest.ValueSchema, value)
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
