package avro

import (
	"encoding/binary"
	"sync"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
)

// lazyWriter writes the fields a connectors.LazyStruct visits as the
// fields of an Avro record, each under its field's node, so that a lazy
// value's bytes come from the same code as a built one's.
type lazyWriter struct {
	b []byte
	n *node // the record's
	i int   // the next field
}

// errTooMany is a lazy struct that gave more values than its schema has
// fields.
var errTooMany = codec.Errorf("the lazy struct gave more values than its schema has fields")

var lazyWriters = sync.Pool{New: func() any { return new(lazyWriter) }}

// encodeLazy appends the Avro binary of the lazy struct l under the record
// node n. A record whose Avro fields are not in the Connect order (a
// registry's schema written with use.latest.version) is built first.
func (n *node) encodeLazy(b []byte, l connectors.LazyStruct) ([]byte, error) {
	if !n.inOrder {
		sv, err := l.Build()
		if err != nil {
			return b, err
		}
		return n.encode(b, sv)
	}
	if e, ok := l.(connectors.RowEnvelope); ok {
		return n.encodeEnvelope(b, e)
	}
	if r, ok := l.(connectors.TextRow); ok {
		l, d := r.Row()
		return n.encodeRow(b, l, d)
	}
	w := lazyWriters.Get().(*lazyWriter)
	w.b, w.n, w.i = b, n, 0
	err := l.Visit(w)
	b, i := w.b, w.i
	w.b, w.n = nil, nil
	lazyWriters.Put(w)
	if err != nil {
		return b, err
	}
	if i != len(n.fields) {
		return b, codec.Errorf("the lazy struct gave %d values for %d fields", i, len(n.fields))
	}
	return b, nil
}

// next returns the next field's node with its null union, if any,
// written as not null.
func (w *lazyWriter) next() (*node, error) {
	if w.i == len(w.n.fields) {
		return nil, errTooMany
	}
	f := w.n.fields[w.i]
	w.i++
	if f.kind == kNullUnion {
		w.b = appendLong(w.b, int64(f.valueIndex))
		f = f.value
	}
	return f, nil
}

// fieldErr names the field just written in err.
func (w *lazyWriter) fieldErr(err error) error {
	if err == nil {
		return nil
	}
	return codec.InField(err, w.n.s.Fields[w.i-1].Name)
}

func (w *lazyWriter) Value(v any) error {
	if w.i == len(w.n.fields) {
		return errTooMany
	}
	f := w.n.fields[w.i]
	w.i++
	var err error
	w.b, err = f.encode(w.b, v)
	return w.fieldErr(err)
}

func (w *lazyWriter) Text(b []byte) error {
	f, err := w.next()
	if err != nil {
		return err
	}
	w.b, err = f.appendText(w.b, b)
	return w.fieldErr(err)
}

func (w *lazyWriter) Int(x int64, _ []byte) error {
	f, err := w.next()
	if err != nil {
		return err
	}
	w.b, err = f.appendInt(w.b, x)
	return w.fieldErr(err)
}

func (w *lazyWriter) Bool(x bool) error {
	f, err := w.next()
	if err != nil {
		return err
	}
	w.b, err = f.appendBool(w.b, x)
	return w.fieldErr(err)
}

// appendText writes a value of a string or enum node from its UTF-8
// bytes (connectors.FieldWriter.Text).
func (f *node) appendText(b, text []byte) ([]byte, error) {
	switch f.kind {
	case kString:
		return appendBytes(b, text), nil
	case kEnum:
		i, ok := f.symbol[string(text)]
		if !ok {
			return b, codec.Errorf("%q is not a symbol of the enum %s (symbols %q)", text, f.s.Parameters[enumParam], f.symbols)
		}
		return appendLong(b, int64(i)), nil
	}
	return b, codec.FormError(f.s, "text")
}

// appendInt writes a value of an integer node (FieldWriter.Int).
func (f *node) appendInt(b []byte, x int64) ([]byte, error) {
	switch f.kind {
	case kInt8, kInt16, kInt32, kInt64:
		if err := codec.IntInRange(f.s.Type, x); err != nil {
			return b, err
		}
	default:
		return b, codec.FormError(f.s, "integer")
	}
	return appendLong(b, x), nil
}

// appendBool writes a value of a boolean node (FieldWriter.Bool).
func (f *node) appendBool(b []byte, x bool) ([]byte, error) {
	if f.kind != kBoolean {
		return b, codec.FormError(f.s, "boolean")
	}
	if x {
		return append(b, 1), nil
	}
	return append(b, 0), nil
}

func (w *lazyWriter) Struct(l connectors.LazyStruct) error {
	f, err := w.next()
	if err != nil {
		return err
	}
	if f.kind != kStruct {
		return w.fieldErr(codec.FormError(f.s, "struct"))
	}
	w.b, err = f.encodeLazy(w.b, l)
	return w.fieldErr(err)
}

// Shared writes v as any value: a Schema is shared by goroutines and
// keeps no encoding of its own.
func (w *lazyWriter) Shared(v *connectors.StructValue) error { return w.Value(v) }

