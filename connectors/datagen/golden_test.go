package datagen

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// render prints a record's key, value, headers and timestamp in a stable
// form.
func render(r *connectors.Record) string {
	var b strings.Builder
	b.WriteString("key=")
	renderValue(&b, r.Key)
	b.WriteString(" value=")
	renderValue(&b, r.Value)
	for _, h := range r.Headers {
		fmt.Fprintf(&b, " %s:%s", h.Key, h.Value)
	}
	fmt.Fprintf(&b, " ts=%s", r.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"))
	return b.String()
}

func renderValue(b *strings.Builder, v any) {
	switch v := v.(type) {
	case *connectors.StructValue:
		b.WriteString(v.Schema.Name + "{")
		for i, f := range v.Schema.Fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(f.Name + "=")
			renderValue(b, v.Values[i])
		}
		b.WriteString("}")
	case string:
		fmt.Fprintf(b, "%q", v)
	case chan int:
		b.WriteString("<chan int>")
	default:
		fmt.Fprintf(b, "%v", v)
	}
}

// TestGolden pins the first records of every quickstart for seed 0: a
// change to the generator changes the data users rely on being
// reproducible, so it must show up in review.
func TestGolden(t *testing.T) {
	for _, qs := range allQuickstarts {
		t.Run(qs, func(t *testing.T) {
			recs := drain(t, startTasks(t, testProps(Quickstart+"="+qs, Iterations+"=12", PoisonEvery+"=5"), 1, nil)[0], 12)
			var b strings.Builder
			fmt.Fprintf(&b, "# key schema %s, value schema %s\n", recs[0].KeySchema.Name, recs[0].ValueSchema.Name)
			for _, r := range recs {
				b.WriteString(render(r) + "\n")
			}
			path := filepath.Join("testdata", qs+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("records differ from %s (run go test -update if the change is intended):\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}
