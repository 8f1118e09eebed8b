package mysql

import (
	"encoding/binary"
	"math/big"
	"strconv"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Snapshot rows, when the runtime takes lazy values (connectors.LazyStruct),
// stay in the text the server sent until they are encoded: the
// converter's codec (JSON or Avro) writes integer and string columns
// straight from their text (connectors.TextRow), with no StructValue and
// no boxed value; the other columns are converted when read, as the built
// path converts them (column.fromText), and handed over as values. Every
// value is checked when read, so a value that does not convert fails the
// snapshot where it did before, with the same error.
//
// The bytes are those of the built records: TestLazyRowsEncodeAsBuilt
// compares them for every column kind and converter setting, and the
// type matrix (it/) compares the snapshot's events with the stream's,
// which are always built.

// lazyPlan is how the rows of one query of a table are held: per select
// column (the value's fields, in order), its form, and the layouts of
// the key and value. It is shared by the rows and never changes.
type lazyPlan struct {
	d     *described
	modes Modes
	// col[c] is the column index (into d.cols) of select column c.
	col   []int
	forms []connectors.TextForm
	// decimal[c] marks a DECIMAL column held as a connectors.Decimal.
	decimal []bool
	// keyCols are the select columns of the key's fields (nil: no key).
	keyCols             []int
	keyLayout, valueLay *connectors.RowLayout
	// keyErr is the error of a key column left out by
	// column.exclude.list, returned at the first row as the built path
	// does.
	keyErr error
}

// newLazyPlan returns the plan of d's rows under modes m.
func newLazyPlan(d *described, m Modes) *lazyPlan {
	tb := d.tb
	p := &lazyPlan{d: d, modes: m, col: make([]int, d.nval), forms: make([]connectors.TextForm, d.nval), decimal: make([]bool, d.nval)}
	for i := range d.cols {
		if tb.include[i] {
			p.col[tb.pos[i]] = i
		}
	}
	for c, i := range p.col {
		col := &d.cols[i]
		switch col.kind {
		case kInt:
			if col.schema(m).Type != connectors.Bytes { // BIGINT UNSIGNED as a precise Decimal
				p.forms[c] = connectors.FormInt
			}
		case kString, kJSON, kUUID, kInet4, kInet6, kEnum, kSet:
			p.forms[c] = connectors.FormText
		case kDecimal:
			switch m.Decimal {
			case cdc.DecimalString:
				p.forms[c] = connectors.FormText
			case cdc.DecimalDouble:
			default:
				p.decimal[c] = true
			}
		}
	}
	valueCols := make([]int, d.nval)
	for c := range valueCols {
		valueCols[c] = c
	}
	p.valueLay = p.layout(valueCols)
	if tb.keyS != nil {
		for _, k := range tb.key {
			if !tb.include[k] {
				p.keyErr = errExcludedKey(d, k)
				break
			}
			p.keyCols = append(p.keyCols, tb.pos[k])
		}
		if p.keyErr == nil {
			p.keyLayout = p.layout(p.keyCols)
		}
	}
	return p
}

func (p *lazyPlan) layout(cols []int) *connectors.RowLayout {
	l := &connectors.RowLayout{Cols: cols, Forms: make([]connectors.TextForm, len(cols))}
	for i, c := range cols {
		l.Forms[i] = p.forms[c]
	}
	return l
}

// lazyRow is one row: the text of its text columns and the values of
// the others.
type lazyRow struct {
	p *lazyPlan
	// Text holds the text columns' bytes back to back, an integer
	// column's followed by its value (eight bytes, little-endian).
	// Spans holds, per select column, the start and end of its text; a
	// start of SpanNull is a null, SpanValue a value in Values. Values
	// holds, per select column, the value of a value column; nil when
	// the row has none.
	connectors.RowData
}

// lazySource is what the rows of a query read in the same clock tick
// share: the source block, op and time.
type lazySource struct {
	src *connectors.StructValue
	ts  int64 // ts_ns
	// rest is an envelope holding the source block, op and times (and a
	// null transaction): the fields after "after", handed to codecs as the
	// envelope's rest (connectors.FieldWriter.Rest).
	rest *connectors.StructValue
}

func newLazySource(env *connectors.Schema, src *connectors.StructValue, ts int64) *lazySource {
	rest := connectors.NewStructValue(env)
	v := rest.Values
	v[cdc.EnvSource], v[cdc.EnvOp] = src, cdc.OpRead
	v[cdc.EnvTsMs], v[cdc.EnvTsUs], v[cdc.EnvTsNs] = ts/1e6, ts/1e3, ts
	return &lazySource{src: src, ts: ts, rest: rest}
}

// lazyEnvelope is a snapshot record's value (op r); its key is the same
// row as a lazyKey, its after value the same row as a lazyAfter.
type lazyEnvelope struct {
	lazyRow
	src *lazySource
}

type (
	lazyKey   lazyRow
	lazyAfter lazyRow
)

// rowArena hands out a query's row storage in blocks, so that a row
// costs no allocation of its own. A block lives as long as a row carved
// from it.
type rowArena struct {
	text  []byte
	spans []int32
	vals  []any
	recs  []lazyEnvelope
	// Decimals' unscaled values and their words.
	ints  []big.Int
	words []big.Word
}

const (
	arenaText  = 64 << 10
	arenaSpans = 4096
	arenaRows  = 256
)

// row returns a new row of plan p, read from raw (the select list's
// values, text protocol).
func (a *rowArena) row(p *lazyPlan, raw [][]byte) (*lazyEnvelope, error) {
	if len(a.recs) == 0 {
		a.recs = make([]lazyEnvelope, arenaRows)
	}
	e := &a.recs[0]
	a.recs = a.recs[1:]
	n := p.d.nval
	if len(a.spans) < 2*n {
		a.spans = make([]int32, max(arenaSpans, 2*n))
	}
	row := &e.lazyRow
	row.p, row.Spans = p, a.spans[:2*n:2*n]
	a.spans = a.spans[2*n:]
	size := 0
	for c, f := range p.forms {
		switch f {
		case connectors.FormText:
			size += len(raw[c])
		case connectors.FormInt:
			size += 20 + 8
		}
	}
	if cap(a.text)-len(a.text) < size {
		a.text = make([]byte, 0, max(arenaText, size))
	}
	start := len(a.text)
	for c, f := range p.forms {
		v := raw[c]
		if v == nil {
			row.Spans[2*c] = connectors.SpanNull
			continue
		}
		col := &p.d.cols[p.col[c]]
		switch f {
		case connectors.FormText:
			row.Spans[2*c] = int32(len(a.text) - start)
			a.text = append(a.text, v...)
			row.Spans[2*c+1] = int32(len(a.text) - start)
		case connectors.FormInt:
			x, err := col.intText(v, p.modes)
			if err != nil {
				return nil, err
			}
			row.Spans[2*c] = int32(len(a.text) - start)
			a.text = strconv.AppendInt(a.text, x, 10)
			row.Spans[2*c+1] = int32(len(a.text) - start)
			a.text = binary.LittleEndian.AppendUint64(a.text, uint64(x))
		default:
			var x any
			var err error
			if p.decimal[c] {
				x, err = a.decimal(col, v, p.modes)
			} else {
				x, err = col.fromText(v, p.modes)
			}
			if err != nil {
				return nil, err
			}
			if row.Values == nil {
				if len(a.vals) < n {
					a.vals = make([]any, max(arenaSpans, n))
				}
				row.Values = a.vals[:n:n]
				a.vals = a.vals[n:]
			}
			row.Spans[2*c] = connectors.SpanValue
			row.Values[c] = x
		}
	}
	row.Text = a.text[start:len(a.text):len(a.text)]
	return e, nil
}

// decimal is col.fromText of a DECIMAL (precise mode), its unscaled value
// carved from the arena when it fits an int64.
func (a *rowArena) decimal(col *column, v []byte, m Modes) (any, error) {
	n, ok := decimal64(v, col.scale)
	if !ok {
		return col.fromText(v, m)
	}
	if len(a.ints) == 0 {
		a.ints = make([]big.Int, arenaRows)
	}
	z := &a.ints[0]
	a.ints = a.ints[1:]
	if n != 0 {
		if len(a.words) == 0 {
			a.words = make([]big.Word, arenaRows)
		}
		u := n
		if n < 0 {
			u = -n
		}
		a.words[0] = big.Word(u)
		z.SetBits(a.words[:1:1])
		a.words = a.words[1:]
		if n < 0 {
			z.Neg(z)
		}
	}
	return connectors.Decimal{Unscaled: z, Scale: int32(col.scale)}, nil
}

// value returns select column c's value as the built path holds it.
func (r *lazyRow) value(c int) (any, error) {
	switch s := r.Spans[2*c]; s {
	case connectors.SpanNull:
		return nil, nil
	case connectors.SpanValue:
		return r.Values[c], nil
	default:
		p := r.p
		col := &p.d.cols[p.col[c]]
		end := r.Spans[2*c+1]
		if p.forms[c] != connectors.FormInt {
			return col.fromText(r.Text[s:end], p.modes)
		}
		// The number as read, in the field's integer type (intValue's).
		n := int64(binary.LittleEndian.Uint64(r.Text[end:]))
		switch col.schema(p.modes).Type {
		case connectors.Int16:
			return int16(n), nil
		case connectors.Int32:
			return int32(n), nil
		}
		return n, nil
	}
}

// build returns the struct of schema s whose fields are select columns
// cols.
func (r *lazyRow) build(s *connectors.Schema, cols []int) (*connectors.StructValue, error) {
	sv := connectors.NewStructValue(s)
	for fi, c := range cols {
		v, err := r.value(c)
		if err != nil {
			return nil, err
		}
		sv.Values[fi] = v
	}
	return sv, nil
}

// visit hands w the select columns cols (connectors.LazyStruct.Visit).
func (r *lazyRow) visit(w connectors.FieldWriter, cols []int) error {
	span, vals, text, forms := r.Spans, r.Values, r.Text, r.p.forms
	for _, c := range cols {
		var err error
		switch st := span[2*c]; st {
		case connectors.SpanNull:
			err = w.Value(nil)
		case connectors.SpanValue:
			err = w.Value(vals[c])
		default:
			end := span[2*c+1]
			if forms[c] == connectors.FormInt {
				err = w.Int(int64(binary.LittleEndian.Uint64(text[end:])), text[st:end])
			} else {
				err = w.Text(text[st:end])
			}
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
	return r.build(r.p.d.tb.keyS, r.p.keyCols)
}

func (k *lazyKey) Visit(w connectors.FieldWriter) error {
	r := (*lazyRow)(k)
	return r.visit(w, r.p.keyCols)
}

func (k *lazyKey) Size() int64 { return (*lazyRow)(k).Size() }

// Row hands the key's fields over at once (connectors.TextRow).
func (k *lazyKey) Row() (*connectors.RowLayout, *connectors.RowData) {
	return k.p.keyLayout, &k.RowData
}

func (a *lazyAfter) Build() (*connectors.StructValue, error) {
	r := (*lazyRow)(a)
	return r.build(r.p.d.tb.value, r.p.valueLay.Cols)
}

func (a *lazyAfter) Visit(w connectors.FieldWriter) error {
	r := (*lazyRow)(a)
	return r.visit(w, r.p.valueLay.Cols)
}

// Row hands the row's fields over at once (connectors.TextRow).
func (a *lazyAfter) Row() (*connectors.RowLayout, *connectors.RowData) {
	return a.p.valueLay, &a.RowData
}

func (e *lazyEnvelope) Build() (*connectors.StructValue, error) {
	after, err := (*lazyAfter)(&e.lazyRow).Build()
	if err != nil {
		return nil, err
	}
	env := connectors.NewStructValue(e.p.d.tb.env)
	v := env.Values
	v[cdc.EnvAfter] = after
	v[cdc.EnvSource] = e.src.src
	v[cdc.EnvOp] = cdc.OpRead
	ts := e.src.ts
	v[cdc.EnvTsMs], v[cdc.EnvTsUs], v[cdc.EnvTsNs] = ts/1e6, ts/1e3, ts
	return env, nil
}

// Visit hands w the envelope's fields in their order: a null before, the
// row as after, then the source block, a null transaction, op and times
// as the rest the rows read with it share.
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
	return cdc.EnvAfter, e.p.valueLay, &e.RowData, e.src.rest
}

func (e *lazyEnvelope) Size() int64 { return e.lazyRow.Size() + cdc.ValueSize(e.src.src) }

var (
	_ connectors.TextRow     = (*lazyKey)(nil)
	_ connectors.TextRow     = (*lazyAfter)(nil)
	_ connectors.RowEnvelope = (*lazyEnvelope)(nil)
	_ cdc.Sizer              = (*lazyEnvelope)(nil)
	_ cdc.Sizer              = (*lazyKey)(nil)
)

// intText parses an integer column's text into the number its field
// holds, as fromText and intValue do, without boxing it.
func (c *column) intText(b []byte, m Modes) (int64, error) {
	s := bstr(b)
	if c.unsigned {
		u, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, c.bad(string(b), err.Error())
		}
		return c.intNumber(int64(u), u), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, c.bad(string(b), err.Error())
	}
	return c.intNumber(n, uint64(n)), nil
}

// intNumber is intValue's number as an int64, for the integer schemas
// (not BIGINT UNSIGNED as a precise Decimal).
func (c *column) intNumber(s int64, u uint64) int64 {
	switch {
	case c.size == 1 && c.unsigned:
		return int64(uint8(u))
	case c.size == 1:
		return int64(int16(s))
	case c.size == 2 && c.unsigned:
		return int64(uint16(u))
	case c.size == 2:
		return int64(int16(s))
	case c.size == 3 && c.unsigned:
		return int64(u & 0xFFFFFF)
	case c.size == 3:
		return int64(int32(s))
	case c.size == 4 && c.unsigned:
		return int64(uint32(u))
	case c.size == 4:
		return int64(int32(s))
	case c.unsigned:
		return int64(u)
	default:
		return s
	}
}

// decimal64 reads the text of a DECIMAL as MySQL writes it,
// "[-]digits[.digits]", with at most scale fraction digits, as its
// unscaled value at that scale when it has at most 18 digits at that
// scale; ok is false otherwise (connectors.ParseDecimal then reads it).
func decimal64[T string | []byte](b T, scale int) (n int64, ok bool) {
	i := 0
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		i++
	}
	digits, frac := 0, -1
	for ; i < len(b); i++ {
		ch := b[i]
		switch {
		case ch >= '0' && ch <= '9':
			n = n*10 + int64(ch-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		case ch == '.' && frac < 0:
			frac = 0
		default:
			return 0, false
		}
		if digits > 18 {
			return 0, false
		}
	}
	if digits == 0 || frac == 0 {
		return 0, false
	}
	frac = max(frac, 0)
	if frac > scale || digits+scale-frac > 18 {
		return 0, false
	}
	for ; frac < scale; frac++ {
		n *= 10
	}
	if neg {
		n = -n
	}
	return n, true
}
