package s3

import (
	"fmt"
	"io"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/sluice-cdc/sluice/connectors/codec/parquet"
)

// Row groups of a Parquet object are closed at whichever comes first:
// rowGroupRows rows or rowGroupBytes held (parquet-go's estimate: the
// pages encoded so far plus the column values not yet in a page). Only the
// open row group is held outside the object's buffer, so a large object is
// uploaded in parts as its row groups are written, and what an open object
// holds counts in sluice.s3.memory.bytes like any other format's.
const (
	rowGroupRows  = 100_000
	rowGroupBytes = 16 << 20
	// pageBytes is the size at which a column's buffered values become a
	// page. parquet-go sizes the buffers of every open column by it (a
	// required fixed-width column allocates a page's worth of values up
	// front), so it is most of what an open file holds beyond its rows:
	// at 64 KiB, about 0.25 MiB per open file of four columns. 16 KiB
	// pages make files of the same size (for the benchmark's records:
	// 13.7 bytes per record with snappy against 14.7, 5.1 with zstd
	// against 5.3) for a quarter of that.
	pageBytes = 16 << 10
	// pageChunk is the chunk size of the buffers holding a row group's
	// encoded pages (parquet-go's default is 32 KiB): a column's last
	// chunk is partly empty.
	pageChunk = 4 << 10
	// pageIndexBytes is what parquet-go keeps per page of the open row
	// group besides the min and max values (the null count, the offset
	// index entry, the page statistics' levels).
	pageIndexBytes = 64
)

// pageBuffers gives each column of an open row group the buffer of its
// encoded pages. parquet-go's own pool keeps the buffers a row group
// released for the next (in a sync.Pool, until the second GC after),
// memory the bound could not see; these are dropped with their row group.
var pageBuffers pq.BufferPool = pagePool{}

type pagePool struct{}

func (pagePool) GetBuffer() io.ReadWriteSeeker { return &pageBuffer{} }

func (pagePool) PutBuffer(b io.ReadWriteSeeker) {
	if pb, ok := b.(*pageBuffer); ok {
		*pb = pageBuffer{}
	}
}

// pageBuffer is an io.ReadWriteSeeker over chunks of pageChunk bytes, so
// that a growing buffer is never copied and wastes less than a chunk.
type pageBuffer struct {
	chunks [][]byte
	size   int // bytes written
	off    int // read and write position
}

func (b *pageBuffer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := b.off / pageChunk
		if i == len(b.chunks) {
			b.chunks = append(b.chunks, make([]byte, pageChunk))
		}
		k := copy(b.chunks[i][b.off%pageChunk:], p)
		b.off += k
		p = p[k:]
	}
	b.size = max(b.size, b.off)
	return n, nil
}

func (b *pageBuffer) Read(p []byte) (int, error) {
	if b.off >= b.size {
		return 0, io.EOF
	}
	i := b.off / pageChunk
	end := min(pageChunk, b.size-i*pageChunk)
	k := copy(p, b.chunks[i][b.off%pageChunk:end])
	b.off += k
	return k, nil
}

// WriteTo writes the bytes from the position on, chunk by chunk.
func (b *pageBuffer) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for b.off < b.size {
		i := b.off / pageChunk
		end := min(pageChunk, b.size-i*pageChunk)
		k, err := w.Write(b.chunks[i][b.off%pageChunk : end])
		b.off += k
		total += int64(k)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (b *pageBuffer) Seek(offset int64, whence int) (int64, error) {
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = offset
	case io.SeekCurrent:
		pos = int64(b.off) + offset
	case io.SeekEnd:
		pos = int64(b.size) + offset
	default:
		return 0, fmt.Errorf("page buffer: seek whence %d", whence)
	}
	if pos < 0 || pos > int64(b.size) {
		return 0, fmt.Errorf("page buffer: seek to %d outside [0, %d]", pos, b.size)
	}
	b.off = int(pos)
	return pos, nil
}

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
	// state estimates parquet-go's writer state that Size does not count
	// (it counts the bytes of values and pages, not the memory holding
	// them): per leaf column, the capacity of its value buffers (up to
	// twice a page) and of its last page chunk.
	state int
	// pages follows, per leaf column, the page being filled (as parquet-go
	// fills it: a page closes once its values take pageBytes), and index
	// sums what the pages of the open row group keep in parquet-go's
	// column index: each page's min and max value, in full until the file
	// is closed (a column of 1 KiB strings in 16 KiB pages keeps 2 KiB per
	// page), and its offset index entry.
	pages []pageFill
	index int
}

