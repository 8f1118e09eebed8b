package s3

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec/avro"
	"github.com/sluice-cdc/sluice/connectors/codec/connectjson"
	"github.com/sluice-cdc/sluice/connectors/codec/parquet"
)

// encoder writes the records of one object into its buffer. Its output
// depends only on the records (and the object's key, for the Avro sync
// marker), so a replayed object has the same bytes.
type encoder interface {
	// add writes one value encoded by codecs.encode.
	add(e encoded) error
	// pending returns what the encoder holds outside the object's
	// buffer: on the Go heap (a Parquet row group being filled, the
	// writer's state) and in chunks (an Avro block).
	pending() (heap, chunks int)
	// discard gives back the chunks of an encoder that will not be
	// closed (its object is dropped).
	discard()
	// close writes what the encoder still holds (a last Avro block, the
	// gzip trailer, the last Parquet row group and the footer).
	close() error
}

// encoded is one value encoded by codecs.encode: bytes (JSON, Avro) or a
// Parquet row. Both point into the codecs' buffers of its kind, valid
// until the next encode of that kind.
type encoded struct {
	b   []byte
	row pq.Row
}

// objectKind is what the objects of a set hold for each record: its
// value, or (beside the values' objects, one entry per value, in the same
// order) its key, its headers or its Kafka timestamp.
type objectKind int

const (
	kindValues objectKind = iota
	kindKeys
	kindHeaders
	kindTimestamps
	numKinds
)

var kindInfixes = [numKinds]string{"", "keys.", "headers.", "timestamps."}
var kindNames = [numKinds]string{"values", "keys", "headers", "timestamps"}

// infix is what the kind adds to an object's name before its extension.
func (k objectKind) infix() string { return kindInfixes[k] }

func (k objectKind) String() string { return kindNames[k] }

// HeaderSchemaName is the name of the struct schema of one stored header.
const HeaderSchemaName = "sluice.s3.Header"

// headerSchema is one header; headersSchema the headers of one record, as
// the headers objects hold them; timestampSchema a record's Kafka
// timestamp in epoch milliseconds (null: the record had none), as the
// timestamps objects hold it.
var (
	headerSchema = connectors.NewStruct(HeaderSchemaName, false,
		connectors.Opt("key", connectors.StringSchema), connectors.Opt("value", connectors.OptionalBytesSchema))
	headersSchema   = &connectors.Schema{Type: connectors.Array, Items: headerSchema}
	timestampSchema = connectors.OptionalInt64Schema
)

// headersValue is the value of headersSchema for hs, built in the
// codecs' buffers: valid until the next call (the value is encoded at
// once, and no encoder keeps it).
func (c *codecs) headersValue(hs []connectors.Header) []any {
	if c.hdrItems == nil {
		c.hdrItems = make([]any, 0, 4) // an empty array, not null
	}
	c.hdrItems, c.hdrStructs, c.hdrFields = c.hdrItems[:0], c.hdrStructs[:0], c.hdrFields[:0]
	for _, h := range hs {
		var v any
		if h.Value != nil {
			v = h.Value
		}
		c.hdrFields = append(c.hdrFields, h.Key, v)
		c.hdrStructs = append(c.hdrStructs, connectors.StructValue{Schema: headerSchema})
	}
	// Pointers into the slabs are taken once they no longer grow.
	for i := range c.hdrStructs {
		c.hdrStructs[i].Values = c.hdrFields[2*i : 2*i+2 : 2*i+2]
		c.hdrItems = append(c.hdrItems, &c.hdrStructs[i])
	}
	return c.hdrItems
}

// headersValue is the value of headersSchema for hs, in fresh memory.
func headersValue(hs []connectors.Header) []any { return (&codecs{}).headersValue(hs) }

// timestampValue is the value of timestampSchema for ts.
func timestampValue(ts time.Time) any {
	if ts.IsZero() {
		return nil
	}
	return ts.UnixMilli()
}

// codecs holds the per-task codecs; a task uses them from one goroutine.
// Each kind of object has its own scratch buffers (and Parquet codec: a
// Schema's row buffers are its own), so that a record's value, key,
// headers and timestamp are all encoded before any is written.
type codecs struct {
	json    *connectjson.Codec
	avro    *avro.Codec
	parquet [numKinds]*parquet.Codec
	scratch [numKinds][]byte
	row     [numKinds]pq.Row
	// hdrItems, hdrStructs and hdrFields hold the value headersValue
	// builds, reused from record to record.
	hdrItems   []any
	hdrStructs []connectors.StructValue
	hdrFields  []any
	// chunks is where Avro blocks are filled (the task's pool).
	chunks *chunkPool
	// zw and zbuf deflate one Avro block at a time, for every object:
	// blocks are flushed on the task's goroutine only.
	zw   *flate.Writer
	zbuf bytes.Buffer
}

