package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgoutput"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgtypes"
)

// colDesc describes one column of a captured table, from the catalog (and
// from the Relation message while streaming).
type colDesc struct {
	Name    string
	TypeOID uint32
	Typmod  int32
	NotNull bool
	// KeySeq is the 1-based position in the primary key, 0 when not a key
	// column.
	KeySeq int
}

// table is everything needed to turn rows of one relation into records.
// It is built once per relation shape and read-only afterwards.
type table struct {
	relID        uint32
	schema, name string
	// boxedSchema and boxedName are schema and name as interface
	// values, boxed once for the source block.
	boxedSchema, boxedName any
	topic                  string
	cols                   []colDesc
	convs                  []*pgtypes.Converter // per column, nil when not included
	placeholders           []any                // per column: value for unchanged TOAST data
	valueIdx               []int                // per column: field index in the value struct, or -1
	keyIdx                 []int                // per column: field index in the key struct, or -1
	keyCols                []int                // column positions of the key, in key order
	valueCols              []int                // column positions of the value fields, in field order
	valueSchema            *connectors.Schema
	keySchema              *connectors.Schema // nil when the table has no key
	envelopeSchema         *connectors.Schema
	// keyLayout and valueLayout are where a lazy snapshot row's key and
	// value fields are (connectors.TextRow).
	keyLayout, valueLayout *connectors.RowLayout
	replIdentity           byte
}

// layout returns the connectors.RowLayout of the fields that are columns
// cols.
func (t *table) layout(cols []int) *connectors.RowLayout {
	l := &connectors.RowLayout{Cols: cols, Forms: make([]connectors.TextForm, len(cols))}
	for i, c := range cols {
		if conv := t.convs[c]; conv != nil {
			l.Forms[i] = conv.Form()
		}
	}
	return l
}

// buildTable builds the schemas and converters of a table.
func buildTable(cfg *Config, cat *pgtypes.Catalog, relID uint32, schema, name string, cols []colDesc, src *connectors.Schema) (*table, error) {
	prefix := cfg.TopicPrefix + "." + schema + "." + name
	t := &table{relID: relID, schema: schema, name: name, boxedSchema: schema, boxedName: name, topic: prefix, cols: cols,
		convs: make([]*pgtypes.Converter, len(cols)), placeholders: make([]any, len(cols)),
		valueIdx: make([]int, len(cols)), keyIdx: make([]int, len(cols))}
	keyOverride, hasOverride := cfg.KeyColumns[schema+"."+name]
	type keyed struct{ seq, col int }
	var keys []keyed
	var valueFields, keyFields []connectors.Field
	for i, c := range cols {
		t.valueIdx[i], t.keyIdx[i] = -1, -1
		seq := c.KeySeq
		if hasOverride {
			seq = slices.Index(keyOverride, c.Name) + 1
		}
		included := cfg.CapturesColumn(schema, name, c.Name)
		if !included && seq == 0 {
			continue
		}
		conv, err := pgtypes.New(cat, c.TypeOID, c.Typmod, !c.NotNull, cfg.Modes)
		if err != nil {
			return nil, fmt.Errorf("table %s.%s column %s: %w", schema, name, c.Name, err)
		}
		t.convs[i] = conv
		t.placeholders[i] = placeholderFor(conv.Schema, cfg.Placeholder)
		if included {
			t.valueIdx[i] = len(valueFields)
			t.valueCols = append(t.valueCols, i)
			valueFields = append(valueFields, connectors.Opt(c.Name, conv.Schema))
		}
		if seq > 0 {
			keys = append(keys, keyed{seq, i})
		}
	}
	slices.SortFunc(keys, func(a, b keyed) int { return a.seq - b.seq })
	for _, k := range keys {
		c := cols[k.col]
		ks := t.convs[k.col].Schema
		if ks.Optional {
			cp := *ks
			cp.Optional = false
			ks = &cp
		}
		t.keyIdx[k.col] = len(keyFields)
		t.keyCols = append(t.keyCols, k.col)
		keyFields = append(keyFields, connectors.Opt(c.Name, ks))
	}
	t.valueSchema = connectors.NewStruct(prefix+".Value", true, valueFields...)
	if len(keyFields) > 0 {
		t.keySchema = connectors.NewStruct(prefix+".Key", false, keyFields...)
	}
	t.envelopeSchema = cdc.EnvelopeSchema(prefix+".Envelope", t.valueSchema, src)
	t.keyLayout, t.valueLayout = t.layout(t.keyCols), t.layout(t.valueCols)
	return t, nil
}

