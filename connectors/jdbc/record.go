package jdbc

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/connectors"
)

// shape is the column layout of the rows one (table, key schema, value
// schema) combination produces. Shapes are built once and shared by every
// record of that combination.
type shape struct {
	table tableName
	cols  []*column
	// pk indexes cols; in key order.
	pk []int
	// deleteOnly marks a shape built from a key alone (deletes).
	deleteOnly bool
}

// maxShapes bounds the decoder's shape cache.
const maxShapes = 4096

type shapeKey struct {
	table  string
	ks, vs *connectors.Schema
}

// op is what one reduced entry does to its row.
type op uint8

const (
	opUpsert op = iota
	opDelete
)

// entry is a change to one row after reduction.
type entry struct {
	op    op
	shape *shape
	// vals holds normalized values by shape column; for deletes only the
	// pk columns are set.
	vals []any
	// unavail marks columns whose value is the unavailable-value
	// placeholder (nil when none are).
	unavail []bool
	// rec is the record the entry came from, for errors.
	rec recordRef
	// skip is set on an entry whose record went to the dead letter
	// queue.
	skip bool
}

// recordRef is a record's Kafka coordinates, and the trace id of its
// traceparent header, if it had one (see traceSet.note).
type recordRef struct {
	topic     string
	partition int32
	offset    int64
	trace     string
}

// unavailKey identifies which columns of an entry are unavailable, for
// grouping rows into statements with the same column list.
func (e *entry) unavailKey() string {
	if e.unavail == nil {
		return ""
	}
	b := make([]byte, len(e.unavail))
	for i, u := range e.unavail {
		if u {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
	}
	return string(b)
}

// decoder turns records into entries. It is used by one goroutine.
type decoder struct {
	cfg    *Config
	shapes map[shapeKey]*shape
	names  map[string]tableName // by topic, when the format needs only ${topic}
	dialect
	// One-entry caches for the common case of a run of records of one
	// shape: the last envelope schema, and the last shape.
	env       envInfo
	lastKey   shapeKey
	lastShape *shape
	// slab hands out entries (and their values) in blocks.
	slab  []entry
	vslab []any
}

// envInfo is what decode needs of a value schema: whether it is an
// envelope, and the indexes of its op, after and source fields.
type envInfo struct {
	schema            *connectors.Schema
	envelope          bool
	op, after, source int
}

func (d *decoder) envelope(s *connectors.Schema) *envInfo {
	if d.env.schema == s {
		return &d.env
	}
	d.env = envInfo{schema: s, envelope: isEnvelope(s), op: -1, after: -1, source: -1}
	if f, ok := s.Field("op"); ok {
		d.env.op = f.Index
	}
	if f, ok := s.Field("after"); ok && f.Schema.Type == connectors.Struct {
		d.env.after = f.Index
	}
	if f, ok := s.Field("source"); ok && f.Schema.Type == connectors.Struct {
		d.env.source = f.Index
	}
	return &d.env
}

// newEntry returns a zeroed entry with n values from the slabs.
func (d *decoder) newEntry(n int) *entry {
	if len(d.slab) == 0 {
		d.slab = make([]entry, 256)
	}
	e := &d.slab[0]
	d.slab = d.slab[1:]
	if len(d.vslab) < n {
		d.vslab = make([]any, max(n, 4096))
	}
	e.vals = d.vslab[:n:n]
	d.vslab = d.vslab[n:]
	return e
}

// errSkip says the record changes nothing (a disabled delete, a message).
var errSkip = errors.New("skip")

// change is what one record asks for.
type change struct {
	table    tableName
	truncate bool
	e        *entry
	// rec is the record a truncate came from (an entry carries its own).
	rec recordRef
}

func recordErr(r *connectors.Record, col string, err error) error {
	return &connectors.RecordError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Column: col, Err: err}
}