func newCodecs() *codecs {
	o := connectjson.DefaultOptions()
	o.Schemas = false
	// An archive holds the data unchanged or refuses it: never U+FFFD in
	// place of bytes that are not UTF-8.
	o.RejectInvalidUTF8 = true
	c := &codecs{json: connectjson.New(o), avro: avro.New(avro.DefaultOptions()), chunks: &chunkPool{}}
	for k := range c.parquet {
		c.parquet[k] = parquet.New()
	}
	return c
}

// encode encodes one value of kind in cfg's format into the codecs'
// scratch buffers of that kind (valid until the next call for the kind).
// A value that does not fit is an error before any object is touched, so
// a bad record never rotates objects.
func (c *codecs) encode(cfg *Config, kind objectKind, s *connectors.Schema, v any) (encoded, error) {
	e, err := c.encodeKind(cfg, kind, s, v)
	if err != nil && kind != kindValues {
		return encoded{}, fmt.Errorf("%s: %w", kind, err)
	}
	return e, err
}

func (c *codecs) encodeKind(cfg *Config, kind objectKind, s *connectors.Schema, v any) (encoded, error) {
	if kind == kindKeys && cfg.Format != FormatJSON && s == nil {
		return encoded{}, errNoKeySchema
	}
	if cfg.Format == FormatParquet {
		row, err := c.encodeRow(c.parquet[kind], c.row[kind][:0], s, v)
		if err != nil {
			return encoded{}, err
		}
		c.row[kind] = row
		return encoded{row: row}, nil
	}
	if cfg.Format == FormatAvro && isNullTombstone(cfg, kind, s, v) {
		// An Avro "null" is no bytes at all.
		return encoded{b: c.scratch[kind][:0]}, nil
	}
	b, err := c.encodeTo(c.scratch[kind][:0], cfg, s, v)
	if err != nil {
		return encoded{}, err
	}
	c.scratch[kind] = b
	return encoded{b: b}, nil
}

// isNullTombstone reports a tombstone without a value schema written with
// behavior.on.null.values=write: in Avro, it goes into objects whose
// schema is "null".
func isNullTombstone(cfg *Config, kind objectKind, s *connectors.Schema, v any) bool {
	return kind == kindValues && cfg.WriteNulls && s == nil && v == nil
}

func (c *codecs) encodeRow(pc *parquet.Codec, dst pq.Row, s *connectors.Schema, v any) (pq.Row, error) {
	if s == nil {
		return nil, errNoSchema
	}
	ps, err := pc.Schema(s)
	if err != nil {
		return nil, err
	}
	return ps.AppendRow(dst, v)
}

func (c *codecs) encodeTo(dst []byte, cfg *Config, s *connectors.Schema, v any) ([]byte, error) {
	if cfg.Format == FormatAvro {
		if s == nil {
			return nil, errNoSchema
		}
		as, err := c.avro.Schema(s)
		if err != nil {
			return nil, err
		}
		return as.Append(dst, v)
	}
	b, err := c.json.Encode(dst, s, v)
	if err != nil {
		return nil, err
	}
	if b == nil {
		b = append(b, "null"...)
	}
	return append(b, '\n'), nil
}

var errNoKeySchema = errors.New("store.kafka.keys=true with the Avro or Parquet format needs records whose key has a schema; this record's has none (use a key converter with schemas, or format.class=json)")

var errNoSchema = errors.New("the Avro and Parquet formats need records with a value schema; this record has none, a schemaless record (use a converter with schemas, such as the AvroConverter or the JsonConverter with schemas.enable=true, or format.class=json)")

// avroNullSchema is the Avro schema of the objects holding tombstones
// without a value schema (behavior.on.null.values=write).
const avroNullSchema = `"null"`

// newEncoder returns the encoder of a new object of cfg's format writing
// to out, for values of kind with schema s (nil: a tombstone's, with
// behavior.on.null.values=write, or the JSON format's schemaless values).
func (c *codecs) newEncoder(cfg *Config, key string, kind objectKind, s *connectors.Schema, out io.Writer) (encoder, error) {
	switch cfg.Format {
	case FormatAvro:
		if isNullTombstone(cfg, kind, s, nil) {
			return newOCFWriter(c, avroNullSchema, cfg.AvroCodec, key, out)
		}
		if s == nil {
			return nil, errNoSchema
		}
		as, err := c.avro.Schema(s)
		if err != nil {
			return nil, err
		}
		return newOCFWriter(c, as.String(), cfg.AvroCodec, key, out)
	case FormatParquet:
		if s == nil {
			return nil, errNoSchema
		}
		ps, err := c.parquet[kind].Schema(s)
		if err != nil {
			return nil, err
		}
		// The Connect schema goes into the file's metadata, so that
		// s3-restore gives back the records' schema exactly (the
		// Parquet schema has no names, parameters or defaults).
		text, err := c.json.AppendSchema(nil, s)
		if err != nil {
			return nil, err
		}
		return newParquetEncoder(ps, cfg.ParquetCodec, string(text), out), nil
	default:
		j := &jsonEncoder{c: c, out: out}
		if cfg.Gzip {
			j.gz, _ = gzip.NewWriterLevel(out, gzip.DefaultCompression)
		}
		return j, nil
	}
}

