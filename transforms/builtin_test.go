package transforms

import (
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/config"
)

var update = flag.Bool("update", false, "rewrite docs/transforms.md")

func TestBuiltinNames(t *testing.T) {
	kv := []string{"InsertField", "ReplaceField", "MaskField", "ExtractField", "HoistField", "Cast", "TimestampConverter", "Flatten", "SetSchemaMetadata", "HeaderFrom"}
	var want []string
	for _, n := range kv {
		want = append(want, "org.apache.kafka.connect.transforms."+n+"$Key", "org.apache.kafka.connect.transforms."+n+"$Value", n+"$Key", n+"$Value")
	}
	for _, n := range []string{"ValueToKey", "RegexRouter", "TimestampRouter", "InsertHeader", "DropHeaders", "Filter"} {
		want = append(want, "org.apache.kafka.connect.transforms."+n, n)
	}
	for _, n := range []string{"TopicNameMatches", "HasHeaderKey", "RecordIsTombstone"} {
		want = append(want, "org.apache.kafka.connect.transforms.predicates."+n, n)
	}
	want = append(want, "io.debezium.transforms.ExtractNewRecordState", "io.debezium.transforms.outbox.EventRouter", "io.debezium.transforms.ByLogicalTableRouter",
		"ExtractNewRecordState", "EventRouter", "ByLogicalTableRouter", "io.sluice.transforms.TraceContext", "TraceContext")
	for _, n := range want {
		if _, ok := builtin.Lookup(n); !ok {
			t.Errorf("%s is not registered", n)
		}
	}
	if got := len(builtin.Plugins()); got != 33 {
		t.Errorf("%d plugins, want 33", got)
	}
}

// TestBuiltinConfigs checks every plugin's definition: its defaults pass
// its validators, the only errors of an empty config are its required
// properties, and each is documented.
func TestBuiltinConfigs(t *testing.T) {
	for _, p := range builtin.Plugins() {
		t.Run(p.Name, func(t *testing.T) {
			var def *config.Def
			if p.NewTransform != nil {
				def = p.NewTransform().Config()
			} else {
				def = p.NewPredicate().Config()
			}
			if p.Doc == "" {
				t.Error("no Doc")
			}
			required := map[string]bool{}
			for _, k := range def.Keys() {
				if k.Doc == "" {
					t.Errorf("%s has no doc", k.Name)
				}
				if k.Required() {
					required[k.Name] = true
					continue
				}
				if k.Default == nil || k.Validator == nil {
					continue
				}
				v, err := config.ParseValue(k.Type, k.Default.(string))
				if err != nil {
					t.Fatalf("%s: default %q: %v", k.Name, k.Default, err)
				}
				if err := k.Validator(k.Name, v); err != nil {
					t.Errorf("%s: default %q rejected: %v", k.Name, k.Default, err)
				}
			}
			_, err := def.Parse(map[string]string{})
			var errs config.Errors
			if err != nil && !errors.As(err, &errs) {
				t.Fatal(err)
			}
			for _, e := range errs {
				if !required[e.Key] {
					t.Errorf("empty config: %s", e)
				}
			}
			if len(errs) != len(required) {
				t.Errorf("empty config: %d errors for %d required properties", len(errs), len(required))
			}
		})
	}
}

// TestDocs keeps docs/transforms.md in step with the definitions; run
// with -update to rewrite it.
func TestDocs(t *testing.T) {
	const path = "../docs/transforms.md"
	md := Markdown(builtin)
	if *update {
		if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != md {
		t.Fatal("docs/transforms.md is out of date: run go test ./transforms -run TestDocs -update")
	}
	for _, p := range builtin.Plugins() {
		if !strings.Contains(md, "### "+p.Name+"\n") {
			t.Errorf("%s is not documented", p.Name)
		}
	}
}
