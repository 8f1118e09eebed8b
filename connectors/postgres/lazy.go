package postgres

import (
	"strconv"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/codec/connectjson"
)

// Snapshot rows, when the runtime takes lazy values (connectors.LazyStruct),
// stay in PostgreSQL's text form until they are encoded: the JSON
// converter then writes each column straight from its text, with no
// StructValue, no boxed values and no walk over them. Columns whose type
// has no direct JSON spelling (pgtypes.Converter.Direct) are converted
// when read, as before, and handed to the converter as values; so are
// nulls, whose JSON depends on the converter's settings. Every value is
// checked when read, so a poison value fails the snapshot where it did
// before, naming its column.
//
// The bytes are those of the built envelope: the snapshot type matrix
// (it/) compares them with the stream's, which is always built.

// lazyRow is one row: the text of its direct columns and the values of
// the others.
type lazyRow struct {
	t *table
	// text holds the direct columns' text back to back.
	text []byte
	// span holds, per column of t.cols, the start and end of its text;
	// a start of spanNull is a null, spanValue a value in vals.
	span []int32
	// vals holds, per column, the value of a non-direct column; nil when
	// the row has none.
	vals []any
}

const (
	spanNull  = -1
	spanValue = -2
)

// lazyEnvelope is a snapshot record's value; its key is the same row as
// a lazyKey.
type lazyEnvelope struct {
	lazyRow
	src *lazySource
}

// lazySource is what the rows of a table read at the same time share: the
// source block, op and time, and their JSON.
type lazySource struct {
	src *connectors.StructValue
	op  string
	ts  int64 // ts_ns
	// tail is the JSON of the envelope after "source":
	// `,"transaction":` (without its value) is written apart; tail holds
	// `,"op":…,"ts_ms":…,"ts_us":…,"ts_ns":…}`.
	tail []byte
	// enc, head and rest cache the envelope's JSON around "after" as
	// enc writes it: head is `{"before":null,"after":`, rest is
	// `,"source":…,"transaction":null` and tail. Only the goroutine
	// that encodes records (the task's runner) touches them.
	enc        connectors.JSONEncoder
	head, rest []byte
}

func newLazySource(src *connectors.StructValue, op string, ts int64) *lazySource {
	tail := append([]byte(`,"op":`), connectjson.AppendString(nil, op)...)
	tail = append(tail, `,"ts_ms":`...)
	tail = strconv.AppendInt(tail, ts/1e6, 10)
	tail = append(tail, `,"ts_us":`...)
	tail = strconv.AppendInt(tail, ts/1e3, 10)
	tail = append(tail, `,"ts_ns":`...)
	tail = strconv.AppendInt(tail, ts, 10)
	return &lazySource{src: src, op: op, ts: ts, tail: append(tail, '}')}
}

// envelope returns the JSON of an envelope of schema env before and after
// its "after" value as enc writes it: a null "before" and "transaction"
// and this source block. The records of a table read at the same tick
// share it.
func (s *lazySource) envelope(enc connectors.JSONEncoder, env *connectors.Schema) (head, rest []byte, err error) {
	if s.enc == enc && s.head != nil {
		return s.head, s.rest, nil
	}
	f := env.Fields
	head = append(s.head[:0], `{"before":`...)
	if head, err = enc.AppendJSON(head, f[cdc.EnvBefore].Schema, nil); err != nil {
		return nil, nil, err
	}
	head = append(head, `,"after":`...)
	rest = append(s.rest[:0], `,"source":`...)
	if rest, err = enc.AppendJSON(rest, f[cdc.EnvSource].Schema, s.src); err != nil {
		return nil, nil, err
	}
	rest = append(rest, `,"transaction":`...)
	if rest, err = enc.AppendJSON(rest, f[cdc.EnvTransaction].Schema, nil); err != nil {
		return nil, nil, err
	}
	rest = append(rest, s.tail...)
	s.enc, s.head, s.rest = enc, head, rest
	return head, rest, nil
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
	row.t, row.span, row.vals = t, a.spans[:n:n], nil
	a.spans = a.spans[n:]
	size := 0
	for i, v := range vals {
		if t.convs[i] != nil && t.convs[i].Direct() {
			size += len(v)
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
			row.span[2*i] = spanNull
		case v == nil:
			row.span[2*i] = spanNull
		case c.Direct():
			if err := c.CheckText(v); err != nil {
				return t.columnError(i, err)
			}
			row.span[2*i] = int32(len(a.text) - start)
			a.text = append(a.text, v...)
			row.span[2*i+1] = int32(len(a.text) - start)
		default:
			x, err := c.Convert(v)
			if err != nil {
				return t.columnError(i, err)
			}
			if x == nil && !c.Schema.Optional {
				return t.unrepresentable(i, v)
			}
			if row.vals == nil {
				if len(a.vals) < len(vals) {
					a.vals = make([]any, max(arenaSpans, len(vals)))
				}
				row.vals = a.vals[:len(vals):len(vals)]
				a.vals = a.vals[len(vals):]
			}
			row.span[2*i] = spanValue
			row.vals[i] = x
		}
	}
	row.text = a.text[start:len(a.text):len(a.text)]
	return nil
}