// jsonEncoder writes one JSON value per line, as Kafka Connect's
// JsonConverter writes it with schemas.enable=false.
type jsonEncoder struct {
	c   *codecs
	out io.Writer
	gz  *gzip.Writer
}

func (j *jsonEncoder) add(e encoded) error {
	if j.gz != nil {
		_, err := j.gz.Write(e.b)
		return err
	}
	_, err := j.out.Write(e.b)
	return err
}

func (j *jsonEncoder) pending() (int, int) { return 0, 0 }

func (j *jsonEncoder) discard() {}

func (j *jsonEncoder) close() error {
	if j.gz != nil {
		return j.gz.Close()
	}
	return nil
}

// ocfWriter writes an Avro object container file: the header with the schema
// and codec, then blocks of up to blockSize bytes (or one record, when
// larger), each followed by the sync marker. The marker is derived from
// the object's key, so the same records under the same name give the
// same bytes. The block being filled is in chunks of the codecs' pool,
// outside the Go heap.
type ocfWriter struct {
	c     *codecs
	codec string
	out   io.Writer
	sync  [16]byte
	block chunkBuf
	count int64
}

// blockSize is one chunk: the block being filled takes one.
const blockSize = chunkSize

var ocfMagic = []byte{'O', 'b', 'j', 1}

func newOCFWriter(c *codecs, schema, codecName, key string, out io.Writer) (*ocfWriter, error) {
	o := &ocfWriter{c: c, codec: codecName, out: out, block: chunkBuf{pool: c.chunks}}
	h := sha256.Sum256([]byte(key))
	copy(o.sync[:], h[:16])
	hdr := append([]byte(nil), ocfMagic...)
	hdr = appendLong(hdr, 2)
	hdr = appendAvroString(hdr, "avro.schema")
	hdr = appendAvroString(hdr, schema)
	hdr = appendAvroString(hdr, "avro.codec")
	hdr = appendAvroString(hdr, codecName)
	hdr = appendLong(hdr, 0)
	hdr = append(hdr, o.sync[:]...)
	if _, err := out.Write(hdr); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *ocfWriter) add(e encoded) error {
	// A record that would take the block past a chunk starts the next.
	if o.count > 0 && o.block.Len()+len(e.b) > blockSize {
		if err := o.flushBlock(); err != nil {
			return err
		}
	}
	if _, err := o.block.Write(e.b); err != nil {
		return err
	}
	o.count++
	if o.block.Len() >= blockSize {
		return o.flushBlock()
	}
	return nil
}

func (o *ocfWriter) flushBlock() error {
	if o.count == 0 {
		return nil
	}
	var size int64
	var deflated []byte
	if o.codec == "deflate" {
		c := o.c
		c.zbuf.Reset()
		if c.zw == nil {
			c.zw, _ = flate.NewWriter(&c.zbuf, flate.DefaultCompression)
		} else {
			c.zw.Reset(&c.zbuf)
		}
		if err := o.block.writeTo(c.zw); err != nil {
			return err
		}
		if err := c.zw.Close(); err != nil {
			return err
		}
		deflated = c.zbuf.Bytes()
		size = int64(len(deflated))
	} else {
		size = int64(o.block.Len())
	}
	var hdr [2 * binary.MaxVarintLen64]byte
	h := appendLong(hdr[:0], o.count)
	h = appendLong(h, size)
	if _, err := o.out.Write(h); err != nil {
		return err
	}
	if deflated != nil {
		if _, err := o.out.Write(deflated); err != nil {
			return err
		}
	} else if err := o.block.writeTo(o.out); err != nil {
		return err
	}
	if _, err := o.out.Write(o.sync[:]); err != nil {
		return err
	}
	o.block.Reset()
	o.count = 0
	return nil
}

func (o *ocfWriter) pending() (int, int) { return 0, o.block.Cap() }

func (o *ocfWriter) discard() { o.block.Reset() }

func (o *ocfWriter) close() error { return o.flushBlock() }

func appendLong(dst []byte, v int64) []byte {
	return binary.AppendUvarint(dst, uint64((v<<1)^(v>>63)))
}

func appendAvroString(dst []byte, s string) []byte {
	dst = appendLong(dst, int64(len(s)))
	return append(dst, s...)
}
