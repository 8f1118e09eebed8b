package pgtypes

import (
	"fmt"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Time precision mode structured: Debezium's Structured* temporal
// structs (io.debezium.time.StructuredDate and its siblings), whose
// fields hold the calendar and clock components instead of an epoch
// number or a string. Everything here follows JdbcValueConverters and
// PostgresValueConverter at debezium@aad5519.

// Values of the specialValue field (StructuredTemporal).
const (
	structuredPositiveInfinity = "POSITIVE_INFINITY"
	structuredNegativeInfinity = "NEGATIVE_INFINITY"
)

var optInt8 = &connectors.Schema{Type: connectors.Int8, Optional: true}

func structSchema(name string, optional bool, fields ...connectors.Field) *connectors.Schema {
	s := connectors.NewStruct(name, optional, fields...)
	s.Version = 1
	return s
}

// The field lists below are in the order of each class's builder().

func structuredDateSchema(optional bool) *connectors.Schema {
	return structSchema(cdc.StructuredDateName, optional,
		connectors.Opt("year", connectors.OptionalInt32Schema), connectors.Opt("month", optInt8),
		connectors.Opt("day", optInt8), connectors.Opt("specialValue", connectors.OptionalStringSchema))
}

func structuredTimeSchema(optional bool) *connectors.Schema {
	return structSchema(cdc.StructuredTimeName, optional,
		connectors.Opt("hour", optInt8), connectors.Opt("minute", optInt8), connectors.Opt("second", optInt8),
		connectors.Opt("nanos", connectors.OptionalInt32Schema), connectors.Opt("precision", connectors.OptionalInt32Schema))
}

func structuredTimestampSchema(optional bool) *connectors.Schema {
	return structSchema(cdc.StructuredTimestampName, optional,
		connectors.Opt("year", connectors.OptionalInt32Schema), connectors.Opt("month", optInt8),
		connectors.Opt("day", optInt8), connectors.Opt("hour", optInt8), connectors.Opt("minute", optInt8),
		connectors.Opt("second", optInt8), connectors.Opt("nanos", connectors.OptionalInt32Schema),
		connectors.Opt("specialValue", connectors.OptionalStringSchema),
		connectors.Opt("precision", connectors.OptionalInt32Schema))
}

func structuredZonedTimeSchema(optional bool) *connectors.Schema {
	return structSchema(cdc.StructuredZonedTimeName, optional,
		connectors.Opt("hour", optInt8), connectors.Opt("minute", optInt8), connectors.Opt("second", optInt8),
		connectors.Opt("nanos", connectors.OptionalInt32Schema), connectors.Opt("offsetSeconds", connectors.OptionalInt32Schema),
		connectors.Opt("precision", connectors.OptionalInt32Schema))
}

func structuredZonedTimestampSchema(optional bool) *connectors.Schema {
	return structSchema(cdc.StructuredZonedTimestampName, optional,
		connectors.Opt("year", connectors.OptionalInt32Schema), connectors.Opt("month", optInt8),
		connectors.Opt("day", optInt8), connectors.Opt("hour", optInt8), connectors.Opt("minute", optInt8),
		connectors.Opt("second", optInt8), connectors.Opt("nanos", connectors.OptionalInt32Schema),
		connectors.Opt("offsetSeconds", connectors.OptionalInt32Schema),
		connectors.Opt("zoneId", connectors.OptionalStringSchema),
		connectors.Opt("specialValue", connectors.OptionalStringSchema),
		connectors.Opt("precision", connectors.OptionalInt32Schema))
}

func structuredDurationSchema(optional bool) *connectors.Schema {
	return structSchema(cdc.StructuredDurationName, optional,
		connectors.Opt("years", connectors.OptionalInt32Schema), connectors.Opt("months", connectors.OptionalInt32Schema),
		connectors.Opt("days", connectors.OptionalInt32Schema), connectors.Opt("hours", connectors.OptionalInt32Schema),
		connectors.Opt("minutes", connectors.OptionalInt32Schema), connectors.Opt("seconds", connectors.OptionalInt64Schema),
		connectors.Opt("nanos", connectors.OptionalInt32Schema), connectors.Opt("precision", connectors.OptionalInt32Schema))
}

// timePrecision is the precision field: PostgresValueConverter's
// getTimePrecision is the column's scale, which pgjdbc's
// TypeInfoCache.getScale makes 6 for an unconstrained time, timetz,
// timestamp or timestamptz and the typmod otherwise.
func timePrecision(typmod int32) int32 {
	if typmod == -1 {
		return 6
	}
	return typmod
}

// intervalPrecision is getScale for interval: 6 unconstrained, else the
// low 16 bits of the typmod (65535 for a range without precision, as
// interval year).
func intervalPrecision(typmod int32) int32 {
	if typmod == -1 {
		return 6
	}
	return typmod & 0xFFFF
}

// special fills the specialValue field (and precision when the schema
// has one) as StructuredTemporal.specialValue does; the other fields
// stay null.
func special(s *connectors.Schema, value string, precision int32) *connectors.StructValue {
	v := connectors.NewStructValue(s)
	f, _ := s.Field("specialValue")
	v.Values[f.Index] = value
	if p, ok := s.Field("precision"); ok {
		v.Values[p.Index] = precision
	}
	return v
}

func structuredDateConverter(c *Converter, optional bool, parse func([]byte) (int32, error)) *Converter {
	s := structuredDateSchema(optional)
	c.Schema = s
	c.fn = func(b []byte) (any, error) {
		d, err := parse(b)
		if err != nil {
			return nil, err
		}
		switch d {
		case positiveInfinityDays:
			return special(s, structuredPositiveInfinity, -1), nil
		case negativeInfinityDays:
			return special(s, structuredNegativeInfinity, -1), nil
		}
		y, m, dd := civilFromDays(int64(d))
		v := connectors.NewStructValue(s)
		v.Values[0], v.Values[1], v.Values[2] = int32(y), int8(m), int8(dd)
		return v, nil
	}
	return c
}

// structuredTimeConverter: StructuredTime of Conversions.toLocalTime. A
// 24:00:00 value makes LocalTime.ofNanoOfDay throw (outside a time[],
// where pgjdbc has already wrapped it to midnight); Debezium then drops
// the value, so it is null, or an error in a NOT NULL column.
func structuredTimeConverter(c *Converter, typmod int32, optional bool, parse func([]byte) (int64, error)) *Converter {
	s := structuredTimeSchema(optional)
	prec := timePrecision(typmod)
	c.Schema = s
	c.fn = func(b []byte) (any, error) {
		us, err := parse(b)
		if err != nil {
			return nil, err
		}
		if us >= usPerDay {
			if optional {
				return nil, nil
			}
			return nil, fmt.Errorf("time %q does not fit io.debezium.time.StructuredTime (java.time.LocalTime)", b)
		}
		v := connectors.NewStructValue(s)
		secs := us / 1e6
		v.Values[0], v.Values[1], v.Values[2] = int8(secs/3600), int8(secs/60%60), int8(secs%60)
		v.Values[3], v.Values[4] = int32(us%1e6*1000), prec
		return v, nil
	}
	return c
}

// timestampFields parses timestamp or timestamptz text into the epoch
// day and the microsecond of the day in UTC, without going through
// microseconds since the epoch, which overflow near PostgreSQL's upper
// bound (294276-12-31).
func timestampFields(b []byte) (days, tod int64, inf int, err error) {
	switch bstr(b) {
	case "infinity":
		return 0, 0, 1, nil
	case "-infinity":
		return 0, 0, -1, nil
	}
	b, bc := trimBC(b)
	days, n, err := parseDate(b, bc)
	if err != nil {
		return 0, 0, 0, err
	}
	if n >= len(b) || b[n] != ' ' {
		return 0, 0, 0, fmt.Errorf("invalid timestamp %q", b)
	}
	tod, m, err := parseClock(b[n+1:])
	if err != nil {
		return 0, 0, 0, err
	}
	if rest := b[n+1+m:]; len(rest) > 0 {
		off, err := parseOffset(rest)
		if err != nil {
			return 0, 0, 0, err
		}
		tod -= off * 1e6
		d := floorDiv(tod, usPerDay)
		days, tod = days+d, tod-d*usPerDay
	}
	return days, tod, 0, nil
}

// putDateTime fills year..nanos, the first seven fields of
// StructuredTimestamp and StructuredZonedTimestamp.
func putDateTime(v *connectors.StructValue, days, tod int64) {
	y, m, d := civilFromDays(days)
	secs := tod / 1e6
	v.Values[0], v.Values[1], v.Values[2] = int32(y), int8(m), int8(d)
	v.Values[3], v.Values[4], v.Values[5] = int8(secs/3600), int8(secs/60%60), int8(secs%60)
	v.Values[6] = int32(tod % 1e6 * 1000)
}

func structuredTimestampConverter(c *Converter, typmod int32, optional bool) *Converter {
	s := structuredTimestampSchema(optional)
	prec := timePrecision(typmod)
	c.Schema = s
	c.fn = structuredTimestampFn(s, func(v *connectors.StructValue) { v.Values[8] = prec }, prec)
	return c
}

// structuredTimestamptzConverter: the instant at UTC
// (convertPostgresTimestampWithZoneToStructured turns it into a
// ZonedDateTime at ZoneOffset.UTC, whose zone id is "Z").
func structuredTimestamptzConverter(typmod int32, optional bool) *Converter {
	s := structuredZonedTimestampSchema(optional)
	prec := timePrecision(typmod)
	return &Converter{TypeName: "timestamptz", Schema: s, fn: structuredTimestampFn(s, func(v *connectors.StructValue) {
		v.Values[7], v.Values[8], v.Values[10] = int32(0), "Z", prec
	}, prec)}
}

// structuredTimestampFn parses a timestamp into struct s: ±infinity as
// special values, otherwise the date and clock fields, then the schema's
// own fields set by rest.
func structuredTimestampFn(s *connectors.Schema, rest func(*connectors.StructValue), prec int32) func([]byte) (any, error) {
	return func(b []byte) (any, error) {
		days, tod, inf, err := timestampFields(b)
		if err != nil {
			return nil, err
		}
		switch inf {
		case 1:
			return special(s, structuredPositiveInfinity, prec), nil
		case -1:
			return special(s, structuredNegativeInfinity, prec), nil
		}
		v := connectors.NewStructValue(s)
		putDateTime(v, days, tod)
		rest(v)
		return v, nil
	}
}

// structuredTimetzConverter keeps the clock as written, hour 24
// included, and the value's own offset
// (convertTimeWithZoneToStructuredPreservingOffset).
func structuredTimetzConverter(typmod int32, optional bool) *Converter {
	s := structuredZonedTimeSchema(optional)
	prec := timePrecision(typmod)
	return &Converter{TypeName: "timetz", Schema: s, fn: func(b []byte) (any, error) {
		tod, n, err := parseClock(b)
		if err != nil {
			return nil, err
		}
		off, err := parseOffset(b[n:])
		if err != nil {
			return nil, err
		}
		v := connectors.NewStructValue(s)
		secs := tod / 1e6
		v.Values[0], v.Values[1], v.Values[2] = int8(secs/3600), int8(secs/60%60), int8(secs%60)
		v.Values[3], v.Values[4], v.Values[5] = int32(tod%1e6*1000), int32(off), prec
		return v, nil
	}}
}

// structuredIntervalConverter: StructuredDuration of the PGInterval
// fields (convertIntervalToStructured); the fraction of the seconds
// becomes nanoseconds with the seconds' sign.
func structuredIntervalConverter(typmod int32, optional bool) *Converter {
	s := structuredDurationSchema(optional)
	prec := intervalPrecision(typmod)
	return &Converter{TypeName: "interval", Schema: s, fn: func(b []byte) (any, error) {
		iv, err := parseInterval(b)
		if err != nil {
			return nil, err
		}
		v := connectors.NewStructValue(s)
		v.Values[0], v.Values[1], v.Values[2] = int32(iv.years), int32(iv.months), int32(iv.days)
		v.Values[3], v.Values[4], v.Values[5] = int32(iv.hours), int32(iv.minutes), iv.wholeSeconds
		v.Values[6], v.Values[7] = int32(iv.micros*1000), prec
		return v, nil
	}}
}
