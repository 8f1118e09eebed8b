package jdbc

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Debezium's string temporal types (time.precision.mode=isostring, and
// interval.handling.mode=string) are written by java.time formatters:
//
//	io.debezium.time.IsoDate       ISO_OFFSET_DATE       2023-11-21Z
//	io.debezium.time.IsoTime       ISO_OFFSET_TIME       10:15:30Z, 10:15:30.123456789Z
//	io.debezium.time.IsoTimestamp  ISO_OFFSET_DATE_TIME  2023-11-21T18:29:26.5Z
//	io.debezium.time.ZonedTime     ISO_OFFSET_TIME       10:15:30+02:00
//	io.debezium.time.Interval      P<y>Y<m>M<d>DT<h>H<m>M<s>S, components may be negative
//
// Years past 9999 carry a sign (+10000-01-01Z), as do years before 1;
// the fraction has one to nine digits and is left out when zero; the
// offset is Z, ±HH:MM or ±HH:MM:SS. The parsers here take that, and
// also a missing offset (read as UTC) and a missing seconds field.

var errIsoSyntax = errors.New("not an ISO 8601 value")

// parseIsoDate parses an IsoDate: the calendar date as written (an
// offset, always Z from Debezium, does not move a date).
func parseIsoDate(s string) (time.Time, error) {
	y, m, d, rest, err := isoDatePart(s)
	if err == nil {
		_, err = isoOffset(rest)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("IsoDate %q: %w", s, err)
	}
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), nil
}

// parseIsoTime parses an IsoTime (or a ZonedTime) as the time of day in
// UTC.
func parseIsoTime(s string) (timeOfDay, error) {
	d, rest, err := isoClock(s)
	var off int
	if err == nil {
		off, err = isoOffset(rest)
	}
	if err != nil {
		return 0, fmt.Errorf("IsoTime %q: %w", s, err)
	}
	d -= time.Duration(off) * time.Second
	d %= 24 * time.Hour
	if d < 0 {
		d += 24 * time.Hour
	}
	return timeOfDay(d), nil
}

