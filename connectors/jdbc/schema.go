package jdbc

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// SchemaError is an incompatible difference between a record's schema and
// the target table: a missing table or column without schema evolution,
// a new required column, or a type the column cannot hold.
type SchemaError struct {
	Table  string
	Column string
	// Have is the column's type in the database, Want the type the
	// record's field maps to.
	Have, Want string
	Reason     string
}

func (e *SchemaError) Error() string {
	s := "table " + e.Table
	if e.Column != "" {
		s += " column " + e.Column
	}
	if e.Have != "" || e.Want != "" {
		s += fmt.Sprintf(" (database type %s, record needs %s)", e.Have, e.Want)
	}
	return s + ": " + e.Reason
}

// metaCache caches table metadata by table name.
type metaCache map[string]*tableMeta

// ensure makes sure the table of tb exists and has a column for every
// field of its upserts, creating and altering it as auto.create and
// auto.evolve allow. It returns nil metadata when the table does not exist
// and the batch only deletes from it (nothing to do).
func (t *Task) ensure(ctx context.Context, tb *tableBuf) (*tableMeta, error) {
	key := tb.name.String()
	meta, ok := t.meta[key]
	if !ok {
		var err error
		if meta, err = t.d.loadTable(ctx, tb.name); err != nil {
			return nil, fmt.Errorf("reading the columns of table %s: %w", tb.name, err)
		}
	}
	var shapes []*shape
	seen := map[*shape]bool{}
	for _, e := range tb.entries {
		if e.op == opUpsert && !seen[e.shape] {
			seen[e.shape] = true
			shapes = append(shapes, e.shape)
		}
	}
	if meta == nil {
		if len(shapes) == 0 {
			return nil, nil
		}
		if !t.cfg.AutoCreate {
			return nil, &SchemaError{Table: tb.name.String(), Reason: "does not exist; create it or set schema.evolution=basic (or auto.create=true)"}
		}
		if err := t.d.exec(ctx, t.createSQL(tb.name, shapes[0])); err != nil {
			return nil, fmt.Errorf("creating table %s: %w", tb.name, err)
		}
		t.log.Info("created table", "table", tb.name.String())
		var err error
		if meta, err = t.d.loadTable(ctx, tb.name); err != nil || meta == nil {
			return nil, fmt.Errorf("reading the columns of table %s after creating it: %v", tb.name, err)
		}
	}
	if t.cfg.InsertMode == ModeUpsert || t.cfg.InsertMode == ModeUpdate {
		for _, sh := range shapes {
			var pk []string
			for _, i := range sh.pk {
				if c := meta.find(sh.cols[i].name); c != nil {
					pk = append(pk, c.name)
				}
			}
			if len(pk) == len(sh.pk) && len(pk) > 0 && !meta.hasUnique(pk) {
				return nil, &SchemaError{Table: tb.name.String(), Column: strings.Join(pk, ","),
					Reason: "has no primary key or unique index on these columns, which insert.mode=" + t.cfg.InsertMode +
						" needs to find a row again; add one, or set primary.key.fields to the columns of an existing one"}
			}
		}
	}
	changed := false
	for _, sh := range shapes {
		for _, c := range sh.cols {
			want := t.d.sqlType(c)
			have := meta.find(c.name)
			if have == nil {
				if !t.cfg.AutoEvolve {
					return nil, &SchemaError{Table: tb.name.String(), Column: c.name, Want: want,
						Reason: "no such column; add it or set schema.evolution=basic (or auto.evolve=true)"}
				}
				// Always nullable, also for a required field (a column
				// renamed, or added NOT NULL, in the source): the rows
				// already in the table have no value for it.
				stmt := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s NULL", quoteTable(t.d, tb.name), t.d.quote(t.d.newColumnName(c.name)), want)
				if err := t.d.exec(ctx, stmt); err != nil {
					return nil, fmt.Errorf("adding column %s to table %s: %w", c.name, tb.name, err)
				}
				t.log.Info("added column", "table", tb.name.String(), "column", c.name, "type", want, "nullable", true)
				changed = true
				continue
			}
			wider, err := compareTypes(have.typ, want)
			if err != nil {
				return nil, &SchemaError{Table: tb.name.String(), Column: have.name, Have: have.typ, Want: want, Reason: err.Error()}
			}
			if wider != "" && t.cfg.AutoEvolve {
				// Without auto.evolve a narrower column is the user's
				// choice: values that do not fit fail their record.
				if err := t.d.exec(ctx, t.d.alterType(tb.name, have.name, wider, have.nullable)); err != nil {
					return nil, fmt.Errorf("widening column %s of table %s from %s to %s: %w", have.name, tb.name, have.typ, wider, err)
				}
				t.log.Info("widened column", "table", tb.name.String(), "column", have.name, "from", have.typ, "to", wider)
				changed = true
				// Later shapes compare with the new type.
				have.typ = wider
			}
		}
	}
	if t.cfg.AutoEvolve {
		relaxed, err := t.relaxMissing(ctx, tb.name, meta, shapes)
		if err != nil {
			return nil, err
		}
		changed = changed || relaxed
	}
	if changed {
		var err error
		if meta, err = t.d.loadTable(ctx, tb.name); err != nil || meta == nil {
			return nil, fmt.Errorf("reading the columns of table %s after altering it: %v", tb.name, err)
		}
	}
	t.meta[key] = meta
	return meta, nil
}