// pageFill is the page of one column being filled: the bytes its values
// take and the longest of them.
type pageFill struct{ bytes, longest int }

// countingWriter counts what the Parquet writer wrote to the object's
// buffer, so that pending knows what the writer still holds.
type countingWriter struct {
	buf io.Writer
	n   int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.buf.Write(p)
	c.n += int64(n)
	return n, err
}

// newParquetEncoder writes a file of schema s; connectSchema, the Connect
// JSON form of the values' schema, goes into the file's key-value metadata
// under parquet.SchemaMetadataKey (empty: none).
func newParquetEncoder(s *parquet.Schema, codecName, connectSchema string, out io.Writer) *parquetEncoder {
	cw := &countingWriter{buf: out}
	cols := len(s.Parquet().Columns())
	opts := []pq.WriterOption{
		s.Parquet(),
		pq.Compression(parquetCompression(codecName)),
		pq.PageBufferSize(pageBytes),
		pq.ColumnPageBuffers(pageBuffers),
		pq.WriteBufferSize(0), // straight into the object's buffer
		// Version 1 data pages, as parquet-mr (Confluent's sink) writes
		// them: every reader takes them, where some older Hive-based
		// engines (Athena's first engines among them) fail on version 2.
		pq.DataPageVersion(1),
	}
	if connectSchema != "" {
		opts = append(opts, pq.KeyValueMetadata(parquet.SchemaMetadataKey, connectSchema))
	}
	return &parquetEncoder{
		w: pq.NewGenericWriter[any](cw, opts...), out: cw, maxRows: rowGroupRows, maxBytes: rowGroupBytes,
		state: cols * (2*pageBytes + pageChunk), pages: make([]pageFill, cols),
	}
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
	p.fillPages(e.row)
	if p.rows >= p.maxRows || p.held() >= p.maxBytes {
		p.rows = 0
		clear(p.pages)
		p.index = 0
		return p.w.Flush()
	}
	return nil
}

// fillPages adds the values of row to the pages being filled, and the
// index entries of the pages they close to p.index.
func (p *parquetEncoder) fillPages(row pq.Row) {
	const pageFull = pageBytes * 98 / 100 // as parquet-go closes a page
	for _, v := range row {
		c := v.Column()
		if c < 0 || c >= len(p.pages) {
			continue
		}
		pg := &p.pages[c]
		n := 9 // a fixed-width value, its levels and offset
		if k := v.Kind(); (k == pq.ByteArray || k == pq.FixedLenByteArray) && !v.IsNull() {
			l := len(v.ByteArray())
			n += l
			pg.longest = max(pg.longest, l)
		}
		pg.bytes += n
		if pg.bytes >= pageFull {
			p.index += pageIndexBytes + 2*pg.longest
			*pg = pageFill{}
		}
	}
}

// held is what the writer holds of the open row group by parquet-go's
// estimate: its column buffers and the pages encoded so far (an upper
// bound of what the row group takes once written). It closes row groups,
// so it depends on the object's records alone.
func (p *parquetEncoder) held() int { return int(p.w.Size() - p.out.n) }

// pending is held plus what the writer's buffers and column index take
// beyond the bytes held: what the memory bound counts.
func (p *parquetEncoder) pending() (int, int) { return p.held() + p.state + p.index, 0 }

func (p *parquetEncoder) discard() {}

func (p *parquetEncoder) close() error { return p.w.Close() }
