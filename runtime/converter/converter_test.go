package converter

import (
	"errors"
	"fmt"
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
		c, err := New(name)
		if err != nil {
			t.Errorf("%q: %v", name, err)
			continue
		}
		if got := fmt.Sprintf("%T", c); got != want {
			t.Errorf("%q: got %s, want %s", name, got, want)
		}
	}
	_, err := New("io.confluent.connect.protobuf.ProtobufConverter")
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

func TestRegister(t *testing.T) {
	Register(Plugin{Name: "test-upper", Class: "com.example.UpperConverter", New: func() Converter { return &upper{} }})
	c, err := New("UpperConverter")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*upper); !ok {
		t.Fatalf("got %T", c)
	}
	found := false
	for _, p := range Plugins() {
		found = found || p.Class == "com.example.UpperConverter"
	}
	if !found {
		t.Error("Plugins does not list the registered converter")
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a taken name did not panic")
		}
	}()
	Register(Plugin{Name: "json", New: func() Converter { return &upper{} }})
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
	c, err := Configs(map[string]string{"connector.class": "postgres"}, worker, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := enc(c); got != "1" {
		t.Errorf("worker converter: %s", got)
	}
	// Connector properties without the class do not apply (Kafka Connect's rule).
	c, err = Configs(map[string]string{"value.converter.schemas.enable": "true"}, worker, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := enc(c); got != "1" {
		t.Errorf("prefixed properties without class changed the worker converter: %s", got)
	}
	// With the class, only the connector's properties apply.
	c, err = Configs(map[string]string{"value.converter": "json"}, worker, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := enc(c); got != `{"schema":{"type":"int32","optional":false},"payload":1}` {
		t.Errorf("connector converter with defaults: %s", got)
	}
	c, err = Configs(map[string]string{"key.converter": "bytearray", "value.converter": "string"}, worker, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*ByteArray); !ok {
		t.Errorf("key converter: got %T", c)
	}

	// Errors name the property and the fix.
	_, err = Configs(map[string]string{"value.converter": "protobuf"}, worker, false)
	if err == nil || !strings.Contains(err.Error(), `value.converter "protobuf" in the connector config`) || !strings.Contains(err.Error(), "set value.converter to one of them") {
		t.Errorf("unknown class: %v", err)
	}
	_, err = Configs(map[string]string{"value.converter": "json", "value.converter.schemas.enable": "maybe"}, worker, false)
	var ce config.Errors
	if !errors.As(err, &ce) || ce[0].Key != "value.converter.schemas.enable" || !strings.Contains(err.Error(), "expected a boolean") {
		t.Errorf("bad property: %v", err)
	}
	_, err = Configs(nil, Setting{}, true)
	var e *config.Error
	if !errors.As(err, &e) || e.Key != "key.converter" {
		t.Errorf("no converter anywhere: %v", err)
	}
	_, err = Configs(map[string]string{"key.converter": "json", "key.converter.decimal.format": "HEX"}, Setting{}, true)
	if err == nil || !strings.Contains(err.Error(), `key.converter.decimal.format "HEX": must be one of BASE64, NUMERIC`) {
		t.Errorf("bad decimal.format: %v", err)
	}
}
