package pgtypes

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Sentinels Debezium uses for ±infinity. Timestamps read
// PGStatement.DATE_POSITIVE_INFINITY and DATE_NEGATIVE_INFINITY as
// microseconds (+294247-01-10T04:00:25.2 and -290308-12-21T19:59:27.6).
// Dates become PostgresValueConverter's POSITIVE_INFINITY_LOCAL_DATE and
// NEGATIVE_INFINITY_LOCAL_DATE, which are -5877611-06-21 and
// -5877611-06-22: both in year -5877611, so +infinity sorts before
// -infinity, as in Debezium's stream.
const (
	PositiveInfinityMicros int64 = 9223372036825200000
	NegativeInfinityMicros int64 = -9223372036832400000
)

var (
	positiveInfinityDays = int32(daysFromCivil(-5877611, 6, 21))
	negativeInfinityDays = int32(daysFromCivil(-5877611, 6, 22))
)

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date with astronomical year numbering (1 BC is year 0).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// digits parses b[i:i+n] as a decimal number.
func digits(b []byte, i, n int) (int64, bool) {
	if i+n > len(b) {
		return 0, false
	}
	var v int64
	for _, c := range b[i : i+n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// parseDate parses "YYYY-MM-DD[ BC]" at the start of b (the year may have
// more than 4 digits) and returns the epoch day and the bytes consumed
// (without the BC suffix, which the caller passes as bc).
func parseDate(b []byte, bc bool) (days int64, n int, err error) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i < 4 || i+6 > len(b) || b[i] != '-' || b[i+3] != '-' {
		return 0, 0, fmt.Errorf("invalid date %q", b)
	}
	y, _ := digits(b, 0, i)
	mo, ok1 := digits(b, i+1, 2)
	d, ok2 := digits(b, i+4, 2)
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("invalid date %q", b)
	}
	if bc {
		y = 1 - y
	}
	return daysFromCivil(y, mo, d), i + 6, nil
}

// parseClock parses "HH:MM:SS[.ffffff]" and returns microseconds of the
// day and the bytes consumed.
func parseClock(b []byte) (int64, int, error) {
	if len(b) < 8 || b[2] != ':' || b[5] != ':' {
		return 0, 0, fmt.Errorf("invalid time %q", b)
	}
	h, ok1 := digits(b, 0, 2)
	mi, ok2 := digits(b, 3, 2)
	s, ok3 := digits(b, 6, 2)
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, fmt.Errorf("invalid time %q", b)
	}
	us := ((h*60+mi)*60 + s) * 1e6
	i := 8
	if i < len(b) && b[i] == '.' {
		i++
		var frac int64
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if n < 6 {
				frac = frac*10 + int64(b[i]-'0')
				n++
			}
			i++
		}
		for ; n < 6; n++ {
			frac *= 10
		}
		us += frac
	}
	return us, i, nil
}

// parseOffset parses a UTC offset "+HH[:MM[:SS]]" and returns seconds.
func parseOffset(b []byte) (int64, error) {
	if len(b) < 3 || (b[0] != '+' && b[0] != '-') {
		return 0, fmt.Errorf("invalid time zone offset %q", b)
	}
	h, ok := digits(b, 1, 2)
	if !ok {
		return 0, fmt.Errorf("invalid time zone offset %q", b)
	}
	off := h * 3600
	if len(b) >= 6 && b[3] == ':' {
		m, ok := digits(b, 4, 2)
		if !ok {
			return 0, fmt.Errorf("invalid time zone offset %q", b)
		}
		off += m * 60
		if len(b) >= 9 && b[6] == ':' {
			s, ok := digits(b, 7, 2)
			if !ok {
				return 0, fmt.Errorf("invalid time zone offset %q", b)
			}
			off += s
		}
	}
	if b[0] == '-' {
		off = -off
	}
	return off, nil
}

func trimBC(b []byte) ([]byte, bool) {
	if n := len(b); n > 3 && string(b[n-3:]) == " BC" {
		return b[:n-3], true
	}
	return b, false
}

// ParseTimestamp parses timestamp or timestamptz text output (ISO
// DateStyle) into microseconds since the epoch, UTC. inf is +1 or -1 for
// ±infinity.
func ParseTimestamp(b []byte) (us int64, inf int, err error) {
	switch bstr(b) {
	case "infinity":
		return 0, 1, nil
	case "-infinity":
		return 0, -1, nil
	}
	b, bc := trimBC(b)
	days, n, err := parseDate(b, bc)
	if err != nil {
		return 0, 0, err
	}
	if n >= len(b) || b[n] != ' ' {
		return 0, 0, fmt.Errorf("invalid timestamp %q", b)
	}
	tod, m, err := parseClock(b[n+1:])
	if err != nil {
		return 0, 0, err
	}
	us = days*86400e6 + tod
	if rest := b[n+1+m:]; len(rest) > 0 {
		off, err := parseOffset(rest)
		if err != nil {
			return 0, 0, err
		}
		us -= off * 1e6
	}
	return us, 0, nil
}

