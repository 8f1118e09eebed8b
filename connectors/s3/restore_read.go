package s3

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	pq "github.com/parquet-go/parquet-go"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec/avro"
	"github.com/sluice-cdc/sluice/connectors/codec/connectjson"
	"github.com/sluice-cdc/sluice/connectors/codec/parquet"
)

// recordReader reads the values (or keys) of one object in order.
type recordReader interface {
	// next returns the next value and its Connect schema (nil for the
	// JSON format's schemaless values), and io.EOF after the last.
	next() (*connectors.Schema, any, error)
	// close releases the reader; the body it read from is closed too.
	close() error
}

// Bounds on what a reader holds of an object in memory. A JSON line and
// an Avro block are read whole (the sink writes blocks of 64 KiB); a
// Parquet object is spooled to a temporary file and read a page at a
// time, row group by row group.
const (
	maxLineBytes  = 64 << 20
	maxBlockBytes = 64 << 20
	// parquetRowBatch is how many rows are read from a row group at once.
	parquetRowBatch = 256
)

// restoreCodecs are a task's decoders; used from one goroutine.
type restoreCodecs struct {
	json *connectjson.Codec
	avro *avro.Codec
}

func newRestoreCodecs() *restoreCodecs {
	o := connectjson.DefaultOptions()
	o.Schemas = false
	return &restoreCodecs{json: connectjson.New(o), avro: avro.New(avro.DefaultOptions())}
}

// newRecordReader returns the reader of an object of extension ext whose
// bytes body streams; it owns body from then on.
func (c *restoreCodecs) newRecordReader(ext string, body io.ReadCloser) (recordReader, error) {
	switch formatOf(ext) {
	case FormatJSON:
		r := &jsonReader{c: c.json, body: body}
		var src io.Reader = body
		if ext == "json.gz" {
			gz, err := gzip.NewReader(bufio.NewReaderSize(body, 64<<10))
			if err != nil {
				body.Close()
				return nil, formatErrorf("reading the gzip header: %v", err)
			}
			r.gz, src = gz, gz
		}
		r.br = bufio.NewReaderSize(src, 64<<10)
		return r, nil
	case FormatAvro:
		r := &ocfReader{c: c.avro, body: body, br: bufio.NewReaderSize(body, 64<<10)}
		if err := r.header(); err != nil {
			body.Close()
			return nil, err
		}
		return r, nil
	case FormatParquet:
		return newParquetReader(c.json, body)
	}
	body.Close()
	return nil, formatErrorf("no reader for objects of extension .%s", ext)
}

// jsonReader reads JSON lines.
type jsonReader struct {
	c    *connectjson.Codec
	body io.ReadCloser
	gz   *gzip.Reader
	br   *bufio.Reader
	line []byte
}

func (r *jsonReader) next() (*connectors.Schema, any, error) {
	r.line = r.line[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.line = append(r.line, chunk...)
		if len(r.line) > maxLineBytes {
			return nil, nil, formatErrorf("a JSON line longer than %d bytes", maxLineBytes)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if len(bytes.TrimSpace(r.line)) == 0 {
				return nil, nil, io.EOF
			}
			break
		}
		if err != nil {
			return nil, nil, err
		}
		break
	}
	line := bytes.TrimRight(r.line, "\r\n")
	if len(bytes.TrimSpace(line)) == 0 {
		return r.next() // a blank line holds no record
	}
	_, v, err := r.c.Decode(line)
	if err != nil {
		return nil, nil, err
	}
	return nil, v, nil
}

func (r *jsonReader) close() error {
	if r.gz != nil {
		r.gz.Close()
	}
	return r.body.Close()
}

// ocfReader reads an Avro object container file a block at a time.
type ocfReader struct {
	c      *avro.Codec
	body   io.ReadCloser
	br     *bufio.Reader
	schema *avro.Schema // nil: the schema "null" (tombstones)
	codec  string
	sync   [16]byte
	// block is the current block's data (decompressed), left the values
	// not read yet; count how many.
	block []byte
	count int64
	raw   []byte
	zr    io.ReadCloser
	zbuf  bytes.Buffer
}

