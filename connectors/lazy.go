package connectors

// LazyStruct is a struct value a source task hands over unbuilt, for a
// hot path such as a snapshot: a converter that knows it writes the
// value's bytes straight from the source's own, without the StructValue,
// its boxed fields and a walk over them; everything else calls Build.
//
// A task returns LazyStruct keys and values only when its context's
// LazyValues reports true: the runtime then encodes them with converters
// that know them and applies no transforms. Either way the bytes must be
// exactly those of Build's StructValue under the record's schema.
type LazyStruct interface {
	// Build returns the value as a StructValue of the record's schema.
	Build() (*StructValue, error)
	// AppendJSON appends the value's JSON (the payload, without an
	// embedded schema), asking enc for the parts it does not write
	// itself; on error dst may hold a partial write.
	AppendJSON(dst []byte, enc JSONEncoder) ([]byte, error)
}

// JSONEncoder writes values as the JSON converter in use writes them.
type JSONEncoder interface {
	// AppendJSON appends the JSON of v, a value of schema s; s is the
	// record's schema or one reachable from it (a field's, an item's).
	AppendJSON(dst []byte, s *Schema, v any) ([]byte, error)
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
