package pgtypes

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// The expected values in this file were produced by running the JDK
// (Temurin 25) on the steps Debezium's PostgresValueConverter takes:
// HashMap iteration, BitSet.toByteArray, DateTimeFormatter.ISO_OFFSET_TIME
// and ZonedTimestamp's fixed-width formatter, MicroDuration's double
// arithmetic and Interval.toIsoString over BigDecimal.valueOf(double).

func convertOne(t *testing.T, oid uint32, typmod int32, m Modes, in string) (*Converter, any) {
	t.Helper()
	c, err := New(testCatalog(), oid, typmod, true, m)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Convert([]byte(in))
	if err != nil {
		t.Fatalf("Convert(%q): %v", in, err)
	}
	return c, v
}

func TestIntervalLikeDebezium(t *testing.T) {
	str := DefaultModes()
	str.Interval = IntervalString
	for _, tt := range []struct {
		in     string
		micros int64
		iso    string
	}{
		{"P1Y2M3DT4H5M6.78S", 37091106780000, "P1Y2M3DT4H5M6.78S"},
		{"P1Y2M3DT4H5M6.789S", 37091106789000, "P1Y2M3DT4H5M6.789S"},
		{"PT0S", 0, "P0Y0M0DT0H0M0S"},
		{"P-1Y-2M3DT-4H-5M-6.789S", -36572706789000, "P-1Y-2M3DT-4H-5M-6.789S"},
		{"PT0.000001S", 1, "P0Y0M0DT0H0M0.000001S"},
		{"PT-0.25S", -250000, "P0Y0M0DT0H0M-0.25S"},
		{"PT-1H-0.25S", -3600250000, "P0Y0M0DT-1H0M-0.25S"},
		{"P178000000Y", math.MaxInt64, "P178000000Y0M0DT0H0M0S"},
		{"PT59.999999S", 59999999, "P0Y0M0DT0H0M59.999999S"},
		{"PT2562047H47M16.854775S", 9223372036854774, "P0Y0M0DT2562047H47M16.854775S"},
		{"P5Y11M29DT23H59M59.123457S", 189307799123457, "P5Y11M29DT23H59M59.123457S"},
	} {
		if _, got := convertOne(t, 1186, -1, DefaultModes(), tt.in); got != tt.micros {
			t.Errorf("%s numeric: %v, want %d", tt.in, got, tt.micros)
		}
		if _, got := convertOne(t, 1186, -1, str, tt.in); got != tt.iso {
			t.Errorf("%s string: %v, want %s", tt.in, got, tt.iso)
		}
	}
}

func hstoreText(keys []string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = `"` + k + `"=>"v"`
	}
	return strings.Join(parts, ", ")
}

func TestHstoreOrderLikeJavaHashMap(t *testing.T) {
	var k40 []string // "k0".."k39": more than one resize
	for i := range 40 {
		k40 = append(k40, "k"+strconv.Itoa(i))
	}
	for _, tt := range []struct {
		keys []string
		want string
	}{
		{[]string{"b", "a"}, "a,b"},
		{[]string{"key1", "key2", "key3", "x", "y", "zz", "Aa", "BB"}, "key1,zz,Aa,BB,key2,key3,x,y"},
		{strings.Split("one,two,three,four,five,six,seven,eight,nine,ten,eleven,twelve,thirteen,fourteen", ","),
			"nine,six,one,seven,two,three,thirteen,eight,fourteen,four,twelve,eleven,ten,five"},
		{[]string{"ü", "é", "日本", "\U0001F600"}, "\U0001F600,é,日本,ü"},
		{k40, "k31,k30,k11,k33,k10,k32,k13,k35,k12,k34,k15,k37,k14,k36,k17,k39,k16,k38,k19,k18,k0,k1,k2,k3,k20,k4,k5,k22,k6,k21,k7,k24,k8,k23,k9,k26,k25,k28,k27,k29"},
	} {
		m := DefaultModes()
		m.HStore = HStoreMap
		_, v := convertOne(t, 90003, -1, m, hstoreText(tt.keys))
		var got []string
		for _, e := range v.([]connectors.MapEntry) {
			got = append(got, e.Key.(string))
		}
		if strings.Join(got, ",") != tt.want {
			t.Errorf("keys %v: order %v, want %s", tt.keys, got, tt.want)
		}
	}
}

