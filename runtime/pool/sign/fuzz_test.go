package sign

import (
	"bytes"
	"testing"
)

// FuzzDecodeRecord checks that any value either decodes to a key that
// encodes back to a record decoding to the same key, or is refused
// without panicking.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","algorithm":"HmacSHA256","creation-timestamp":1714564800123}`))
	f.Add([]byte(`{"key":"","algorithm":"","creation-timestamp":-1}`))
	f.Add([]byte(`{"key":null}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, value []byte) {
		k, err := DecodeRecord(value)
		if err != nil {
			return
		}
		again, err := EncodeRecord(k)
		if err != nil {
			t.Fatalf("decoded key does not encode: %v", err)
		}
		k2, err := DecodeRecord(again)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !bytes.Equal(k.Secret, k2.Secret) || k.Algorithm != k2.Algorithm || !k.Created.Equal(k2.Created) {
			t.Fatalf("round trip changed the key")
		}
	})
}