// value returns column i's value as Convert returns it.
func (r *lazyRow) value(i int) (any, error) {
	switch s := r.span[2*i]; s {
	case spanNull:
		return nil, nil
	case spanValue:
		return r.vals[i], nil
	default:
		t := r.t
		v, err := t.convs[i].Convert(r.text[s:r.span[2*i+1]])
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

// appendStruct appends the JSON of the struct of schema s whose fields
// are columns cols, with keys[f] the JSON of field f's name as the
// converter writes it (`,"name":`).
func (r *lazyRow) appendStruct(dst []byte, enc connectors.JSONEncoder, s *connectors.Schema, cols []int, keys [][]byte) ([]byte, error) {
	dst = append(dst, '{')
	for fi, ci := range cols {
		dst = append(dst, keys[fi]...)
		switch st := r.span[2*ci]; st {
		case spanNull, spanValue:
			var v any
			if st == spanValue {
				v = r.vals[ci]
			}
			var err error
			if dst, err = enc.AppendJSON(dst, s.Fields[fi].Schema, v); err != nil {
				return dst, err
			}
		default:
			dst = r.t.convs[ci].AppendJSON(dst, r.text[st:r.span[2*ci+1]])
		}
	}
	return append(dst, '}'), nil
}

// Size estimates the bytes the row holds (cdc.Sizer).
func (r *lazyRow) Size() int64 {
	n := int64(cdc.StructOverhead + cdc.ScalarSize*len(r.span)/2 + len(r.text))
	for _, v := range r.vals {
		n += cdc.ValueSize(v)
	}
	return n
}

// fieldKeys returns the JSON of each field's name as a struct member, as
// the JSON converter writes them (connectjson.MemberKey).
func fieldKeys(s *connectors.Schema) [][]byte {
	keys := make([][]byte, len(s.Fields))
	for i, f := range s.Fields {
		keys[i] = connectjson.MemberKey(f.Name, i == 0)
	}
	return keys
}

func (k *lazyKey) Build() (*connectors.StructValue, error) {
	r := (*lazyRow)(k)
	return r.build(r.t.keySchema, r.t.keyCols)
}

func (k *lazyKey) AppendJSON(dst []byte, enc connectors.JSONEncoder) ([]byte, error) {
	r := (*lazyRow)(k)
	return r.appendStruct(dst, enc, r.t.keySchema, r.t.keyCols, r.t.keyKeys)
}

func (k *lazyKey) Size() int64 { return (*lazyRow)(k).Size() }

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

func (e *lazyEnvelope) AppendJSON(dst []byte, enc connectors.JSONEncoder) ([]byte, error) {
	t := e.t
	head, rest, err := e.src.envelope(enc, t.envelopeSchema)
	if err != nil {
		return dst, err
	}
	dst = append(dst, head...)
	if dst, err = e.appendStruct(dst, enc, t.valueSchema, t.valueCols, t.valueKeys); err != nil {
		return dst, err
	}
	return append(dst, rest...), nil
}

func (e *lazyEnvelope) Size() int64 { return e.lazyRow.Size() + cdc.ValueSize(e.src.src) }
