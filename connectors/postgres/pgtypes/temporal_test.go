package pgtypes

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// temporalCatalog has the temporal types and their arrays.
func temporalCatalog() *Catalog {
	b := func(oid uint32, name string) TypeInfo {
		return TypeInfo{OID: oid, Namespace: "pg_catalog", Name: name, Kind: 'b'}
	}
	arr := func(oid uint32, name string, elem uint32) TypeInfo {
		return TypeInfo{OID: oid, Namespace: "pg_catalog", Name: name, Kind: 'b', Category: 'A', Elem: elem}
	}
	return NewCatalog(b(1082, "date"), b(1083, "time"), b(1266, "timetz"), b(1114, "timestamp"), b(1184, "timestamptz"), b(1186, "interval"),
		arr(1182, "_date", 1082), arr(1183, "_time", 1083), arr(1115, "_timestamp", 1114),
		arr(1185, "_timestamptz", 1184), arr(1270, "_timetz", 1266))
}

// TestTemporalModesLikeDebezium pins the values Debezium's PostgreSQL
// connector emits in each time.precision.mode. The ISO strings and epoch
// numbers come from PostgresTemporalPrecisionHandlingIT (isostring,
// microseconds, nanoseconds) and, for the edges (BC, ±infinity, 24:00:00,
// the NanoTimestamp range), from running the JDK's java.time steps of
// IsoDate, IsoTime, IsoTimestamp, MicroTimestamp and NanoTimestamp on the
// objects PostgresValueConverter hands them.
func TestTemporalModesLikeDebezium(t *testing.T) {
	tests := []struct {
		mode     cdc.TimeMode
		oid      uint32
		typmod   int32
		in       string
		want     any
		wantName string
	}{
		// isostring: IsoDate, IsoTime, IsoTimestamp strings.
		{cdc.TimeISOString, 1082, -1, "2017-09-15", "2017-09-15Z", cdc.IsoDateName},
		{cdc.TimeISOString, 1082, -1, "0044-03-15 BC", "-0043-03-15Z", cdc.IsoDateName},
		{cdc.TimeISOString, 1082, -1, "12345-01-02", "+12345-01-02Z", cdc.IsoDateName},
		{cdc.TimeISOString, 1082, -1, "infinity", "-5877611-06-21Z", cdc.IsoDateName},
		{cdc.TimeISOString, 1082, -1, "-infinity", "-5877611-06-22Z", cdc.IsoDateName},
		{cdc.TimeISOString, 1083, -1, "04:05:11.789", "04:05:11.789Z", cdc.IsoTimeName},
		{cdc.TimeISOString, 1083, 3, "13:00:00.120", "13:00:00.12Z", cdc.IsoTimeName},
		{cdc.TimeISOString, 1083, 0, "13:14:00", "13:14:00Z", cdc.IsoTimeName},
		{cdc.TimeISOString, 1083, -1, "24:00:00", "00:00:00Z", cdc.IsoTimeName},
		{cdc.TimeISOString, 1114, 0, "2019-07-09 02:28:57", "2019-07-09T02:28:57Z", cdc.IsoTimestampName},
		{cdc.TimeISOString, 1114, 1, "2019-07-09 02:28:57.1", "2019-07-09T02:28:57.1Z", cdc.IsoTimestampName},
		{cdc.TimeISOString, 1114, 3, "2019-07-09 02:28:57.123", "2019-07-09T02:28:57.123Z", cdc.IsoTimestampName},
		{cdc.TimeISOString, 1114, -1, "2019-07-09 02:28:57.123456", "2019-07-09T02:28:57.123456Z", cdc.IsoTimestampName},
		{cdc.TimeISOString, 1114, -1, "0001-01-01 00:00:00 BC", "0000-01-01T00:00:00Z", cdc.IsoTimestampName},
		{cdc.TimeISOString, 1114, -1, "infinity", "+294247-01-10T04:00:25.2Z", cdc.IsoTimestampName},
		{cdc.TimeISOString, 1114, -1, "-infinity", "-290308-12-21T19:59:27.6Z", cdc.IsoTimestampName},
		// timestamptz and timetz keep ZonedTimestamp and ZonedTime.
		{cdc.TimeISOString, 1184, -1, "2019-07-09 02:28:10.123456+01", "2019-07-09T01:28:10.123456Z", cdc.ZonedTimestampName},
		{cdc.TimeISOString, 1184, -1, "infinity", "infinity", cdc.ZonedTimestampName},
		{cdc.TimeISOString, 1266, -1, "04:05:11-08", "12:05:11Z", cdc.ZonedTimeName},
		// microseconds: Date, MicroTime, MicroTimestamp at any precision.
		{cdc.TimeMicroseconds, 1082, -1, "2017-09-15", int32(17424), cdc.DateName},
		{cdc.TimeMicroseconds, 1082, -1, "infinity", int32(-2147472692), cdc.DateName},
		{cdc.TimeMicroseconds, 1082, -1, "-infinity", int32(-2147472691), cdc.DateName},
		{cdc.TimeMicroseconds, 1083, 3, "04:05:11.789", int64(14711789000), cdc.MicroTimeName},
		{cdc.TimeMicroseconds, 1083, -1, "24:00:00", int64(86400000000), cdc.MicroTimeName},
		{cdc.TimeMicroseconds, 1114, 0, "2019-07-09 02:28:57", int64(1562639337000000), cdc.MicroTimestampName},
		{cdc.TimeMicroseconds, 1114, 3, "2019-07-09 02:28:57.123", int64(1562639337123000), cdc.MicroTimestampName},
		{cdc.TimeMicroseconds, 1114, 4, "2019-07-09 02:28:57.1234", int64(1562639337123400), cdc.MicroTimestampName},
		{cdc.TimeMicroseconds, 1114, 3, "infinity", PositiveInfinityMicros, cdc.MicroTimestampName},
		{cdc.TimeMicroseconds, 1114, -1, "-infinity", NegativeInfinityMicros, cdc.MicroTimestampName},
		{cdc.TimeMicroseconds, 1184, 3, "2019-07-09 02:28:10.123+01", "2019-07-09T01:28:10.123Z", cdc.ZonedTimestampName},
		{cdc.TimeMicroseconds, 1266, -1, "04:05:11.5+01", "03:05:11.5Z", cdc.ZonedTimeName},
		// nanoseconds: Date, NanoTime, NanoTimestamp.
		{cdc.TimeNanoseconds, 1082, -1, "2017-09-15", int32(17424), cdc.DateName},
		{cdc.TimeNanoseconds, 1083, -1, "04:05:11.789", int64(14711789000000), cdc.NanoTimeName},
		{cdc.TimeNanoseconds, 1083, 3, "24:00:00", int64(86400000000000), cdc.NanoTimeName},
		{cdc.TimeNanoseconds, 1114, 0, "2019-07-09 02:28:57", int64(1562639337000000000), cdc.NanoTimestampName},
		{cdc.TimeNanoseconds, 1114, 5, "2019-07-09 02:28:57.12345", int64(1562639337123450000), cdc.NanoTimestampName},
		{cdc.TimeNanoseconds, 1114, -1, "2019-07-09 02:28:57.123456", int64(1562639337123456000), cdc.NanoTimestampName},
		{cdc.TimeNanoseconds, 1114, -1, "1677-09-22 00:00:00", int64(-9223286400000000000), cdc.NanoTimestampName},
		{cdc.TimeNanoseconds, 1114, -1, "2262-04-11 23:47:16.854775", int64(9223372036854775000), cdc.NanoTimestampName},
		{cdc.TimeNanoseconds, 1114, -1, "1677-09-21 23:59:59.999999", nil, cdc.NanoTimestampName},
		{cdc.TimeNanoseconds, 1114, -1, "2262-04-11 23:47:16.854776", nil, cdc.NanoTimestampName},
		{cdc.TimeNanoseconds, 1114, -1, "0044-03-15 00:00:00 BC", nil, cdc.NanoTimestampName},
		{cdc.TimeNanoseconds, 1114, 3, "infinity", int64(math.MaxInt64), cdc.NanoTimestampName},
		{cdc.TimeNanoseconds, 1114, -1, "-infinity", int64(math.MinInt64), cdc.NanoTimestampName},
		{cdc.TimeNanoseconds, 1184, -1, "-infinity", "-infinity", cdc.ZonedTimestampName},
		// The modes that were there before, on the same edges.
		{cdc.TimeAdaptive, 1082, -1, "infinity", int32(-2147472692), cdc.DateName},
		{cdc.TimeAdaptive, 1114, 3, "2019-07-09 02:28:57.123", int64(1562639337123), cdc.TimestampName},
		{cdc.TimeAdaptiveMicroseconds, 1114, 3, "2019-07-09 02:28:57.123", int64(1562639337123), cdc.TimestampName},
		{cdc.TimeAdaptiveMicroseconds, 1083, 3, "24:00:00", int64(86400000000), cdc.MicroTimeName},
	}
	cat := temporalCatalog()
	for _, tt := range tests {
		t.Run(string(tt.mode)+" "+tt.in, func(t *testing.T) {
			m := DefaultModes()
			m.Time = tt.mode
			c, err := New(cat, tt.oid, tt.typmod, true, m)
			if err != nil {
				t.Fatal(err)
			}
			if c.Schema.Name != tt.wantName {
				t.Errorf("schema %s, want %s", c.Schema.Name, tt.wantName)
			}
			if got, want := c.Schema.Type, schemaType(tt.want, c.Schema.Type); got != want {
				t.Errorf("schema type %v, want %v", got, want)
			}
			got, err := c.Convert([]byte(tt.in))
			if err != nil {
				t.Fatalf("Convert(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Convert(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

// schemaType is the Connect type a value needs (have when the value is
// nil).
func schemaType(v any, have connectors.Type) connectors.Type {
	switch v.(type) {
	case string:
		return connectors.String
	case int32:
		return connectors.Int32
	case int64:
		return connectors.Int64
	}
	return have
}

// TestNanoTimestampOutOfRangeNotNull: Debezium's handleUnknownData throws
// for a NOT NULL column whose timestamp NanoTimestamp cannot hold.
func TestNanoTimestampOutOfRangeNotNull(t *testing.T) {
	m := DefaultModes()
	m.Time = cdc.TimeNanoseconds
	c, err := New(temporalCatalog(), 1114, -1, false, m)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Convert([]byte("3000-01-01 00:00:00")); err == nil {
		t.Fatalf("got %v, want an error", v)
	}
	if v, err := c.Convert([]byte("2000-01-01 00:00:00")); err != nil || v != int64(946684800000000000) {
		t.Fatalf("got %v, %v", v, err)
	}
}

// TestTemporalArraysByMode: array elements follow the scalar mapping with
// optional element schemas (PostgresValueConverter.schemaBuilder for
// DATE_ARRAY, TIME_ARRAY, TIMESTAMP_ARRAY, TIMESTAMPTZ_ARRAY, TIMETZ_ARRAY),
// except time[] elements, which pgjdbc's PgArray hands over as
// java.sql.Time.
func TestTemporalArraysByMode(t *testing.T) {
	tests := []struct {
		mode     cdc.TimeMode
		oid      uint32
		in       string
		want     []any
		wantItem string
	}{
		{cdc.TimeISOString, 1182, "{2024-02-29,infinity,NULL}", []any{"2024-02-29Z", "-5877611-06-21Z", nil}, cdc.IsoDateName},
		// time[] elements are java.sql.Time in Debezium: milliseconds, and
		// 24:00:00 wraps to midnight.
		{cdc.TimeISOString, 1183, "{13:14:15.123456,24:00:00}", []any{"13:14:15.123Z", "00:00:00Z"}, cdc.IsoTimeName},
		{cdc.TimeAdaptive, 1183, "{13:14:15.123456,24:00:00}", []any{int64(47655123000), int64(0)}, cdc.MicroTimeName},
		{cdc.TimeConnect, 1183, "{00:00:00.0019}", []any{time.UnixMilli(1).UTC()}, connectors.TimeName},
		{cdc.TimeISOString, 1115, `{"2024-02-29 13:14:15.5",-infinity}`, []any{"2024-02-29T13:14:15.5Z", "-290308-12-21T19:59:27.6Z"}, cdc.IsoTimestampName},
		{cdc.TimeISOString, 1185, `{"2024-02-29 13:14:15.5+01"}`, []any{"2024-02-29T12:14:15.500000Z"}, cdc.ZonedTimestampName},
		{cdc.TimeISOString, 1270, `{13:14:15+01}`, []any{"12:14:15Z"}, cdc.ZonedTimeName},
		{cdc.TimeMicroseconds, 1183, "{00:00:01.000999}", []any{int64(1e6)}, cdc.MicroTimeName},
		{cdc.TimeMicroseconds, 1115, `{"1970-01-01 00:00:01",infinity}`, []any{int64(1e6), PositiveInfinityMicros}, cdc.MicroTimestampName},
		{cdc.TimeNanoseconds, 1183, "{00:00:01.0015,24:00:00}", []any{int64(1001e6), int64(0)}, cdc.NanoTimeName},
		{cdc.TimeNanoseconds, 1115, `{"1970-01-01 00:00:01","3000-01-01 00:00:00",infinity}`, []any{int64(1e9), nil, int64(math.MaxInt64)}, cdc.NanoTimestampName},
		{cdc.TimeNanoseconds, 1182, "{1970-01-02}", []any{int32(1)}, cdc.DateName},
	}
	cat := temporalCatalog()
	for _, tt := range tests {
		t.Run(string(tt.mode)+" "+tt.in, func(t *testing.T) {
			m := DefaultModes()
			m.Time = tt.mode
			c, err := New(cat, tt.oid, -1, true, m)
			if err != nil {
				t.Fatal(err)
			}
			if c.Schema.Items == nil || c.Schema.Items.Name != tt.wantItem || !c.Schema.Items.Optional {
				t.Errorf("items %+v, want optional %s", c.Schema.Items, tt.wantItem)
			}
			got, err := c.Convert([]byte(tt.in))
			if err != nil {
				t.Fatalf("Convert(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Convert(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

// fields renders a struct value as field name -> value, without nulls.
func fields(v any) map[string]any {
	sv, ok := v.(*connectors.StructValue)
	if !ok {
		return nil
	}
	m := map[string]any{}
	for _, f := range sv.Schema.Fields {
		if x := sv.Values[f.Index]; x != nil {
			m[f.Name] = x
		}
	}
	return m
}

type fm = map[string]any

// TestStructuredLikeDebezium pins time.precision.mode=structured to
// PostgresTemporalPrecisionHandlingIT (shouldConvertTemporalsToStructuredValues,
// shouldPreserveTimetzOffsetAndBoundaryInStructuredMode) and to the
// Structured* builders: field types, null fields for special values, the
// precision from pgjdbc's getScale.
func TestStructuredLikeDebezium(t *testing.T) {
	ymd := func(y int32, m, d int8) fm { return fm{"year": y, "month": m, "day": d} }
	tests := []struct {
		oid      uint32
		typmod   int32
		in       string
		want     any // fm, []fm or nil
		wantName string
	}{
		{1082, -1, "2017-09-15", ymd(2017, 9, 15), cdc.StructuredDateName},
		{1082, -1, "0044-03-15 BC", ymd(-43, 3, 15), cdc.StructuredDateName},
		{1082, -1, "infinity", fm{"specialValue": "POSITIVE_INFINITY"}, cdc.StructuredDateName},
		{1082, -1, "-infinity", fm{"specialValue": "NEGATIVE_INFINITY"}, cdc.StructuredDateName},
		{1083, -1, "04:05:11.789", fm{"hour": int8(4), "minute": int8(5), "second": int8(11), "nanos": int32(789000000), "precision": int32(6)}, cdc.StructuredTimeName},
		{1083, 3, "23:59:59.999", fm{"hour": int8(23), "minute": int8(59), "second": int8(59), "nanos": int32(999000000), "precision": int32(3)}, cdc.StructuredTimeName},
		{1083, -1, "24:00:00", nil, cdc.StructuredTimeName},
		{1114, -1, "294276-12-31 23:59:59.999999", fm{"year": int32(294276), "month": int8(12), "day": int8(31), "hour": int8(23),
			"minute": int8(59), "second": int8(59), "nanos": int32(999999000), "precision": int32(6)}, cdc.StructuredTimestampName},
		{1114, 0, "0044-03-15 13:14:15 BC", fm{"year": int32(-43), "month": int8(3), "day": int8(15), "hour": int8(13),
			"minute": int8(14), "second": int8(15), "nanos": int32(0), "precision": int32(0)}, cdc.StructuredTimestampName},
		{1114, 3, "-infinity", fm{"specialValue": "NEGATIVE_INFINITY", "precision": int32(3)}, cdc.StructuredTimestampName},
		{1184, -1, "2019-07-09 02:28:10.123456+01", fm{"year": int32(2019), "month": int8(7), "day": int8(9), "hour": int8(1),
			"minute": int8(28), "second": int8(10), "nanos": int32(123456000), "offsetSeconds": int32(0), "zoneId": "Z",
			"precision": int32(6)}, cdc.StructuredZonedTimestampName},
		{1184, -1, "2000-01-01 00:30:00+05:30", fm{"year": int32(1999), "month": int8(12), "day": int8(31), "hour": int8(19),
			"minute": int8(0), "second": int8(0), "nanos": int32(0), "offsetSeconds": int32(0), "zoneId": "Z",
			"precision": int32(6)}, cdc.StructuredZonedTimestampName},
		{1184, 2, "infinity", fm{"specialValue": "POSITIVE_INFINITY", "precision": int32(2)}, cdc.StructuredZonedTimestampName},
		{1266, -1, "04:05:11-08", fm{"hour": int8(4), "minute": int8(5), "second": int8(11), "nanos": int32(0),
			"offsetSeconds": int32(-8 * 3600), "precision": int32(6)}, cdc.StructuredZonedTimeName},
		{1266, -1, "24:00:00+05:30", fm{"hour": int8(24), "minute": int8(0), "second": int8(0), "nanos": int32(0),
			"offsetSeconds": int32(5*3600 + 30*60), "precision": int32(6)}, cdc.StructuredZonedTimeName},
		{1266, 6, "13:51:30.123789+02", fm{"hour": int8(13), "minute": int8(51), "second": int8(30), "nanos": int32(123789000),
			"offsetSeconds": int32(2 * 3600), "precision": int32(6)}, cdc.StructuredZonedTimeName},
		{1186, -1, "P1Y2M3DT4H5M6.789S", fm{"years": int32(1), "months": int32(2), "days": int32(3), "hours": int32(4),
			"minutes": int32(5), "seconds": int64(6), "nanos": int32(789000000), "precision": int32(6)}, cdc.StructuredDurationName},
		{1186, -1, "PT-1H-0.25S", fm{"years": int32(0), "months": int32(0), "days": int32(0), "hours": int32(-1),
			"minutes": int32(0), "seconds": int64(0), "nanos": int32(-250000000), "precision": int32(6)}, cdc.StructuredDurationName},
		{1186, 0x7FFF0003, "PT1.5S", fm{"years": int32(0), "months": int32(0), "days": int32(0), "hours": int32(0),
			"minutes": int32(0), "seconds": int64(1), "nanos": int32(500000000), "precision": int32(3)}, cdc.StructuredDurationName},
		// time[] elements are java.sql.Time: milliseconds, 24:00:00 wraps.
		{1183, 3, "{13:14:15.123456,24:00:00}", []fm{
			{"hour": int8(13), "minute": int8(14), "second": int8(15), "nanos": int32(123000000), "precision": int32(3)},
			{"hour": int8(0), "minute": int8(0), "second": int8(0), "nanos": int32(0), "precision": int32(3)}}, cdc.StructuredTimeName},
		{1182, -1, "{infinity,2024-02-29}", []fm{{"specialValue": "POSITIVE_INFINITY"}, ymd(2024, 2, 29)}, cdc.StructuredDateName},
		{1270, -1, "{24:00:00+00}", []fm{{"hour": int8(24), "minute": int8(0), "second": int8(0), "nanos": int32(0),
			"offsetSeconds": int32(0), "precision": int32(6)}}, cdc.StructuredZonedTimeName},
	}
	cat := temporalCatalog()
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m := DefaultModes()
			m.Time = cdc.TimeStructured
			c, err := New(cat, tt.oid, tt.typmod, true, m)
			if err != nil {
				t.Fatal(err)
			}
			s := c.Schema
			if s.Type == connectors.Array {
				s = s.Items
			}
			if s.Type != connectors.Struct || s.Name != tt.wantName || s.Version != 1 || !s.Optional {
				t.Errorf("schema %+v, want optional struct %s", s, tt.wantName)
			}
			got, err := c.Convert([]byte(tt.in))
			if err != nil {
				t.Fatalf("Convert(%q): %v", tt.in, err)
			}
			switch want := tt.want.(type) {
			case nil:
				if got != nil {
					t.Errorf("Convert(%q) = %v, want nil", tt.in, fields(got))
				}
			case fm:
				if g := fields(got); !reflect.DeepEqual(g, want) {
					t.Errorf("Convert(%q) = %#v, want %#v", tt.in, g, want)
				}
			case []fm:
				arr, _ := got.([]any)
				var g []fm
				for _, e := range arr {
					g = append(g, fields(e))
				}
				if !reflect.DeepEqual(g, want) {
					t.Errorf("Convert(%q) = %#v, want %#v", tt.in, g, want)
				}
			}
		})
	}
	// A NOT NULL time column cannot take 24:00:00 in this mode.
	m := DefaultModes()
	m.Time = cdc.TimeStructured
	c, err := New(cat, 1083, -1, false, m)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Convert([]byte("24:00:00")); err == nil {
		t.Errorf("NOT NULL 24:00:00: %v, want an error", fields(v))
	}
}
