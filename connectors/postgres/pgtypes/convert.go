package pgtypes

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// IntervalMode is interval.handling.mode.
type IntervalMode string

// Interval handling modes.
const (
	IntervalNumeric IntervalMode = "numeric"
	IntervalString  IntervalMode = "string"
)

// HStoreMode is hstore.handling.mode.
type HStoreMode string

// Hstore handling modes.
const (
	HStoreJSON HStoreMode = "json"
	HStoreMap  HStoreMode = "map"
)

// Modes are the handling modes that decide a column's schema and value.
type Modes struct {
	Decimal  cdc.DecimalMode
	Time     cdc.TimeMode
	Binary   cdc.BinaryMode
	Interval IntervalMode
	HStore   HStoreMode
	// MoneyFractionDigits is money.fraction.digits (the scale of money
	// values in precise mode).
	MoneyFractionDigits int
}

// DefaultModes are Debezium's defaults.
func DefaultModes() Modes {
	return Modes{Decimal: cdc.DecimalPrecise, Time: cdc.TimeAdaptive, Binary: cdc.BinaryBytes, Interval: IntervalNumeric,
		HStore: HStoreJSON, MoneyFractionDigits: 2}
}

// Converter turns one column's text values into Connect values. It is
// immutable and safe for concurrent use.
type Converter struct {
	// Schema is the column's value schema.
	Schema *connectors.Schema
	// TypeName names the PostgreSQL type, for error messages.
	TypeName string
	fn       func(text []byte) (any, error)
	// direct, when set, is how the value is written straight from its
	// text (see Write).
	direct direct
}

// direct names the converters whose values a codec writes straight from
// PostgreSQL's text: strings as they are, booleans and integers unboxed.
type direct uint8

const (
	directNone direct = iota
	directString
	directBool
	directInt16
	directInt32
	directInt64
)

// Direct reports whether CheckText and Write serve this converter.
func (c *Converter) Direct() bool { return c.direct != directNone }

// Form is how a row holding this column's text in the form Write writes
// it hands it to a codec (connectors.TextRow): FormValue unless Direct.
// An integer's text must be canonical (CanonicalInt).
func (c *Converter) Form() connectors.TextForm {
	switch c.direct {
	case directNone:
		return connectors.FormValue
	case directString:
		return connectors.FormText
	case directBool:
		return connectors.FormBool
	}
	return connectors.FormInt
}

// Integer reports whether this is a Direct converter of integers, whose
// CheckText returns the value for Write.
func (c *Converter) Integer() bool { return c.direct >= directInt16 }

// CheckText returns the error Convert returns for text, without
// converting it, and for an Integer converter the integer. Only for
// Direct converters.
func (c *Converter) CheckText(text []byte) (int64, error) {
	switch c.direct {
	case directString:
		return 0, nil
	case directBool:
		if len(text) == 1 && (text[0] == 't' || text[0] == 'f') {
			return 0, nil
		}
	case directInt16, directInt32, directInt64:
		return c.directInt(text)
	}
	_, err := c.fn(text)
	return 0, err
}

func (c *Converter) directInt(text []byte) (int64, error) {
	switch c.direct {
	case directInt16:
		return checkInt16(text)
	case directInt32:
		return checkInt32(text)
	}
	return parseInt(text)
}

// Write hands w the value Convert returns for text, which CheckText
// accepted, in the form of connectors.FieldWriter that needs no value:
// strings as their bytes, booleans and integers unboxed (an integer with
// its text when that is its canonical spelling). n is the integer
// CheckText returned for an Integer converter. Only for Direct converters.
func (c *Converter) Write(w connectors.FieldWriter, text []byte, n int64) error {
	switch c.direct {
	case directString:
		return w.Text(text)
	case directBool:
		return w.Bool(len(text) == 1 && text[0] == 't')
	}
	if CanonicalInt(text) {
		// PostgreSQL spells integers as strconv does.
		return w.Int(n, text)
	}
	return w.Int(n, nil)
}

// CanonicalInt reports whether text, an integer CheckText accepted, is
// spelled as strconv.AppendInt spells its value: no plus sign, no leading
// zero, no "-0". PostgreSQL's output always is.
func CanonicalInt(text []byte) bool {
	if len(text) > 1 && text[0] == '-' {
		text = text[1:]
		if text[0] == '0' {
			return false
		}
	}
	return len(text) > 0 && text[0] != '+' && (text[0] != '0' || len(text) == 1)
}

// Convert converts one non-null value in PostgreSQL's text output format.
// It does not retain text.
func (c *Converter) Convert(text []byte) (any, error) { return c.fn(text) }