func (r *ocfReader) long() (int64, error) {
	u, err := binary.ReadUvarint(r.br)
	if err != nil {
		return 0, err
	}
	return int64(u>>1) ^ -int64(u&1), nil
}

func (r *ocfReader) bytes(max int64) ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > max {
		return nil, formatErrorf("an Avro length of %d bytes (at most %d taken)", n, max)
	}
	return readN(r.br, nil, n)
}

// readN reads exactly n bytes of r into dst[:0], growing it with what
// arrives rather than by what a (possibly corrupt) length claims.
func readN(r io.Reader, dst []byte, n int64) ([]byte, error) {
	buf := bytes.NewBuffer(dst[:0])
	m, err := io.CopyN(buf, r, n)
	if m < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

func (r *ocfReader) header() error {
	var magic [4]byte
	if _, err := io.ReadFull(r.br, magic[:]); err != nil || !bytes.Equal(magic[:], ocfMagic) {
		return formatErrorf("not an Avro object container file (no Obj\\x01 magic)")
	}
	meta := map[string][]byte{}
	for {
		n, err := r.long()
		if err != nil {
			return fmt.Errorf("reading the Avro file header: %w", err)
		}
		if n == 0 {
			break
		}
		if n < 0 {
			n = -n
			if _, err := r.long(); err != nil { // the block's size in bytes
				return fmt.Errorf("reading the Avro file header: %w", err)
			}
		}
		for range n {
			k, err := r.bytes(1 << 20)
			if err != nil {
				return fmt.Errorf("reading the Avro file header: %w", err)
			}
			v, err := r.bytes(maxBlockBytes)
			if err != nil {
				return fmt.Errorf("reading the Avro file header: %w", err)
			}
			meta[string(k)] = v
		}
	}
	if _, err := io.ReadFull(r.br, r.sync[:]); err != nil {
		return fmt.Errorf("reading the Avro file header: %w", err)
	}
	r.codec = string(meta["avro.codec"])
	switch r.codec {
	case "", "null":
		r.codec = "null"
	case "deflate":
	default:
		return formatErrorf("the Avro codec %q is not supported (null and deflate are)", r.codec)
	}
	text, ok := meta["avro.schema"]
	if !ok {
		return formatErrorf("the Avro file header has no avro.schema")
	}
	if string(bytes.TrimSpace(text)) == avroNullSchema {
		// Tombstones (behavior.on.null.values=write): every value is
		// null, of no bytes.
		return nil
	}
	s, err := r.c.FromAvro(string(text))
	if err != nil {
		return fmt.Errorf("the Avro file's schema: %w", err)
	}
	r.schema = s
	return nil
}

func (r *ocfReader) nextBlock() error {
	count, err := r.long()
	if err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("reading an Avro block: %w", err)
	}
	size, err := r.long()
	if err != nil {
		return fmt.Errorf("reading an Avro block: %w", io.ErrUnexpectedEOF)
	}
	if count < 0 || size < 0 || size > maxBlockBytes {
		return formatErrorf("an Avro block of %d values in %d bytes (at most %d bytes taken)", count, size, maxBlockBytes)
	}
	raw, err := readN(r.br, r.raw, size)
	if err != nil {
		return fmt.Errorf("reading an Avro block: %w", io.ErrUnexpectedEOF)
	}
	r.raw = raw
	var sync [16]byte
	if _, err := io.ReadFull(r.br, sync[:]); err != nil || sync != r.sync {
		return formatErrorf("an Avro block does not end with the file's sync marker (corrupt or truncated object)")
	}
	r.block, r.count = r.raw, count
	if r.codec == "deflate" {
		if r.zr == nil {
			r.zr = flate.NewReader(bytes.NewReader(r.raw))
		} else if err := r.zr.(flate.Resetter).Reset(bytes.NewReader(r.raw), nil); err != nil {
			return err
		}
		r.zbuf.Reset()
		if _, err := r.zbuf.ReadFrom(io.LimitReader(r.zr, maxBlockBytes+1)); err != nil {
			return fmt.Errorf("inflating an Avro block: %w", err)
		}
		if r.zbuf.Len() > maxBlockBytes {
			return formatErrorf("an Avro block inflates to more than %d bytes", maxBlockBytes)
		}
		r.block = r.zbuf.Bytes()
	}
	return nil
}

