package avro

import "testing"

// FuzzDecode feeds arbitrary bytes to the decoder of a Debezium envelope:
// it must return a value or an error, never panic or hang.
func FuzzDecode(f *testing.F) {
	row, env := envelope()
	w, err := New(DefaultOptions()).Schema(env)
	if err != nil {
		f.Fatal(err)
	}
	data, err := w.Append(nil, envValue(row, env))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := w.Decode(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes.
		again, err := w.Append(nil, v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		if _, err := w.Decode(again); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
	})
}