// parseIsoTimestamp parses an IsoTimestamp as a UTC wall clock (Debezium
// writes the source's zone-less value with offset Z; another offset is
// converted to UTC).
func parseIsoTimestamp(s string) (time.Time, error) {
	y, m, d, rest, err := isoDatePart(s)
	var clock time.Duration
	var off int
	if err == nil {
		if len(rest) == 0 || (rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ') {
			err = errIsoSyntax
		} else {
			clock, rest, err = isoClock(rest[1:])
		}
	}
	if err == nil {
		off, err = isoOffset(rest)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("IsoTimestamp %q: %w", s, err)
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Add(clock).Add(-time.Duration(off) * time.Second)
	return t, nil
}

// isoDatePart reads [±]YYYY-MM-DD and checks that the day exists.
func isoDatePart(s string) (y, m, d int, rest string, err error) {
	sign := 1
	if s != "" && (s[0] == '+' || s[0] == '-') {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i < 4 || i > 9 {
		return 0, 0, 0, "", errIsoSyntax
	}
	y, _ = strconv.Atoi(s[:i])
	y *= sign
	s = s[i:]
	if len(s) < 6 || s[0] != '-' || s[3] != '-' {
		return 0, 0, 0, "", errIsoSyntax
	}
	m, ok1 := digits2(s[1:3])
	d, ok2 := digits2(s[4:6])
	if !ok1 || !ok2 || m < 1 || m > 12 || d < 1 || d > time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return 0, 0, 0, "", errIsoSyntax
	}
	return y, m, d, s[6:], nil
}

// isoClock reads HH:MM[:SS[.fffffffff]] as a duration since midnight.
func isoClock(s string) (time.Duration, string, error) {
	if len(s) < 5 || s[2] != ':' {
		return 0, "", errIsoSyntax
	}
	h, ok1 := digits2(s[:2])
	mi, ok2 := digits2(s[3:5])
	if !ok1 || !ok2 || h > 23 || mi > 59 {
		return 0, "", errIsoSyntax
	}
	d := time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute
	s = s[5:]
	if len(s) >= 3 && s[0] == ':' {
		sec, ok := digits2(s[1:3])
		if !ok || sec > 59 {
			return 0, "", errIsoSyntax
		}
		d += time.Duration(sec) * time.Second
		s = s[3:]
		if len(s) > 0 && (s[0] == '.' || s[0] == ',') {
			j := 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == 1 || j > 10 {
				return 0, "", errIsoSyntax
			}
			ns, _ := strconv.Atoi(s[1:j] + strings.Repeat("0", 10-j))
			d += time.Duration(ns)
			s = s[j:]
		}
	}
	return d, s, nil
}

// isoOffset reads what follows a time: nothing or Z (UTC), ±HH, ±HH:MM
// or ±HH:MM:SS, returning the offset east of UTC in seconds.
func isoOffset(s string) (int, error) {
	if s == "" || s == "Z" || s == "z" {
		return 0, nil
	}
	sign := 1
	switch s[0] {
	case '+':
	case '-':
		sign = -1
	default:
		return 0, errIsoSyntax
	}
	s = s[1:]
	off := 0
	for i, unit := range []int{3600, 60, 1} {
		if i > 0 {
			if s == "" {
				break
			}
			if s[0] == ':' {
				s = s[1:]
			}
		}
		if len(s) < 2 {
			return 0, errIsoSyntax
		}
		n, ok := digits2(s[:2])
		if !ok || (i == 0 && n > 18) || (i > 0 && n > 59) {
			return 0, errIsoSyntax
		}
		off += n * unit
		s = s[2:]
	}
	if s != "" {
		return 0, errIsoSyntax
	}
	return sign * off, nil
}

func digits2(s string) (int, bool) {
	if len(s) != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

// isoInterval is a PostgreSQL interval: months, days and microseconds,
// each with its own sign.
type isoInterval struct {
	months, days int32
	micros       int64
}

var errIntervalRange = errors.New("out of range for an interval")

// parseIsoInterval parses Debezium's Interval string PnYnMnDTnHnMnS
// (any component may be left out or be negative; hours, minutes and
// seconds may have a fraction of up to nine digits, rounded to
// microseconds as PostgreSQL does), and the week form PnW.
func parseIsoInterval(s string) (isoInterval, error) {
	fail := func(err error) (isoInterval, error) { return isoInterval{}, fmt.Errorf("interval %q: %w", s, err) }
	if len(s) < 2 || (s[0] != 'P' && s[0] != 'p') {
		return fail(errIsoSyntax)
	}
	rest := s[1:]
	timePart := false
	var months, days, micros int64
	add := func(sum *int64, n int64) bool {
		r := *sum + n
		if (n > 0 && r < *sum) || (n < 0 && r > *sum) {
			return false
		}
		*sum = r
		return true
	}
	for rest != "" {
		if rest[0] == 'T' || rest[0] == 't' {
			if timePart {
				return fail(errIsoSyntax)
			}
			timePart = true
			rest = rest[1:]
			continue
		}
		neg := false
		j := 0
		if rest[0] == '-' || rest[0] == '+' {
			neg = rest[0] == '-'
			j++
		}
		start := j
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		whole, err := strconv.ParseInt(rest[start:j], 10, 64)
		if err != nil {
			return fail(errIsoSyntax)
		}
		frac := ""
		if j < len(rest) && (rest[j] == '.' || rest[j] == ',') {
			k := j + 1
			for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
				k++
			}
			frac, j = rest[j+1:k], k
			if frac == "" || len(frac) > 9 {
				return fail(errIsoSyntax)
			}
		}
		if j == len(rest) {
			return fail(errIsoSyntax)
		}
		var sum *int64
		var unit int64
		switch u := rest[j] | 0x20; {
		case !timePart && u == 'y':
			sum, unit = &months, 12
		case !timePart && u == 'm':
			sum, unit = &months, 1
		case !timePart && u == 'w':
			sum, unit = &days, 7
		case !timePart && u == 'd':
			sum, unit = &days, 1
		case timePart && u == 'h':
			sum, unit = &micros, 3600_000_000
		case timePart && u == 'm':
			sum, unit = &micros, 60_000_000
		case timePart && u == 's':
			sum, unit = &micros, 1_000_000
		default:
			return fail(errIsoSyntax)
		}
		if frac != "" && !timePart {
			// PostgreSQL spreads fractional months and days over the
			// smaller units; Debezium never writes them.
			return fail(errors.New("fractional years, months, weeks or days are not supported"))
		}
		if whole > math.MaxInt64/unit {
			return fail(errIntervalRange)
		}
		n := whole * unit
		if frac != "" {
			f, _ := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
			// f/1e9 of a unit in microseconds, rounded half away from zero.
			n2 := (f*unit + 500_000_000) / 1_000_000_000
			if !add(&n, n2) {
				return fail(errIntervalRange)
			}
		}
		if neg {
			n = -n
		}
		if !add(sum, n) {
			return fail(errIntervalRange)
		}
		rest = rest[j+1:]
	}
	if months > math.MaxInt32 || months < math.MinInt32 || days > math.MaxInt32 || days < math.MinInt32 {
		return fail(errIntervalRange)
	}
	return isoInterval{months: int32(months), days: int32(days), micros: micros}, nil
}

// isIsoTemporal reports whether c is an IsoDate, IsoTime or IsoTimestamp
// field.
func isIsoTemporal(c *column) bool {
	switch c.schema.Name {
	case cdc.IsoDateName, cdc.IsoTimeName, cdc.IsoTimestampName:
		return true
	}
	return false
}

// isoText formats a normalized IsoDate, IsoTime or IsoTimestamp value as
// Debezium does (UTC, offset Z, the fraction without trailing zeros), for
// a text column: what Debezium sent, as the parse keeps every digit.
func isoText(c *column, v any) any {
	switch x := v.(type) {
	case time.Time:
		b := appendIsoDate(nil, x)
		if c.kind == kTimestamp {
			b = append(b, 'T')
			b = appendIsoClock(b, time.Duration(x.Hour())*time.Hour+time.Duration(x.Minute())*time.Minute+
				time.Duration(x.Second())*time.Second+time.Duration(x.Nanosecond()))
		}
		return string(append(b, 'Z'))
	case timeOfDay:
		return string(append(appendIsoClock(nil, time.Duration(x)), 'Z'))
	}
	return v
}

// appendIsoDate appends the date as java.time's ISO_LOCAL_DATE writes it:
// a sign and more digits for years outside 0000-9999.
func appendIsoDate(b []byte, t time.Time) []byte {
	y, m, d := t.Date()
	switch {
	case y > 9999:
		b = fmt.Appendf(b, "+%d", y)
	case y < 0:
		b = fmt.Appendf(b, "-%04d", -y)
	default:
		b = fmt.Appendf(b, "%04d", y)
	}
	return fmt.Appendf(b, "-%02d-%02d", int(m), d)
}

// appendIsoClock appends HH:MM:SS and, when not zero, the fraction with
// its trailing zeros left out.
func appendIsoClock(b []byte, d time.Duration) []byte {
	h := d / time.Hour
	d -= h * time.Hour
	mi := d / time.Minute
	d -= mi * time.Minute
	s := d / time.Second
	ns := int64(d - s*time.Second)
	b = fmt.Appendf(b, "%02d:%02d:%02d", h, mi, s)
	if ns != 0 {
		f := strings.TrimRight(fmt.Sprintf("%09d", ns), "0")
		b = append(append(b, '.'), f...)
	}
	return b
}
