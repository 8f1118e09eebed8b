package cdc

import "github.com/sluice-cdc/sluice/connectors"

// slabRows is how many rows' structs one slab allocation serves.
const slabRows = 128

// Slab hands out struct values carved from shared arrays, so that the
// structs of a row (value, key, envelope, source) cost no allocation of
// their own: one allocation serves about slabRows rows. Carved values are
// never reused; a slab array is freed when the last record using it is.
// A Slab is not safe for concurrent use: each goroutine converting rows
// has its own. The zero value is ready to use.
//
// A record whose structs point at each other (an envelope at its after
// value and source block) must take them all from the same arrays: call
// Reserve before its first struct. Otherwise a record carved across the
// end of one array and the start of the next makes the newer array hold
// the older one alive, every array the one before it, and nothing carved
// is ever freed (a MySQL stream held 0.8 KB per row until its task
// stopped).
type Slab struct {
	vals []any
	svs  []connectors.StructValue
}

// NewStruct returns a struct value of schema with every field nil.
func (s *Slab) NewStruct(schema *connectors.Schema) *connectors.StructValue {
	n := len(schema.Fields)
	if len(s.svs) == 0 {
		s.svs = make([]connectors.StructValue, slabRows)
	}
	if len(s.vals) < n {
		s.vals = make([]any, max(n*slabRows, 1024))
	}
	sv := &s.svs[0]
	s.svs = s.svs[1:]
	sv.Schema, sv.Values = schema, s.vals[:n:n]
	s.vals = s.vals[n:]
	return sv
}

// Reserve makes sure the current arrays have room for structs structs of
// vals values in all, starting new arrays when they do not, so that the
// structs of one record, carved next, share their arrays.
func (s *Slab) Reserve(structs, vals int) {
	if len(s.svs) < structs {
		s.svs = make([]connectors.StructValue, max(slabRows, structs))
	}
	if len(s.vals) < vals {
		s.vals = make([]any, max(vals*slabRows/4, 1024))
	}
}
