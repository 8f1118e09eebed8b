package converter

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

func TestNew(t *testing.T) {
	for name, want := range map[string]string{
		"org.apache.kafka.connect.json.JsonConverter": "*converter.JSON",
		"JsonConverter": "*converter.JSON",
		"json":          "*converter.JSON",
		" JSON ":        "*converter.JSON",
		"org.apache.kafka.connect.storage.StringConverter": "*converter.String",
		"string": "*converter.String",
		"org.apache.kafka.connect.converters.ByteArrayConverter": "*converter.ByteArray",
		"bytearray":          "*converter.ByteArray",
		"ByteArrayConverter": "*converter.ByteArray",
		"io.confluent.connect.avro.AvroConverter": "*converter.Avro",
		"AvroConverter": "*converter.Avro",
		"avro":          "*converter.Avro",
	} {
		c, err := Builtin().New(name)
		if err != nil {
			t.Errorf("%q: %v", name, err)
			continue
		}
		if got := fmt.Sprintf("%T", c); got != want {
			t.Errorf("%q: got %s, want %s", name, got, want)
		}
	}
	_, err := Builtin().New("io.confluent.connect.protobuf.ProtobufConverter")
	var ue *UnknownClassError
	if !errors.As(err, &ue) {
		t.Fatalf("unknown class: got %v", err)
	}
	for _, s := range []string{`"io.confluent.connect.protobuf.ProtobufConverter"`, "json (org.apache.kafka.connect.json.JsonConverter)",
		"avro (io.confluent.connect.avro.AvroConverter)",
		"string (org.apache.kafka.connect.storage.StringConverter)", "bytearray (org.apache.kafka.connect.converters.ByteArrayConverter)"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
}

type upper struct{ String }

// TestCatalog adds a converter to a catalog instance: it is found there by
// its simple name, listed and usable in Configs, and no other catalog sees
// it.
func TestCatalog(t *testing.T) {
	cat := NewCatalog(append(BuiltinPlugins(), Plugin{Name: "test-upper", Class: "com.example.UpperConverter",
		New: func() Converter { return &upper{} }})...)
	c, err := cat.New("upperconverter")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*upper); !ok {
		t.Fatalf("got %T", c)
	}
	var classes []string
	for _, p := range cat.Plugins() {
		classes = append(classes, p.Class)
	}
	want := []string{"com.example.UpperConverter", "io.confluent.connect.avro.AvroConverter",
		"org.apache.kafka.connect.converters.ByteArrayConverter", "org.apache.kafka.connect.json.JsonConverter",
		"org.apache.kafka.connect.storage.StringConverter"}
	if !slices.Equal(classes, want) {
		t.Errorf("Plugins: got %v, want %v", classes, want)
	}
	if c, err := cat.Configs(map[string]string{"value.converter": "com.example.UpperConverter"}, Setting{}, false); err != nil {
		t.Fatal(err)
	} else if _, ok := c.(*upper); !ok {
		t.Fatalf("Configs: got %T", c)
	}
	if _, err := Builtin().New("UpperConverter"); err == nil {
		t.Error("a converter added to one catalog is found in the built-in one")
	}
	for name, plugins := range map[string][]Plugin{
		"a taken name":        append(BuiltinPlugins(), Plugin{Name: "JSON", New: func() Converter { return &upper{} }}),
		"a taken simple name": {{Name: "a", Class: "x.Conv", New: func() Converter { return &upper{} }}, {Name: "b", Class: "y.Conv", New: func() Converter { return &upper{} }}},
		"no New":              {{Name: "a"}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: NewCatalog did not panic", name)
				}
			}()
			NewCatalog(plugins...)
		}()
	}
}

func TestConfigs(t *testing.T) {
	worker := SettingFrom(map[string]string{
		"key.converter":                  "org.apache.kafka.connect.storage.StringConverter",
		"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": "false",
		"bootstrap.servers":              "x",
	}, false)
	if worker.Class != "org.apache.kafka.connect.json.JsonConverter" || len(worker.Props) != 1 || worker.Props["schemas.enable"] != "false" {
		t.Fatalf("SettingFrom: %+v", worker)
	}
	enc := func(c Converter) string {
		t.Helper()
		b, err := c.Encode(nil, "t", connectors.Int32Schema, int32(1))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// No override: the worker's converter with the worker's properties.
	c, err := Builtin().Configs(map[string]string{"connector.class": "postgres"}, worker, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := enc(c); got != "1" {
		t.Errorf("worker converter: %s", got)
	}
	// Connector properties without the class do not apply (Kafka Connect's rule).
	c, err = Builtin().Configs(map[string]string{"value.converter.schemas.enable": "true"}, worker, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := enc(c); got != "1" {
		t.Errorf("prefixed properties without class changed the worker converter: %s", got)
	}
	// With the class, only the connector's properties apply.
	c, err = Builtin().Configs(map[string]string{"value.converter": "json"}, worker, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := enc(c); got != `{"schema":{"type":"int32","optional":false},"payload":1}` {
		t.Errorf("connector converter with defaults: %s", got)
	}
	c, err = Builtin().Configs(map[string]string{"key.converter": "bytearray", "value.converter": "string"}, worker, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*ByteArray); !ok {
		t.Errorf("key converter: got %T", c)
	}

	// Errors name the property and the fix.
	_, err = Builtin().Configs(map[string]string{"value.converter": "protobuf"}, worker, false)
	if err == nil || !strings.Contains(err.Error(), `value.converter "protobuf" in the connector config`) || !strings.Contains(err.Error(), "set value.converter to one of them") {
		t.Errorf("unknown class: %v", err)
	}
	_, err = Builtin().Configs(map[string]string{"value.converter": "json", "value.converter.schemas.enable": "maybe"}, worker, false)
	var ce config.Errors
	if !errors.As(err, &ce) || ce[0].Key != "value.converter.schemas.enable" || !strings.Contains(err.Error(), "expected a boolean") {
		t.Errorf("bad property: %v", err)
	}
	_, err = Builtin().Configs(nil, Setting{}, true)
	var e *config.Error
	if !errors.As(err, &e) || e.Key != "key.converter" {
		t.Errorf("no converter anywhere: %v", err)
	}
	_, err = Builtin().Configs(map[string]string{"key.converter": "json", "key.converter.decimal.format": "HEX"}, Setting{}, true)
	if err == nil || !strings.Contains(err.Error(), `key.converter.decimal.format "HEX": must be one of BASE64, NUMERIC`) {
		t.Errorf("bad decimal.format: %v", err)
	}
}
