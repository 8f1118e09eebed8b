package avro

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/sluice-cdc/sluice/connectors"
)

// DataError says that a value does not fit its schema (a Go value of the
// wrong type, a null for a required field without a default, bytes that
// are not valid Avro for the schema) or that a schema cannot be mapped.
// Path names the field ("after.balance", "tags[2]", `attrs["k"]`); it is
// empty for the value as a whole.
type DataError struct {
	Path   string
	Reason string
}

func (e *DataError) Error() string {
	if e.Path == "" {
		return "avro: " + e.Reason
	}
	return "avro: field " + e.Path + ": " + e.Reason
}

func dataErrorf(format string, args ...any) error {
	return &DataError{Reason: fmt.Sprintf(format, args...)}
}

// inField prefixes the path of a *DataError with a struct field name.
func inField(err error, name string) error { return prefixPath(err, name) }

// inIndex prefixes the path of a *DataError with an array index.
func inIndex(err error, i int) error { return prefixPath(err, "["+strconv.Itoa(i)+"]") }

// inKey prefixes the path of a *DataError with a map key.
func inKey(err error, k any) error {
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

// typeError reports a Go value whose type does not fit the schema.
func typeError(s *connectors.Schema, v any, want string) error {
	return &DataError{Reason: fmt.Sprintf("Go value of type %T does not fit schema type %s%s; want %s",
		v, s.Type, logicalSuffix(s), want)}
}

func logicalSuffix(s *connectors.Schema) string {
	if s.Name == "" {
		return ""
	}
	return " (" + s.Name + ")"
}
