package proto

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// Golden bytes written by hand from Connect's schemas (ConnectProtocol,
// IncrementalCooperativeConnectProtocol): big-endian, strings with an
// int16 length, arrays with an int32 count, nullable bytes with an int32
// length.

func TestMetadataGolden(t *testing.T) {
	tests := []struct {
		name string
		m    Metadata
		want []byte
	}{{
		name: "v0 default",
		m:    Metadata{Version: 0, URL: "http://a:8083/", ConfigOffset: 42},
		want: cat(
			[]byte{0, 0},                    // version 0
			[]byte{0, 14},                   // url length
			[]byte("http://a:8083/"),        // url
			[]byte{0, 0, 0, 0, 0, 0, 0, 42}, // config offset
		),
	}, {
		name: "v1 without allocation",
		m:    Metadata{Version: 1, URL: "u", ConfigOffset: -1},
		want: cat(
			[]byte{0, 1},
			[]byte{0, 1}, []byte("u"),
			[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // -1
			[]byte{0xff, 0xff, 0xff, 0xff},                         // null allocation
		),
	}, {
		name: "v2 with allocation",
		m: Metadata{Version: 2, URL: "u", ConfigOffset: 7, Allocation: &Assignment{
			Version: 1, Leader: "L", LeaderURL: "v", ConfigOffset: 5,
			Connectors: []string{"c"}, Tasks: []TaskID{{"c", 0}},
		}},
		want: cat(
			[]byte{0, 2},
			[]byte{0, 1}, []byte("u"),
			[]byte{0, 0, 0, 0, 0, 0, 0, 7},
			[]byte{0, 0, 0, 45}, // allocation length: 2+2+3+3+8 + 4+3+4+8 + 4+4 bytes below
			[]byte{0, 1},        // allocation: version 1
			[]byte{0, 0},        // error
			[]byte{0, 1}, []byte("L"),
			[]byte{0, 1}, []byte("v"),
			[]byte{0, 0, 0, 0, 0, 0, 0, 5},
			[]byte{0, 0, 0, 1}, // one connector entry
			[]byte{0, 1}, []byte("c"),
			[]byte{0, 0, 0, 2}, // two tasks: the connector, task 0
			[]byte{0xff, 0xff, 0xff, 0xff}, []byte{0, 0, 0, 0},
			[]byte{0, 0, 0, 0}, // revoked: empty array
			[]byte{0, 0, 0, 0}, // delay 0
		),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.m.AppendTo(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("encoded\n got % x\nwant % x", got, tt.want)
			}
			back, err := DecodeMetadata(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tt.m) {
				t.Fatalf("decoded %+v, want %+v", back, tt.m)
			}
		})
	}
}