// relaxMissing lets a NOT NULL column that the database does not fill
// hold NULL when the rows of some shape lack it (a column dropped or
// renamed in the source): without it every later insert would fail.
// Key columns are left alone. Each shape is looked at once per loaded
// metadata. It reports whether it altered anything.
func (t *Task) relaxMissing(ctx context.Context, name tableName, meta *tableMeta, shapes []*shape) (bool, error) {
	changed := false
	for _, sh := range shapes {
		if meta.relaxed[sh] {
			continue
		}
		has := make([]bool, len(meta.cols))
		for _, c := range sh.cols {
			if i := meta.index(c.name); i >= 0 {
				has[i] = true
			}
		}
		for _, u := range meta.uniques {
			for _, k := range u {
				if i := meta.index(k); i >= 0 {
					has[i] = true
				}
			}
		}
		for i := range meta.cols {
			mc := &meta.cols[i]
			if has[i] || mc.nullable || mc.filled {
				continue
			}
			if err := t.d.exec(ctx, t.d.dropNotNull(name, *mc)); err != nil {
				return changed, fmt.Errorf("letting column %s of table %s hold NULL, as records no longer have it: %w", mc.name, name, err)
			}
			t.log.Info("column made nullable: records no longer have it", "table", name.String(), "column", mc.name)
			mc.nullable, changed = true, true
		}
		if meta.relaxed == nil {
			meta.relaxed = map[*shape]bool{}
		}
		meta.relaxed[sh] = true
	}
	return changed, nil
}

func (t *Task) createSQL(name tableName, sh *shape) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (", quoteTable(t.d, name))
	for i, c := range sh.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.d.quote(t.d.newColumnName(c.name)))
		b.WriteByte(' ')
		b.WriteString(t.d.sqlType(c))
		if !c.optional || c.pk {
			b.WriteString(" NOT NULL")
		} else {
			b.WriteString(" NULL")
		}
	}
	if len(sh.pk) > 0 {
		b.WriteString(", PRIMARY KEY (")
		for i, p := range sh.pk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(t.d.quote(t.d.newColumnName(sh.cols[p].name)))
		}
		b.WriteByte(')')
	}
	b.WriteByte(')')
	if t.cfg.FillFactor != 100 && t.cfg.URL.Dialect == DialectPostgres {
		fmt.Fprintf(&b, " WITH (fillfactor = %d)", t.cfg.FillFactor)
	}
	return b.String()
}

// typeClass is a column type's family and capacity, for deciding whether
// a field fits, needs a wider column, or cannot be stored.
type typeClass struct {
	family string // int, float, numeric, text, other
	rank   int    // integer width, string length or numeric precision; 1<<30 = unbounded
}

const unbounded = 1 << 30

