package postgres

import (
	"encoding/binary"
	"strconv"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgtypes"
)

// Snapshot rows, when the runtime takes lazy values (connectors.LazyStruct),
// stay in PostgreSQL's text form until they are encoded: the converter's
// codec (JSON or Avro) then writes each column straight from its text,
// with no StructValue, no boxed values and no walk over them. Columns
// whose type has no direct form (pgtypes.Converter.Direct) are converted
// when read, as before, and handed to the codec as values; so are nulls.
// Every value is checked when read, so a poison value fails the snapshot
// where it did before, naming its column.
//
// The bytes are those of the built envelope: the tests compare them for
// every converter setting, and the snapshot type matrix (it/) compares
// them with the stream's, which is always built.

// lazyRow is one row: the text of its direct columns and the values of
// the others.
type lazyRow struct {
	t *table
	// Text holds the direct columns' text back to back, an integer
	// column's followed by its value (eight bytes, little-endian).
	// Spans holds, per column of t.cols, the start and end of its text;
	// a start of spanNull is a null, spanValue a value in Values.
	// Values holds, per column, the value of a non-direct column; nil
	// when the row has none.
	connectors.RowData
}

const (
	spanNull  = connectors.SpanNull
	spanValue = connectors.SpanValue
)

// lazyEnvelope is a snapshot record's value; its key is the same row as
// a lazyKey, its after value the same row as a lazyAfter.
type lazyEnvelope struct {
	lazyRow
	src *lazySource
}

// lazySource is what the rows of a table read at the same time share: the
// source block, op and time.
type lazySource struct {
	src *connectors.StructValue
	op  string
	ts  int64 // ts_ns
	// rest is an envelope holding the source block, op and times (and a
	// null transaction): the fields after "after", handed to codecs as the
	// envelope's rest (connectors.FieldWriter.Rest), which they may encode
	// once for all these rows.
	rest *connectors.StructValue
}

// newLazySource returns what the rows of a table with envelope schema env
// share when read at ts (nanoseconds) with source block src.
func newLazySource(env *connectors.Schema, src *connectors.StructValue, op string, ts int64) *lazySource {
	rest := connectors.NewStructValue(env)
	v := rest.Values
	v[cdc.EnvSource], v[cdc.EnvOp] = src, op
	v[cdc.EnvTsMs], v[cdc.EnvTsUs], v[cdc.EnvTsNs] = ts/1e6, ts/1e3, ts
	return &lazySource{src: src, op: op, ts: ts, rest: rest}
}

// lazyKey is the key of a row.
type lazyKey lazyRow

// rowArena hands out a reader's row storage in blocks, so that a row
// costs no allocation of its own.
type rowArena struct {
	text  []byte
	spans []int32
	vals  []any
}

const (
	arenaText  = 64 << 10
	arenaSpans = 4096
)

// read fills row with a result row (text format) of table t. A value
// that does not convert is returned as a *ColumnError.
func (a *rowArena) read(row *lazyRow, t *table, vals [][]byte) error {
	if len(vals) != len(t.cols) {
		return errColumns(t, len(vals))
	}
	n := 2 * len(vals)
	if len(a.spans) < n {
		a.spans = make([]int32, max(arenaSpans, n))
	}
	row.t, row.Spans, row.Values = t, a.spans[:n:n], nil
	a.spans = a.spans[n:]
	size := 0
	for i, v := range vals {
		if c := t.convs[i]; c != nil && c.Direct() {
			size += len(v)
			if c.Integer() {
				size += 8
			}
		}
	}
	if cap(a.text)-len(a.text) < size {
		a.text = make([]byte, 0, max(arenaText, size))
	}
	start := len(a.text)
	for i, v := range vals {
		c := t.convs[i]
		switch {
		case c == nil:
			row.Spans[2*i] = spanNull
		case v == nil:
			row.Spans[2*i] = spanNull
		case c.Direct():
			n, err := c.CheckText(v)
			if err != nil {
				return t.columnError(i, err)
			}
			row.Spans[2*i] = int32(len(a.text) - start)
			integer := c.Integer()
			if integer && !pgtypes.CanonicalInt(v) {
				// Held in its one spelling (connectors.FormInt);
				// PostgreSQL writes no other.
				a.text = strconv.AppendInt(a.text, n, 10)
			} else {
				a.text = append(a.text, v...)
			}
			row.Spans[2*i+1] = int32(len(a.text) - start)
			if integer {
				// The integer read, after its text, for Write.
				a.text = binary.LittleEndian.AppendUint64(a.text, uint64(n))
			}
		default:
			x, err := c.Convert(v)
			if err != nil {
				return t.columnError(i, err)
			}
			if x == nil && !c.Schema.Optional {
				return t.unrepresentable(i, v)
			}
			if row.Values == nil {
				if len(a.vals) < len(vals) {
					a.vals = make([]any, max(arenaSpans, len(vals)))
				}
				row.Values = a.vals[:len(vals):len(vals)]
				a.vals = a.vals[len(vals):]
			}
			row.Spans[2*i] = spanValue
			row.Values[i] = x
		}
	}
	row.Text = a.text[start:len(a.text):len(a.text)]
	return nil
}

