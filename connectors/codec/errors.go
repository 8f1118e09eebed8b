// Package codec holds what the codecs of Connect schemas and values share
// (the JSON codec in codec/connectjson, the Avro codec in codec/avro): the error
// that says which field of a value does not fit its schema.
package codec

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/sluice-cdc/sluice/connectors"
)

// DataError says that a value does not fit its schema: a Go value of the
// wrong type, a null in a required field, bytes or JSON of the wrong kind
// for the schema, a schema that cannot be mapped. Path names the field
// ("after.balance", "after.tags[2]", `attrs["k"]`); it is empty for the
// value as a whole.
type DataError struct {
	Path   string
	Reason string
}

func (e *DataError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return "field " + e.Path + ": " + e.Reason
}

// Errorf returns a *DataError for the value as a whole.
func Errorf(format string, args ...any) error {
	return &DataError{Reason: fmt.Sprintf(format, args...)}
}

// InField prefixes the path of a *DataError with a struct field name.
func InField(err error, name string) error { return prefixPath(err, name) }

// InIndex prefixes the path of a *DataError with an array index.
func InIndex(err error, i int) error { return prefixPath(err, "["+strconv.Itoa(i)+"]") }

// InKey prefixes the path of a *DataError with a map key.
func InKey(err error, k any) error {
	if s, ok := k.(string); ok {
		return prefixPath(err, "["+strconv.Quote(s)+"]")
	}
	return prefixPath(err, fmt.Sprintf("[%v]", k))
}

func prefixPath(err error, seg string) error {
	var de *DataError
	if !errors.As(err, &de) {
		return err
	}
	switch {
	case de.Path == "":
		de.Path = seg
	case de.Path[0] == '[':
		de.Path = seg + de.Path
	default:
		de.Path = seg + "." + de.Path
	}
	return err
}

// TypeError reports a Go value whose type does not fit schema s; want
// says what would.
func TypeError(s *connectors.Schema, v any, want string) error {
	return &DataError{Reason: fmt.Sprintf("Go value of type %T does not fit schema type %s%s; want %s", v, s.Type, SchemaSuffix(s), want)}
}

// SchemaSuffix is " (name)" for a named schema, so that messages show a
// logical type next to its base type; "" otherwise.
func SchemaSuffix(s *connectors.Schema) string {
	if s.Name == "" {
		return ""
	}
	return " (" + s.Name + ")"
}

// FormError reports a lazy struct's field handed over in a form
// (connectors.FieldWriter's "text", "integer", "boolean", "struct") that
// schema s does not take.
func FormError(s *connectors.Schema, form string) error {
	return &DataError{Reason: fmt.Sprintf("a lazy %s value does not fit schema type %s%s", form, s.Type, SchemaSuffix(s))}
}

// IntInRange reports an integer a lazy struct handed over (connectors.FieldWriter.Int)
// that does not fit t, one of the integer types.
func IntInRange(t connectors.Type, n int64) error {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	switch t {
	case connectors.Int8:
		lo, hi = math.MinInt8, math.MaxInt8
	case connectors.Int16:
		lo, hi = math.MinInt16, math.MaxInt16
	case connectors.Int32:
		lo, hi = math.MinInt32, math.MaxInt32
	}
	if n < lo || n > hi {
		return Errorf("%d is out of the range of %s", n, t)
	}
	return nil
}
