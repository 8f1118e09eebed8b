package s3

import (
	"strings"
	"testing"
	"time"
)

// FuzzPathFormat: any path.format either is refused with a message or
// formats every time without panicking, and a quoted literal comes out as
// written.
func FuzzPathFormat(f *testing.F) {
	for _, s := range []string{"'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH", "yyyy-MM-dd", "''", "'open", "MMM", "'a'''b'", "HH:mm:ss.SSS", ""} {
		f.Add(s, int64(1764756000123))
	}
	f.Fuzz(func(t *testing.T, s string, ms int64) {
		pf, err := parsePathFormat(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		out := pf.format(time.UnixMilli(ms % (1 << 45)).UTC())
		for _, p := range pf.parts {
			if p.field == 0 && !strings.Contains(out, p.lit) {
				t.Fatalf("%q formatted as %q lost the literal %q", s, out, p.lit)
			}
		}
	})
}
