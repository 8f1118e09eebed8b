package avro

import (
	"strings"
	"testing"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluice-cdc/sluice/connectors"
)

// TestWriterFor writes Connect values with an Avro schema registered by
// someone else: fields in another order, a string written as an enum,
// an optional value as a union with null second.
func TestWriterFor(t *testing.T) {
	s := connectors.NewStruct("rec", false,
		connectors.Opt("a", connectors.Int32Schema),
		connectors.Opt("b", connectors.StringSchema),
		connectors.Opt("c", connectors.OptionalInt64Schema))
	v := connectors.NewStructValue(s).Set("a", int32(-3)).Set("b", "BLUE").Set("c", int64(9))
	text := `{"type":"record","name":"other.Rec","fields":[` +
		`{"name":"c","type":["long","null"]},` +
		`{"name":"b","type":{"type":"enum","name":"Color","symbols":["RED","BLUE"]}},` +
		`{"name":"a","type":"int"}]}`
	w, err := New(DefaultOptions()).WriterFor(s, text)
	if err != nil {
		t.Fatal(err)
	}
	if w.String() != text || w.Connect() != s {
		t.Errorf("WriterFor kept %q, %p", w.String(), w.Connect())
	}
	data, err := w.Append(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		A int32  `avro:"a"`
		B string `avro:"b"`
		C *int64 `avro:"c"`
	}
	if err := hamba.Unmarshal(hamba.MustParse(text), data, &got); err != nil {
		t.Fatal(err)
	}
	if got.A != -3 || got.B != "BLUE" || got.C == nil || *got.C != 9 {
		t.Errorf("read back %+v", got)
	}
	if _, err := w.Append(nil, connectors.NewStructValue(s).Set("a", int32(1)).Set("b", "GREEN")); err == nil ||
		!strings.Contains(err.Error(), "GREEN") {
		t.Errorf("a string outside the enum: err = %v", err)
	}

	for name, bad := range map[string]string{
		"missing field": `{"type":"record","name":"r","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}`,
		"extra field": `{"type":"record","name":"r","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"},` +
			`{"name":"c","type":["null","long"]},{"name":"d","type":"int"}]}`,
		"type":    `{"type":"record","name":"r","fields":[{"name":"a","type":"string"},{"name":"b","type":"string"},{"name":"c","type":["null","long"]}]}`,
		"invalid": `{"type":"record"`,
	} {
		if _, err := New(DefaultOptions()).WriterFor(s, bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
