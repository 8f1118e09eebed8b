package connectjson

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// want is encoding/json's spelling, which AppendString promises.
func want(t testing.TB, s string) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(s); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	// Every interesting byte at every position of blocks longer than the
	// eight-byte fast path, so that both paths and their seams are hit.
	alphabet := []string{"a", " ", "~", "\x7f", "\"", "\\", "\x00", "\x1f", "\n", "\t", "é", "\u2028", "\u2029", "\xff", "\xe2\x80", "😀", "<", "&"}
	for _, c := range alphabet {
		for pos := range 20 {
			s := string(bytes.Repeat([]byte("x"), pos)) + c + string(bytes.Repeat([]byte("y"), 19-pos))
			if got, w := string(AppendString(nil, s)), want(t, s); got != w {
				t.Errorf("AppendString(%q) = %s, want %s", s, got, w)
			}
			if got, w := string(AppendBytes(nil, []byte(s))), want(t, s); got != w {
				t.Errorf("AppendBytes(%q) = %s, want %s", s, got, w)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			if r.IntN(4) == 0 {
				b[i] = byte(r.IntN(256))
			} else {
				b[i] = byte(0x20 + r.IntN(0x5f))
			}
		}
		if got, w := string(AppendString(nil, string(b))), want(t, string(b)); got != w {
			t.Fatalf("AppendString(%q) = %s, want %s", b, got, w)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("plain text, long enough for the fast path")
	f.Add("quote \" backslash \\ newline \n")
	f.Fuzz(func(t *testing.T, s string) {
		if got, w := string(AppendString(nil, s)), want(t, s); got != w {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, w)
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	s := string(bytes.Repeat([]byte(" "), 84))
	dst := make([]byte, 0, 128)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		dst = AppendString(dst[:0], s)
	}
}
