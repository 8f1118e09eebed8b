package transforms

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

var timestampConverterDef = config.NewDef(
	config.Key{Name: "field", Type: config.String, Default: "", Doc: "Field to convert; empty converts the whole key or value."},
	config.Key{Name: "target.type", Type: config.String, Default: config.NoDefault, Validator: config.In("string", "unix", "Date", "Time", "Timestamp"),
		Doc: "Type to convert to: string, unix, Date, Time or Timestamp."},
	config.Key{Name: "format", Type: config.String, Default: "", Validator: validJavaFormat,
		Doc: "java.text.SimpleDateFormat pattern (in UTC) for target.type=string and for reading string input."},
	config.Key{Name: "unix.precision", Type: config.String, Default: "milliseconds", Validator: config.In("seconds", "milliseconds", "microseconds", "nanoseconds"),
		Doc: "Unit of unix timestamps read and written: seconds, milliseconds, microseconds or nanoseconds."},
	v1Only,
)

// TimestampConverter converts timestamps between strings, unix times and
// the Date, Time and Timestamp logical types (Kafka's TimestampConverter).
type TimestampConverter struct {
	side    side
	field   string
	target  string
	layout  string
	hasFmt  bool
	unit    time.Duration
	schemas *cache[*connectors.Schema, *connectors.Schema]
}

func (*TimestampConverter) Config() *config.Def { return timestampConverterDef }

func (t *TimestampConverter) Configure(props map[string]string) error {
	v, err := timestampConverterDef.Parse(props)
	if err != nil {
		return err
	}
	t.field = v.String("field")
	for _, tt := range []string{"string", "unix", "Date", "Time", "Timestamp"} {
		if strings.EqualFold(tt, v.String("target.type")) {
			t.target = tt
		}
	}
	t.layout, _ = javaLayout(v.String("format"))
	t.hasFmt = v.String("format") != ""
	if t.target == "string" && !t.hasFmt {
		return &config.Error{Key: "format", Reason: "missing: target.type=string needs a format such as yyyy-MM-dd'T'HH:mm:ss.SSSX"}
	}
	t.unit = map[string]time.Duration{"seconds": time.Second, "milliseconds": time.Millisecond,
		"microseconds": time.Microsecond, "nanoseconds": time.Nanosecond}[strings.ToLower(v.String("unix.precision"))]
	t.schemas = newCache[*connectors.Schema, *connectors.Schema](schemaCacheSize)
	return nil
}

func (t *TimestampConverter) targetSchema(optional bool) *connectors.Schema {
	switch t.target {
	case "string":
		return &connectors.Schema{Type: connectors.String, Optional: optional}
	case "unix":
		return &connectors.Schema{Type: connectors.Int64, Optional: optional}
	case "Date":
		return dateSchema(optional)
	case "Time":
		return timeSchema(optional)
	}
	return timestampSchema(optional)
}

// toTime reads a timestamp of any supported input kind.
func (t *TimestampConverter) toTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case int64:
		return time.Unix(0, 0).Add(time.Duration(x) * t.unit).UTC(), nil
	case int32:
		return time.Unix(0, 0).Add(time.Duration(x) * t.unit).UTC(), nil
	case int:
		return time.Unix(0, 0).Add(time.Duration(x) * t.unit).UTC(), nil
	case string:
		if !t.hasFmt {
			return time.Time{}, fmt.Errorf("a string timestamp needs the format option to read it")
		}
		ts, err := time.Parse(t.layout, x)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q does not match format: %v", x, err)
		}
		return ts.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("cannot read a timestamp from a %T", v)
}

func (t *TimestampConverter) convert(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	ts, err := t.toTime(v)
	if err != nil {
		return nil, err
	}
	ts = ts.UTC()
	switch t.target {
	case "string":
		return ts.Format(t.layout), nil
	case "unix":
		return ts.Sub(time.Unix(0, 0)).Nanoseconds() / int64(t.unit), nil
	case "Date":
		return time.Date(ts.Year(), ts.Month(), ts.Day(), 0, 0, 0, 0, time.UTC), nil
	case "Time":
		return time.Date(1970, 1, 1, ts.Hour(), ts.Minute(), ts.Second(), ts.Nanosecond(), time.UTC), nil
	}
	return ts, nil
}

func (t *TimestampConverter) Apply(r *connectors.Record) (*connectors.Record, error) {
	sc, v, err := t.side.get(r)
	if err != nil {
		return nil, err
	}
	if t.field == "" {
		out, err := t.convert(v)
		if err != nil {
			return nil, recordErr(r, "TimestampConverter: %v", err)
		}
		var ns *connectors.Schema
		if sc != nil {
			var ok bool
			if ns, ok = t.schemas.get(sc); !ok {
				ns = t.targetSchema(sc.Optional)
				t.schemas.put(sc, ns)
			}
		}
		return t.side.set(r, ns, out), nil
	}
	if v == nil {
		return r, nil
	}
	if sc == nil {
		m, err := requireMap(r, t.side, v, "TimestampConverter")
		if err != nil {
			return nil, err
		}
		out := append([]connectors.MapEntry(nil), m...)
		if fv, i := mapGet(out, t.field); i >= 0 {
			if out[i].Value, err = t.convert(fv); err != nil {
				return nil, recordErr(r, "TimestampConverter: field %q: %v", t.field, err)
			}
		}
		return t.side.set(r, nil, out), nil
	}
	sv, err := requireStruct(r, t.side, sc, v, "TimestampConverter")
	if err != nil {
		return nil, err
	}
	f, ok := sc.Field(t.field)
	if !ok {
		return nil, recordErr(r, "TimestampConverter: the %s schema %q has no field %q; fix field", t.side, sc.Name, t.field)
	}
	ns, ok := t.schemas.get(sc)
	if !ok {
		fields := append([]connectors.Field(nil), sc.Fields...)
		fields[f.Index] = connectors.Opt(f.Name, t.targetSchema(f.Schema.Optional))
		ns = newStructLike(sc, fields)
		t.schemas.put(sc, ns)
	}
	out := &connectors.StructValue{Schema: ns, Values: append([]any(nil), sv.Values...)}
	if out.Values[f.Index], err = t.convert(sv.Values[f.Index]); err != nil {
		return nil, recordErr(r, "TimestampConverter: field %q: %v", t.field, err)
	}
	return t.side.set(r, ns, out), nil
}