func TestAssignmentGolden(t *testing.T) {
	tests := []struct {
		name string
		a    Assignment
		want []byte
	}{{
		name: "v0: connector and its tasks grouped, connector first",
		a: Assignment{
			Version: 0, Leader: "w1", LeaderURL: "http://w1/", ConfigOffset: 3,
			Connectors: []string{"pg"}, Tasks: []TaskID{{"pg", 0}, {"dg", 2}, {"pg", 1}},
		},
		want: cat(
			[]byte{0, 0}, []byte{0, 0},
			[]byte{0, 2}, []byte("w1"),
			[]byte{0, 10}, []byte("http://w1/"),
			[]byte{0, 0, 0, 0, 0, 0, 0, 3},
			[]byte{0, 0, 0, 2}, // two entries: pg, dg
			[]byte{0, 2}, []byte("pg"), []byte{0, 0, 0, 3}, []byte{0xff, 0xff, 0xff, 0xff}, []byte{0, 0, 0, 0}, []byte{0, 0, 0, 1},
			[]byte{0, 2}, []byte("dg"), []byte{0, 0, 0, 1}, []byte{0, 0, 0, 2},
		),
	}, {
		name: "v1: revoked and delay",
		a: Assignment{
			Version: 1, Error: ConfigMismatch, Leader: "L", LeaderURL: "", ConfigOffset: 9,
			RevokedConnectors: []string{"a"}, RevokedTasks: []TaskID{{"b", 4}}, Delay: 300000,
		},
		want: cat(
			[]byte{0, 1}, []byte{0, 1},
			[]byte{0, 1}, []byte("L"),
			[]byte{0, 0},
			[]byte{0, 0, 0, 0, 0, 0, 0, 9},
			[]byte{0, 0, 0, 0}, // nothing assigned
			[]byte{0, 0, 0, 2},
			[]byte{0, 1}, []byte("a"), []byte{0, 0, 0, 1}, []byte{0xff, 0xff, 0xff, 0xff},
			[]byte{0, 1}, []byte("b"), []byte{0, 0, 0, 1}, []byte{0, 0, 0, 4},
			[]byte{0, 0x04, 0x93, 0xe0}, // 300000
		),
	}, {
		name: "v2 sessioned has the v1 layout",
		a:    Assignment{Version: 2, Leader: "L", LeaderURL: "u", ConfigOffset: 1, Tasks: []TaskID{{"x", 7}}},
		want: cat(
			[]byte{0, 2}, []byte{0, 0},
			[]byte{0, 1}, []byte("L"), []byte{0, 1}, []byte("u"),
			[]byte{0, 0, 0, 0, 0, 0, 0, 1},
			[]byte{0, 0, 0, 1}, []byte{0, 1}, []byte("x"), []byte{0, 0, 0, 1}, []byte{0, 0, 0, 7},
			[]byte{0, 0, 0, 0},
			[]byte{0, 0, 0, 0},
		),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.a.AppendTo(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("encoded\n got % x\nwant % x", got, tt.want)
			}
			back, err := DecodeAssignment(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			// Decoding groups tasks per connector; compare as sets in
			// the order Connect's grouping gives.
			want := tt.a
			want.Tasks = groupTasks(want.Tasks)
			if !reflect.DeepEqual(back, want) {
				t.Fatalf("decoded %+v, want %+v", back, want)
			}
		})
	}
}

// groupTasks orders tasks by first appearance of their connector, as the
// wire format groups them.
func groupTasks(ts []TaskID) []TaskID {
	var order []string
	by := map[string][]TaskID{}
	for _, t := range ts {
		if _, ok := by[t.Connector]; !ok {
			order = append(order, t.Connector)
		}
		by[t.Connector] = append(by[t.Connector], t)
	}
	var out []TaskID
	for _, c := range order {
		out = append(out, by[c]...)
	}
	return out
}