// value returns column i's value as Convert returns it.
func (r *lazyRow) value(i int) (any, error) {
	switch s := r.Spans[2*i]; s {
	case spanNull:
		return nil, nil
	case spanValue:
		return r.Values[i], nil
	default:
		t := r.t
		v, err := t.convs[i].Convert(r.Text[s:r.Spans[2*i+1]])
		if err != nil {
			return nil, t.columnError(i, err)
		}
		return v, nil
	}
}

// build returns the struct of schema s whose fields are columns cols.
func (r *lazyRow) build(s *connectors.Schema, cols []int) (*connectors.StructValue, error) {
	sv := connectors.NewStructValue(s)
	for fi, ci := range cols {
		v, err := r.value(ci)
		if err != nil {
			return nil, err
		}
		sv.Values[fi] = v
	}
	return sv, nil
}

// visit hands w the columns cols (connectors.LazyStruct.Visit).
func (r *lazyRow) visit(w connectors.FieldWriter, cols []int) error {
	span, vals, text, convs := r.Spans, r.Values, r.Text, r.t.convs
	for _, ci := range cols {
		var err error
		switch st := span[2*ci]; st {
		case spanNull:
			err = w.Value(nil)
		case spanValue:
			err = w.Value(vals[ci])
		default:
			c, end := convs[ci], span[2*ci+1]
			var n int64
			if c.Integer() {
				n = int64(binary.LittleEndian.Uint64(text[end:]))
			}
			err = c.Write(w, text[st:end], n)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Size estimates the bytes the row holds (cdc.Sizer).
func (r *lazyRow) Size() int64 {
	n := int64(cdc.StructOverhead + cdc.ScalarSize*len(r.Spans)/2 + len(r.Text))
	for _, v := range r.Values {
		n += cdc.ValueSize(v)
	}
	return n
}

func (k *lazyKey) Build() (*connectors.StructValue, error) {
	r := (*lazyRow)(k)
	return r.build(r.t.keySchema, r.t.keyCols)
}

func (k *lazyKey) Visit(w connectors.FieldWriter) error {
	r := (*lazyRow)(k)
	return r.visit(w, r.t.keyCols)
}

func (k *lazyKey) Size() int64 { return (*lazyRow)(k).Size() }

// Row hands the key's fields over at once (connectors.TextRow).
func (k *lazyKey) Row() (*connectors.RowLayout, *connectors.RowData) {
	return k.t.keyLayout, &k.RowData
}

func (e *lazyEnvelope) Build() (*connectors.StructValue, error) {
	t := e.t
	after, err := e.build(t.valueSchema, t.valueCols)
	if err != nil {
		return nil, err
	}
	env := connectors.NewStructValue(t.envelopeSchema)
	v := env.Values
	v[cdc.EnvAfter] = after
	v[cdc.EnvSource] = e.src.src
	v[cdc.EnvOp] = e.src.op
	ts := e.src.ts
	v[cdc.EnvTsMs], v[cdc.EnvTsUs], v[cdc.EnvTsNs] = ts/1e6, ts/1e3, ts
	return env, nil
}

// Visit hands w the envelope's fields in their order (cdc.EnvBefore …
// cdc.EnvTsNs): a null before, the row as after, then the source block, a
// null transaction, op and times as the rest the rows read with it share.
func (e *lazyEnvelope) Visit(w connectors.FieldWriter) error {
	if err := w.Value(nil); err != nil {
		return err
	}
	if err := w.Struct((*lazyAfter)(&e.lazyRow)); err != nil {
		return err
	}
	return w.Rest(e.src.rest)
}

// Envelope hands over the row as after between a null before and the rest
// the rows read with it share (connectors.RowEnvelope).
func (e *lazyEnvelope) Envelope() (int, *connectors.RowLayout, *connectors.RowData, *connectors.StructValue) {
	return cdc.EnvAfter, e.t.valueLayout, &e.RowData, e.src.rest
}

func (e *lazyEnvelope) Size() int64 { return e.lazyRow.Size() + cdc.ValueSize(e.src.src) }

// lazyAfter is the after value of a row's envelope.
type lazyAfter lazyRow

func (a *lazyAfter) Build() (*connectors.StructValue, error) {
	r := (*lazyRow)(a)
	return r.build(r.t.valueSchema, r.t.valueCols)
}

func (a *lazyAfter) Visit(w connectors.FieldWriter) error {
	r := (*lazyRow)(a)
	return r.visit(w, r.t.valueCols)
}

// Row hands the row's fields over at once (connectors.TextRow).
func (a *lazyAfter) Row() (*connectors.RowLayout, *connectors.RowData) {
	return a.t.valueLayout, &a.RowData
}

var (
	_ connectors.TextRow = (*lazyKey)(nil)
	_ connectors.TextRow = (*lazyAfter)(nil)

	_ connectors.RowEnvelope = (*lazyEnvelope)(nil)
)
