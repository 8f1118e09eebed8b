package offsets

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestJavaFloatSpelling compares appendJavaFloat with Java's own
// Double.toString and Float.toString (JDK 25) for the values in
// testdata/java_floats.txt: random bit patterns, short decimals around
// the plain/scientific boundaries, and the values where JDK 19 changed
// the spelling (1.0E23, 4.9E-324).
func TestJavaFloatSpelling(t *testing.T) {
	f, err := os.Open("testdata/java_floats.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Fatalf("bad line %q", line)
		}
		bits, err := strconv.ParseUint(fields[1], 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		switch fields[0] {
		case "d":
			got, err = appendJavaFloat(nil, math.Float64frombits(bits), 64)
		case "f":
			got, err = appendJavaFloat(nil, float64(math.Float32frombits(uint32(bits))), 32)
		}
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if string(got) != fields[2] {
			t.Errorf("%s %s: got %s, Java writes %s", fields[0], fields[1], got, fields[2])
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 1000 {
		t.Fatalf("only %d values read", n)
	}
}

// TestKeyBytesAsKafkaConnectWritesThem pins the bytes of offsets keys and
// values to Jackson's spelling, which Kafka Connect's JsonConverter uses:
// no HTML escaping, control characters as \b \t \n \f \r or \u00XX with
// upper-case hex, U+2028/U+2029 and other non-ASCII as UTF-8, integers
// as they are and floats as Java's Double.toString writes them.
func TestKeyBytesAsKafkaConnectWritesThem(t *testing.T) {
	tests := []struct {
		name      string
		connector string
		partition map[string]any
		want      string
	}{
		{"debezium", "inventory-connector", map[string]any{"server": "dbserver1"}, `["inventory-connector",{"server":"dbserver1"}]`},
		{"no html escaping", "a<b>&c", map[string]any{"db": "x<y>&z='1'"}, `["a<b>&c",{"db":"x<y>&z='1'"}]`},
		{"control characters", "c", map[string]any{"s": "q\"b\\s/\b\t\n\f\r\x00\x01\x1f\x7f"}, `["c",{"s":"q\"b\\s/\b\t\n\f\r\u0000\u0001\u001F` + "\x7f" + `"}]`},
		{"non-ascii as utf-8", "é", map[string]any{"s": "ü\u2028\u2029😀"}, "[\"é\",{\"s\":\"ü\u2028\u2029😀\"}]"},
		{"invalid utf-8", "c", map[string]any{"s": "a\xffb"}, "[\"c\",{\"s\":\"a\ufffdb\"}]"},
		{"numbers", "c", map[string]any{"i": int64(-42), "i32": int32(7), "u": uint32(4000000000), "f": 1.0, "half": 0.5,
			"big": 1e21, "small": 1e-5, "plain": 1234567.5, "sci": 12345678.0, "f32": float32(0.1), "neg0": math.Copysign(0, -1)},
			`["c",{"big":1.0E21,"f":1.0,"f32":0.1,"half":0.5,"i":-42,"i32":7,"neg0":-0.0,"plain":1234567.5,"sci":1.2345678E7,"small":1.0E-5,"u":4000000000}]`},
		{"other primitives", "c", map[string]any{"b": true, "n": nil, "empty": ""}, `["c",{"b":true,"empty":"","n":null}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := Key(tc.connector, tc.partition)
			if err != nil {
				t.Fatal(err)
			}
			if string(k) != tc.want {
				t.Fatalf("Key = %s\nwant  %s", k, tc.want)
			}
			v, err := EncodeMap(tc.partition)
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.want[strings.IndexByte(tc.want, ',')+1 : len(tc.want)-1]; string(v) != want {
				t.Fatalf("EncodeMap = %s, want %s", v, want)
			}
			if _, _, err := ParseKey(k); err != nil {
				t.Fatalf("ParseKey(%s): %v", k, err)
			}
		})
	}
}
