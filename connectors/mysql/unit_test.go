package mysql

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/connectors/cdc"
)

func TestConfigRefusesWhatIsNotImplemented(t *testing.T) {
	base := map[string]string{Hostname: "h", User: "u", TopicPrefix: "p"}
	with := func(kv ...string) map[string]string {
		p := map[string]string{}
		for k, v := range base {
			p[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	c, err := ParseConfig(with())
	if err != nil {
		t.Fatal(err)
	}
	if c.ServerID < ServerIDMin || c.ServerID > ServerIDMax || c.Port != 3306 || c.SnapshotMode != SnapshotInitial ||
		c.Modes.Time != cdc.TimeAdaptiveMicroseconds || c.Modes.Bigint != BigintLong || !c.TombstonesOnDelete || c.MaxQueueSize != 8192 {
		t.Errorf("defaults %+v", c)
	}
	if !c.IncludeSchemaChanges || !c.SkipTruncate || c.SkipCreate {
		t.Errorf("include.schema.changes and skipped.operations defaults: %+v", c)
	}
	if c, _ := ParseConfig(with(IncludeSchemaChanges, "false", SkippedOperations, "none")); c.IncludeSchemaChanges || c.SkipTruncate {
		t.Errorf("include.schema.changes=false, skipped.operations=none: %+v", c)
	}
	if c, _ := ParseConfig(with(SnapshotMode, "never", ServerID, "77", "connector.class", MariaDBClass)); c.SnapshotMode != SnapshotNoData || c.ServerID != 77 || !c.MariaDB {
		t.Errorf("never/server id/class: %+v", c)
	}
	for _, tc := range []struct{ kv, want []string }{
		{[]string{SnapshotLockingMode, "minimal"}, []string{"takes no global or table lock", `set it to "none"`}},
		{[]string{SnapshotMaxThreads, "4", SnapshotMode, SnapshotInitialOnly}, []string{"initial_only does not read"}},
		{[]string{"topic.transaction", "tx"}, []string{"transaction metadata"}},
		{[]string{"heartbeat.action.query", "SELECT 1"}, []string{"heartbeat action queries"}},
		{[]string{SSLMode, "verify-full"}, []string{"must be one of disabled, preferred, required, verify_ca, verify_identity"}},
		{[]string{"database.ssl.truststore", "/etc/ca.jks"}, []string{"set database.sslrootcert to the CA certificate in PEM"}},
		{[]string{MessageKeyColumns, "db.t"}, []string{"expected database.table:col1,col2"}},
		{[]string{"gtid.source.filter.dml.events", "false"}, []string{"gtid.source.includes/excludes always filter row changes"}},
		{[]string{SignalDataCollection, "signals"}, []string{"expected database.table"}},
		{[]string{SnapshotChunkSize, "0"}, []string{SnapshotChunkSize}},
		{[]string{SignalEnabledChannels, "source,kafka"}, []string{"signal.kafka.bootstrap.servers"}},
		{[]string{SignalEnabledChannels, "jmx"}, []string{`channel "jmx" is not supported`}},
		{[]string{TimePrecisionMode, "connect"}, []string{"must be one of adaptive_time_microseconds, adaptive"}},
		{[]string{"column.mask.with.10.chars", "db.t.c"}, []string{"column masking is not in this version"}},
		{[]string{"converters", "boolean"}, []string{"custom converters"}},
		{[]string{ServerID, "4294967296"}, []string{"at most 4294967295"}},
	} {
		_, err := ParseConfig(with(tc.kv...))
		if err == nil {
			t.Errorf("%v accepted", tc.kv)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", tc.kv, err, w)
			}
		}
	}
}

func TestCaptures(t *testing.T) {
	c, err := ParseConfig(map[string]string{Hostname: "h", User: "u", TopicPrefix: "p", DatabaseIncludeList: "shop.*",
		TableExcludeList: `shop\.secret`, ColumnExcludeList: `shop\.users\.password`})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		db, table string
		want      bool
	}{{"shop", "orders", true}, {"shop2", "orders", true}, {"shop", "secret", false}, {"other", "orders", false}, {"mysql", "user", false}} {
		if got := c.Captures(tc.db, tc.table); got != tc.want {
			t.Errorf("Captures(%s, %s) = %v", tc.db, tc.table, got)
		}
	}
	if c.CapturesColumn("shop", "users", "password") || !c.CapturesColumn("shop", "users", "name") {
		t.Error("column filter")
	}
}

func TestOffsetRoundTrip(t *testing.T) {
	for _, o := range []offset{
		{file: "binlog.000001", pos: 4},
		{file: "binlog.000002", pos: 1234, gtids: "0-1-42,1-2-7", txGTID: "0-1-43", event: 3, row: 17, tsSec: 1700000000, serverID: 1},
		{file: "b.000009", pos: 1<<32 - 1, snapshot: true},
		{file: "b.000009", pos: 4, snapshot: true, incr: `{"tables":[{"d":"db","t":"a","l":["3132"]}],"initial":true}`},
	} {
		m := o.toMap()
		// The offsets store gives numbers back as float64 (JSON).
		for k, v := range m {
			if n, ok := v.(int64); ok {
				m[k] = float64(n)
			}
		}
		got, err := parseOffset(m)
		if err != nil || got != o {
			t.Errorf("round trip of %+v: %+v, %v", o, got, err)
		}
	}
	for _, bad := range []map[string]any{{}, {"file": "f", "pos": -1.0}, {"file": "f", "pos": 4.0, "event": "x"}, {"file": "f", "row": -2.0},
		{"file": "f", "pos": 4.0, offsetIncremental: `{"tables":[{"d":"db","t":"a","l":["not hex"]}]}`}} {
		if _, err := parseOffset(bad); err == nil {
			t.Errorf("offset %v accepted", bad)
		}
	}
}

func TestMariaPos(t *testing.T) {
	p, err := parseMariaPos("1-3-7,0-1-42")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.add("0-2-43"); err != nil {
		t.Fatal(err)
	}
	if p.String() != "0-2-43,1-3-7" {
		t.Errorf("position %s", p)
	}
	if _, err := parseMariaPos("x-1-2"); err == nil {
		t.Error("bad GTID accepted")
	}
}

func TestQuotedList(t *testing.T) {
	got, err := quotedList(`'a','b''c','d,e',''`)
	if err != nil || strings.Join(got, "|") != "a|b'c|d,e|" {
		t.Errorf("%q %v", got, err)
	}
	for _, bad := range []string{`'a`, `a`, `'a'x`} {
		if _, err := quotedList(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzTextValues feeds arbitrary text to the snapshot's value parsers
// and the member-list parser: they return a value or an error, never
// panic, and a TIME that parses formats back to the same microseconds.
func FuzzTextValues(f *testing.F) {
	for _, s := range []string{"-838:59:59", "12:34:56.789", "2024-02-29 13:14:15.123456", "0000-00-00", "'a','b''c'", "1e5", "-0.0000000001",
		"12:00:00.", "1:2:3.1234567", "839:00:00.x", "12:60:00", "1::3", "--1:00:00", "1:02:03:04", "1:02:03.4.5", "0001:00:00"} {
		f.Add(s)
	}
	m := Modes{Decimal: cdc.DecimalPrecise, Time: cdc.TimeAdaptiveMicroseconds, Binary: cdc.BinaryBytes, Bigint: BigintPrecise}
	cols := []column{
		{name: "i", kind: kInt, size: 8, unsigned: true}, {name: "d", kind: kDecimal, precision: 10, scale: 3},
		{name: "t", kind: kTime, fsp: 6}, {name: "dt", kind: kDatetime, fsp: 6, nullable: true}, {name: "ts", kind: kTimestamp, fsp: 3},
		{name: "da", kind: kDate}, {name: "b", kind: kBit, size: 12}, {name: "f", kind: kFloat}, {name: "y", kind: kYear},
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i := range cols {
			cols[i].fromText([]byte(s), m) //nolint:errcheck // only panics matter
		}
		quotedList(s) //nolint:errcheck
		us, err := parseMicros(s)
		if err == nil {
			if us2, err := parseMicros(formatMicros(us)); err != nil || us2 != us {
				t.Errorf("%q: %d µs formats as %q, which reads %d, %v", s, us, formatMicros(us), us2, err)
			}
		}
		// The allocation-free parser agrees with the first one, kept
		// here as the reference.
		if ref, refErr := parseMicrosRef(s); ref != us || fmt.Sprint(refErr) != fmt.Sprint(err) {
			t.Errorf("parseMicros(%q) = %d, %v; the reference gives %d, %v", s, us, err, ref, refErr)
		}
	})
}

// parseMicrosRef is parseMicros as first written (strings.Split, Trim,
// ParseInt: five allocations per value), the reference of FuzzTextValues.
func parseMicrosRef(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	hms, frac, _ := strings.Cut(s, ".")
	parts := strings.Split(hms, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("not a time")
	}
	var v [3]int64
	for i, p := range parts {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return 0, fmt.Errorf("not a time")
		}
		v[i], _ = strconv.ParseInt(p, 10, 64)
	}
	if v[0] > 838 || v[1] > 59 || v[2] > 59 {
		return 0, fmt.Errorf("time out of range")
	}
	us := (v[0]*3600 + v[1]*60 + v[2]) * 1e6
	if frac != "" {
		if len(frac) > 6 || strings.Trim(frac, "0123456789") != "" {
			return 0, fmt.Errorf("not a fraction of a second")
		}
		f, _ := strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		us += f
	}
	if neg {
		us = -us
	}
	return us, nil
}

// TestTextValuesAllocate pins what the snapshot's parsing of a DATETIME(6)
// and a TIME(6) allocates: the boxed result only.
func TestTextValuesAllocate(t *testing.T) {
	m := Modes{Decimal: cdc.DecimalPrecise, Time: cdc.TimeAdaptiveMicroseconds, Binary: cdc.BinaryBytes, Bigint: BigintPrecise}
	dt := column{name: "dt", kind: kDatetime, fsp: 6}
	tm := column{name: "t", kind: kTime, fsp: 6}
	in, tin := []byte("2024-02-29 13:14:15.123456"), []byte("-838:59:59.5")
	if v, err := dt.fromText(in, m); err != nil || v != int64(1709212455123456) {
		t.Fatalf("DATETIME(6) %s: %v, %v", in, v, err)
	}
	if v, err := tm.fromText(tin, m); err != nil || v != int64(-3020399500000) {
		t.Fatalf("TIME(6) %s: %v, %v", tin, v, err)
	}
	for _, c := range []struct {
		col *column
		in  []byte
	}{{&dt, in}, {&tm, tin}} {
		if n := testing.AllocsPerRun(100, func() { c.col.fromText(c.in, m) }); n > 1 { //nolint:errcheck
			t.Errorf("%s %s: %.0f allocations, want at most 1 (the boxed value)", c.col.name, c.in, n)
		}
	}
}

// formatMicros writes microseconds as MySQL writes a TIME(6).
func formatMicros(us int64) string {
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	s := us / 1e6
	return fmt.Sprintf("%s%02d:%02d:%02d.%06d", sign, s/3600, s/60%60, s%60, us%1e6)
}

// TestDateValueFarFromEpoch: DATE values are days since 1970 across
// MySQL's whole range, not only the ±292 years a time.Duration spans.
func TestDateValueFarFromEpoch(t *testing.T) {
	c := &column{kind: kDate}
	for s, want := range map[string]int32{
		"1970-01-01": 0, "1969-12-31": -1, "2024-02-29": 19782,
		"1000-01-01": -354285, "0001-01-01": -719162, "9999-12-31": 2932896,
	} {
		got, err := c.dateValue(s, Modes{})
		if err != nil || got != want {
			t.Errorf("dateValue(%q) = %v, %v; want %d", s, got, err, want)
		}
	}
}

func TestChunkQuery(t *testing.T) {
	d := &described{db: "d", name: "t", sel: []string{"`a`", "`b`", "`v`", "`a`", "`b`"}, nval: 3,
		cols: []column{{name: "a", kind: kInt}, {name: "b", kind: kBytes}, {name: "v", kind: kString}}, pk: []int{0, 1}}
	q, args := d.query(nil, 10)
	if q != "SELECT `a`, `b`, `v`, `a`, `b` FROM `d`.`t` ORDER BY `a`, `b` LIMIT 10" || args != nil {
		t.Errorf("first chunk: %s %v", q, args)
	}
	q, args = d.query([][]byte{[]byte("5"), {0xff}}, 10)
	if q != "SELECT `a`, `b`, `v`, `a`, `b` FROM `d`.`t` WHERE (`a` > ?) OR (`a` = ? AND `b` > ?) ORDER BY `a`, `b` LIMIT 10" {
		t.Errorf("next chunk: %s", q)
	}
	if len(args) != 3 || args[0] != "5" || args[1] != "5" || string(args[2].([]byte)) != "\xff" {
		t.Errorf("args %#v: want the int as text, the binary column as bytes", args)
	}
	d.pk = nil
	if q, _ := d.query([][]byte{[]byte("5")}, 10); q != "SELECT `a`, `b`, `v`, `a`, `b` FROM `d`.`t`" {
		t.Errorf("a table without a usable key is read whole: %s", q)
	}
}

func TestBinlogPositions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"binlog.000009", "binlog.000010", -1}, {"binlog.000010", "binlog.000009", 1}, {"binlog.1000000", "binlog.999999", 1}, {"x.000001", "x.000001", 0},
	} {
		if got := compareFiles(tc.a, tc.b); got != tc.want {
			t.Errorf("compareFiles(%s, %s) = %d", tc.a, tc.b, got)
		}
	}
	o := offset{file: "binlog.000002", pos: 1000}
	for _, tc := range []struct {
		at      binlogAt
		reached bool
		far     bool
	}{
		{binlogAt{}, false, false},
		{binlogAt{"binlog.000001", 5000}, false, true},
		{binlogAt{"binlog.000002", 999}, false, false},
		{binlogAt{"binlog.000002", 1000}, true, false},
		{binlogAt{"binlog.000003", 4}, true, false},
	} {
		if got := tc.at.reached(o); got != tc.reached {
			t.Errorf("%v reached %v: %v", tc.at, o, got)
		}
		if tc.at.file != "" {
			if got := farBehind(tc.at, o); got != tc.far {
				t.Errorf("%v far behind %v: %v", tc.at, o, got)
			}
		}
	}
	if !farBehind(binlogAt{"binlog.000002", 4}, offset{file: "binlog.000002", pos: 4 + catchUpBytes + 1}) {
		t.Error("64 MiB behind is far")
	}
}

func FuzzSnapshotPlan(f *testing.F) {
	f.Add(`{"tables":[{"d":"db","t":"a","l":["3132"]},{"d":"db","t":"b","s":true}],"paused":true,"initial":true}`)
	f.Add(`{"tables":null}`)
	f.Add(`{"tables":[{"d":"db","t":"a","l":["zz"]}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePlan(s)
		if err != nil {
			return
		}
		q, err := parsePlan(p.encode())
		if err != nil {
			t.Fatalf("re-parsing %q: %v", p.encode(), err)
		}
		if q.encode() != p.encode() {
			t.Fatalf("round trip %q → %q", p.encode(), q.encode())
		}
		for _, pt := range p.Tables {
			pt.lastKey()
		}
	})
}
