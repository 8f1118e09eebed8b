// Package pgtypes converts PostgreSQL values, in their text output format,
// into Kafka Connect values with the schemas Debezium's PostgreSQL
// connector gives them. One Converter is chosen per column (from the type
// OID, the type modifier and the handling modes) and reused for every row,
// so the per-value path does no lookups. The snapshot and the logical
// replication stream both hand text to the same converters, so the two
// produce identical values.
package pgtypes

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// TypeInfo is one row of pg_type, as far as conversion needs it.
type TypeInfo struct {
	OID       uint32
	Namespace string
	Name      string
	// Kind is typtype: 'b' base, 'c' composite, 'd' domain, 'e' enum,
	// 'p' pseudo, 'r' range, 'm' multirange.
	Kind byte
	// Category is typcategory ('A' for arrays).
	Category byte
	// Elem is the element type of an array type.
	Elem uint32
	// Base and BaseTypmod describe a domain's underlying type.
	Base       uint32
	BaseTypmod int32
	// Labels are an enum's labels in enumsortorder.
	Labels []string
}

// Catalog maps type OIDs to their descriptions. It is filled by Load and
// read-only afterwards (safe for concurrent reads); a miss is answered by
// loading again (new enum or domain created after the start).
type Catalog struct {
	types map[uint32]*TypeInfo
}

// NewCatalog returns a catalog of the given types (for tests).
func NewCatalog(types ...TypeInfo) *Catalog {
	c := &Catalog{types: make(map[uint32]*TypeInfo, len(types))}
	for i := range types {
		t := types[i]
		c.types[t.OID] = &t
	}
	return c
}

// Lookup returns the type with the given OID.
func (c *Catalog) Lookup(oid uint32) (*TypeInfo, bool) {
	t, ok := c.types[oid]
	return t, ok
}

const loadTypesSQL = `SELECT t.oid, n.nspname, t.typname, t.typtype, t.typcategory, t.typelem, t.typbasetype, t.typtypmod,
  COALESCE((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '{}'::text[])
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype IN ('b','c','d','e','r','m') AND n.nspname NOT IN ('information_schema')`

// Load reads every type of the database the connection is on.
func Load(ctx context.Context, conn *pgx.Conn) (*Catalog, error) {
	rows, err := conn.Query(ctx, loadTypesSQL, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, fmt.Errorf("reading pg_type: %w", err)
	}
	defer rows.Close()
	c := &Catalog{types: map[uint32]*TypeInfo{}}
	for rows.Next() {
		var t TypeInfo
		var kind, cat string
		if err := rows.Scan(&t.OID, &t.Namespace, &t.Name, &kind, &cat, &t.Elem, &t.Base, &t.BaseTypmod, &t.Labels); err != nil {
			return nil, fmt.Errorf("reading pg_type: %w", err)
		}
		if kind != "" {
			t.Kind = kind[0]
		}
		if cat != "" {
			t.Category = cat[0]
		}
		c.types[t.OID] = &t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading pg_type: %w", err)
	}
	return c, nil
}
