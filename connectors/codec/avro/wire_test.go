package avro

import (
	"errors"
	"testing"
)

func TestWire(t *testing.T) {
	msg := append(AppendHeader(nil, 258), 0x02, 0x61)
	if want := []byte{0, 0, 0, 1, 2, 2, 0x61}; string(msg) != string(want) {
		t.Fatalf("framed % x, want % x", msg, want)
	}
	id, payload, err := ParseWire(msg)
	if err != nil || id != 258 || string(payload) != "\x02a" {
		t.Fatalf("ParseWire = %d, % x, %v", id, payload, err)
	}
	for _, bad := range [][]byte{nil, {0, 0, 0, 1}, {1, 0, 0, 0, 1, 2}, []byte(`{"a":1}`)} {
		if _, _, err := ParseWire(bad); !errors.Is(err, ErrNotWireFormat) {
			t.Errorf("ParseWire(% x) err = %v, want ErrNotWireFormat", bad, err)
		}
	}
}