func classify(typ string) typeClass {
	t := strings.ToLower(strings.TrimSpace(typ))
	t = strings.TrimSuffix(t, " unsigned")
	arg := func() int {
		i, j := strings.IndexByte(t, '('), strings.IndexAny(t, ",)")
		if i < 0 || j < i {
			return unbounded
		}
		n, err := strconv.Atoi(strings.TrimSpace(t[i+1 : j]))
		if err != nil {
			return unbounded
		}
		return n
	}
	switch {
	case strings.HasSuffix(t, "[]"):
		return typeClass{"other", 0}
	case strings.HasPrefix(t, "tinyint(1)"), t == "boolean", t == "bool":
		return typeClass{"bool", 0}
	case strings.HasPrefix(t, "tinyint"):
		return typeClass{"int", 1}
	case strings.HasPrefix(t, "smallint"):
		return typeClass{"int", 2}
	case strings.HasPrefix(t, "mediumint"):
		return typeClass{"int", 3}
	case t == "integer", t == "int", strings.HasPrefix(t, "int("):
		return typeClass{"int", 4}
	case strings.HasPrefix(t, "bigint"):
		return typeClass{"int", 8}
	case t == "real", t == "float", strings.HasPrefix(t, "double"):
		return typeClass{"float", 0}
	case strings.HasPrefix(t, "numeric"), strings.HasPrefix(t, "decimal"):
		return typeClass{"numeric", arg()}
	case strings.HasPrefix(t, "character varying"), strings.HasPrefix(t, "varchar"):
		return typeClass{"text", arg()}
	case t == "text", strings.HasSuffix(t, "text"):
		return typeClass{"text", unbounded}
	}
	return typeClass{"other", 0}
}

// compareTypes says whether a column of type have must be widened to
// hold values of type want, returning the type to change it to ("" when
// it can hold them as it is), or that it cannot hold them at all.
func compareTypes(have, want string) (wider string, err error) {
	h, w := classify(have), classify(want)
	switch {
	case h.family == w.family && w.family == "int":
		if w.rank > h.rank {
			return want, nil
		}
		return "", nil
	case h.family == w.family && w.family == "numeric":
		return widerNumeric(have, want)
	case h.family == w.family && w.family == "text":
		// Only a field that declares its length asks for a longer
		// column; an unbounded string goes into any text column and a
		// value that does not fit is the database's to refuse.
		if w.rank != unbounded && w.rank > h.rank {
			return want, nil
		}
		return "", nil
	case h.family == "int" && (w.family == "float" || w.family == "numeric"):
		return "", fmt.Errorf("incompatible types: an integer column would lose the fractional part; change the column type or map the field with a transform")
	case w.family == "text" && (h.family == "int" || h.family == "float" || h.family == "numeric" || h.family == "bool"):
		return "", fmt.Errorf("incompatible types: a %s column cannot hold text; change the column type or map the field with a transform", have)
	}
	return "", nil
}

// numericArgs reads the precision and scale of numeric(p,s) or
// decimal(p,s); ok is false for a numeric without a declared precision.
func numericArgs(typ string) (p, s int, ok bool) {
	t := strings.ToLower(typ)
	i, j := strings.IndexByte(t, '('), strings.IndexByte(t, ')')
	if i < 0 || j < i {
		return 0, 0, false
	}
	ps, ss, _ := strings.Cut(t[i+1:j], ",")
	p, err := strconv.Atoi(strings.TrimSpace(ps))
	if err != nil {
		return 0, 0, false
	}
	if ss != "" {
		if s, err = strconv.Atoi(strings.TrimSpace(ss)); err != nil {
			return 0, 0, false
		}
	}
	return p, s, true
}

// widerNumeric is the numeric type holding both have's and want's
// values: as many integer digits (p-s) and as many fractional digits (s)
// as the larger of the two has, so that neither loses digits on either
// side. A numeric without precision holds any value; widening to it
// drops the column's limit.
func widerNumeric(have, want string) (string, error) {
	hp, hs, hok := numericArgs(have)
	if !hok {
		return "", nil
	}
	wp, ws, wok := numericArgs(want)
	if !wok {
		return want, nil
	}
	ints, scale := max(hp-hs, wp-ws), max(hs, ws)
	if ints+scale == hp && scale == hs {
		return "", nil
	}
	name, maxPrec, maxScale := "numeric", 1000, 1000
	if strings.HasPrefix(strings.TrimSpace(strings.ToLower(have)), "decimal") {
		// MySQL/MariaDB.
		name, maxPrec, maxScale = "decimal", 65, 30
	}
	if ints+scale > maxPrec || scale > maxScale {
		return "", fmt.Errorf("incompatible types: holding both needs %d integer and %d fractional digits, more than %s allows (%d digits, %d after the point); change the column type or map the field with a transform",
			ints, scale, name, maxPrec, maxScale)
	}
	wider := fmt.Sprintf("%s(%d,%d)", name, ints+scale, scale)
	if strings.HasSuffix(strings.ToLower(strings.TrimSpace(have)), " unsigned") {
		wider += " unsigned"
	}
	return wider, nil
}
