package s3

import (
	"bytes"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/sluice-cdc/sluice/connectors/codec/parquet"
)

// Row groups of a Parquet object are closed at whichever comes first:
// rowGroupRows rows or rowGroupBytes held (parquet-go's estimate: the
// pages encoded so far plus the column values not yet in a page). Only the open row group is held outside the object's buffer, so
// a large object is uploaded in parts as its row groups are written, and
// what an open object holds counts in sluice.s3.memory.bytes like any
// other format's.
const (
	rowGroupRows  = 100_000
	rowGroupBytes = 16 << 20
	// pageBytes is the size at which a column's buffered values become a
	// page (64 KiB, as Confluent's sink writes them).
	pageBytes = 64 << 10
)

// parquetEncoder writes a Parquet file: the magic number, row groups as
// they fill, and the footer on close. parquet-go's output depends only on
// the rows and the options, so a replayed object has the same bytes.
type parquetEncoder struct {
	w   *pq.GenericWriter[any]
	out *countingWriter
	one [1]pq.Row
	// rows in the open row group.
	rows int
	// maxRows and maxBytes bound a row group (rowGroupRows and
	// rowGroupBytes; tests make them small).
	maxRows, maxBytes int
}

// countingWriter counts what the Parquet writer wrote to the object's
// buffer, so that pending knows what the writer still holds.
type countingWriter struct {
	buf *bytes.Buffer
	n   int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.buf.Write(p)
}

// newParquetEncoder writes a file of schema s; connectSchema, the Connect
// JSON form of the values' schema, goes into the file's key-value metadata
// under parquet.SchemaMetadataKey (empty: none).
func newParquetEncoder(s *parquet.Schema, codecName, connectSchema string, out *bytes.Buffer) *parquetEncoder {
	cw := &countingWriter{buf: out}
	opts := []pq.WriterOption{
		s.Parquet(),
		pq.Compression(parquetCompression(codecName)),
		pq.PageBufferSize(pageBytes),
		pq.WriteBufferSize(0), // straight into the object's buffer
		// Version 1 data pages, as parquet-mr (Confluent's sink) writes
		// them: every reader takes them, where some older Hive-based
		// engines (Athena's first engines among them) fail on version 2.
		pq.DataPageVersion(1),
	}
	if connectSchema != "" {
		opts = append(opts, pq.KeyValueMetadata(parquet.SchemaMetadataKey, connectSchema))
	}
	return &parquetEncoder{w: pq.NewGenericWriter[any](cw, opts...), out: cw, maxRows: rowGroupRows, maxBytes: rowGroupBytes}
}

func parquetCompression(name string) compress.Codec {
	switch name {
	case "snappy":
		return &pq.Snappy
	case "gzip":
		return &pq.Gzip
	case "zstd":
		return &pq.Zstd
	case "lz4_raw":
		return &pq.Lz4Raw
	}
	return &pq.Uncompressed
}

func (p *parquetEncoder) add(e encoded) error {
	p.one[0] = e.row
	if _, err := p.w.WriteRows(p.one[:]); err != nil {
		return err
	}
	p.one[0] = nil
	p.rows++
	if p.rows >= p.maxRows || p.pending() >= p.maxBytes {
		p.rows = 0
		return p.w.Flush()
	}
	return nil
}

// pending is what the writer holds of the open row group: its column
// buffers and the pages encoded so far (parquet-go's estimate, an upper
// bound of what the row group takes once written).
func (p *parquetEncoder) pending() int { return int(p.w.Size() - p.out.n) }

func (p *parquetEncoder) close() error { return p.w.Close() }