func precision(typmod int32) int {
	if typmod < 0 || typmod > 6 {
		return 6
	}
	return int(typmod)
}

func dateConverter(optional bool, mode cdc.TimeMode) *Converter {
	c := &Converter{TypeName: "date"}
	parse := func(b []byte) (int32, error) {
		switch bstr(b) {
		case "infinity":
			return positiveInfinityDays, nil
		case "-infinity":
			return negativeInfinityDays, nil
		}
		b, bc := trimBC(b)
		d, n, err := parseDate(b, bc)
		if err != nil || n != len(b) {
			return 0, fmt.Errorf("invalid date %q", b)
		}
		return int32(d), nil
	}
	switch mode {
	case cdc.TimeStructured:
		return structuredDateConverter(c, optional, parse)
	case cdc.TimeConnect:
		c.Schema = named(connectors.Int32, connectors.DateName, optional)
		c.fn = func(b []byte) (any, error) {
			d, err := parse(b)
			if err != nil {
				return nil, err
			}
			return time.Unix(int64(d)*86400, 0).UTC(), nil
		}
	case cdc.TimeISOString:
		// IsoDate: ISO_OFFSET_DATE of the date at UTC ("2024-02-29Z").
		c.Schema = named(connectors.String, cdc.IsoDateName, optional)
		c.fn = func(b []byte) (any, error) {
			d, err := parse(b)
			if err != nil {
				return nil, err
			}
			var buf [24]byte
			return string(append(appendDate(buf[:0], int64(d)), 'Z')), nil
		}
	default:
		c.Schema = named(connectors.Int32, cdc.DateName, optional)
		c.fn = func(b []byte) (any, error) {
			d, err := parse(b)
			if err != nil {
				return nil, err
			}
			return d, nil
		}
	}
	return c
}

