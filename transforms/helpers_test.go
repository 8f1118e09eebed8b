package transforms

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

var builtin = Builtin()

// chainOf configures one transform called t of class typ with options.
func chainOf(tb testing.TB, typ string, opts map[string]string) (*Chain, error) {
	tb.Helper()
	props := map[string]string{"transforms": "t", "transforms.t.type": typ}
	for k, v := range opts {
		props["transforms.t."+k] = v
	}
	return builtin.NewChain(props)
}

// describe renders a schema compactly: Name@version{field:type,...},
// ? marks optional, logical types in parentheses.
func describe(s *connectors.Schema) string {
	if s == nil {
		return "-"
	}
	var b strings.Builder
	if s.Type == connectors.Struct {
		b.WriteString(s.Name)
		if s.Version != 0 {
			fmt.Fprintf(&b, "@%d", s.Version)
		}
		b.WriteString("{")
		for i, f := range s.Fields {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(f.Name + ":" + describe(f.Schema))
		}
		b.WriteString("}")
	} else {
		b.WriteString(string(s.Type))
		switch s.Name {
		case "":
		case connectors.TimestampName:
			b.WriteString("(Timestamp)")
		case connectors.DateName:
			b.WriteString("(Date)")
		case connectors.TimeName:
			b.WriteString("(Time)")
		case connectors.DecimalName:
			b.WriteString("(Decimal)")
		default:
			b.WriteString("(" + s.Name + ")")
		}
	}
	if s.Optional {
		b.WriteString("?")
	}
	return b.String()
}

// render renders a value as JSON; structs must carry their schema.
func render(tb testing.TB, v any) string {
	tb.Helper()
	b, err := appendJSON(nil, v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// checkStruct fails when a struct value does not match its schema.
func checkStruct(tb testing.TB, s *connectors.Schema, v any) {
	tb.Helper()
	sv, ok := v.(*connectors.StructValue)
	if !ok || sv == nil {
		return
	}
	if sv.Schema != s {
		tb.Fatalf("struct value's schema %s is not the record's schema %s", describe(sv.Schema), describe(s))
	}
	if len(sv.Values) != len(s.Fields) {
		tb.Fatalf("struct has %d values for %d fields", len(sv.Values), len(s.Fields))
	}
	for i, f := range s.Fields {
		if got, ok := s.Field(f.Name); !ok || got.Index != i {
			tb.Fatalf("schema %s: field %q not found at %d", describe(s), f.Name, i)
		}
		if f.Schema.Type == connectors.Struct {
			checkStruct(tb, f.Schema, sv.Values[i])
		}
	}
}

func headers(hs []connectors.Header) string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Key+"="+string(h.Value))
	}
	return strings.Join(out, ";")
}

// tc is a table case: a transform applied to one record.
type tc struct {
	name string
	typ  string
	opts map[string]string
	in   connectors.Record
	// Expected output; a dropped record has drop set. Empty strings are
	// not checked, except as noted.
	drop                   bool
	topic                  string
	keySchema, key         string
	valueSchema, value     string
	headers                string
	wantErr, wantConfigErr string
}

func runCases(t *testing.T, cases []tc) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch, err := chainOf(t, c.typ, c.opts)
			if c.wantConfigErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantConfigErr) {
					t.Fatalf("config error %v, want one containing %q", err, c.wantConfigErr)
				}
				var fe *FieldErrors
				if !errors.As(err, &fe) {
					t.Fatalf("config error %T is not a FieldErrors", err)
				}
				// The REST layer finds the property through errors.As.
				var ce *config.Error
				if !errors.As(err, &ce) || !strings.HasPrefix(ce.Key, "transforms.t.") {
					t.Fatalf("config error %v: no *config.Error naming transforms.t.<option>", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			in := c.in
			out, err := ch.Apply(&in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.drop {
				if out != nil {
					t.Fatalf("not dropped: %s %s", describe(out.ValueSchema), render(t, out.Value))
				}
				return
			}
			if out == nil {
				t.Fatal("dropped")
			}
			checkStruct(t, out.KeySchema, out.Key)
			checkStruct(t, out.ValueSchema, out.Value)
			for _, x := range []struct{ what, got, want string }{
				{"topic", out.Topic, c.topic},
				{"key schema", describe(out.KeySchema), c.keySchema},
				{"key", render(t, out.Key), c.key},
				{"value schema", describe(out.ValueSchema), c.valueSchema},
				{"value", render(t, out.Value), c.value},
				{"headers", headers(out.Headers), c.headers},
			} {
				if x.want != "" && x.got != x.want {
					t.Errorf("%s:\n got %s\nwant %s", x.what, x.got, x.want)
				}
			}
		})
	}
}

// Fixtures: a struct with nested struct, and the same as a map.
var (
	addrSchema = connectors.NewStruct("Addr", true,
		connectors.Opt("city", connectors.StringSchema),
		connectors.Opt("zip", connectors.OptionalInt32Schema))
	personSchema = func() *connectors.Schema {
		s := connectors.NewStruct("Person", false,
			connectors.Opt("id", connectors.Int64Schema),
			connectors.Opt("name", connectors.OptionalStringSchema),
			connectors.Opt("age", connectors.Int32Schema),
			connectors.Opt("addr", addrSchema))
		s.Version = 3
		return s
	}()
	ts0 = time.Date(2024, 3, 5, 13, 4, 5, 678_000_000, time.UTC)
)

func person(id int64, name string) *connectors.StructValue {
	return &connectors.StructValue{Schema: personSchema, Values: []any{id, name, int32(42),
		&connectors.StructValue{Schema: addrSchema, Values: []any{"Oslo", int32(150)}}}}
}

func personMap(id int64, name string) []connectors.MapEntry {
	return []connectors.MapEntry{{Key: "id", Value: id}, {Key: "name", Value: name}, {Key: "age", Value: int64(42)},
		{Key: "addr", Value: []connectors.MapEntry{{Key: "city", Value: "Oslo"}, {Key: "zip", Value: int64(150)}}}}
}

func rec(topic string, ks *connectors.Schema, k any, vs *connectors.Schema, v any) connectors.Record {
	return connectors.Record{Topic: topic, Partition: 2, Offset: 77, KeySchema: ks, Key: k, ValueSchema: vs, Value: v, Timestamp: ts0}
}
