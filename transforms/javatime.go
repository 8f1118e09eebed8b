package transforms

import (
	"fmt"
	"strings"
	"time"
)

// javaLayout translates a java.text.SimpleDateFormat pattern, as Kafka's
// TimestampConverter and TimestampRouter take, to a Go time layout. It
// refuses the letters it has no Go equivalent for, and literal text Go
// would read as a layout element (checkLayout).
func javaLayout(p string) (string, error) {
	var b strings.Builder
	var elems []elem
	for i := 0; i < len(p); {
		c := p[i]
		if c == '\'' {
			j := i + 1
			if j < len(p) && p[j] == '\'' {
				b.WriteByte('\'')
				elems = append(elems, elem{s: "'", lit: true})
				i += 2
				continue
			}
			var lit strings.Builder
			for ; j < len(p); j++ {
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						lit.WriteByte('\'')
						j++
						continue
					}
					break
				}
				lit.WriteByte(p[j])
			}
			if j >= len(p) {
				return "", fmt.Errorf("unclosed quote in %q", p)
			}
			b.WriteString(lit.String())
			elems = append(elems, elem{s: lit.String(), lit: true})
			i = j + 1
			continue
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b.WriteString(string(c))
			elems = append(elems, elem{s: string(c), lit: true})
			i++
			continue
		}
		n := 1
		for i+n < len(p) && p[i+n] == c {
			n++
		}
		var s string
		switch {
		case c == 'y' && n == 2:
			s = "06"
		case c == 'y' || c == 'u' && n >= 4:
			s = "2006"
		case c == 'M' && n == 1:
			s = "1"
		case c == 'M' && n == 2:
			s = "01"
		case c == 'M' && n == 3:
			s = "Jan"
		case c == 'M':
			s = "January"
		case c == 'd' && n == 1:
			s = "2"
		case c == 'd' && n == 2:
			s = "02"
		case c == 'D' && n == 3:
			s = "002"
		case c == 'H' && n <= 2:
			s = "15"
		case c == 'h' && n == 1:
			s = "3"
		case c == 'h' && n == 2:
			s = "03"
		case c == 'm' && n == 1:
			s = "4"
		case c == 'm' && n == 2:
			s = "04"
		case c == 's' && n == 1:
			s = "5"
		case c == 's' && n == 2:
			s = "05"
		case c == 'S':
			prev := b.String()
			if prev == "" || (prev[len(prev)-1] != '.' && prev[len(prev)-1] != ',') || n > 9 {
				return "", fmt.Errorf("%q: S (fraction of a second) must follow a '.' or ',' and be at most 9 letters", p)
			}
			s = strings.Repeat("0", n)
		case c == 'a' && n == 1:
			s = "PM"
		case c == 'E' && n <= 3:
			s = "Mon"
		case c == 'E':
			s = "Monday"
		case c == 'Z' && n <= 3:
			s = "-0700"
		case c == 'X' && n == 1:
			s = "Z07"
		case c == 'X' && n == 2:
			s = "Z0700"
		case c == 'X' && n == 3:
			s = "Z07:00"
		case c == 'z' && n <= 3:
			s = "MST"
		default:
			return "", fmt.Errorf("%q: pattern letters %q are not supported; use y, M, d, D, H, h, m, s, S, a, E, Z, X or z", p, strings.Repeat(string(c), n))
		}
		b.WriteString(s)
		elems = append(elems, elem{s: s, frac: c == 'S'})
		i += n
	}
	if err := checkLayout(p, b.String(), elems); err != nil {
		return "", err
	}
	return b.String(), nil
}

// checkLayout verifies that Go reads layout as the elements it was built
// from: formatting reference times with the whole layout must give what
// formatting each element alone gives. Literal text such as "1st" or
// "_2" that Go would take for an element fails this.
func checkLayout(java, layout string, elems []elem) error {
	for _, ref := range []time.Time{
		time.Date(2009, 11, 17, 20, 34, 58, 651387237, time.UTC),
		time.Date(1987, 3, 5, 7, 8, 9, 12_000_000, time.UTC),
	} {
		var want []byte
		for _, e := range elems {
			switch {
			case e.lit:
				want = append(want, e.s...)
			case e.frac:
				want = append(want, ref.Format("." + e.s)[1:]...)
			default:
				want = ref.AppendFormat(want, e.s)
			}
		}
		if got := ref.Format(layout); got != string(want) {
			return fmt.Errorf("%q: its literal text would be read as part of the date (%q, want %q); quote letters and avoid digits and _ next to fields", java, got, want)
		}
	}
	return nil
}

// elem is one element of a translated pattern: literal text, a Go
// layout element, or a fraction of a second (written after a '.').
type elem struct {
	s         string
	lit, frac bool
}