// placeholderFor is the value standing in for an unchanged TOASTed value
// of schema s (the event's header names such fields too, see
// connectors.UnavailableHeader). Where Debezium has a representation it
// is Debezium's: the placeholder for strings (also json, xml, hstore as
// json), its bytes for bytea, a one-element array of it for text and
// bytea arrays, the placeholder's bytes as the elements of integer
// arrays, the name-based UUID of it in a uuid array, and {placeholder:
// placeholder} for an hstore map. Where Debezium has none, Sluice
// follows the same idea: Decimal and VariableScaleDecimal take the
// placeholder's bytes as their unscaled value, float arrays and arrays of
// integer-based temporal types the bytes as elements, numeric arrays one
// such Decimal. Anything else (a boolean array, say) is null, or, when
// the column is NOT NULL, nullFallback's zero of its type.
func placeholderFor(s *connectors.Schema, placeholder string) any {
	if v := placeholderValue(s, placeholder); v != nil || s.Optional {
		return v
	}
	return nullFallback(s)
}

func placeholderValue(s *connectors.Schema, placeholder string) any {
	switch s.Name {
	case connectors.DecimalName:
		scale, _ := strconv.Atoi(s.Parameters[connectors.DecimalScaleParam])
		return connectors.Decimal{Unscaled: new(big.Int).SetBytes([]byte(placeholder)), Scale: int32(scale)}
	case cdc.VariableScaleDecimalName:
		v := connectors.NewStructValue(s)
		v.Values[0], v.Values[1] = int32(0), []byte(placeholder)
		return v
	}
	switch s.Type {
	case connectors.String:
		return placeholder
	case connectors.Bytes:
		if s.Name == "" {
			return []byte(placeholder)
		}
	case connectors.Map:
		if s.Keys.Type == connectors.String && s.Values.Type == connectors.String {
			return []connectors.MapEntry{{Key: placeholder, Value: placeholder}}
		}
	case connectors.Array:
		it := s.Items
		switch it.Type {
		case connectors.Int8, connectors.Int16, connectors.Int32, connectors.Int64, connectors.Float32, connectors.Float64:
			out := make([]any, len(placeholder))
			for i := range len(placeholder) {
				out[i] = numberOf(it.Type, placeholder[i])
			}
			return out
		case connectors.String:
			if it.Name == cdc.UUIDName {
				return []any{connectors.UnavailableUUID(placeholder)}
			}
		}
		if e := placeholderValue(it, placeholder); e != nil {
			return []any{e}
		}
	}
	return nil
}

// numberOf is b as a value of the numeric type t.
func numberOf(t connectors.Type, b byte) any {
	switch t {
	case connectors.Int8:
		return int8(b)
	case connectors.Int16:
		return int16(b)
	case connectors.Int32:
		return int32(b)
	case connectors.Float32:
		return float32(b)
	case connectors.Float64:
		return float64(b)
	}
	return int64(b)
}

// unavailable returns a connectors.UnavailableHeader for each value field
// of cols that is an unchanged TOASTed value, or nil when none is.
func (t *table) unavailable(cols []pgoutput.Column) []connectors.Header {
	var hs []connectors.Header
	for i := range cols {
		if cols[i].Kind == pgoutput.KindUnchanged && i < len(t.valueIdx) && t.valueIdx[i] >= 0 {
			name := t.valueSchema.Fields[t.valueIdx[i]].Name
			hs = append(hs, connectors.Header{Key: connectors.UnavailableHeader, Value: []byte(name)})
		}
	}
	return hs
}

// sameShape reports whether two column lists give the same schemas.
func sameShape(a, b []colDesc) bool { return slices.Equal(a, b) }