func TestHstoreJSONLikeJackson(t *testing.T) {
	_, v := convertOne(t, 90003, -1, DefaultModes(), `"b"=>"x\"y\\z", "a"=>NULL, "c"=>"<&>/ü`+"\t\x01\x7f"+`"`)
	want := `{"a":null,"b":"x\"y\\z","c":"<&>/ü\t\u0001` + "\x7f" + `"}`
	if v != want {
		t.Errorf("got  %s\nwant %s", v, want)
	}
	if _, v := convertOne(t, 90003, -1, DefaultModes(), ``); v != `{}` {
		t.Errorf("empty hstore: %v", v)
	}
}

func TestBitsLikeDebezium(t *testing.T) {
	for _, tt := range []struct {
		oid    uint32
		typmod int32
		in     string
		want   []byte
		length string
	}{
		{1560, 2, "11", []byte{3}, "2"},
		{1560, 7, "1000000", []byte{64}, "7"},
		{1562, 2, "00", []byte{}, "2"},
		{1562, 24, "000000000000000000000001", []byte{1}, "24"},
		{1562, 64, "1" + strings.Repeat("0", 63), []byte{0, 0, 0, 0, 0, 0, 0, 0x80}, "64"},
		{1562, -1, "101", []byte{5}, "2147483647"},
		{1560, 16, "0000000100000010", []byte{2, 1}, "16"},
	} {
		c, v := convertOne(t, tt.oid, tt.typmod, DefaultModes(), tt.in)
		if c.Schema.Name != cdc.BitsName || c.Schema.Parameters["length"] != tt.length {
			t.Errorf("%s: schema %s %v", tt.in, c.Schema.Name, c.Schema.Parameters)
		}
		if !bytes.Equal(v.([]byte), tt.want) {
			t.Errorf("%s: %v, want %v", tt.in, v, tt.want)
		}
	}
	c, v := convertOne(t, 1562, 1, DefaultModes(), "1")
	if c.Schema.Type != connectors.Boolean || v != true {
		t.Errorf("varbit(1): %v %v", c.Schema.Type, v)
	}
}

func TestZonedLikeDebezium(t *testing.T) {
	for _, tt := range []struct {
		oid    uint32
		typmod int32
		in     string
		want   string
	}{
		{1266, -1, "12:00:00.5+02", "10:00:00.5Z"},
		{1266, -1, "10:00:00+00", "10:00:00Z"},
		{1266, -1, "13:51:30.123789+02", "11:51:30.123789Z"},
		{1266, 3, "13:51:30.12+02", "11:51:30.12Z"},
		{1266, -1, "00:00:00.000001+00", "00:00:00.000001Z"},
		{1266, -1, "24:00:00+00", "24:00:00Z"},
		{1184, -1, "2024-01-02 03:04:05.123456+00", "2024-01-02T03:04:05.123456Z"},
		{1184, -1, "2024-01-02 03:04:05+00", "2024-01-02T03:04:05.000000Z"},
		{1184, 3, "2024-01-02 03:04:05.1+00", "2024-01-02T03:04:05.100Z"},
		{1184, 0, "2024-01-02 03:04:05+00", "2024-01-02T03:04:05Z"},
		{1184, -1, "21016-11-04 06:51:30+00", "+21016-11-04T06:51:30.000000Z"},
		{1184, -1, "4714-12-31 23:59:59.999999+00 BC", "-4713-12-31T23:59:59.999999Z"},
		{1184, -1, "0001-01-01 00:00:00+00 BC", "0000-01-01T00:00:00.000000Z"},
		{1184, -1, "-infinity", "-infinity"},
	} {
		if _, v := convertOne(t, tt.oid, tt.typmod, DefaultModes(), tt.in); v != tt.want {
			t.Errorf("%s: %v, want %s", tt.in, v, tt.want)
		}
	}
}

