package connectjson

import (
	"encoding/binary"
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
	if r, ok := l.(connectors.TextRow); ok {
		return c.appendRow(dst, p, r.Row())
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

// appendRow appends the JSON of a TextRow's fields under the struct plan
// p: as appendLazy does through Visit, in one loop.
func (c *Codec) appendRow(dst []byte, p *plan, r connectors.RowData) ([]byte, error) {
	l := r.Layout
	if l == nil || len(l.Cols) != len(p.fields) || len(l.Forms) != len(l.Cols) {
		return dst, codec.Errorf("the lazy row's layout does not match its schema's %d fields", len(p.fields))
	}
	text, spans, vals, forms := r.Text, r.Spans, r.Values, l.Forms
	dst = append(dst, '{')
	for i, ci := range l.Cols {
		dst = append(dst, p.keys[i]...)
		fp := p.fields[i]
		var err error
		switch st := spans[2*ci]; st {
		case connectors.SpanNull:
			dst, err = c.appendValue(dst, fp, nil)
		case connectors.SpanValue:
			dst, err = c.appendValue(dst, fp, vals[ci])
		default:
			end := spans[2*ci+1]
			switch forms[i] {
			case connectors.FormText:
				dst, err = c.appendText(dst, fp, text[st:end])
			case connectors.FormInt:
				dst, err = appendInt(dst, fp, int64(binary.LittleEndian.Uint64(text[end:])), text[st:end])
			case connectors.FormBool:
				dst, err = appendBool(dst, fp, end-st == 1 && text[st] == 't')
			default:
				err = codec.Errorf("the lazy row gave text for a field it holds as a value")
			}
		}
		if err != nil {
			return dst, codec.InField(err, p.s.Fields[i].Name)
		}
	}
	return append(dst, '}'), nil
}