// decode interprets r. It returns errSkip for records that change nothing.
func (d *decoder) decode(r *connectors.Record) (change, error) {
	if r.Value == nil {
		if !d.cfg.DeleteEnabled {
			return change{}, errSkip
		}
		if strings.Contains(d.cfg.TableNameFormat, "${source.") {
			// A tombstone has no source block to name its table by.
			// It follows a Debezium delete event, which has one and
			// deleted the row already; skip it, as Debezium's sink
			// does (flat records, the only ones whose tombstone is
			// their delete, have no source block either).
			return change{}, errSkip
		}
		// A tombstone: a delete by key. After a Debezium delete event it
		// repeats that delete (reduced to one statement); for flat
		// records it is the only delete there is.
		return d.deleteChange(r, nil)
	}
	val, ok := r.Value.(*connectors.StructValue)
	if !ok || val.Schema == nil {
		return change{}, recordErr(r, "", fmt.Errorf("value is %T, not a struct with a schema; use a converter with schemas (JsonConverter schemas.enable=true, or Avro)", r.Value))
	}
	row, src := val, (*connectors.StructValue)(nil)
	if env := d.envelope(val.Schema); env.envelope {
		if env.source >= 0 {
			src, _ = val.Values[env.source].(*connectors.StructValue)
		}
		o, _ := val.Values[env.op].(string)
		switch o {
		case "c", "r", "u":
			if env.after >= 0 {
				row, _ = val.Values[env.after].(*connectors.StructValue)
			} else {
				row = nil
			}
			if row == nil {
				return change{}, recordErr(r, "after", fmt.Errorf("op %q event has no after", o))
			}
		case "d":
			if !d.cfg.DeleteEnabled {
				return change{}, errSkip
			}
			return d.deleteChange(r, src)
		case "t":
			if !d.cfg.TruncateEnabled {
				return change{}, errSkip
			}
			t, err := d.tableFor(r, src)
			if err != nil {
				return change{}, err
			}
			return change{table: t, truncate: true, rec: recordRef{topic: r.Topic, partition: r.Partition, offset: r.Offset}}, nil
		default:
			return change{}, errSkip
		}
	}
	t, err := d.tableFor(r, src)
	if err != nil {
		return change{}, err
	}
	sh, err := d.shapeFor(r, t, row.Schema)
	if err != nil {
		return change{}, err
	}
	e := d.newEntry(len(sh.cols))
	e.op, e.shape, e.rec = opUpsert, sh, recordRef{topic: r.Topic, partition: r.Partition, offset: r.Offset}
	key, _ := r.Key.(*connectors.StructValue)
	unavail := unavailableHeaders(r.Headers)
	for i, c := range sh.cols {
		var v any
		switch c.src {
		case srcValue:
			v = row.Values[c.idx]
			if (unavail != nil && unavailable(unavail, row.Schema.Fields[c.idx].Name)) || (v != nil && isPlaceholder(v, d.cfg.Placeholder)) {
				if e.unavail == nil {
					e.unavail = make([]bool, len(sh.cols))
				}
				e.unavail[i] = true
				continue
			}
		case srcKey:
			if key == nil {
				return change{}, recordErr(r, c.name, fmt.Errorf("primary.key.mode=record_key but the record has no key (field %q)", c.name))
			}
			v = key.Values[c.idx]
		case srcKeyWhole:
			v = r.Key
		case srcTopic:
			v = r.Topic
		case srcPartition:
			v = int64(r.Partition)
		case srcOffset:
			v = r.Offset
		}
		n, err := normalize(c, v)
		if err != nil {
			return change{}, recordErr(r, c.name, err)
		}
		if n == nil && c.pk {
			return change{}, recordErr(r, c.name, fmt.Errorf("primary key field %q is null (primary.key.mode=%s)", c.name, d.cfg.PKMode))
		}
		if b, ok := n.([]byte); ok {
			// Records are the runtime's after Put returns. bytes.Clone
			// keeps an empty value empty: append([]byte(nil), b...) gave
			// nil, which pgx and the MySQL driver write as NULL.
			n = bytes.Clone(b)
		}
		e.vals[i] = n
	}
	return change{table: t, e: e}, nil
}

// unavailableHeaders returns the connectors.UnavailableHeader headers of
// a record (the fields its source did not have), or nil.
func unavailableHeaders(hs []connectors.Header) []connectors.Header {
	for i, h := range hs {
		if h.Key == connectors.UnavailableHeader {
			return hs[i:]
		}
	}
	return nil
}

// unavailable reports whether one of hs names field as unavailable.
func unavailable(hs []connectors.Header, field string) bool {
	for _, h := range hs {
		if h.Key == connectors.UnavailableHeader && string(h.Value) == field {
			return true
		}
	}
	return false
}

func (d *decoder) deleteChange(r *connectors.Record, src *connectors.StructValue) (change, error) {
	if r.Key == nil {
		return change{}, recordErr(r, "", errors.New("delete without a key; deletes need primary.key.mode=record_key and a record key"))
	}
	t, err := d.tableFor(r, src)
	if err != nil {
		return change{}, err
	}
	sh, err := d.shapeFor(r, t, nil)
	if err != nil {
		return change{}, err
	}
	e := &entry{op: opDelete, shape: sh, vals: make([]any, len(sh.cols)), rec: recordRef{topic: r.Topic, partition: r.Partition, offset: r.Offset}}
	key, _ := r.Key.(*connectors.StructValue)
	for i, c := range sh.cols {
		var v any
		if c.src != srcKeyWhole && key == nil {
			return change{}, recordErr(r, c.name, fmt.Errorf("key is %T, not the struct its schema says", r.Key))
		}
		if c.src == srcKeyWhole {
			v = r.Key
		} else {
			v = key.Values[c.idx]
		}
		n, err := normalize(c, v)
		if err != nil {
			return change{}, recordErr(r, c.name, err)
		}
		if b, ok := n.([]byte); ok {
			n = bytes.Clone(b)
		}
		e.vals[i] = n
	}
	return change{table: t, e: e}, nil
}

// isEnvelope reports whether s is a Debezium change event envelope.
func isEnvelope(s *connectors.Schema) bool {
	opf, ok := s.Field("op")
	if !ok || opf.Schema.Type != connectors.String {
		return false
	}
	after, okA := s.Field("after")
	before, okB := s.Field("before")
	if !(okA && after.Schema.Type == connectors.Struct) && !(okB && before.Schema.Type == connectors.Struct) {
		return false
	}
	return true
}

