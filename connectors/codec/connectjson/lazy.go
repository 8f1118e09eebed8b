package connectjson

import (
	"encoding/binary"
	"math"
	"strconv"
	"unsafe"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
)

// lazyWriter writes the fields a connectors.LazyStruct visits as the
// members of a JSON object, each under its field's plan, so that a lazy
// value's bytes come from the same code as a built one's.
type lazyWriter struct {
	c      *Codec
	dst    []byte
	p      *plan // the struct's
	keys   [][]byte
	fields []*plan
	i      int // the next field
}

// errTooMany is a lazy struct that gave more values than its schema has
// fields.
var errTooMany = codec.Errorf("the lazy struct gave more values than its schema has fields")

// appendLazy appends the JSON of the lazy struct l under the struct plan p.
func (c *Codec) appendLazy(dst []byte, p *plan, l connectors.LazyStruct) ([]byte, error) {
	if p.kind != kStruct {
		return dst, codec.FormError(p.s, "struct")
	}
	if p.bad != "" {
		return dst, &codec.DataError{Reason: p.bad}
	}
	if e, ok := l.(connectors.RowEnvelope); ok {
		return c.appendEnvelope(dst, p, e)
	}
	if r, ok := l.(connectors.TextRow); ok {
		l, d := r.Row()
		return c.appendRow(dst, p, l, d)
	}
	if c.depth == len(c.writers) {
		c.writers = append(c.writers, &lazyWriter{c: c})
	}
	w := c.writers[c.depth]
	c.depth++
	w.dst, w.p, w.keys, w.fields, w.i = append(dst, '{'), p, p.keys, p.fields, 0
	err := l.Visit(w)
	dst, w.dst, w.p, w.keys, w.fields = w.dst, nil, nil, nil, nil
	c.depth--
	if err != nil {
		return dst, err
	}
	if w.i != len(p.fields) {
		return dst, codec.Errorf("the lazy struct gave %d values for %d fields", w.i, len(p.fields))
	}
	return append(dst, '}'), nil
}

// next writes the next field's member name and returns its plan.
func (w *lazyWriter) next() (*plan, error) {
	i := w.i
	if i >= len(w.fields) || i >= len(w.keys) {
		return nil, errTooMany
	}
	w.dst = append(w.dst, w.keys[i]...)
	w.i = i + 1
	return w.fields[i], nil
}

// fieldErr names the field just written in err.
func (w *lazyWriter) fieldErr(err error) error {
	if err == nil {
		return nil
	}
	return codec.InField(err, w.p.s.Fields[w.i-1].Name)
}

func (w *lazyWriter) Value(v any) error {
	fp, err := w.next()
	if err != nil {
		return err
	}
	w.dst, err = w.c.appendValue(w.dst, fp, v)
	return w.fieldErr(err)
}

func (w *lazyWriter) Text(b []byte) error {
	fp, err := w.next()
	if err != nil {
		return err
	}
	w.dst, err = w.c.appendText(w.dst, fp, b)
	return w.fieldErr(err)
}

func (w *lazyWriter) Int(n int64, decimal []byte) error {
	fp, err := w.next()
	if err != nil {
		return err
	}
	w.dst, err = appendInt(w.dst, fp, n, decimal)
	return w.fieldErr(err)
}

func (w *lazyWriter) Bool(b bool) error {
	fp, err := w.next()
	if err != nil {
		return err
	}
	w.dst, err = appendBool(w.dst, fp, b)
	return w.fieldErr(err)
}

// appendText writes a value of a string plan from its UTF-8 bytes
// (connectors.FieldWriter.Text).
func (c *Codec) appendText(dst []byte, fp *plan, b []byte) ([]byte, error) {
	if fp.kind != kString {
		return dst, codec.FormError(fp.s, "text")
	}
	return c.appendStr(dst, unsafe.String(unsafe.SliceData(b), len(b)))
}

// appendInt writes a value of an integer plan, n, from its decimal
// spelling when not nil (FieldWriter.Int).
func appendInt(dst []byte, fp *plan, n int64, decimal []byte) ([]byte, error) {
	switch fp.kind {
	case kInt8, kInt16, kInt32, kInt64:
		if err := codec.IntInRange(fp.s.Type, n); err != nil {
			return dst, err
		}
	default:
		return dst, codec.FormError(fp.s, "integer")
	}
	if decimal != nil {
		return append(dst, decimal...), nil
	}
	return strconv.AppendInt(dst, n, 10), nil
}

// appendBool writes a value of a boolean plan (FieldWriter.Bool).
func appendBool(dst []byte, fp *plan, b bool) ([]byte, error) {
	if fp.kind != kBoolean {
		return dst, codec.FormError(fp.s, "boolean")
	}
	if b {
		return append(dst, "true"...), nil
	}
	return append(dst, "false"...), nil
}

