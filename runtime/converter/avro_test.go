package converter

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec/avro"
	"github.com/sluice-cdc/sluice/connectors/codec/codectest"
	"github.com/sluice-cdc/sluice/runtime/registry"
)

const fxTopic = "dbserver1.public.customers"

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestAvroGoldenEnvelope pins the wire bytes of a Debezium change event's
// key and value written through a fresh built-in registry (the key gets
// schema id 1, the value id 2) and the Avro schemas registered for them.
// Refresh with go test ./runtime/converter -run AvroGolden -update.
func TestAvroGoldenEnvelope(t *testing.T) {
	store := openStore(t)
	key, value := codectest.Envelope(1)
	kc := avroConv(t, store, nil, true)
	vc := avroConv(t, store, nil, false)
	kb, err := kc.Encode(nil, fxTopic, codectest.KeySchema, key)
	if err != nil {
		t.Fatal(err)
	}
	vb, err := vc.Encode(nil, fxTopic, codectest.ValueSchema, value)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0, 0, 0, 0, 1}; string(kb[:5]) != string(want) {
		t.Errorf("key header % x, want % x", kb[:5], want)
	}
	if want := []byte{0, 0, 0, 0, 2}; string(vb[:5]) != string(want) {
		t.Errorf("value header % x, want % x", vb[:5], want)
	}
	if got := store.Subjects(false); !reflect.DeepEqual(got, []string{fxTopic + "-key", fxTopic + "-value"}) {
		t.Errorf("subjects %q", got)
	}
	for _, g := range []struct {
		name string
		id   int
		wire []byte
	}{{"key", 1, kb}, {"value", 2, vb}} {
		text, err := store.SchemaByID(context.Background(), g.id)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct {
			path string
			got  string
		}{
			{filepath.Join("testdata", "avro_envelope_"+g.name+".hex"), hex.Dump(g.wire)},
			{filepath.Join("testdata", "avro_envelope_"+g.name+".avsc"), text + "\n"},
		} {
			if *update {
				if err := os.WriteFile(f.path, []byte(f.got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(f.path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if f.got != string(want) {
				t.Errorf("%s differs from %s:\ngot\n%s\nwant\n%s", g.name, f.path, f.got, want)
			}
		}
	}
}

// TestAvroRoundTrip writes change events and tombstones through the
// built-in registry and reads them back.
func TestAvroRoundTrip(t *testing.T) {
	store := openStore(t)
	for _, isKey := range []bool{true, false} {
		enc := avroConv(t, store, nil, isKey)
		dec := avroConv(t, store, nil, isKey)
		var first *connectors.Schema
		for i := 0; i < 3; i++ {
			key, value := codectest.Envelope(i)
			s, v, want := codectest.ValueSchema, value, avroWant(i)
			if isKey {
				s, v, want = codectest.KeySchema, key, key
			}
			data, err := enc.Encode(nil, fxTopic, s, v)
			if err != nil {
				t.Fatal(err)
			}
			gs, gv, err := dec.Decode(fxTopic, data)
			if err != nil {
				t.Fatal(err)
			}
			if !codectest.SchemasEquivalent(gs, s) {
				t.Fatalf("isKey=%v: decoded schema differs:\ngot  %+v\nwant %+v", isKey, gs, s)
			}
			if !codectest.ValuesEqual(gv, want) {
				t.Fatalf("isKey=%v record %d: decoded value differs:\ngot  %+v\nwant %+v", isKey, i, gv, want)
			}
			if first == nil {
				first = gs
			} else if gs != first {
				t.Errorf("record %d decoded with a new schema pointer; the schema of an id must be cached", i)
			}
		}
		// Tombstones.
		data, err := enc.Encode(nil, fxTopic, nil, nil)
		if err != nil || data != nil {
			t.Fatalf("null value encoded as %v, %v; want a Kafka null", data, err)
		}
		if s, v, err := dec.Decode(fxTopic, nil); s != nil || v != nil || err != nil {
			t.Fatalf("Kafka null decoded as %v, %v, %v", s, v, err)
		}
	}
	opt := &connectors.Schema{Type: connectors.String, Optional: true}
	c := avroConv(t, store, nil, false)
	if data, err := c.Encode(nil, "opt", opt, nil); data != nil || err != nil {
		t.Fatalf("null with an optional schema: %v, %v", data, err)
	}
	// Primitive and optional top-level schemas.
	optStruct := connectors.NewStruct("opt.Rec", true, connectors.Opt("a", connectors.Int32Schema))
	for _, tc := range []struct {
		s *connectors.Schema
		v any
	}{
		{connectors.Int64Schema, int64(-42)},
		{opt, "x"},
		{optStruct, connectors.NewStructValue(optStruct).Set("a", int32(3))},
	} {
		data, err := c.Encode(nil, "prim", tc.s, tc.v)
		if err != nil {
			t.Fatalf("%s: %v", tc.s.Type, err)
		}
		gs, gv, err := avroConv(t, store, nil, false).Decode("prim", data)
		if err != nil || !codectest.SchemasEquivalent(gs, tc.s) || !codectest.ValuesEqual(gv, tc.v) {
			t.Errorf("%s: read back %+v, %v, %v", tc.s.Type, gs, gv, err)
		}
		// They share one subject: take its compatibility check out.
		if err := store.SetCompatibility(context.Background(), "prim-value", registry.LevelNone); err != nil {
			t.Fatal(err)
		}
	}
	rn := avroConv(t, store, map[string]string{ValueSubjectNameStrategy: "RecordNameStrategy"}, false)
	if _, err := rn.Encode(nil, "t", optStruct, connectors.NewStructValue(optStruct).Set("a", int32(3))); err != nil {
		t.Fatal(err)
	}
	if subjects := store.Subjects(false); !strings.Contains(strings.Join(subjects, ","), "opt.Rec") {
		t.Errorf("optional struct with RecordNameStrategy: subjects %q", subjects)
	}
	if _, err := c.Encode(nil, "t", nil, "schemaless"); err == nil || !strings.Contains(err.Error(), "has no schema") {
		t.Fatalf("schemaless value: err = %v", err)
	}
}

// avroWant is codectest.Envelope(i)'s value as it reads back: the null
// source.snapshot reads as its default "false", written in its place as
// Connect's Struct.get and Confluent's converter do.
func avroWant(i int) *connectors.StructValue {
	_, v := codectest.Envelope(i)
	v.Values[2].(*connectors.StructValue).Values[4] = "false"
	return v
}

// TestAvroIndependentReader reads the converter's bytes with hamba/avro
// and the schema text the registry holds for the id in the header.
func TestAvroIndependentReader(t *testing.T) {
	store := openStore(t)
	c := avroConv(t, store, nil, false)
	_, value := codectest.Envelope(7)
	data, err := c.Encode(nil, fxTopic, codectest.ValueSchema, value)
	if err != nil {
		t.Fatal(err)
	}
	id, payload, err := avro.ParseWire(data)
	if err != nil {
		t.Fatal(err)
	}
	text, err := store.SchemaByID(context.Background(), int(id))
	if err != nil {
		t.Fatal(err)
	}
	schema, err := hamba.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := hamba.Unmarshal(schema, payload, &got); err != nil {
		t.Fatal(err)
	}
	after := unionMember(t, got["after"]).(map[string]any)
	before := unionMember(t, got["before"]).(map[string]any)
	source := got["source"].(map[string]any)
	if got["op"] != "u" || got["ts_ms"] != int64(1709296245456) || got["transaction"] != nil {
		t.Errorf("envelope fields: %v", got)
	}
	if after["id"] != 1007 || after["first_name"] != "Sally" || after["email"] != "sally.thomas@acme.com" {
		t.Errorf("after: %v", after)
	}
	if before["email"] != nil || before["score"] != nil {
		t.Errorf("before has email %v, score %v; want nulls", before["email"], before["score"])
	}
	if r, ok := after["balance"].(*big.Rat); !ok || r.Cmp(big.NewRat(1234567+7, 100)) != 0 {
		t.Errorf("after.balance = %#v, want 12345.74", after["balance"])
	}
	if ts, ok := after["created_at"].(time.Time); !ok || !ts.Equal(time.Date(2024, 3, 1, 12, 30, 52, 123_000_000, time.UTC)) {
		t.Errorf("after.created_at = %#v", after["created_at"])
	}
	if source["connector"] != "postgresql" || source["lsn"] != int64(24023128) {
		t.Errorf("source: %v", source)
	}
}

// unionMember unwraps hamba's {"full.name": value} form of a union
// member of a named type; nullable primitives come unwrapped.
func unionMember(t *testing.T, v any) any {
	t.Helper()
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, x := range m {
			if strings.Contains(k, ".") {
				return x
			}
		}
	}
	return v
}

func TestAvroSubjectStrategies(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		isKey    bool
		want     string
	}{
		{"", false, fxTopic + "-value"},
		{"", true, fxTopic + "-key"},
		{"TopicNameStrategy", false, fxTopic + "-value"},
		{"io.confluent.kafka.serializers.subject.RecordNameStrategy", false, "dbserver1.public.customers.Envelope"},
		{"RecordNameStrategy", true, "dbserver1.public.customers.Key"},
		{"io.confluent.kafka.serializers.subject.TopicRecordNameStrategy", false, fxTopic + "-dbserver1.public.customers.Envelope"},
		{"topicrecordnamestrategy", true, fxTopic + "-dbserver1.public.customers.Key"},
	} {
		t.Run(tc.strategy+map[bool]string{true: "/key", false: "/value"}[tc.isKey], func(t *testing.T) {
			store := openStore(t)
			props := map[string]string{}
			if tc.strategy != "" {
				props[map[bool]string{true: KeySubjectNameStrategy, false: ValueSubjectNameStrategy}[tc.isKey]] = tc.strategy
			}
			c := avroConv(t, store, props, tc.isKey)
			key, value := codectest.Envelope(1)
			s, v := codectest.ValueSchema, any(value)
			if tc.isKey {
				s, v = codectest.KeySchema, key
			}
			if _, err := c.Encode(nil, fxTopic, s, v); err != nil {
				t.Fatal(err)
			}
			if got := store.Subjects(false); !reflect.DeepEqual(got, []string{tc.want}) {
				t.Errorf("subjects %q, want %q", got, tc.want)
			}
		})
	}
	// A record name strategy needs a named schema.
	c := avroConv(t, openStore(t), map[string]string{ValueSubjectNameStrategy: "RecordNameStrategy"}, false)
	_, err := c.Encode(nil, "t", connectors.StringSchema, "x")
	if err == nil || !strings.Contains(err.Error(), "value.converter.value.subject.name.strategy=TopicNameStrategy") {
		t.Errorf("string with RecordNameStrategy: err = %v", err)
	}
}

func TestAvroConfigErrors(t *testing.T) {
	store := openStore(t)
	for _, tc := range []struct {
		name  string
		reg   registry.Client
		props map[string]string
		want  []string
	}{
		{"no registry", nil, nil, []string{"value.converter.schema.registry.url", "no built-in schema registry", "set value.converter.schema.registry.url"}},
		{"bad strategy", store, map[string]string{ValueSubjectNameStrategy: "SubjectNameStrategy"},
			[]string{"value.converter.value.subject.name.strategy", "TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy"}},
		{"latest with auto register", store, map[string]string{UseLatestVersion: "true"},
			[]string{"value.converter.use.latest.version", "auto.register.schemas=false"}},
		{"credentials without url", store, map[string]string{registry.BasicAuthUserInfoConfig: "a:b", registry.BasicAuthSourceConfig: "USER_INFO"},
			[]string{"basic.auth", "built-in schema registry takes no credentials"}},
		{"bad url", nil, map[string]string{registry.URLConfig: "localhost:8081"}, []string{"schema.registry.url", "http://"}},
		{"user info without source", nil, map[string]string{registry.URLConfig: "http://h:1", registry.BasicAuthUserInfoConfig: "a:b"},
			[]string{"basic.auth.credentials.source=USER_INFO"}},
		{"cache size", store, map[string]string{SchemasCacheConfig: "0"}, []string{"value.converter.schemas.cache.config", "at least 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Builtin().Configs(nil, Setting{Class: "avro", Props: tc.props, Registry: tc.reg}, false)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// A connector's own converter gets the worker's built-in registry.
	c, err := Builtin().Configs(map[string]string{"value.converter": "avro"}, Setting{Class: "json", Registry: store}, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.(*Avro).client != registry.Client(store) {
		t.Error("the connector's AvroConverter does not use the worker's registry")
	}
	var ce *config.Error
	_, err = Builtin().Configs(nil, Setting{Class: "avro"}, true)
	if !errors.As(err, &ce) || ce.Key != "key.converter.schema.registry.url" {
		t.Errorf("key side without a registry: %v", err)
	}
}

// twoFields is a struct schema {a int32, b string} in the given order.
func twoFields(name string, bFirst bool) *connectors.Schema {
	a, b := connectors.Opt("a", connectors.Int32Schema), connectors.Opt("b", connectors.StringSchema)
	if bFirst {
		return connectors.NewStruct(name, false, b, a)
	}
	return connectors.NewStruct(name, false, a, b)
}

func TestAvroAutoRegisterOff(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	s := twoFields("rec", false)
	v := connectors.NewStructValue(s).Set("a", int32(5)).Set("b", "five")
	lookup := avroConv(t, store, map[string]string{AutoRegisterSchemas: "false"}, false)
	_, err := lookup.Encode(nil, "t", s, v)
	if err == nil || !strings.Contains(err.Error(), `subject "t-value"`) || !strings.Contains(err.Error(), "value.converter.auto.register.schemas=true") {
		t.Fatalf("unregistered schema: err = %v", err)
	}
	if registry.ErrorCode(err) != registry.CodeSubjectNotFound {
		t.Errorf("error code %d, want %d", registry.ErrorCode(err), registry.CodeSubjectNotFound)
	}
	reg := avroConv(t, store, nil, false)
	want, err := reg.Encode(nil, "t", s, v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := lookup.Encode(nil, "t", s, v)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("looked-up encoding % x, registered % x", got, want)
	}
	if n := len(store.Subjects(false)); n != 1 {
		t.Errorf("%d subjects after a lookup, want 1", n)
	}

	// use.latest.version writes with the registered version: here one
	// with the fields in the other order and without Connect's
	// properties, as another tool might register it.
	latestText := `{"type":"record","name":"rec","fields":[{"name":"b","type":"string"},{"name":"a","type":"int"}]}`
	id, err := store.Register(ctx, "l-value", latestText)
	if err != nil {
		t.Fatal(err)
	}
	latest := avroConv(t, store, map[string]string{AutoRegisterSchemas: "false", UseLatestVersion: "true"}, false)
	data, err := latest.Encode(nil, "l", s, v)
	if err != nil {
		t.Fatal(err)
	}
	gotID, payload, err := avro.ParseWire(data)
	if err != nil || int(gotID) != id {
		t.Fatalf("id %d, %v; want %d", gotID, err, id)
	}
	var rec struct {
		A int32  `avro:"a"`
		B string `avro:"b"`
	}
	if err := hamba.Unmarshal(hamba.MustParse(latestText), payload, &rec); err != nil || rec.A != 5 || rec.B != "five" {
		t.Fatalf("read back with the latest schema: %+v, %v", rec, err)
	}
	if len(store.Subjects(false)) != 2 {
		t.Errorf("use.latest.version registered a subject: %q", store.Subjects(false))
	}
	// A latest version without the record's fields is refused.
	other := connectors.NewStruct("rec", false, connectors.Opt("a", connectors.Int32Schema), connectors.Opt("c", connectors.StringSchema))
	_, err = latest.Encode(nil, "l", other, connectors.NewStructValue(other).Set("a", int32(1)).Set("c", "x"))
	if err == nil || !strings.Contains(err.Error(), `subject "l-value"`) || !strings.Contains(err.Error(), "use.latest.version=false") {
		t.Errorf("latest without the record's fields: err = %v", err)
	}
	// No version at all.
	if _, err := latest.Encode(nil, "none", s, v); err == nil || !strings.Contains(err.Error(), "has no live version") {
		t.Errorf("no latest version: err = %v", err)
	}
}

// TestAvroLatestTTL: with latest.cache.ttl.sec the latest version is
// fetched again once the TTL passed.
func TestAvroLatestTTL(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	s := twoFields("rec", false)
	v := connectors.NewStructValue(s).Set("a", int32(5)).Set("b", "five")
	if err := store.SetCompatibility(ctx, "t-value", registry.LevelNone); err != nil {
		t.Fatal(err)
	}
	id1, err := store.Register(ctx, "t-value", `{"type":"record","name":"rec","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	c := NewAvro()
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	c.UseRegistry(store)
	if err := c.Configure(map[string]string{AutoRegisterSchemas: "false", UseLatestVersion: "true", registry.LatestCacheTTLConfig: "60"}, false); err != nil {
		t.Fatal(err)
	}
	idOf := func() int32 {
		t.Helper()
		data, err := c.Encode(nil, "t", s, v)
		if err != nil {
			t.Fatal(err)
		}
		id, _, _ := avro.ParseWire(data)
		return id
	}
	if got := idOf(); int(got) != id1 {
		t.Fatalf("id %d, want %d", got, id1)
	}
	id2, err := store.Register(ctx, "t-value", `{"type":"record","name":"rec","fields":[{"name":"b","type":"string"},{"name":"a","type":"int"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(59 * time.Second)
	if got := idOf(); int(got) != id1 {
		t.Fatalf("within the TTL: id %d, want %d", got, id1)
	}
	now = now.Add(time.Second)
	if got := idOf(); int(got) != id2 {
		t.Fatalf("after the TTL: id %d, want %d", got, id2)
	}
}

func TestAvroIncompatible(t *testing.T) {
	store := openStore(t)
	c := avroConv(t, store, nil, false)
	v1 := connectors.NewStruct("rec", false, connectors.Opt("a", connectors.Int32Schema))
	if _, err := c.Encode(nil, "t", v1, connectors.NewStructValue(v1).Set("a", int32(1))); err != nil {
		t.Fatal(err)
	}
	v2 := twoFields("rec", false) // b added without a default: not BACKWARD
	_, err := c.Encode(nil, "t", v2, connectors.NewStructValue(v2).Set("a", int32(1)).Set("b", "x"))
	var re *registry.Error
	if !errors.As(err, &re) || re.Code != registry.CodeIncompatibleSchema {
		t.Fatalf("err = %v, want a 409 registry error", err)
	}
	for _, w := range append([]string{`subject "t-value"`, "incompatible"}, re.Reasons...) {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if len(re.Reasons) == 0 || !strings.Contains(strings.Join(re.Reasons, " "), "b") {
		t.Errorf("reasons %q do not name the field", re.Reasons)
	}
	// The refused schema is not cached: the next record asks again, and
	// succeeds once the subject allows it.
	if err := store.SetCompatibility(context.Background(), "t-value", registry.LevelNone); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Encode(nil, "t", v2, connectors.NewStructValue(v2).Set("a", int32(1)).Set("b", "x")); err != nil {
		t.Fatalf("after NONE: %v", err)
	}
}

// TestAvroExternalRegistry talks HTTP with basic auth to a registry
// (the built-in one's handler, as another pool would serve it).
func TestAvroExternalRegistry(t *testing.T) {
	store := openStore(t)
	srv := basicAuthServer(t, store.Handler(), "alice", "secret")
	props := map[string]string{
		registry.URLConfig:               srv.URL,
		registry.BasicAuthSourceConfig:   "USER_INFO",
		registry.BasicAuthUserInfoConfig: "alice:secret",
	}
	// No built-in registry: the URL is enough.
	enc := avroConv(t, nil, props, false)
	dec := avroConv(t, nil, props, false)
	_, value := codectest.Envelope(3)
	data, err := enc.Encode(nil, fxTopic, codectest.ValueSchema, value)
	if err != nil {
		t.Fatal(err)
	}
	if got := store.Subjects(false); !reflect.DeepEqual(got, []string{fxTopic + "-value"}) {
		t.Errorf("subjects %q", got)
	}
	_, gv, err := dec.Decode(fxTopic, data)
	if err != nil {
		t.Fatal(err)
	}
	if !codectest.ValuesEqual(gv, avroWant(3)) {
		t.Errorf("decoded %+v, want %+v", gv, avroWant(3))
	}
	// The URL wins over the built-in registry.
	other := openStore(t)
	c := avroConv(t, other, props, false)
	if _, err := c.Encode(nil, "x", codectest.KeySchema, &connectors.StructValue{Schema: codectest.KeySchema, Values: []any{int32(1)}}); err != nil {
		t.Fatal(err)
	}
	if len(other.Subjects(false)) != 0 || len(store.Subjects(false)) != 2 {
		t.Errorf("built-in %q, external %q", other.Subjects(false), store.Subjects(false))
	}
	// Credentials from the URL.
	urlProps := map[string]string{registry.URLConfig: strings.Replace(srv.URL, "http://", "http://alice:secret@", 1)}
	if _, _, err := avroConv(t, nil, urlProps, false).Decode(fxTopic, data); err != nil {
		t.Errorf("credentials in the URL: %v", err)
	}
	// Wrong credentials: an error saying what to check.
	props[registry.BasicAuthUserInfoConfig] = "alice:wrong"
	_, _, err = avroConv(t, nil, props, false).Decode(fxTopic, data)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "basic.auth.user.info") {
		t.Errorf("wrong password: err = %v", err)
	}
}

// TestAvroCorrupt: every malformed record is an error for that record,
// and the converter goes on working.
func TestAvroCorrupt(t *testing.T) {
	store := openStore(t)
	c := avroConv(t, store, nil, false)
	_, value := codectest.Envelope(1)
	good, err := c.Encode(nil, fxTopic, codectest.ValueSchema, value)
	if err != nil {
		t.Fatal(err)
	}
	withID := func(id byte) []byte {
		b := append([]byte(nil), good...)
		b[4] = id
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", []byte{}, "shorter than the 5-byte header"},
		{"short header", []byte{0, 0, 0}, "shorter than the 5-byte header"},
		{"wrong magic byte", append([]byte{1}, good[1:]...), "magic byte is 0x01"},
		{"json", []byte(`{"a":1}`), "magic byte is 0x7b"},
		{"unknown id", withID(99), "schema id 99"},
		{"negative id", []byte{0, 0xff, 0xff, 0xff, 0xff, 0}, "negative schema ids"},
		{"truncated", good[:len(good)-3], "schema id 1"},
		{"trailing bytes", append(append([]byte(nil), good...), 0, 0), "left over"},
		{"header only", good[:5], "schema id 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, v, err := c.Decode(fxTopic, tc.data)
			if err == nil {
				t.Fatalf("decoded %v, %v", s, v)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), fxTopic) {
				t.Errorf("error %q does not mention %q and the topic", err, tc.want)
			}
		})
	}
	if _, _, err := c.Decode(fxTopic, good); err != nil {
		t.Fatalf("good record after bad ones: %v", err)
	}
	// A value that does not fit the schema names the field.
	bad := codectest.Row(1)
	bad.Values[0] = "not an int"
	_, err = c.Encode(nil, "rows", codectest.RowSchema, bad)
	if err == nil || !strings.Contains(err.Error(), `topic "rows"`) || !strings.Contains(err.Error(), "id") {
		t.Errorf("bad value: err = %v", err)
	}
}

// TestAvroEncodeAllocs pins the steady state: no allocation per record.
func TestAvroEncodeAllocs(t *testing.T) {
	store := openStore(t)
	c := avroConv(t, store, nil, false)
	_, value := codectest.Envelope(1)
	buf, err := c.Encode(nil, fxTopic, codectest.ValueSchema, value)
	if err != nil {
		t.Fatal(err)
	}
	// Alternate topics so that the cache, not only the last entry, is used.
	if _, err := c.Encode(nil, "other", codectest.ValueSchema, value); err != nil {
		t.Fatal(err)
	}
	topics := []string{fxTopic, "other"}
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		i++
		if buf, err = c.Encode(buf[:0], topics[i%2], codectest.ValueSchema, value); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per record, want 0", allocs)
	}
	subjects := store.Subjects(false)
	sort.Strings(subjects)
	if !reflect.DeepEqual(subjects, []string{fxTopic + "-value", "other-value"}) {
		t.Errorf("subjects %q", subjects)
	}
}

// TestAvroDocumented: docs/converters.md describes every property the
// AvroConverter takes.
func TestAvroDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "converters.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range avroDef.Keys() {
		if !strings.Contains(string(doc), "`"+k.Name+"`") {
			t.Errorf("docs/converters.md does not describe %s", k.Name)
		}
	}
}