// columnError is err, a failure to convert column i, naming the column.
func (t *table) columnError(i int, err error) *ColumnError {
	return &ColumnError{Schema: t.schema, Table: t.name, Column: t.cols[i].Name, Err: err}
}

// unrepresentable is the error for a value that the column's mode turns
// into null (NaN and ±Infinity in decimal.handling.mode=precise) in a NOT
// NULL column. Debezium emits null there, which no converter can write
// into the required field; writing zero instead would change the data, so
// the row is refused like any value the converters reject
// (sluice.table.failure.mode decides what then happens).
func (t *table) unrepresentable(i int, text []byte) *ColumnError {
	return t.columnError(i, fmt.Errorf("the NOT NULL value %q cannot be represented with decimal.handling.mode=precise; set decimal.handling.mode=double or string to capture it", text))
}

func errColumns(t *table, n int) error {
	return fmt.Errorf("table %s.%s: tuple has %d columns, relation has %d", t.schema, t.name, n, len(t.cols))
}

// rowValue converts a tuple into a value struct. Unchanged TOAST columns
// get the placeholder.
func (t *table) rowValue(sl *cdc.Slab, cols []pgoutput.Column) (*connectors.StructValue, error) {
	if len(cols) != len(t.cols) {
		return nil, errColumns(t, len(cols))
	}
	v := sl.NewStruct(t.valueSchema)
	for i := range cols {
		fi := t.valueIdx[i]
		if fi < 0 {
			continue
		}
		val, err := t.convert(i, &cols[i])
		if err != nil {
			return nil, err
		}
		if val == nil && !t.convs[i].Schema.Optional {
			if cols[i].Kind != pgoutput.KindNull {
				return nil, t.unrepresentable(i, cols[i].Data)
			}
			// A NOT NULL column that is null in the tuple: the old
			// tuple of a delete or key change under REPLICA IDENTITY
			// DEFAULT or INDEX holds only the identity's columns.
			val = nullFallback(t.convs[i].Schema)
		}
		v.Values[fi] = val
	}
	return v, nil
}

// nullFallback is the value a required field gets when the row does not
// carry the column (the non-identity columns of a key-only old tuple):
// the schema's default, else the zero of its type, as Debezium's value
// converters give (their "fallback": 0, false, "", empty bytes and
// arrays, the epoch, decimal zero at the column's scale). Without it the
// before image of a delete from a table with a NOT NULL column would be
// an invalid struct that no converter can write.
func nullFallback(s *connectors.Schema) any {
	if s.Default != nil {
		return s.Default
	}
	switch s.Name {
	case connectors.DecimalName:
		scale, _ := strconv.Atoi(s.Parameters[connectors.DecimalScaleParam])
		return connectors.Decimal{Unscaled: new(big.Int), Scale: int32(scale)}
	case connectors.DateName, connectors.TimeName, connectors.TimestampName:
		return time.Unix(0, 0).UTC()
	case cdc.ZonedTimestampName:
		return "1970-01-01T00:00:00Z"
	case cdc.ZonedTimeName:
		return "00:00:00Z"
	case cdc.VariableScaleDecimalName:
		return connectors.NewStructValue(s).Set("scale", int32(0)).Set("value", []byte{0})
	}
	switch s.Type {
	case connectors.Int8:
		return int8(0)
	case connectors.Int16:
		return int16(0)
	case connectors.Int32:
		return int32(0)
	case connectors.Int64:
		return int64(0)
	case connectors.Float32:
		return float32(0)
	case connectors.Float64:
		return float64(0)
	case connectors.Boolean:
		return false
	case connectors.String:
		return ""
	case connectors.Bytes:
		return []byte{}
	case connectors.Array:
		return []any{}
	case connectors.Map:
		return []connectors.MapEntry{}
	case connectors.Struct:
		v := connectors.NewStructValue(s)
		for _, f := range s.Fields {
			if !f.Schema.Optional {
				v.Values[f.Index] = nullFallback(f.Schema)
			}
		}
		return v
	}
	return nil
}