// timeConverter follows JdbcValueConverters.convertTime on the
// Duration that Strings.asDuration makes of the text, so 24:00:00 is a
// whole day: 86400000000 in MicroTime, 86400000000000 in NanoTime, and
// 00:00:00Z in IsoTime (LocalTime.MIDNIGHT plus one day wraps).
//
// Elements of a time[] reach Debezium differently, in both snapshot and
// stream: pgjdbc's PgArray makes java.sql.Time values of them
// (TimestampUtils.toTime keeps milliseconds), and Conversions.toLocalTime
// reads their hours, minutes, seconds and milliseconds, so an element
// loses its microseconds and 24:00:00 becomes 00:00:00. inArray gives
// that.
func timeConverter(typmod int32, optional bool, mode cdc.TimeMode, inArray bool) *Converter {
	c := &Converter{TypeName: "time"}
	parse := func(b []byte) (int64, error) {
		us, n, err := parseClock(b)
		if err == nil && n != len(b) {
			err = fmt.Errorf("invalid time %q", b)
		}
		if inArray {
			us = us / 1000 * 1000 % usPerDay
		}
		return us, err
	}
	switch {
	case mode == cdc.TimeStructured:
		return structuredTimeConverter(c, typmod, optional, parse)
	case mode == cdc.TimeConnect:
		c.Schema = named(connectors.Int32, connectors.TimeName, optional)
		c.fn = func(b []byte) (any, error) {
			us, err := parse(b)
			if err != nil {
				return nil, err
			}
			return time.UnixMilli(us / 1000).UTC(), nil
		}
	case mode == cdc.TimeISOString:
		c.Schema = named(connectors.String, cdc.IsoTimeName, optional)
		c.fn = func(b []byte) (any, error) {
			us, err := parse(b)
			if err != nil {
				return nil, err
			}
			var buf [24]byte
			return string(append(appendClockTrimmed(buf[:0], us%usPerDay), 'Z')), nil
		}
	case mode == cdc.TimeNanoseconds:
		c.Schema = named(connectors.Int64, cdc.NanoTimeName, optional)
		c.fn = func(b []byte) (any, error) {
			us, err := parse(b)
			if err != nil {
				return nil, err
			}
			return us * 1000, nil
		}
	case mode == cdc.TimeAdaptive && precision(typmod) <= 3:
		c.Schema = named(connectors.Int32, cdc.TimeName, optional)
		c.fn = func(b []byte) (any, error) {
			us, err := parse(b)
			if err != nil {
				return nil, err
			}
			return int32(us / 1000), nil
		}
	default:
		c.Schema = named(connectors.Int64, cdc.MicroTimeName, optional)
		c.fn = func(b []byte) (any, error) {
			us, err := parse(b)
			if err != nil {
				return nil, err
			}
			return us, nil
		}
	}
	return c
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// parseTimestampMicros parses timestamp text into microseconds since the
// epoch with ±infinity as Debezium's sentinels.
func parseTimestampMicros(b []byte) (int64, error) {
	us, inf, err := ParseTimestamp(b)
	switch inf {
	case 1:
		return PositiveInfinityMicros, nil
	case -1:
		return NegativeInfinityMicros, nil
	}
	return us, err
}

// Bounds of the epoch days NanoTimestamp.toEpochNanos accepts: it
// multiplies the epoch day by the nanoseconds of a day with
// Math.multiplyExact, then adds the nanosecond of the day with addExact.
const (
	nanosPerDay    int64 = 86400_000_000_000
	minNanoDay           = math.MinInt64 / nanosPerDay // -106751, 1677-09-22
	maxNanoDay           = math.MaxInt64 / nanosPerDay // 106751, 2262-04-11
	maxNanoLastDay       = math.MaxInt64 - maxNanoDay*nanosPerDay
)

// epochNanos converts microseconds since the epoch to nanoseconds as
// NanoTimestamp does, and reports false outside its range.
func epochNanos(us int64) (int64, bool) {
	days := floorDiv(us, usPerDay)
	tod := (us - days*usPerDay) * 1000
	if days < minNanoDay || days > maxNanoDay || (days == maxNanoDay && tod > maxNanoLastDay) {
		return 0, false
	}
	return days*nanosPerDay + tod, true
}

func timestampConverter(typmod int32, optional bool, mode cdc.TimeMode) *Converter {
	c := &Converter{TypeName: "timestamp"}
	switch {
	case mode == cdc.TimeStructured:
		return structuredTimestampConverter(c, typmod, optional)
	case mode == cdc.TimeConnect:
		c.Schema = named(connectors.Int64, connectors.TimestampName, optional)
		c.fn = func(b []byte) (any, error) {
			us, err := parseTimestampMicros(b)
			if err != nil {
				return nil, err
			}
			return time.UnixMilli(floorDiv(us, 1000)).UTC(), nil
		}
	case mode == cdc.TimeISOString:
		// IsoTimestamp: ISO_OFFSET_DATE_TIME of the UTC date-time, the
		// fraction without trailing zeros; ±infinity are the sentinel
		// instants printed the same way.
		c.Schema = named(connectors.String, cdc.IsoTimestampName, optional)
		c.fn = func(b []byte) (any, error) {
			us, err := parseTimestampMicros(b)
			if err != nil {
				return nil, err
			}
			var buf [40]byte
			return string(appendISOTrimmed(buf[:0], us)), nil
		}
	case mode == cdc.TimeNanoseconds:
		// NanoTimestamp: ±infinity become Long.MAX_VALUE and
		// Long.MIN_VALUE (PostgresValueConverter.convertTimestampToEpochNanos).
		// Other values outside 1677-09-22..2262-04-11 make toEpochNanos
		// throw; Debezium then emits null for a nullable column and
		// fails on a NOT NULL one.
		c.Schema = named(connectors.Int64, cdc.NanoTimestampName, optional)
		c.fn = func(b []byte) (any, error) {
			us, inf, err := ParseTimestamp(b)
			if err != nil {
				return nil, err
			}
			switch inf {
			case 1:
				return int64(math.MaxInt64), nil
			case -1:
				return int64(math.MinInt64), nil
			}
			ns, ok := epochNanos(us)
			if !ok {
				if optional {
					return nil, nil
				}
				return nil, fmt.Errorf("timestamp %q is outside the range of io.debezium.time.NanoTimestamp (1677-09-22 to 2262-04-11); use time.precision.mode microseconds or isostring", b)
			}
			return ns, nil
		}
	case (mode == cdc.TimeAdaptive || mode == cdc.TimeAdaptiveMicroseconds) && precision(typmod) <= 3:
		c.Schema = named(connectors.Int64, cdc.TimestampName, optional)
		c.fn = func(b []byte) (any, error) {
			us, inf, err := ParseTimestamp(b)
			if err != nil {
				return nil, err
			}
			switch inf {
			case 1:
				return PositiveInfinityMicros / 1000, nil
			case -1:
				return NegativeInfinityMicros / 1000, nil
			}
			return floorDiv(us, 1000), nil
		}
	default:
		c.Schema = named(connectors.Int64, cdc.MicroTimestampName, optional)
		c.fn = func(b []byte) (any, error) {
			us, err := parseTimestampMicros(b)
			if err != nil {
				return nil, err
			}
			return us, nil
		}
	}
	return c
}

// appendISO appends an ISO-8601 UTC instant ("2024-01-02T03:04:05.123456Z")
// with the fraction padded to prec digits, as Debezium's ZonedTimestamp.
func appendISO(dst []byte, us int64, prec int) []byte {
	days := floorDiv(us, usPerDay)
	dst = append(appendDate(dst, days), 'T')
	dst = appendClock(dst, us-days*usPerDay, prec)
	return append(dst, 'Z')
}

// appendISOTrimmed appends an ISO-8601 UTC instant with the fraction
// trimmed of trailing zeros, as DateTimeFormatter.ISO_OFFSET_DATE_TIME
// prints.
func appendISOTrimmed(dst []byte, us int64) []byte {
	days := floorDiv(us, usPerDay)
	dst = append(appendDate(dst, days), 'T')
	dst = appendClockTrimmed(dst, us-days*usPerDay)
	return append(dst, 'Z')
}

// appendDate appends the date of an epoch day as ISO_LOCAL_DATE does:
// at least four year digits, a sign on negative years and on years past
// 9999.
func appendDate(dst []byte, days int64) []byte {
	y, m, d := civilFromDays(days)
	switch {
	case y > 9999:
		dst = append(dst, '+')
		dst = strconv.AppendInt(dst, y, 10)
	case y < 0:
		dst = append(dst, '-')
		dst = appendPad(dst, -y, 4)
	default:
		dst = appendPad(dst, y, 4)
	}
	dst = append(dst, '-')
	dst = appendPad(dst, m, 2)
	dst = append(dst, '-')
	return appendPad(dst, d, 2)
}

func appendClock(dst []byte, tod int64, prec int) []byte {
	secs := tod / 1e6
	dst = appendPad(dst, secs/3600, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, secs/60%60, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, secs%60, 2)
	if prec > 0 {
		frac := tod % 1e6
		for i := prec; i < 6; i++ {
			frac /= 10
		}
		dst = append(dst, '.')
		dst = appendPad(dst, frac, prec)
	}
	return dst
}

func appendPad(dst []byte, v int64, width int) []byte {
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], v, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

func timestamptzConverter(typmod int32, optional bool) *Converter {
	prec := precision(typmod)
	return &Converter{TypeName: "timestamptz", Schema: named(connectors.String, cdc.ZonedTimestampName, optional),
		fn: func(b []byte) (any, error) {
			us, inf, err := ParseTimestamp(b)
			if err != nil {
				return nil, err
			}
			switch inf {
			case 1:
				return "infinity", nil
			case -1:
				return "-infinity", nil
			}
			var buf [40]byte
			return string(appendISO(buf[:0], us, prec)), nil
		}}
}

// timetzConverter gives Debezium's ZonedTime: the time moved to UTC and
// printed as DateTimeFormatter.ISO_OFFSET_TIME does, with the fraction
// trimmed of trailing zeros (none when zero) whatever the column's
// precision, and "Z". 24:00:00 at UTC stays "24:00:00Z"
// (PostgresTimeBoundary).
func timetzConverter(optional bool) *Converter {
	return &Converter{TypeName: "timetz", Schema: named(connectors.String, cdc.ZonedTimeName, optional),
		fn: func(b []byte) (any, error) {
			tod, n, err := parseClock(b)
			if err != nil {
				return nil, err
			}
			off, err := parseOffset(b[n:])
			if err != nil {
				return nil, err
			}
			if tod == usPerDay && off == 0 {
				return "24:00:00Z", nil
			}
			tod -= off * 1e6
			tod = ((tod % usPerDay) + usPerDay) % usPerDay
			var buf [24]byte
			return string(append(appendClockTrimmed(buf[:0], tod), 'Z')), nil
		}}
}

// appendClockTrimmed appends HH:MM:SS and the fraction without trailing
// zeros, as java.time's ISO_LOCAL_TIME prints.
func appendClockTrimmed(dst []byte, tod int64) []byte {
	dst = appendClock(dst, tod-tod%1e6, 0)
	frac := tod % 1e6
	if frac == 0 {
		return dst
	}
	prec := 6
	for frac%10 == 0 {
		frac /= 10
		prec--
	}
	dst = append(dst, '.')
	return appendPad(dst, frac, prec)
}
