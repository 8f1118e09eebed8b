package jdbc

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

func TestParseIsoDate(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{in: "2023-11-21Z", want: time.Date(2023, 11, 21, 0, 0, 0, 0, time.UTC)},
		{in: "2023-11-21", want: time.Date(2023, 11, 21, 0, 0, 0, 0, time.UTC)},
		{in: "2024-02-29+02:00", want: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{in: "+10000-01-01Z", want: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{in: "-0044-03-15Z", want: time.Date(-44, 3, 15, 0, 0, 0, 0, time.UTC)},
		{in: "2023-02-29Z", err: true},
		{in: "2023-13-01Z", err: true},
		{in: "23-11-21Z", err: true},
		{in: "2023-11-21T00:00:00Z", err: true},
		{in: "2023-11-21X", err: true},
		{in: "", err: true},
	}
	for _, tc := range tests {
		got, err := parseIsoDate(tc.in)
		if (err != nil) != tc.err || (!tc.err && !got.Equal(tc.want)) {
			t.Errorf("parseIsoDate(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParseIsoTime(t *testing.T) {
	tod := func(h, m, s, ns int) timeOfDay {
		return timeOfDay(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second + time.Duration(ns))
	}
	tests := []struct {
		in   string
		want timeOfDay
		err  bool
	}{
		{in: "10:15:30Z", want: tod(10, 15, 30, 0)},
		{in: "10:15:30.5Z", want: tod(10, 15, 30, 5e8)},
		{in: "23:59:59.123456789Z", want: tod(23, 59, 59, 123456789)},
		{in: "00:00Z", want: tod(0, 0, 0, 0)},
		{in: "10:15:30", want: tod(10, 15, 30, 0)},
		{in: "10:15:30+02:00", want: tod(8, 15, 30, 0)},
		{in: "01:00:00+02:00", want: tod(23, 0, 0, 0)},
		{in: "23:30:00-01:00", want: tod(0, 30, 0, 0)},
		{in: "10:15:30+05:30:15", want: tod(4, 45, 15, 0)},
		{in: "24:00:00Z", err: true},
		{in: "10:60:00Z", err: true},
		{in: "10:15:30.Z", err: true},
		{in: "10:15:30.1234567891Z", err: true},
		{in: "10:15:30+2", err: true},
		{in: "10:15:30 Z", err: true},
	}
	for _, tc := range tests {
		got, err := parseIsoTime(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("parseIsoTime(%q) = %v, %v; want %v, error %v", tc.in, time.Duration(got), err, time.Duration(tc.want), tc.err)
		}
	}
}

func TestParseIsoTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{in: "2023-11-21T18:29:26Z", want: time.Date(2023, 11, 21, 18, 29, 26, 0, time.UTC)},
		{in: "2023-11-21T18:29:26.000123456Z", want: time.Date(2023, 11, 21, 18, 29, 26, 123456, time.UTC)},
		{in: "2023-11-21T18:29Z", want: time.Date(2023, 11, 21, 18, 29, 0, 0, time.UTC)},
		{in: "2023-11-21T18:29:26", want: time.Date(2023, 11, 21, 18, 29, 26, 0, time.UTC)},
		{in: "2023-11-21 18:29:26Z", want: time.Date(2023, 11, 21, 18, 29, 26, 0, time.UTC)},
		{in: "2023-11-21T01:00:00+02:00", want: time.Date(2023, 11, 20, 23, 0, 0, 0, time.UTC)},
		{in: "+12023-11-21T18:29:26Z", want: time.Date(12023, 11, 21, 18, 29, 26, 0, time.UTC)},
		{in: "2023-11-21Z", err: true},
		{in: "2023-11-21T25:00:00Z", err: true},
		{in: "2023-11-21T18:29:26ZZ", err: true},
	}
	for _, tc := range tests {
		got, err := parseIsoTimestamp(tc.in)
		if (err != nil) != tc.err || (!tc.err && (!got.Equal(tc.want) || got.Location() != time.UTC)) {
			t.Errorf("parseIsoTimestamp(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParseIsoInterval(t *testing.T) {
	tests := []struct {
		in   string
		want isoInterval
		err  bool
	}{
		{in: "P1Y2M3DT4H5M6.78S", want: isoInterval{months: 14, days: 3, micros: 4*3600e6 + 5*60e6 + 6_780_000}},
		{in: "P0Y0M0DT0H0M0S", want: isoInterval{}},
		{in: "P-1Y-2M-3DT-4H-5M-6.5S", want: isoInterval{months: -14, days: -3, micros: -(4*3600e6 + 5*60e6 + 6_500_000)}},
		{in: "P0Y0M0DT0H0M0.0000005S", want: isoInterval{micros: 1}},
		{in: "P0Y0M0DT0H0M-0.123456789S", want: isoInterval{micros: -123457}},
		{in: "P2W", want: isoInterval{days: 14}},
		{in: "PT1.5H", want: isoInterval{micros: 5400e6}},
		{in: "P178956970Y", want: isoInterval{months: 178956970 * 12}},
		{in: "P178956971Y", err: true},
		{in: "P1.5Y", err: true},
		{in: "P1H", err: true},
		{in: "PT1D", err: true},
		{in: "P1Y2", err: true},
		{in: "1Y", err: true},
		{in: "P", err: true},
		{in: "PT99999999999999999999S", err: true},
	}
	for _, tc := range tests {
		got, err := parseIsoInterval(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("parseIsoInterval(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestIsoColumns checks the column kinds of Debezium's string temporal
// types and that normalize gives the same values as their numeric forms.
func TestIsoColumns(t *testing.T) {
	str := func(name string) *connectors.Schema {
		return &connectors.Schema{Type: connectors.String, Name: name, Optional: true}
	}
	pg, my := &postgres{}, &mysqlDialect{}
	for _, tc := range []struct {
		s          *connectors.Schema
		in         any
		want       any
		pgT, mysqT string
	}{
		{str(cdc.IsoDateName), "2023-11-21Z", time.Date(2023, 11, 21, 0, 0, 0, 0, time.UTC), "date", "date"},
		{str(cdc.IsoTimeName), "10:15:30.25Z", timeOfDay(10*time.Hour + 15*time.Minute + 30*time.Second + 250*time.Millisecond),
			"time(6) without time zone", "time(6)"},
		{str(cdc.IsoTimestampName), "2023-11-21T18:29:26.5Z", time.Date(2023, 11, 21, 18, 29, 26, 5e8, time.UTC),
			"timestamp(6) without time zone", "datetime(6)"},
		{str(cdc.IntervalName), "P1Y2M3DT4H5M6.78S", "P1Y2M3DT4H5M6.78S", "interval", "longtext"},
		{str(cdc.ZonedTimeName), "10:15:30+02:00", "10:15:30+02:00", "time with time zone", "time(6)"},
		{&connectors.Schema{Type: connectors.Int32, Name: "io.debezium.time.Year"}, int32(2024), int64(2024), "integer", "int"},
		{&connectors.Schema{Type: connectors.Int64, Name: "io.debezium.time.MicroDuration"}, int64(-5), int64(-5), "bigint", "bigint"},
		{&connectors.Schema{Type: connectors.Bytes, Name: "io.debezium.data.Bits", Parameters: map[string]string{"length": "12"}},
			[]byte{0x01, 0x08}, []byte{0x01, 0x08}, "bytea", "longblob"},
	} {
		t.Run(tc.s.Name, func(t *testing.T) {
			c, err := columnFor("x", tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if got := pg.sqlType(c); got != tc.pgT {
				t.Errorf("postgres type %q, want %q", got, tc.pgT)
			}
			if got := my.sqlType(c); got != tc.mysqT {
				t.Errorf("mysql type %q, want %q", got, tc.mysqT)
			}
			got, err := normalize(c, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			switch w := tc.want.(type) {
			case time.Time:
				if g, ok := got.(time.Time); !ok || !g.Equal(w) || g.Location() != time.UTC {
					t.Fatalf("got %v, want %v", got, w)
				}
			case []byte:
				if g, ok := got.([]byte); !ok || string(g) != string(w) {
					t.Fatalf("got %v, want %v", got, w)
				}
			default:
				if got != tc.want {
					t.Fatalf("got %v (%T), want %v (%T)", got, got, tc.want, tc.want)
				}
			}
		})
	}
	for name, v := range map[string]string{cdc.IsoDateName: "2023-11-31Z", cdc.IsoTimeName: "25:00:00Z", cdc.IsoTimestampName: "yesterday", cdc.IntervalName: "P1X"} {
		c, err := columnFor("x", str(name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := normalize(c, v); err == nil {
			t.Errorf("%s %q was accepted", name, v)
		}
	}
	geo := connectors.NewStruct("io.debezium.data.geometry.Point", true, connectors.Opt("wkb", connectors.BytesSchema))
	if _, err := columnFor("loc", geo); err == nil {
		t.Error("a geometry field was accepted")
	}
}

// TestIsoText checks that what Debezium writes comes back unchanged
// when it goes into a text column.
func TestIsoText(t *testing.T) {
	for name, ins := range map[string][]string{
		cdc.IsoDateName:      {"2023-11-21Z", "+10000-01-01Z", "-0044-03-15Z", "0000-01-01Z"},
		cdc.IsoTimeName:      {"10:15:30Z", "10:15:30.5Z", "23:59:59.123456789Z", "00:00:00.000001Z"},
		cdc.IsoTimestampName: {"2023-11-21T18:29:26Z", "2023-11-21T18:29:26.000123456Z", "+12023-11-21T00:00:00.1Z"},
	} {
		c, err := columnFor("x", &connectors.Schema{Type: connectors.String, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if !isIsoTemporal(c) {
			t.Fatalf("%s is not an ISO temporal type", name)
		}
		for _, in := range ins {
			v, err := normalize(c, in)
			if err != nil {
				t.Fatal(err)
			}
			if got := isoText(c, v); got != in {
				t.Errorf("%s %q came back as %q", name, in, got)
			}
		}
	}
}

func TestMySQLZonedTime(t *testing.T) {
	c := &column{kind: kTimeTZ}
	for in, want := range map[string]string{"10:15:30.5Z": "10:15:30.500000", "01:00:00+02:00": "23:00:00.000000", "10:15:30": "10:15:30.000000"} {
		if got := mysqlValue(c, in, time.UTC); got != want {
			t.Errorf("mysqlValue(ZonedTime %q) = %v, want %v", in, got, want)
		}
	}
}

func TestCopyInterval(t *testing.T) {
	m := pgtype.NewMap()
	e := &copyEncoder{m: m}
	got, err := e.field(nil, &column{kind: kInterval}, oidInterval, "P-1Y2M3DT4H5M6.000007S")
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Encode(oidInterval, pgtype.BinaryFormatCode,
		pgtype.Interval{Months: -10, Days: 3, Microseconds: 4*3600e6 + 5*60e6 + 6_000_007, Valid: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if binary.BigEndian.Uint32(got) != uint32(len(want)) || string(got[4:]) != string(want) {
		t.Fatalf("encoded % x, pgx's % x", got, want)
	}
	// A string into a text column stays text.
	got, err = e.field(nil, &column{kind: kInterval}, oidText, "P1D")
	if err != nil || string(got[4:]) != "P1D" {
		t.Fatalf("text column: % x, %v", got, err)
	}
}

// FuzzParseIso checks that the ISO parsers never panic and that what
// they accept is in range.
func FuzzParseIso(f *testing.F) {
	for _, s := range []string{"2023-11-21Z", "10:15:30.123456789Z", "2023-11-21T18:29:26+05:30", "+10000-01-01T00:00:00Z",
		"P1Y2M3DT4H5M6.78S", "P-1Y-2M-3DT-4H-5M-6.5S", "PT1.5H", "10:15:30+05:30:15"} {
		f.Add(s)
	}
	date, _ := columnFor("d", &connectors.Schema{Type: connectors.String, Name: cdc.IsoDateName})
	tod, _ := columnFor("t", &connectors.Schema{Type: connectors.String, Name: cdc.IsoTimeName})
	ts, _ := columnFor("ts", &connectors.Schema{Type: connectors.String, Name: cdc.IsoTimestampName})
	f.Fuzz(func(t *testing.T, s string) {
		// What parses formats as text that parses to the same value.
		for _, c := range []*column{date, tod, ts} {
			v, err := normalize(c, s)
			if err != nil {
				continue
			}
			text := isoText(c, v).(string)
			again, err := normalize(c, text)
			if err != nil {
				t.Fatalf("%s %q: formatted as %q, which does not parse: %v", c.schema.Name, s, text, err)
			}
			if fmt.Sprint(again) != fmt.Sprint(v) {
				t.Fatalf("%s %q: %v, formatted as %q, parsed again as %v", c.schema.Name, s, v, text, again)
			}
		}
		if d, err := parseIsoTime(s); err == nil && (d < 0 || time.Duration(d) >= 24*time.Hour) {
			t.Fatalf("parseIsoTime(%q) = %v, outside a day", s, time.Duration(d))
		}
		_, _ = parseIsoInterval(s)
	})
}
