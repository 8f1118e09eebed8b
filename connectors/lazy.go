package connectors

// LazyStruct is a struct value a source task hands over unbuilt, for a
// hot path such as a snapshot: a codec that knows lazy values writes the
// value's bytes, in whatever format it writes, straight from the
// source's own fields, without the StructValue, its boxed fields and a
// walk over them; everything else calls Build.
//
// A task returns LazyStruct keys and values only when its context's
// LazyValues reports true: the runtime then encodes them with converters
// that know them and applies no transforms. Either way the bytes must be
// exactly those of Build's StructValue under the record's schema.
type LazyStruct interface {
	// Build returns the value as a StructValue of the record's schema.
	Build() (*StructValue, error)
	// Visit hands w the struct's fields, one call per field in the order
	// of the schema's fields, each in one of FieldWriter's forms, and
	// returns the first error w returns (or one of its own, such as a
	// value that does not convert).
	Visit(w FieldWriter) error
}

// FieldWriter takes the fields of a LazyStruct one after the other, each
// in the form the source has it in. The form never changes the value: a
// codec writes Text(b) as it writes Value(string(b)), Int(n) as the
// field's integer type holding n (whatever decimal holds), Bool(b) as Value(b), Struct(l) as
// Value of l's Build, Shared(v) as Value(v), Rest(v) as Value of each of
// v's values from the next field on. Each format is thus spelled
// once, in its codec, and a source spells none.
type FieldWriter interface {
	// Value is the next field's value as Build would hold it; nil is null.
	Value(v any) error
	// Text is the next field's value, of a STRING schema, as its UTF-8
	// bytes; b is valid only during the call.
	Text(b []byte) error
	// Int is the next field's value, of an INT8, INT16, INT32 or INT64
	// schema without a logical type, which n fits. decimal, when not nil,
	// is n in base 10 as strconv.AppendInt spells it, for a codec that
	// writes numbers as text to copy; it is valid only during the call.
	Int(n int64, decimal []byte) error
	// Bool is the next field's value, of a BOOLEAN schema.
	Bool(b bool) error
	// Struct is the next field's value, of a STRUCT schema, itself lazy.
	Struct(l LazyStruct) error
	// Shared is the next field's value, of a STRUCT schema, shared by many
	// records and never changed after it was first handed over: a codec
	// may keep its encoding and reuse it while it sees the same pointer.
	Shared(v *StructValue) error
	// Rest is the struct's remaining fields, from the next one to its
	// last, as the values of v at the same indexes: v is a value of the
	// struct's own schema, shared by many records and never changed after
	// it was first handed over (its values before the next field are not
	// read). A codec may keep the encoding of those fields and reuse it
	// while it sees the same pointer at the same field. It ends the visit.
	Rest(v *StructValue) error
}

// LazyValuesContext is implemented by the contexts of runtimes that accept
// LazyStruct keys and values.
type LazyValuesContext interface {
	// LazyValues reports whether the task may return LazyStruct keys and
	// values.
	LazyValues() bool
}

// LazyValues reports whether a task with context tctx may return
// LazyStruct keys and values.
func LazyValues(tctx SourceTaskContext) bool {
	l, ok := tctx.(LazyValuesContext)
	return ok && l.LazyValues()
}

// Materialize replaces a LazyStruct key or value of r by the StructValue
// it builds.
func (r *Record) Materialize() error {
	if l, ok := r.Key.(LazyStruct); ok {
		v, err := l.Build()
		if err != nil {
			return err
		}
		r.Key = v
	}
	if l, ok := r.Value.(LazyStruct); ok {
		v, err := l.Build()
		if err != nil {
			return err
		}
		r.Value = v
	}
	return nil
}

// A TextRow is a LazyStruct that can also hand over all its fields at
// once, laid out for a codec's loop: a codec that knows TextRow writes the
// row in one pass, with no call per field; one that does not calls Visit.
// Both give the same bytes.
type TextRow interface {
	LazyStruct
	// Row returns where the struct's fields are and the fields. Both are
	// valid until the value is released and must not be changed.
	Row() (*RowLayout, *RowData)
}

// RowData is a row's fields as a TextRow holds them; its RowLayout says
// which field is where.
type RowData struct {
	// Text holds the fields' bytes; Spans[2c] and Spans[2c+1] are the
	// start and end in Text of the field at column c, or Spans[2c] is
	// SpanNull (a null) or SpanValue (the value is Values[c]).
	Text  []byte
	Spans []int32
	// Values holds, per column, the values of fields held as values.
	Values []any
}

// Spans[2c] of a column whose field has no text.
const (
	SpanNull  = -1
	SpanValue = -2
)

// RowLayout is where a TextRow's fields are. It is shared by every row of
// one struct schema and never changes, so a codec may check it against the
// schema once per RowLayout pointer.
type RowLayout struct {
	// Cols holds, per field of the struct in its schema's order, its
	// column: the index into RowData.Spans (by pairs) and RowData.Values.
	Cols []int
	// Forms holds, per field, the form of its text when it has text.
	Forms []TextForm
}

// TextForm is the form of a TextRow field's text, in FieldWriter's
// terms.
type TextForm uint8

const (
	// FormValue: the field never has text; it is a null or a value.
	FormValue TextForm = iota
	// FormText: a STRING field's UTF-8 bytes, as Text takes them.
	FormText
	// FormInt: an integer field (INT8 to INT64, no logical type): its
	// value in base 10 as strconv.AppendInt spells it, followed in Text
	// by the value as eight bytes, little-endian: Int(n, decimal).
	FormInt
	// FormBool: a BOOLEAN field, "t" or "f": Bool.
	FormBool
)

// A RowEnvelope is a LazyStruct made of a row and what many rows share:
// its fields before one field are nulls, that field is a row (a TextRow's
// fields), and the fields after it are the values of a shared struct, as
// FieldWriter.Rest takes them. A Debezium envelope of a snapshot row is
// one: a null before, the row as after, then the source block, op and
// times the rows read together share. A codec that knows RowEnvelope may
// keep the encoding of the parts around the row while it sees the same
// shared struct, so that a record costs its row's fields and two copies;
// one that does not calls Visit. Both give the same bytes.
type RowEnvelope interface {
	LazyStruct
	// Envelope returns the index of the row's field, the row's layout
	// and fields as TextRow.Row returns them, and the struct whose values
	// from field at+1 on are the rest: shared by many records and never
	// changed after it was first handed over (its values up to field at
	// are not read).
	Envelope() (at int, layout *RowLayout, row *RowData, rest *StructValue)
}
