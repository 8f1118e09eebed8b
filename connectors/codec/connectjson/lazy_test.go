package connectjson

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec/codectest"
)

// TestLazyEncodesAsBuilt checks that a lazy struct's JSON is byte for
// byte the built value's, for each setting that changes the bytes, with
// integers with and without their decimal spelling, and with a shared
// source block that changes between records.
func TestLazyEncodesAsBuilt(t *testing.T) {
	for _, opts := range []Options{DefaultOptions(), {CacheSize: 10}, {Schemas: true, DecimalNumeric: true, CacheSize: 10}} {
		c := New(opts)
		for i := range 3 {
			key, value := codectest.Envelope(i)
			value.Values[2].(*connectors.StructValue).Values[3] = int64(1709296245123 + i)
			for _, side := range []struct {
				s *connectors.Schema
				v *connectors.StructValue
			}{{codectest.KeySchema, key}, {codectest.ValueSchema, value}} {
				want, err := c.Encode(nil, side.s, side.v)
				if err != nil {
					t.Fatal(err)
				}
				for _, dec := range []bool{false, true} {
					// Whole, then with the rest handed over from several
					// fields on, each twice: the second from a kept rest.
					lazies := []connectors.LazyStruct{codectest.Lazy(side.v, dec, "source")}
					for _, from := range []int{0, 1, len(side.s.Fields) - 1, len(side.s.Fields)} {
						l := codectest.LazyRest(side.v, dec, from, "source")
						lazies = append(lazies, l, l)
					}
					for li, l := range lazies {
						got, err := c.Encode(nil, side.s, l)
						if err != nil {
							t.Fatalf("%+v record %d lazy %d: %v", opts, i, li, err)
						}
						if string(got) != string(want) {
							t.Errorf("%+v record %d decimal=%v lazy %d:\nlazy  %s\nbuilt %s", opts, i, dec, li, got, want)
						}
					}
				}
			}
		}
	}
}

// TestLazyMisfits checks the errors of lazy structs that do not fit their
// schema: each names the field and says what is wrong.
func TestLazyMisfits(t *testing.T) {
	s := connectors.NewStruct("t", false, connectors.Opt("a", &connectors.Schema{Type: connectors.Int8}), connectors.Opt("b", connectors.StringSchema))
	boom := errors.New("boom")
	for _, c := range []struct {
		name  string
		visit func(w connectors.FieldWriter) error
		want  string
	}{
		{"too few", func(w connectors.FieldWriter) error { return w.Int(1, nil) }, "gave 1 values for 2 fields"},
		{"too many", func(w connectors.FieldWriter) error {
			_ = w.Int(1, nil)
			_ = w.Text(nil)
			return w.Value("x")
		}, "more values than its schema has fields"},
		{"text for an int", func(w connectors.FieldWriter) error { return w.Text([]byte("1")) }, "a: a lazy text value does not fit schema type int8"},
		{"bool for a string", func(w connectors.FieldWriter) error {
			_ = w.Int(1, nil)
			return w.Bool(true)
		}, "b: a lazy boolean value does not fit schema type string"},
		{"out of range", func(w connectors.FieldWriter) error { return w.Int(128, []byte("128")) }, "a: 128 is out of the range of int8"},
		{"struct for an int", func(w connectors.FieldWriter) error { return w.Struct(codectest.LazyFunc(nil)) }, "a: a lazy struct value does not fit schema type int8"},
		{"visit error", func(w connectors.FieldWriter) error { return boom }, "boom"},
		{"rest of another schema", func(w connectors.FieldWriter) error {
			other := connectors.NewStruct("u", false, connectors.Opt("a", &connectors.Schema{Type: connectors.Int8}), connectors.Opt("c", connectors.StringSchema))
			return w.Rest(connectors.NewStructValue(other))
		}, "rest has"},
		{"rest of fewer fields", func(w connectors.FieldWriter) error {
			_ = w.Int(1, nil)
			return w.Rest(connectors.NewStructValue(connectors.NewStruct("u", false, connectors.Opt("a", &connectors.Schema{Type: connectors.Int8}))))
		}, "rest is not a value of its schema"},
		{"rest with a misfit value", func(w connectors.FieldWriter) error {
			v := connectors.NewStructValue(s)
			v.Values[0], v.Values[1] = int8(1), int64(3)
			return w.Rest(v)
		}, "b: "},
	} {
		got, err := New(DefaultOptions()).Encode([]byte("x"), s, codectest.LazyFunc(c.visit))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one with %q", c.name, err, c.want)
		}
		if string(got) != "x" {
			t.Errorf("%s: dst %q, want it cut back to %q", c.name, got, "x")
		}
	}
	// Without a schema a lazy struct is built.
	if _, err := New(DefaultOptions()).Encode(nil, nil, codectest.LazyFunc(nil)); err == nil || !strings.Contains(err.Error(), "no built form") {
		t.Errorf("schemaless lazy struct: error %v, want Build's", err)
	}
}