func (w *lazyWriter) Struct(l connectors.LazyStruct) error {
	fp, err := w.next()
	if err != nil {
		return err
	}
	w.dst, err = w.c.appendLazy(w.dst, fp, l)
	return w.fieldErr(err)
}

// Shared writes v from the JSON its plan kept of the last shared value
// when v is that value: a shared value never changes.
func (w *lazyWriter) Shared(v *connectors.StructValue) error {
	fp, err := w.next()
	if err != nil {
		return err
	}
	if v != nil && v == fp.shared {
		w.dst = append(w.dst, fp.sharedJSON...)
		return nil
	}
	start := len(w.dst)
	if w.dst, err = w.c.appendValue(w.dst, fp, v); err != nil {
		return w.fieldErr(err)
	}
	if v != nil {
		fp.shared, fp.sharedJSON = v, append(fp.sharedJSON[:0], w.dst[start:]...)
	}
	return nil
}

// Rest writes the remaining fields from v, from the JSON its plan kept of
// the last rest when v is that value at the same field: a rest never
// changes.
func (w *lazyWriter) Rest(v *connectors.StructValue) error {
	p, from := w.p, w.i
	if v == nil || len(v.Values) != len(w.fields) {
		return codec.Errorf("the lazy struct's rest is not a value of its schema (%d fields)", len(w.fields))
	}
	if v == p.rest && from == p.restFrom {
		w.dst = append(w.dst, p.restJSON...)
		w.i = len(w.fields)
		return nil
	}
	if v.Schema != p.s && !codec.SchemaEqual(v.Schema, p.s) {
		return codec.Errorf("the lazy struct's rest has schema %q, not the struct's %q", schemaLabel(v.Schema), schemaLabel(p.s))
	}
	start := len(w.dst)
	for i := from; i < len(w.fields); i++ {
		w.dst = append(w.dst, w.keys[i]...)
		w.i = i + 1
		var err error
		if w.dst, err = w.c.appendValue(w.dst, w.fields[i], v.Values[i]); err != nil {
			return w.fieldErr(err)
		}
	}
	p.rest, p.restFrom, p.restJSON = v, from, append(p.restJSON[:0], w.dst[start:]...)
	return nil
}

// envParts is the JSON around the row of a RowEnvelope, for one shared
// rest: the fields before the row (nulls) with the row's member name, and
// the fields after it.
type envParts struct {
	at         int
	rest       *connectors.StructValue
	head, tail []byte
}

// appendEnvelope appends the JSON of a RowEnvelope under the struct plan
// p: as appendLazy does through Visit, with the members around the row
// written once while the rest is the same.
func (c *Codec) appendEnvelope(dst []byte, p *plan, e connectors.RowEnvelope) ([]byte, error) {
	at, layout, row, rest := e.Envelope()
	ep := p.env
	if ep == nil || ep.rest != rest || ep.at != at {
		var err error
		if ep, err = c.envelopeParts(p, at, rest); err != nil {
			return dst, err
		}
	}
	dst = append(dst, ep.head...)
	fp := p.fields[at]
	var err error
	switch {
	case fp.kind != kStruct:
		err = codec.FormError(fp.s, "struct")
	case fp.bad != "":
		err = &codec.DataError{Reason: fp.bad}
	default:
		dst, err = c.appendRow(dst, fp, layout, row)
	}
	if err != nil {
		return dst, codec.InField(err, p.s.Fields[at].Name)
	}
	return append(dst, ep.tail...), nil
}

// envelopeParts writes and keeps in p the JSON around a RowEnvelope's row
// at field at with rest rest.
func (c *Codec) envelopeParts(p *plan, at int, rest *connectors.StructValue) (*envParts, error) {
	n := len(p.fields)
	if at < 0 || at >= n || len(p.keys) != n {
		return nil, codec.Errorf("the lazy envelope's row is at field %d of %d", at, n)
	}
	if rest == nil || len(rest.Values) != n {
		return nil, codec.Errorf("the lazy struct's rest is not a value of its schema (%d fields)", n)
	}
	if rest.Schema != p.s && !codec.SchemaEqual(rest.Schema, p.s) {
		return nil, codec.Errorf("the lazy struct's rest has schema %q, not the struct's %q", schemaLabel(rest.Schema), schemaLabel(p.s))
	}
	ep := p.env
	if ep == nil {
		ep = &envParts{}
	}
	head, tail := append(ep.head[:0], '{'), ep.tail[:0]
	var err error
	for i := range at {
		head = append(head, p.keys[i]...)
		if head, err = c.appendValue(head, p.fields[i], nil); err != nil {
			return nil, codec.InField(err, p.s.Fields[i].Name)
		}
	}
	head = append(head, p.keys[at]...)
	for i := at + 1; i < n; i++ {
		tail = append(tail, p.keys[i]...)
		if tail, err = c.appendValue(tail, p.fields[i], rest.Values[i]); err != nil {
			return nil, codec.InField(err, p.s.Fields[i].Name)
		}
	}
	ep.at, ep.rest, ep.head, ep.tail = at, rest, head, append(tail, '}')
	p.env = ep
	return ep, nil
}