// ErrUnknownType means the type OID is not in the catalog; reload it.
var ErrUnknownType = errors.New("unknown type OID")

// New returns the converter for a column of type oid with modifier typmod.
func New(cat *Catalog, oid uint32, typmod int32, optional bool, m Modes) (*Converter, error) {
	return newConverter(cat, oid, typmod, optional, m, 0)
}

func newConverter(cat *Catalog, oid uint32, typmod int32, optional bool, m Modes, depth int) (*Converter, error) {
	t, ok := cat.Lookup(oid)
	if !ok {
		return nil, fmt.Errorf("%w %d", ErrUnknownType, oid)
	}
	if depth > 8 {
		return nil, fmt.Errorf("type %s: domains nested too deeply", t.Name)
	}
	switch {
	case t.Kind == 'd':
		if typmod < 0 {
			typmod = t.BaseTypmod
		}
		c, err := newConverter(cat, t.Base, typmod, optional, m, depth+1)
		if err != nil {
			return nil, err
		}
		return &Converter{Schema: c.Schema, TypeName: t.Name, fn: c.fn, direct: c.direct}, nil
	case t.Kind == 'e':
		s := &connectors.Schema{Type: connectors.String, Name: cdc.EnumName, Version: 1, Optional: optional,
			Parameters: map[string]string{"allowed": strings.Join(t.Labels, ",")}}
		return &Converter{Schema: s, TypeName: t.Name, fn: convString, direct: directString}, nil
	case t.Category == 'A' && t.Elem != 0:
		elem, err := newConverter(cat, t.Elem, typmod, true, m, depth+1)
		if err != nil {
			return nil, err
		}
		if et, ok := cat.Lookup(t.Elem); ok && et.Kind == 'b' && et.Namespace == "pg_catalog" && et.Name == "time" {
			elem = timeConverter(typmod, true, m.Time, true)
		}
		if et, ok := cat.Lookup(t.Elem); ok && et.Kind == 'e' {
			// PostgresValueConverter builds enum arrays from
			// Enum.builder without .optional().
			es := *elem.Schema
			es.Optional = false
			elem = &Converter{Schema: &es, TypeName: elem.TypeName, fn: elem.fn}
		}
		s := &connectors.Schema{Type: connectors.Array, Optional: optional, Items: elem.Schema}
		delim := byte(',')
		if et, ok := cat.Lookup(t.Elem); ok && et.Name == "box" {
			delim = ';'
		}
		return &Converter{Schema: s, TypeName: t.Name, fn: arrayConverter(elem, delim)}, nil
	case t.Name == "hstore":
		return hstoreConverter(m.HStore, optional), nil
	case t.Name == "ltree":
		return &Converter{Schema: named(connectors.String, cdc.LtreeName, optional), TypeName: t.Name, fn: convString, direct: directString}, nil
	case t.Kind == 'b' && t.Namespace == "pg_catalog":
		return builtin(t.Name, typmod, optional, m), nil
	}
	// Composite, range and other types: their text form, as Debezium
	// does for types it has no mapping for.
	return &Converter{Schema: str(optional), TypeName: t.Name, fn: convString, direct: directString}, nil
}

func str(optional bool) *connectors.Schema {
	return &connectors.Schema{Type: connectors.String, Optional: optional}
}

func named(t connectors.Type, name string, optional bool) *connectors.Schema {
	return &connectors.Schema{Type: t, Name: name, Version: 1, Optional: optional}
}