// tableFor resolves table.name.format for r.
func (d *decoder) tableFor(r *connectors.Record, src *connectors.StructValue) (tableName, error) {
	f := d.cfg.TableNameFormat
	simple := !strings.Contains(f, "${source.")
	if simple {
		if t, ok := d.names[r.Topic]; ok {
			return t, nil
		}
	}
	name := strings.ReplaceAll(f, "${topic}", strings.ReplaceAll(r.Topic, ".", "_"))
	if !simple {
		for _, p := range []string{"table", "schema", "db"} {
			ph := "${source." + p + "}"
			if !strings.Contains(name, ph) {
				continue
			}
			s, _ := src.Get(p).(string)
			if s == "" {
				return tableName{}, recordErr(r, "", fmt.Errorf("table.name.format %q uses %s but the record has no source.%s (not a Debezium envelope from a source that sets it)", f, ph, p))
			}
			name = strings.ReplaceAll(name, ph, s)
		}
	}
	t := d.parseTableName(name)
	if simple {
		d.names[r.Topic] = t
	}
	return t, nil
}

// shapeFor builds (or finds) the shape for records of topic table t with
// r's key schema and value schema vs (nil for deletes).
func (d *decoder) shapeFor(r *connectors.Record, t tableName, vs *connectors.Schema) (*shape, error) {
	sk := shapeKey{table: t.String(), ks: r.KeySchema, vs: vs}
	if d.lastShape != nil && d.lastKey == sk {
		return d.lastShape, nil
	}
	if sh, ok := d.shapes[sk]; ok {
		d.lastKey, d.lastShape = sk, sh
		return sh, nil
	}
	sh := &shape{table: t, deleteOnly: vs == nil}
	byName := map[string]int{}
	add := func(c *column) {
		byName[c.name] = len(sh.cols)
		sh.cols = append(sh.cols, c)
	}
	pkNames := d.cfg.PKFields
	switch d.cfg.PKMode {
	case PKRecordKey:
		ks := r.KeySchema
		if ks == nil {
			return nil, recordErr(r, "", errors.New("primary.key.mode=record_key but the record has no key schema"))
		}
		if ks.Type != connectors.Struct {
			if len(pkNames) != 1 {
				return nil, recordErr(r, "", fmt.Errorf("the key is a %s, not a struct; name its column in primary.key.fields", ks.Type))
			}
			c, err := columnFor(pkNames[0], ks)
			if err != nil {
				return nil, recordErr(r, pkNames[0], err)
			}
			c.src, c.pk, c.optional = srcKeyWhole, true, false
			add(c)
			break
		}
		if len(pkNames) == 0 {
			for _, f := range ks.Fields {
				pkNames = append(pkNames, f.Name)
			}
		}
		for _, n := range pkNames {
			f, ok := ks.Field(n)
			if !ok {
				return nil, recordErr(r, n, fmt.Errorf("primary.key.fields names %q but the key has no such field", n))
			}
			c, err := columnFor(f.Name, f.Schema)
			if err != nil {
				return nil, recordErr(r, n, err)
			}
			c.src, c.idx, c.pk, c.optional = srcKey, f.Index, true, false
			add(c)
		}
	case PKKafka:
		names := pkNames
		if len(names) == 0 {
			names = []string{"__connect_topic", "__connect_partition", "__connect_offset"}
		}
		for i, s := range []*connectors.Schema{connectors.StringSchema, connectors.Int32Schema, connectors.Int64Schema} {
			c, _ := columnFor(names[i], s)
			c.src, c.pk = srcTopic+source(i), true
			add(c)
		}
	}
	if vs != nil {
		for _, f := range vs.Fields {
			if _, dup := byName[f.Name]; dup {
				continue // the key's value wins
			}
			c, err := columnFor(f.Name, f.Schema)
			if err != nil {
				return nil, recordErr(r, f.Name, err)
			}
			c.src, c.idx = srcValue, f.Index
			add(c)
		}
		if d.cfg.PKMode == PKRecordValue {
			for _, n := range pkNames {
				i, ok := byName[n]
				if !ok {
					return nil, recordErr(r, n, fmt.Errorf("primary.key.mode=record_value: primary.key.fields names %q but the value has no such field", n))
				}
				sh.cols[i].pk, sh.cols[i].optional = true, false
			}
		}
	}
	for i, c := range sh.cols {
		if c.pk {
			sh.pk = append(sh.pk, i)
		}
	}
	if d.cfg.PKMode == PKRecordValue {
		// Key order follows primary.key.fields.
		sh.pk = sh.pk[:0]
		for _, n := range pkNames {
			sh.pk = append(sh.pk, byName[n])
		}
	}
	if len(d.shapes) >= maxShapes {
		// Schemas are shared per shape, so this only happens when a
		// converter's schema cache churns; entries in the buffer keep
		// their shapes.
		clear(d.shapes)
	}
	d.shapes[sk] = sh
	d.lastKey, d.lastShape = sk, sh
	return sh, nil
}
