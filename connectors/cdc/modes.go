package cdc

// Property names of the handling modes both CDC sources take, as
// Debezium's.
const (
	DecimalHandlingMode = "decimal.handling.mode"
	TimePrecisionMode   = "time.precision.mode"
	BinaryHandlingMode  = "binary.handling.mode"
)

// DecimalMode is decimal.handling.mode.
type DecimalMode string

// Decimal handling modes.
const (
	DecimalPrecise DecimalMode = "precise"
	DecimalDouble  DecimalMode = "double"
	DecimalString  DecimalMode = "string"
)

// TimeMode is time.precision.mode. Each source lists the modes it
// supports (Debezium's MySQL connector has fewer than its PostgreSQL one).
type TimeMode string

// Time precision modes.
const (
	TimeAdaptive             TimeMode = "adaptive"
	TimeAdaptiveMicroseconds TimeMode = "adaptive_time_microseconds"
	TimeConnect              TimeMode = "connect"
	// TimeISOString gives date, time and timestamp as UTC ISO-8601
	// strings (IsoDate, IsoTime, IsoTimestamp).
	TimeISOString TimeMode = "isostring"
	// TimeMicroseconds gives time as MicroTime and timestamp as
	// MicroTimestamp whatever the column's precision.
	TimeMicroseconds TimeMode = "microseconds"
	// TimeNanoseconds gives time as NanoTime and timestamp as
	// NanoTimestamp.
	TimeNanoseconds TimeMode = "nanoseconds"
	// TimeStructured gives temporal values as Debezium's Structured*
	// structs of their components.
	TimeStructured TimeMode = "structured"
)

// BinaryMode is binary.handling.mode.
type BinaryMode string

// Binary handling modes.
const (
	BinaryBytes         BinaryMode = "bytes"
	BinaryBase64        BinaryMode = "base64"
	BinaryBase64URLSafe BinaryMode = "base64-url-safe"
	BinaryHex           BinaryMode = "hex"
)