func (t *table) convert(i int, c *pgoutput.Column) (any, error) {
	switch c.Kind {
	case pgoutput.KindNull:
		return nil, nil
	case pgoutput.KindUnchanged:
		return t.placeholders[i], nil
	case pgoutput.KindText:
		v, err := t.convs[i].Convert(c.Data)
		if err != nil {
			return nil, t.columnError(i, err)
		}
		return v, nil
	}
	return nil, t.columnError(i, errors.New("binary tuple data was not requested"))
}

// rowKey converts the key columns of a tuple into a key struct; nil when
// the table has no key.
func (t *table) rowKey(sl *cdc.Slab, cols []pgoutput.Column) (*connectors.StructValue, error) {
	if t.keySchema == nil {
		return nil, nil
	}
	k := sl.NewStruct(t.keySchema)
	for _, ci := range t.keyCols {
		if ci >= len(cols) {
			return nil, fmt.Errorf("table %s.%s: tuple lacks key column %s", t.schema, t.name, t.cols[ci].Name)
		}
		val, err := t.convert(ci, &cols[ci])
		if err != nil {
			return nil, err
		}
		k.Values[t.keyIdx[ci]] = val
	}
	return k, nil
}

// keyChanged reports whether an update's old key tuple differs from the
// new tuple in a key column.
func (t *table) keyChanged(old, cur []pgoutput.Column) bool {
	for _, ci := range t.keyCols {
		if ci >= len(old) || ci >= len(cur) {
			return false
		}
		o, n := &old[ci], &cur[ci]
		if o.Kind == pgoutput.KindUnchanged || n.Kind == pgoutput.KindUnchanged {
			continue
		}
		if o.Kind != n.Kind || string(o.Data) != string(n.Data) {
			return true
		}
	}
	return false
}

// ColumnError is a value of one column that could not be converted.
type ColumnError struct {
	Schema, Table, Column string
	Err                   error
}

func (e *ColumnError) Error() string {
	return fmt.Sprintf("converting %s.%s column %s: %v", e.Schema, e.Table, e.Column, e.Err)
}
func (e *ColumnError) Unwrap() error { return e.Err }

const tableColumnsSQL = `SELECT a.attname::text, a.atttypid, a.atttypmod, a.attnotnull,
  COALESCE((SELECT k.n FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) WHERE k.attnum = a.attnum), 0)::int4
FROM pg_attribute a
LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
ORDER BY a.attnum`

// readColumns reads a relation's columns from the catalog, in the order
// pgoutput sends them.
func readColumns(ctx context.Context, conn *pgx.Conn, relID uint32) ([]colDesc, error) {
	rows, err := conn.Query(ctx, tableColumnsSQL, relID)
	if err != nil {
		return nil, fmt.Errorf("reading columns of relation %d: %w", relID, err)
	}
	defer rows.Close()
	var out []colDesc
	for rows.Next() {
		var c colDesc
		var seq int32
		if err := rows.Scan(&c.Name, &c.TypeOID, &c.Typmod, &c.NotNull, &seq); err != nil {
			return nil, fmt.Errorf("reading columns of relation %d: %w", relID, err)
		}
		c.KeySeq = int(seq)
		out = append(out, c)
	}
	return out, rows.Err()
}

// capturedTable is a captured relation found at start-up.
type capturedTable struct {
	relID        uint32
	schema, name string
	replIdentity byte
	hasPK        bool
	estRows      float64
}

const listTablesSQL = `SELECT c.oid, n.nspname::text, c.relname::text, c.relreplident::text,
  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), c.reltuples::float8
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY n.nspname, c.relname`

// listTables returns the tables the config captures.
func listTables(ctx context.Context, conn *pgx.Conn, cfg *Config) ([]capturedTable, error) {
	rows, err := conn.Query(ctx, listTablesSQL)
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	defer rows.Close()
	var out []capturedTable
	for rows.Next() {
		var t capturedTable
		var ri string
		if err := rows.Scan(&t.relID, &t.schema, &t.name, &ri, &t.hasPK, &t.estRows); err != nil {
			return nil, fmt.Errorf("listing tables: %w", err)
		}
		if ri != "" {
			t.replIdentity = ri[0]
		}
		if cfg.Captures(t.schema, t.name) {
			out = append(out, t)
		}
	}
	return out, rows.Err()
}