// Rest writes v's values from the next field on, as Values: a Schema is
// shared by goroutines and keeps no encoding of its own.
func (w *lazyWriter) Rest(v *connectors.StructValue) error {
	if v == nil || len(v.Values) != len(w.n.fields) {
		return codec.Errorf("the lazy struct's rest is not a value of its schema (%d fields)", len(w.n.fields))
	}
	if s := w.n.s; v.Schema != s && !codec.SchemaEqual(v.Schema, s) {
		return codec.Errorf("the lazy struct's rest has a schema other than the struct's %q", s.Name)
	}
	for w.i < len(w.n.fields) {
		if err := w.Value(v.Values[w.i]); err != nil {
			return err
		}
	}
	return nil
}

// encodeRow appends the Avro binary of a TextRow's fields under the
// record node n, in order: as encodeLazy does through Visit, in one loop.
func (n *node) encodeRow(b []byte, l *connectors.RowLayout, r *connectors.RowData) ([]byte, error) {
	if l == nil || len(l.Cols) != len(n.fields) || len(l.Forms) != len(l.Cols) {
		return b, codec.Errorf("the lazy row's layout does not match its schema's %d fields", len(n.fields))
	}
	text, spans, vals, forms := r.Text, r.Spans, r.Values, l.Forms
	for i, ci := range l.Cols {
		f := n.fields[i]
		var err error
		switch st := spans[2*ci]; st {
		case connectors.SpanNull:
			b, err = f.encode(b, nil)
		case connectors.SpanValue:
			b, err = f.encode(b, vals[ci])
		default:
			if f.kind == kNullUnion {
				b = appendLong(b, int64(f.valueIndex))
				f = f.value
			}
			end := spans[2*ci+1]
			switch forms[i] {
			case connectors.FormText:
				b, err = f.appendText(b, text[st:end])
			case connectors.FormInt:
				b, err = f.appendInt(b, int64(binary.LittleEndian.Uint64(text[end:])))
			case connectors.FormBool:
				b, err = f.appendBool(b, end-st == 1 && text[st] == 't')
			default:
				err = codec.Errorf("the lazy row gave text for a field it holds as a value")
			}
		}
		if err != nil {
			return b, codec.InField(err, n.s.Fields[i].Name)
		}
	}
	return b, nil
}

// envParts is the Avro binary around the row of a RowEnvelope, for one
// record node and shared rest: the fields before the row (nulls) and the
// fields after it. A Schema is shared by goroutines, so these are kept
// per goroutine that encodes, in a pool, not in the node.
type envParts struct {
	n          *node
	at         int
	rest       *connectors.StructValue
	head, tail []byte
}

var envPartsPool = sync.Pool{New: func() any { return new(envParts) }}

// encodeEnvelope appends the Avro binary of a RowEnvelope under the record
// node n: as encodeLazy does through Visit, with the fields around the
// row written once while the rest is the same.
func (n *node) encodeEnvelope(b []byte, e connectors.RowEnvelope) ([]byte, error) {
	at, layout, row, rest := e.Envelope()
	ep := envPartsPool.Get().(*envParts)
	defer envPartsPool.Put(ep)
	if ep.n != n || ep.rest != rest || ep.at != at {
		if err := ep.write(n, at, rest); err != nil {
			ep.n, ep.rest = nil, nil
			return b, err
		}
	}
	b = append(b, ep.head...)
	f := n.fields[at]
	if f.kind == kNullUnion {
		b = appendLong(b, int64(f.valueIndex))
		f = f.value
	}
	var err error
	if f.kind != kStruct {
		err = codec.FormError(f.s, "struct")
	} else {
		b, err = f.encodeRow(b, layout, row)
	}
	if err != nil {
		return b, codec.InField(err, n.s.Fields[at].Name)
	}
	return append(b, ep.tail...), nil
}

// write makes ep the parts of n around a row at field at with rest rest.
func (ep *envParts) write(n *node, at int, rest *connectors.StructValue) error {
	k := len(n.fields)
	if at < 0 || at >= k {
		return codec.Errorf("the lazy envelope's row is at field %d of %d", at, k)
	}
	if rest == nil || len(rest.Values) != k {
		return codec.Errorf("the lazy struct's rest is not a value of its schema (%d fields)", k)
	}
	if s := n.s; rest.Schema != s && !codec.SchemaEqual(rest.Schema, s) {
		return codec.Errorf("the lazy struct's rest has a schema other than the struct's %q", s.Name)
	}
	head, tail := ep.head[:0], ep.tail[:0]
	var err error
	for i := range at {
		if head, err = n.fields[i].encode(head, nil); err != nil {
			return codec.InField(err, n.s.Fields[i].Name)
		}
	}
	for i := at + 1; i < k; i++ {
		if tail, err = n.fields[i].encode(tail, rest.Values[i]); err != nil {
			return codec.InField(err, n.s.Fields[i].Name)
		}
	}
	ep.n, ep.at, ep.rest, ep.head, ep.tail = n, at, rest, head, tail
	return nil
}