func builtin(name string, typmod int32, optional bool, m Modes) *Converter {
	c := &Converter{TypeName: name}
	switch name {
	case "bool":
		c.Schema, c.fn = connectors.Primitive(connectors.Boolean, optional), convBool
		c.direct = directBool
	case "int2":
		c.Schema, c.fn = connectors.Primitive(connectors.Int16, optional), convInt16
		c.direct = directInt16
	case "int4":
		c.Schema, c.fn = connectors.Primitive(connectors.Int32, optional), convInt32
		c.direct = directInt32
	case "int8", "oid":
		c.Schema, c.fn = connectors.Primitive(connectors.Int64, optional), convInt64
		c.direct = directInt64
	case "float4":
		c.Schema, c.fn = connectors.Primitive(connectors.Float32, optional), convFloat32
	case "float8":
		c.Schema, c.fn = connectors.Primitive(connectors.Float64, optional), convFloat64
	case "numeric":
		return numericConverter(typmod, optional, m.Decimal)
	case "money":
		return moneyConverter(optional, m)
	case "bytea":
		return byteaConverter(optional, m.Binary)
	case "json", "jsonb":
		c.Schema, c.fn = named(connectors.String, cdc.JSONName, optional), convString
		c.direct = directString
	case "xml":
		c.Schema, c.fn = named(connectors.String, cdc.XMLName, optional), convString
		c.direct = directString
	case "uuid":
		c.Schema, c.fn = named(connectors.String, cdc.UUIDName, optional), convString
		c.direct = directString
	case "date":
		return dateConverter(optional, m.Time)
	case "time":
		return timeConverter(typmod, optional, m.Time, false)
	case "timetz":
		if m.Time == cdc.TimeStructured {
			return structuredTimetzConverter(typmod, optional)
		}
		return timetzConverter(optional)
	case "timestamp":
		return timestampConverter(typmod, optional, m.Time)
	case "timestamptz":
		if m.Time == cdc.TimeStructured {
			return structuredTimestamptzConverter(typmod, optional)
		}
		return timestamptzConverter(typmod, optional)
	case "interval":
		if m.Time == cdc.TimeStructured {
			return structuredIntervalConverter(typmod, optional)
		}
		return intervalConverter(optional, m.Interval)
	case "bit", "varbit":
		return bitConverter(name, typmod, optional)
	case "point":
		return pointConverter(optional)
	case "box", "lseg", "path", "polygon":
		return geometryConverter(name)
	case "circle":
		return circleConverter()
	case "line":
		return lineConverter()
	case "tsvector":
		c.Schema, c.fn = named(connectors.String, cdc.TsVectorName, optional), convString
		c.direct = directString
	default:
		// text, varchar, bpchar, name, char, inet, cidr, macaddr,
		// macaddr8, tsquery, pg_lsn, regclass and the like: their text
		// form.
		c.Schema, c.fn = str(optional), convString
		c.direct = directString
	}
	return c
}

func convString(b []byte) (any, error) { return string(b), nil }

func convBool(b []byte) (any, error) {
	if len(b) == 1 {
		switch b[0] {
		case 't':
			return true, nil
		case 'f':
			return false, nil
		}
	}
	return nil, fmt.Errorf("invalid boolean %q", b)
}

// parseInt parses a decimal integer without allocating.
func parseInt(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 20 {
		return 0, fmt.Errorf("invalid integer %q", b)
	}
	neg := false
	i := 0
	if b[0] == '-' || b[0] == '+' {
		neg = b[0] == '-'
		i = 1
		if len(b) == 1 {
			return 0, fmt.Errorf("invalid integer %q", b)
		}
	}
	var n uint64
	for ; i < len(b); i++ {
		c := b[i] - '0'
		if c > 9 {
			return 0, fmt.Errorf("invalid integer %q", b)
		}
		if n > (1<<63)/10 {
			return 0, fmt.Errorf("integer %q out of range", b)
		}
		n = n*10 + uint64(c)
	}
	if neg {
		if n > 1<<63 {
			return 0, fmt.Errorf("integer %q out of range", b)
		}
		return -int64(n), nil
	}
	if n > 1<<63-1 {
		return 0, fmt.Errorf("integer %q out of range", b)
	}
	return int64(n), nil
}

func convInt16(b []byte) (any, error) {
	n, err := checkInt16(b)
	if err != nil {
		return nil, err
	}
	return int16(n), nil
}

func checkInt16(b []byte) (int64, error) {
	n, err := parseInt(b)
	if err != nil || n < -1<<15 || n > 1<<15-1 {
		return 0, fmt.Errorf("invalid smallint %q", b)
	}
	return n, nil
}

func convInt32(b []byte) (any, error) {
	n, err := checkInt32(b)
	if err != nil {
		return nil, err
	}
	return int32(n), nil
}

func checkInt32(b []byte) (int64, error) {
	n, err := parseInt(b)
	if err != nil || n < -1<<31 || n > 1<<31-1 {
		return 0, fmt.Errorf("invalid integer %q", b)
	}
	return n, nil
}

func convInt64(b []byte) (any, error) {
	n, err := parseInt(b)
	if err != nil {
		return nil, err
	}
	return n, nil
}

func convFloat32(b []byte) (any, error) {
	f, err := strconv.ParseFloat(bstr(b), 32)
	if err != nil {
		return nil, fmt.Errorf("invalid real %q", b)
	}
	return float32(f), nil
}

func convFloat64(b []byte) (any, error) {
	f, err := strconv.ParseFloat(bstr(b), 64)
	if err != nil {
		return nil, fmt.Errorf("invalid double precision %q", b)
	}
	return f, nil
}