// TestTextRowEncodesAsBuilt checks that a TextRow's JSON, written in one
// pass from its layout, is byte for byte the built value's, for each
// setting that changes the bytes: rows with strings, integers, booleans,
// nulls and values, the key and the envelope.
func TestTextRowEncodesAsBuilt(t *testing.T) {
	for _, opts := range []Options{DefaultOptions(), {CacheSize: 10}, {Schemas: true, DecimalNumeric: true, CacheSize: 10}} {
		c := New(opts)
		for i := range 3 {
			key, value := codectest.Envelope(i)
			for _, v := range []*connectors.StructValue{key, value, value.Values[0].(*connectors.StructValue), value.Values[1].(*connectors.StructValue)} {
				want, err := c.Encode(nil, v.Schema, v)
				if err != nil {
					t.Fatal(err)
				}
				got, err := c.Encode(nil, v.Schema, codectest.TextRow(v))
				if err != nil {
					t.Fatalf("%+v record %d %s: %v", opts, i, v.Schema.Name, err)
				}
				if string(got) != string(want) {
					t.Errorf("%+v record %d %s:\nrow   %s\nbuilt %s", opts, i, v.Schema.Name, got, want)
				}
			}
		}
	}
}

// TestTextRowMisfits checks the errors of TextRows that do not fit their
// schema: each names the field and says what is wrong, and the output is
// cut back.
func TestTextRowMisfits(t *testing.T) {
	for _, c := range codectest.RowMisfits() {
		got, err := New(DefaultOptions()).Encode([]byte("x"), codectest.MisfitSchema, c.Row)
		if err == nil || !strings.Contains(err.Error(), c.Want) {
			t.Errorf("%s: error %v, want one with %q", c.Name, err, c.Want)
		}
		if string(got) != "x" {
			t.Errorf("%s: dst %q, want it cut back to %q", c.Name, got, "x")
		}
	}
}

// TestRowEnvelopeEncodesAsBuilt: an envelope handed over as a row between
// shared parts gives the bytes of the built envelope, record after record
// with the same rest (the parts kept) and with rests that alternate (the
// parts written again), and the misfits fail naming what is wrong.
func TestRowEnvelopeEncodesAsBuilt(t *testing.T) {
	for _, opts := range []Options{DefaultOptions(), {CacheSize: 10}, {Schemas: true, DecimalNumeric: true, CacheSize: 10}} {
		c := New(opts)
		var rests []*connectors.StructValue
		for i := range 3 {
			_, v := codectest.Envelope(i)
			v.Values[0] = nil // before
			rests = append(rests, v)
		}
		for _, i := range []int{0, 0, 1, 1, 0, 2, 1, 2, 2} {
			v := rests[i]
			want, err := c.Encode(nil, v.Schema, v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Encode([]byte("x"), v.Schema, codectest.RowEnvelope(v, 1))
			if err != nil {
				t.Fatalf("%+v record %d: %v", opts, i, err)
			}
			if string(got) != "x"+string(want) {
				t.Errorf("%+v record %d:\nenvelope %s\nbuilt     x%s", opts, i, got, want)
			}
		}
	}
	_, v := codectest.Envelope(0)
	v.Values[0] = nil
	other := *v
	other.Schema = codectest.KeySchema
	bad := *v
	bad.Values = append([]any(nil), v.Values...)
	bad.Values[1] = codectest.Row(0)
	bad.Values[1].(*connectors.StructValue).Values[0] = "not an int"
	for _, m := range []struct {
		name string
		env  connectors.LazyStruct
		want string
	}{
		{"a required field before the row", codectest.EnvelopeAt(codectest.RowEnvelope(v, 1), 3), "source: null value for a required struct field"},
		{"row past the fields", codectest.EnvelopeAt(codectest.RowEnvelope(v, 1), 6), "the lazy envelope's row is at field 6 of 6"},
		{"rest of another schema", codectest.EnvelopeWithRest(codectest.RowEnvelope(v, 1), &other), `rest has schema "dbserver1.public.customers.Key"`},
		{"a misfit in the row", codectest.RowEnvelope(&bad, 1), "after."},
	} {
		got, err := New(DefaultOptions()).Encode([]byte("x"), v.Schema, m.env)
		if err == nil || !strings.Contains(err.Error(), m.want) {
			t.Errorf("%s: error %v, want one with %q", m.name, err, m.want)
		}
		if string(got) != "x" {
			t.Errorf("%s: dst %q, want it cut back to %q", m.name, got, "x")
		}
	}
}
