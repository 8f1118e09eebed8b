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