// rowOp is how appendRow writes one field of a TextRow: its member name,
// plan and column, and what its text is written as.
type rowOp struct {
	key    []byte
	fp     *plan
	col    int
	op     uint8
	lo, hi int64 // an opInt's range
}

const (
	opMisfit uint8 = iota // text in a form the field's plan does not take
	opText
	opInt   // an integer narrower than 64 bits, checked for range
	opInt64 // an integer of 64 bits
	opBool
)

// rowProgram returns the program of layout l under the struct plan p,
// made once per layout and kept in p.
func rowProgram(p *plan, l *connectors.RowLayout) ([]rowOp, error) {
	if l == p.rowLayout && l != nil {
		return p.rowOps, nil
	}
	if l == nil || len(l.Cols) != len(p.fields) || len(l.Forms) != len(l.Cols) || len(p.keys) != len(p.fields) {
		return nil, codec.Errorf("the lazy row's layout does not match its schema's %d fields", len(p.fields))
	}
	ops := make([]rowOp, len(l.Cols))
	for i, ci := range l.Cols {
		fp := p.fields[i]
		o := rowOp{key: p.keys[i], fp: fp, col: ci}
		switch f := l.Forms[i]; {
		case f == connectors.FormText && fp.kind == kString:
			o.op = opText
		case f == connectors.FormInt && fp.kind == kInt64:
			o.op = opInt64
		case f == connectors.FormInt && fp.kind == kInt8:
			o.op, o.lo, o.hi = opInt, math.MinInt8, math.MaxInt8
		case f == connectors.FormInt && fp.kind == kInt16:
			o.op, o.lo, o.hi = opInt, math.MinInt16, math.MaxInt16
		case f == connectors.FormInt && fp.kind == kInt32:
			o.op, o.lo, o.hi = opInt, math.MinInt32, math.MaxInt32
		case f == connectors.FormBool && fp.kind == kBoolean:
			o.op = opBool
		}
		ops[i] = o
	}
	p.rowLayout, p.rowOps = l, ops
	return ops, nil
}

// appendRow appends the JSON of a TextRow's fields under the struct plan
// p: as appendLazy does through Visit, in one loop over the layout's
// program.
func (c *Codec) appendRow(dst []byte, p *plan, l *connectors.RowLayout, r *connectors.RowData) ([]byte, error) {
	ops, err := rowProgram(p, l)
	if err != nil {
		return dst, err
	}
	text, spans, vals := r.Text, r.Spans, r.Values
	dst = append(dst, '{')
	for i := range ops {
		o := &ops[i]
		dst = append(dst, o.key...)
		st := spans[2*o.col]
		if st < 0 {
			var v any
			switch st {
			case connectors.SpanNull:
			case connectors.SpanValue:
				v = vals[o.col]
			default:
				err = codec.Errorf("the lazy row gave span %d", st)
			}
			if err == nil {
				dst, err = c.appendValue(dst, o.fp, v)
			}
		} else {
			end := spans[2*o.col+1]
			switch o.op {
			case opText:
				var ok bool
				start := len(dst)
				b := text[st:end]
				if dst, ok = appendString(dst, unsafe.String(unsafe.SliceData(b), len(b)), c.strict); !ok {
					dst, err = c.appendStr(dst[:start], string(b))
				}
			case opInt64:
				dst = append(dst, text[st:end]...)
			case opInt:
				if n := int64(binary.LittleEndian.Uint64(text[end:])); n >= o.lo && n <= o.hi {
					dst = append(dst, text[st:end]...)
				} else {
					dst, err = appendInt(dst, o.fp, n, text[st:end])
				}
			case opBool:
				if end-st == 1 && text[st] == 't' {
					dst = append(dst, "true"...)
				} else {
					dst = append(dst, "false"...)
				}
			default:
				dst, err = c.appendMisfit(dst, o.fp, l.Forms[i], text[st:end])
			}
		}
		if err != nil {
			return dst, codec.InField(err, p.s.Fields[i].Name)
		}
	}
	return append(dst, '}'), nil
}

// appendMisfit fails a field whose text is in a form its plan does not
// take, as the FieldWriter method of that form does.
func (c *Codec) appendMisfit(dst []byte, fp *plan, f connectors.TextForm, text []byte) ([]byte, error) {
	switch f {
	case connectors.FormText:
		return c.appendText(dst, fp, text)
	case connectors.FormInt:
		return appendInt(dst, fp, 0, text)
	case connectors.FormBool:
		return appendBool(dst, fp, false)
	}
	return dst, codec.Errorf("the lazy row gave text for a field it holds as a value")
}