func TestNumericLikeDebezium(t *testing.T) {
	for _, tt := range []struct {
		in    string
		scale int32
		value []byte
	}{{"1.50", 1, []byte{15}}, {"100", 0, []byte{100}}, {"0.000", 0, []byte{0}}, {"-10.1000", 1, []byte{0x9b}}} {
		_, v := convertOne(t, 1700, -1, DefaultModes(), tt.in)
		sv := v.(*connectors.StructValue)
		if sv.Get("scale") != tt.scale || !bytes.Equal(sv.Get("value").([]byte), tt.value) {
			t.Errorf("%s: scale %v value %x, want %d %x", tt.in, sv.Get("scale"), sv.Get("value"), tt.scale, tt.value)
		}
	}
	str := DefaultModes()
	str.Decimal = cdc.DecimalString
	for in, want := range map[string]string{"NaN": "NAN", "Infinity": "POSITIVE_INFINITY", "-Infinity": "NEGATIVE_INFINITY", "10.1111": "10.1111"} {
		if _, v := convertOne(t, 1700, numTypmod(10, 4), str, in); v != want {
			t.Errorf("string %s: %v, want %s", in, v, want)
		}
	}
	dbl := DefaultModes()
	dbl.Decimal = cdc.DecimalDouble
	// 90071992547409.93 has more digits than a double holds: the result is
	// the double nearest the exact value, as BigDecimal.doubleValue gives.
	if _, v := convertOne(t, 790, -1, dbl, "$90,071,992,547,409.93"); v != 90071992547409.93 {
		t.Errorf("money double: %v", v)
	}
	money := DefaultModes()
	money.MoneyFractionDigits = 1
	for in, want := range map[string]string{"$1,234.55": "1234.6", "-$1,234.55": "-1234.6", "$1,234.54": "1234.5"} {
		if _, v := convertOne(t, 790, -1, money, in); v.(connectors.Decimal).String() != want {
			t.Errorf("money %s: %v, want %s", in, v, want)
		}
	}
}

func TestGeometricLikeDebezium(t *testing.T) {
	le := func(vals ...any) []byte {
		var b []byte
		for _, v := range vals {
			switch v := v.(type) {
			case byte:
				b = append(b, v)
			case uint32:
				b = binary.LittleEndian.AppendUint32(b, v)
			case float64:
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
			}
		}
		return b
	}
	for _, tt := range []struct {
		oid  uint32
		in   string
		wkb  []byte
		ext  string
		name string
	}{
		{603, "(1,2),(0,-1)", le(byte(1), uint32(3), uint32(1), uint32(5), 1.0, 2.0, 1.0, -1.0, 0.0, -1.0, 0.0, 2.0, 1.0, 2.0), "type=box", cdc.GeometryName},
		{601, "[(0,0),(1.5,2)]", le(byte(1), uint32(2), uint32(2), 0.0, 0.0, 1.5, 2.0), "type=lseg", cdc.GeometryName},
		{602, "[(0,0),(1,1)]", le(byte(1), uint32(2), uint32(2), 0.0, 0.0, 1.0, 1.0), "type=path,closed=false", cdc.GeometryName},
		{602, "((0,0),(1,1))", le(byte(1), uint32(2), uint32(2), 0.0, 0.0, 1.0, 1.0), "type=path,closed=true", cdc.GeometryName},
		{604, "((0,0),(1,0),(0,1))", le(byte(1), uint32(3), uint32(1), uint32(4), 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0), "type=polygon", cdc.GeometryName},
	} {
		c, v := convertOne(t, tt.oid, -1, DefaultModes(), tt.in)
		if c.Schema.Name != tt.name || c.Schema.Version != 2 || !c.Schema.Optional {
			t.Errorf("%s: schema %+v", tt.in, c.Schema)
		}
		sv := v.(*connectors.StructValue)
		if !bytes.Equal(sv.Get("wkb").([]byte), tt.wkb) {
			t.Errorf("%s: wkb %x, want %x", tt.in, sv.Get("wkb"), tt.wkb)
		}
		var ext []string
		for _, e := range sv.Get("extensions").([]connectors.MapEntry) {
			ext = append(ext, e.Key.(string)+"="+e.Value.(string))
		}
		if strings.Join(ext, ",") != tt.ext {
			t.Errorf("%s: extensions %v, want %s", tt.in, ext, tt.ext)
		}
	}
	c, v := convertOne(t, 718, -1, DefaultModes(), "<(1,2),3>")
	sv := v.(*connectors.StructValue)
	if c.Schema.Name != cdc.CircleName || sv.Get("radius") != 3.0 || sv.Get("center").(*connectors.StructValue).Get("y") != 2.0 {
		t.Errorf("circle: %+v", sv)
	}
	c, v = convertOne(t, 628, -1, DefaultModes(), "{1,-1,0.5}")
	sv = v.(*connectors.StructValue)
	if c.Schema.Name != cdc.LineName || sv.Get("a") != 1.0 || sv.Get("b") != -1.0 || sv.Get("c") != 0.5 {
		t.Errorf("line: %+v", sv)
	}
	c, _ = convertOne(t, 3614, -1, DefaultModes(), "'a' 'cat'")
	if c.Schema.Name != cdc.TsVectorName {
		t.Errorf("tsvector schema %q", c.Schema.Name)
	}
}
