package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Snapshot progress inside a chunk.
//
// A snapshot offset lists the finished chunks; under exactly-once
// delivery that is not enough: a task restarted in the middle of a chunk
// would read the chunk again and send its committed rows twice. So chunks
// whose key allows it are read in key order, and the offset also holds,
// per chunk started but not finished, the key of its last row delivered
// (snapshot_keys); a resumed snapshot reads such a chunk only after that
// key.
//
// Building that offset per row would cost a map and a string per row.
// Instead a snapshot record carries a snapPos in the queue: the shared,
// immutable snapBase (the offset without the keys; a new one only when a
// chunk finishes), its chunk and the text of its key, which the reader
// wrote into a block it shares with other rows. Records leave the queue
// in the order they entered it, so Poll, replaying the positions of the
// records it takes (snapProgress), knows at each record what the emitter
// knew when it queued it. Only the last record of each batch Poll returns
// gets an offset, built then; the others have none and are covered by it
// (connectors.Record.SourceOffset). Since the runtime ends a transaction
// only after a poll, every committed offset is exact.

// snapRun identifies one snapshot (or one watermarked chunk): the keys
// Poll holds for chunks of another run are forgotten.
type snapRun struct {
	_ byte // not zero-sized: each run has its own address
}

// snapBase is the offset the records of a run share until a chunk
// finishes, without the keys of the chunks in progress (but with those
// of chunks resumed and not yet read, in off.snapshotKeys). seq orders
// the bases of a run: a chunk whose doneAt is at most seq is finished in
// off.
type snapBase struct {
	run *snapRun
	seq int64
	off offset
}

// snapPos is what a queued snapshot record says about the snapshot's
// progress: its chunk and key, read with base.
type snapPos struct {
	base *snapBase
	c    *chunk
	key  []byte // the row's key as in snapshot_keys; nil when c is not ordered
}

// chunkKey is the last key queued of a chunk in progress.
type chunkKey struct {
	c   *chunk
	key []byte
}

// snapProgress replays the snapPos of the records Poll takes. It is used
// by Poll's goroutine only.
type snapProgress struct {
	base *snapBase
	keys []chunkKey
}

// Note takes in the position of the next record taken (cdc.Progress).
func (p *snapProgress) Note(sp *snapPos) {
	if p.base == nil || sp.base.run != p.base.run {
		p.keys = p.keys[:0]
	}
	p.base = sp.base
	if sp.key == nil {
		return
	}
	// Batches are per chunk: the chunk of the previous record first.
	if n := len(p.keys); n > 0 && p.keys[n-1].c == sp.c {
		p.keys[n-1].key = sp.key
		return
	}
	for i := range p.keys {
		if p.keys[i].c == sp.c {
			p.keys[i].key = sp.key
			return
		}
	}
	p.keys = append(p.keys, chunkKey{c: sp.c, key: sp.key})
}

// offsetMap returns the offset of the last record noted: its base with
// the keys of the chunks in progress.
func (p *snapProgress) offsetMap() map[string]any {
	o := p.base.off
	b := make([]byte, 0, len(o.snapshotKeys)+32*len(p.keys))
	b = append(b, o.snapshotKeys...)
	keep := p.keys[:0]
	for _, k := range p.keys {
		if d := k.c.doneAt.Load(); d != 0 && d <= p.base.seq {
			continue // listed in the base's finished chunks
		}
		keep = append(keep, k)
		b = appendChunkKey(b, k.c, k.key)
	}
	clear(p.keys[len(keep):])
	p.keys = keep
	o.snapshotKeys = string(b)
	return o.toMap()
}

// appendChunkKey appends "relid:idx:key" to a snapshot_keys list.
func appendChunkKey(b []byte, c *chunk, key []byte) []byte {
	if len(b) > 0 {
		b = append(b, ';')
	}
	b = strconv.AppendUint(b, uint64(c.t.relID), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(c.idx), 10)
	b = append(b, ':')
	return append(b, key...)
}

// appendKeyText appends the key of a text-format row as snapshot_keys
// writes it: the text of each key column escaped (escapeKey), joined by
// ",".
func appendKeyText(dst []byte, t *table, vals [][]byte) []byte {
	for i, ci := range t.keyCols {
		if i > 0 {
			dst = append(dst, ',')
		}
		for _, c := range vals[ci] {
			switch c {
			case '%', ':', ';', ',':
				const hex = "0123456789ABCDEF"
				dst = append(dst, '%', hex[c>>4], hex[c&15])
			default:
				dst = append(dst, c)
			}
		}
	}
	return dst
}

// escapeKeys is key values as snapshot_keys writes them.
func escapeKeys(vals []string) string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = escapeKey(v)
	}
	return strings.Join(out, ",")
}

// keyBlock hands out a reader's key texts from shared blocks, so that a
// row's key costs no allocation of its own. A block is never written
// again once handed out: Poll may still read it.
type keyBlock []byte

const keyBlockSize = 32 << 10

// add returns the key text of a row.
func (kb *keyBlock) add(t *table, vals [][]byte) []byte {
	if cap(*kb)-len(*kb) < 256 {
		*kb = make([]byte, 0, keyBlockSize)
	}
	start := len(*kb)
	*kb = appendKeyText(*kb, t, vals)
	return (*kb)[start:len(*kb):len(*kb)]
}

// parseSnapshotKeys parses snapshot_keys into the key values per chunk
// ("relid:idx").
func parseSnapshotKeys(s string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, e := range strings.Split(s, ";") {
		if e == "" {
			continue
		}
		f := strings.SplitN(e, ":", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("%s entry %q is malformed: want relid:chunk:key", offSnapshotKeys, e)
		}
		if _, err := strconv.ParseUint(f[0], 10, 32); err != nil {
			return nil, fmt.Errorf("%s entry %q: %w", offSnapshotKeys, e, err)
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			return nil, fmt.Errorf("%s entry %q: %w", offSnapshotKeys, e, err)
		}
		vals := strings.Split(f[2], ",")
		for i, v := range vals {
			var err error
			if vals[i], err = unescapeKey(v); err != nil {
				return nil, fmt.Errorf("%s entry %q: %w", offSnapshotKeys, e, err)
			}
		}
		out[f[0]+":"+f[1]] = vals
	}
	return out, nil
}

// keyOrder returns the key column names of t when its chunks can be read
// in key order and resumed after a key: every key column NOT NULL (a
// row-value comparison skips NULLs) and of a type with a btree order.
// nil means the chunks of t are read unordered and only as a whole.
func keyOrder(ctx context.Context, conn *pgx.Conn, t *table) ([]string, error) {
	if len(t.keyCols) == 0 {
		return nil, nil
	}
	names := make([]string, len(t.keyCols))
	quoted := make([]string, len(t.keyCols))
	for i, ci := range t.keyCols {
		c := t.cols[ci]
		if !c.NotNull {
			return nil, nil
		}
		names[i], quoted[i] = c.Name, quoteIdent(c.Name)
	}
	if len(t.keyCols) == 1 {
		switch t.cols[t.keyCols[0]].TypeOID {
		case 20, 21, 23, 25, 1043, 2950: // integers, text, varchar, uuid
			return names, nil
		}
	}
	// Planning is enough to know whether the key types have an order.
	_, err := conn.Exec(ctx, "EXPLAIN SELECT 1 FROM "+quoteTable(t.schema, t.name)+" ORDER BY "+strings.Join(quoted, ", "))
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && strings.HasPrefix(pe.Code, "42") {
			return nil, nil
		}
		return nil, fmt.Errorf("checking the key order of %s.%s: %w", t.schema, t.name, err)
	}
	return names, nil
}