func (r *ocfReader) next() (*connectors.Schema, any, error) {
	for r.count == 0 {
		if len(r.block) != 0 {
			return nil, nil, formatErrorf("%d bytes left over after the values of an Avro block", len(r.block))
		}
		if err := r.nextBlock(); err != nil {
			return nil, nil, err
		}
	}
	if r.schema == nil { // the "null" schema
		r.count--
		return nil, nil, nil
	}
	v, n, err := r.schema.DecodeNext(r.block)
	if err != nil {
		return nil, nil, err
	}
	r.block, r.count = r.block[n:], r.count-1
	return r.schema.Connect(), v, nil
}

func (r *ocfReader) close() error {
	if r.zr != nil {
		r.zr.Close()
	}
	return r.body.Close()
}

// parquetReader reads a Parquet object spooled to a temporary file, a
// batch of rows at a time. The file is removed on close.
type parquetReader struct {
	f      *os.File
	schema *parquet.Schema
	groups []pq.RowGroup
	rows   pq.Rows
	buf    []pq.Row
	n, i   int
}

func newParquetReader(js *connectjson.Codec, body io.ReadCloser) (_ *parquetReader, err error) {
	defer body.Close()
	f, err := os.CreateTemp("", "sluice-s3-restore-*.parquet")
	if err != nil {
		return nil, fmt.Errorf("spooling a Parquet object to a temporary file: %w", err)
	}
	r := &parquetReader{f: f}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	size, err := io.Copy(f, body)
	if err != nil {
		return nil, fmt.Errorf("spooling a Parquet object to %s: %w", f.Name(), err)
	}
	pf, err := pq.OpenFile(f, size, pq.SkipBloomFilters(true))
	if err != nil {
		return nil, formatErrorf("opening the Parquet file: %v", err)
	}
	var cs *connectors.Schema
	if text, ok := pf.Lookup(parquet.SchemaMetadataKey); ok {
		if cs, err = js.ParseSchema([]byte(text)); err != nil {
			return nil, fmt.Errorf("the Connect schema in the Parquet file's metadata: %w", err)
		}
	} else if cs, err = parquet.FromParquet(pf.Schema()); err != nil {
		// Written before the sink kept the Connect schema, or by
		// another writer: the schema comes from the logical types.
		return nil, fmt.Errorf("the Parquet file has no %s metadata and its Parquet schema has no Connect schema: %w", parquet.SchemaMetadataKey, err)
	}
	if r.schema, err = parquet.NewSchema(cs); err != nil {
		return nil, fmt.Errorf("the Connect schema of the Parquet file: %w", err)
	}
	r.groups = pf.RowGroups()
	r.buf = make([]pq.Row, parquetRowBatch)
	return r, nil
}

func (r *parquetReader) next() (*connectors.Schema, any, error) {
	for r.i == r.n {
		if r.rows == nil {
			if len(r.groups) == 0 {
				return nil, nil, io.EOF
			}
			r.rows = r.groups[0].Rows()
			r.groups = r.groups[1:]
		}
		n, err := r.rows.ReadRows(r.buf)
		r.n, r.i = n, 0
		if errors.Is(err, io.EOF) {
			r.rows.Close()
			r.rows = nil
		} else if err != nil {
			return nil, nil, fmt.Errorf("reading Parquet rows: %w", err)
		}
	}
	row := r.buf[r.i]
	r.i++
	v, err := r.schema.Value(row)
	if err != nil {
		return nil, nil, err
	}
	return r.schema.Connect(), v, nil
}

func (r *parquetReader) close() error {
	if r.rows != nil {
		r.rows.Close()
		r.rows = nil
	}
	r.f.Close()
	return os.Remove(r.f.Name())
}