func TestDecodeToleratesWhatConnectTolerates(t *testing.T) {
	// A v1 assignment without revoked and delay (TOLERATE_MISSING_FIELDS).
	short := cat([]byte{0, 1}, []byte{0, 0}, []byte{0, 1}, []byte("L"), []byte{0, 0},
		[]byte{0, 0, 0, 0, 0, 0, 0, 1}, []byte{0xff, 0xff, 0xff, 0xff}) // null assignment array
	a, err := DecodeAssignment(short)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != 1 || a.Leader != "L" || a.ConfigOffset != 1 || a.Connectors != nil || a.Delay != 0 {
		t.Fatalf("got %+v", a)
	}
	// A v1 metadata without the allocation field.
	m, err := DecodeMetadata(cat([]byte{0, 1}, []byte{0, 1}, []byte("u"), []byte{0, 0, 0, 0, 0, 0, 0, 2}))
	if err != nil {
		t.Fatal(err)
	}
	if m.Allocation != nil || m.URL != "u" || m.ConfigOffset != 2 {
		t.Fatalf("got %+v", m)
	}
	// A future version 5 is read with the v1 layout, trailing bytes ignored.
	m, err = DecodeMetadata(cat([]byte{0, 5}, []byte{0, 1}, []byte("u"), []byte{0, 0, 0, 0, 0, 0, 0, 2}, []byte{0xff, 0xff, 0xff, 0xff}, []byte{1, 2, 3}))
	if err != nil || m.Version != 5 || m.Allocation != nil {
		t.Fatalf("got %+v, %v", m, err)
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	good, err := (&Metadata{Version: 1, URL: "http://x", ConfigOffset: 1, Allocation: &Assignment{Version: 1, Leader: "L", Tasks: []TaskID{{"c", 1}}}}).AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Every truncation that cuts a required field fails with ErrMalformed.
	// (Cutting exactly before the optional allocation is valid.)
	for n := 0; n < len(good); n++ {
		_, err := DecodeMetadata(good[:n])
		if n == 2+2+8+8 { // version, url, offset: allocation omitted
			if err != nil {
				t.Fatalf("cut at %d: %v", n, err)
			}
			continue
		}
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("cut at %d of %d: err %v, want ErrMalformed", n, len(good), err)
		}
	}
	for name, b := range map[string][]byte{
		"negative version": {0xff, 0xff, 0, 0},
		"null url":         {0, 0, 0xff, 0xff},
		"huge array count": cat([]byte{0, 0, 0, 0}, []byte{0, 0}, []byte{0, 0}, make([]byte, 8), []byte{0x7f, 0xff, 0xff, 0xff}),
	} {
		if _, err := DecodeAssignment(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
}

func TestEncodeRejectsLongStrings(t *testing.T) {
	m := Metadata{URL: string(make([]byte, 40000))}
	if _, err := m.AppendTo(nil); err == nil {
		t.Fatal("a 40000-byte url encoded")
	}
}

func TestRoundTrip(t *testing.T) {
	for _, v := range []int16{0, 1, 2} {
		a := Assignment{Version: v, Leader: "leader-1", LeaderURL: "http://127.0.0.1:8083/", ConfigOffset: 1 << 40,
			Connectors: []string{"a", "b"}, Tasks: []TaskID{{"a", 0}, {"a", 1}, {"b", 0}, {"z", 9}}}
		if v > 0 {
			a.RevokedConnectors = []string{"q"}
			a.RevokedTasks = []TaskID{{"q", 0}, {"r", 3}}
			a.Delay = 1234
		}
		b, err := a.AppendTo([]byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeAssignment(b[len("prefix"):])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, a) {
			t.Fatalf("v%d: got %+v, want %+v", v, got, a)
		}
		m := Metadata{Version: v, URL: "http://w:1/", ConfigOffset: 99}
		if v > 0 {
			a1 := a
			a1.Version = 1
			m.Allocation = &a1
		}
		mb, err := m.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		gm, err := DecodeMetadata(mb)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gm, m) {
			t.Fatalf("v%d: got %+v, want %+v", v, gm, m)
		}
	}
}

func TestProtocolVersions(t *testing.T) {
	for p, v := range map[Protocol]int16{Eager: 0, Compatible: 1, Sessioned: 2, "range": -1} {
		if p.Version() != v {
			t.Errorf("%s: version %d, want %d", p, p.Version(), v)
		}
	}
	if Eager.Cooperative() || !Compatible.Cooperative() || !Sessioned.Cooperative() {
		t.Error("Cooperative wrong")
	}
}

func FuzzDecode(f *testing.F) {
	a := Assignment{Version: 1, Leader: "L", Connectors: []string{"c"}, Tasks: []TaskID{{"c", 0}}, RevokedTasks: []TaskID{{"d", 1}}}
	ab, _ := a.AppendTo(nil)
	mb, _ := (&Metadata{Version: 2, URL: "u", Allocation: &a}).AppendTo(nil)
	f.Add(ab)
	f.Add(mb)
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := DecodeAssignment(b); err == nil {
			// What decodes re-encodes and decodes to the same value.
			enc, err := a.AppendTo(nil)
			if err != nil {
				t.Fatal(err)
			}
			again, err := DecodeAssignment(enc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize(again), normalize(a)) {
				t.Fatalf("re-decoded %+v, want %+v", again, a)
			}
		}
		if m, err := DecodeMetadata(b); err == nil {
			if _, err := m.AppendTo(nil); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// normalize groups tasks and dedups connectors as the encoder does.
func normalize(a Assignment) Assignment {
	a.Tasks = groupTasks(a.Tasks)
	a.RevokedTasks = groupTasks(a.RevokedTasks)
	a.Connectors = dedup(a.Connectors)
	a.RevokedConnectors = dedup(a.RevokedConnectors)
	return a
}

func dedup(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
