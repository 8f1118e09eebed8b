package pgoutput

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

type enc []byte

func (e enc) u8(v uint8) enc   { return append(e, v) }
func (e enc) u16(v uint16) enc { return binary.BigEndian.AppendUint16(e, v) }
func (e enc) u32(v uint32) enc { return binary.BigEndian.AppendUint32(e, v) }
func (e enc) u64(v uint64) enc { return binary.BigEndian.AppendUint64(e, v) }
func (e enc) str(s string) enc { return append(append(e, s...), 0) }
func (e enc) tuple(cols ...any) enc {
	e = e.u16(uint16(len(cols)))
	for _, c := range cols {
		switch c := c.(type) {
		case nil:
			e = e.u8('n')
		case byte:
			e = e.u8(c)
		case string:
			e = e.u8('t').u32(uint32(len(c)))
			e = append(e, c...)
		}
	}
	return e
}

func TestDecode(t *testing.T) {
	var d Decoder
	tests := []struct {
		name string
		in   enc
		want Message
	}{
		{"begin", enc{'B'}.u64(100).u64(7).u32(42), &Begin{FinalLSN: 100, CommitTime: 7, Xid: 42}},
		{"commit", enc{'C'}.u8(0).u64(100).u64(120).u64(7), &Commit{CommitLSN: 100, EndLSN: 120, CommitTime: 7}},
		{"origin", enc{'O'}.u64(5).str("node1"), &Origin{LSN: 5, Name: "node1"}},
		{"relation", enc{'R'}.u32(16384).str("public").str("t").u8('d').u16(2).
			u8(1).str("id").u32(23).u32(0xffffffff).u8(0).str("v").u32(25).u32(0xffffffff),
			&Relation{ID: 16384, Namespace: "public", Name: "t", ReplicaIdentity: 'd', Columns: []RelationColumn{
				{Flags: 1, Name: "id", TypeID: 23, Typmod: -1}, {Name: "v", TypeID: 25, Typmod: -1}}}},
		{"type", enc{'Y'}.u32(9).str("public").str("mood"), &TypeMsg{ID: 9, Namespace: "public", Name: "mood"}},
		{"insert", enc{'I'}.u32(16384).u8('N').tuple("1", nil),
			&Insert{RelationID: 16384, New: Tuple{Columns: []Column{{Kind: 't', Data: []byte("1")}, {Kind: 'n'}}}}},
		{"update with key", enc{'U'}.u32(1).u8('K').tuple("1", nil).u8('N').tuple("2", byte('u')),
			&Update{RelationID: 1, OldKind: 'K', Old: Tuple{Columns: []Column{{Kind: 't', Data: []byte("1")}, {Kind: 'n'}}},
				New: Tuple{Columns: []Column{{Kind: 't', Data: []byte("2")}, {Kind: 'u'}}}}},
		{"delete", enc{'D'}.u32(1).u8('O').tuple("1"),
			&Delete{RelationID: 1, OldKind: 'O', Old: Tuple{Columns: []Column{{Kind: 't', Data: []byte("1")}}}}},
		{"truncate", enc{'T'}.u32(2).u8(1).u32(5).u32(6), &Truncate{Options: 1, RelationIDs: []uint32{5, 6}}},
		{"stream start", enc{'S'}.u32(9).u8(1), &StreamStart{Xid: 9, First: true}},
		{"stream stop", enc{'E'}, &StreamStop{}},
		{"stream commit", enc{'c'}.u32(9).u8(0).u64(100).u64(120).u64(7), &StreamCommit{Xid: 9, CommitLSN: 100, EndLSN: 120, CommitTime: 7}},
		{"stream abort", enc{'A'}.u32(9).u32(10), &StreamAbort{Xid: 9, SubXid: 10}},
		{"message", enc{'M'}.u8(1).u64(9).str("p").u32(2).u8('h').u8('i'),
			&LogicalMessage{Transactional: true, LSN: 9, Prefix: "p", Content: []byte("hi")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Decode(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if u, ok := got.(*Update); ok && u.OldKind == 0 {
				u.Old = Tuple{}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeShort(t *testing.T) {
	var d Decoder
	full := enc{'I'}.u32(16384).u8('N').tuple("12345", nil)
	for i := 1; i < len(full); i++ {
		if _, err := d.Decode(full[:i]); err == nil {
			t.Errorf("Decode of %d of %d bytes succeeded", i, len(full))
		} else if i > 5 && !errors.Is(err, ErrShort) {
			t.Errorf("Decode of %d bytes: %v, want ErrShort", i, err)
		}
	}
}

func TestDecodeInsertNoAlloc(t *testing.T) {
	var d Decoder
	msg := enc{'I'}.u32(16384).u8('N').tuple("1", "abc", nil, "2024-01-01", "x", "y", "z", "1.5", "t", "9")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.Decode(msg); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("Decode(insert) allocates %v times, want at most 1", allocs)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(enc{'I'}.u32(1).u8('N').tuple("1", nil)))
	f.Add([]byte(enc{'U'}.u32(1).u8('K').tuple("1").u8('N').tuple("2")))
	f.Add([]byte(enc{'R'}.u32(1).str("s").str("t").u8('d').u16(1).u8(1).str("id").u32(23).u32(0)))
	f.Add([]byte(enc{'T'}.u32(1).u8(0).u32(5)))
	f.Add([]byte(enc{'M'}.u8(0).u64(1).str("p").u32(1).u8('x')))
	f.Add([]byte(enc{'c'}.u32(9).u8(0).u64(100).u64(120).u64(7)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Decoder
		_, _ = d.Decode(b)
	})
}

func TestStripXid(t *testing.T) {
	xid, msg, err := StripXid(enc{'I'}.u32(77).u32(16384).u8('N').tuple("1"))
	if err != nil || xid != 77 {
		t.Fatalf("StripXid: %d, %v", xid, err)
	}
	var d Decoder
	m, err := d.Decode(msg)
	if err != nil || m.(*Insert).RelationID != 16384 {
		t.Fatalf("decoding the stripped insert: %v %v", m, err)
	}
	if _, _, err := StripXid([]byte{'I', 0, 0}); err == nil {
		t.Error("StripXid of a short message succeeded")
	}
}
