package s3

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/sluice-cdc/sluice/connectors"
)

// encodeParquet writes records through the sink's own encoding path
// (codecs.encode, the Parquet encoder) into one object's bytes.
func encodeParquet(t *testing.T, codec string, records []*connectors.Record, maxRows, maxBytes int) ([]byte, int) {
	t.Helper()
	cfg := &Config{Format: FormatParquet, ParquetCodec: codec}
	c := newCodecs()
	var out bytes.Buffer
	enc, err := c.newEncoder(cfg, "k", kindValues, records[0].ValueSchema, &out)
	if err != nil {
		t.Fatal(err)
	}
	pe := enc.(*parquetEncoder)
	if maxRows > 0 {
		pe.maxRows, pe.maxBytes = maxRows, maxBytes
	}
	peak := 0
	for _, r := range records {
		e, err := c.encode(cfg, kindValues, r.ValueSchema, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if err := enc.add(e); err != nil {
			t.Fatal(err)
		}
		peak = max(peak, pe.held())
	}
	if err := enc.close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), peak
}

// TestParquetReplayIsByteIdentical: the same records give the same bytes,
// with every codec, so a replayed object overwrites itself unchanged.
func TestParquetReplayIsByteIdentical(t *testing.T) {
	records := recs("orders", 0, 0, 3000)
	for _, codec := range []string{"none", "snappy", "gzip", "zstd", "lz4_raw"} {
		t.Run(codec, func(t *testing.T) {
			a, _ := encodeParquet(t, codec, records, 1000, rowGroupBytes)
			b, _ := encodeParquet(t, codec, records, 1000, rowGroupBytes)
			if !bytes.Equal(a, b) {
				t.Fatalf("two encodings of the same records differ (%d and %d bytes)", len(a), len(b))
			}
			f, err := pq.OpenFile(bytes.NewReader(a), int64(len(a)))
			if err != nil {
				t.Fatal(err)
			}
			if f.NumRows() != 3000 || len(f.RowGroups()) != 3 {
				t.Fatalf("%d rows in %d row groups, want 3000 in 3", f.NumRows(), len(f.RowGroups()))
			}
			// Version 1 data pages, as parquet-mr writes them.
			for _, c := range f.Metadata().RowGroups[0].Columns {
				var h format.PageHeader
				if err := thrift.NewDecoder(new(thrift.CompactProtocol).NewReader(bytes.NewReader(a[c.MetaData.DataPageOffset:]))).Decode(&h); err != nil {
					t.Fatal(err)
				}
				if h.Type != format.DataPage {
					t.Errorf("column %v: first page is %v, want DATA_PAGE", c.MetaData.PathInSchema, h.Type)
				}
			}
			want := map[string]string{"none": "UNCOMPRESSED", "snappy": "SNAPPY", "gzip": "GZIP", "zstd": "ZSTD", "lz4_raw": "LZ4_RAW"}[codec]
			if got := f.Metadata().RowGroups[0].Columns[0].MetaData.Codec.String(); got != want {
				t.Errorf("codec %s, want %s", got, want)
			}
		})
	}
}

// TestParquetRowGroupBound: a row group is written out once it holds
// maxBytes, so what the encoder holds outside the object's buffer stays
// near the bound (one row past it at most).
func TestParquetRowGroupBound(t *testing.T) {
	// Notes that do not compress: the bound is on encoded bytes.
	rnd := rand.New(rand.NewPCG(1, 2))
	var records []*connectors.Record
	for o := int64(0); o < 2000; o++ {
		r := rec("orders", 0, o)
		var note strings.Builder
		for range 1000 {
			note.WriteByte(byte('a' + rnd.IntN(26)))
		}
		r.Value.(*connectors.StructValue).Set("note", note.String())
		records = append(records, r)
	}
	const bound = 256 << 10
	b, peak := encodeParquet(t, "snappy", records, 1_000_000, bound)
	if peak > bound+4096 {
		t.Fatalf("the encoder held %d bytes, over the %d-byte row group bound", peak, bound)
	}
	f, err := pq.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.RowGroups()); n < 5 {
		t.Fatalf("%d row groups for ~2 MB of rows under a %d-byte bound", n, bound)
	}
	if f.NumRows() != 2000 {
		t.Fatalf("%d rows", f.NumRows())
	}
}

// TestParquetSchemaChangeRotates: a record of another schema closes the
// Parquet objects, as with Avro: one file has one schema.
func TestParquetSchemaChangeRotates(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	tp := connectors.TopicPartition{Topic: "orders", Partition: 0}
	task := e.start(t, &testCtx{}, e.props("format.class", "parquet", "flush.size", "100"), tp)
	other := connectors.NewStruct("shop.order", false,
		connectors.Field{Name: "id", Schema: connectors.Int64Schema},
		connectors.Field{Name: "region", Schema: connectors.StringSchema},
		connectors.Field{Name: "note", Schema: connectors.OptionalStringSchema},
		connectors.Field{Name: "at", Schema: &connectors.Schema{Type: connectors.Int64, Name: connectors.TimestampName}},
		connectors.Field{Name: "extra", Schema: connectors.OptionalInt32Schema},
	)
	batch := recs("orders", 0, 0, 5)
	for _, r := range recs("orders", 0, 5, 8) {
		sv := r.Value.(*connectors.StructValue)
		nv := connectors.NewStructValue(other)
		copy(nv.Values, sv.Values)
		nv.Set("extra", int32(r.Offset))
		r.ValueSchema, r.Value = other, nv
		batch = append(batch, r)
	}
	if err := task.Put(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if got, err := task.Flush(ctx, map[connectors.TopicPartition]int64{tp: 8}); err != nil || got[tp] != 5 {
		t.Fatalf("Flush: %v %v, want the second set open at 5", got, err)
	}
	objs := e.objects(t)
	b, ok := objs["topics/orders/partition=0/orders+0+0000000000.snappy.parquet"]
	if len(objs) != 1 || !ok {
		t.Fatalf("objects %v", keys(objs))
	}
	if rows := readBack(t, "x.parquet", b); len(rows) != 5 {
		t.Fatalf("%d rows in the first object, want 5", len(rows))
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestParquetPendingCoversHeap: what open Parquet encoders report as held
// (pending, what the memory bound counts, plus their objects' buffers)
// covers the Go heap they really take: parquet-go's column buffers, page
// buffers and column index included. 100 open objects, as many rows
// each as the memory benchmark's objects reach under its bound.
func TestParquetPendingCoversHeap(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	pool := make([]byte, 1<<20)
	for j := range pool {
		pool[j] = byte('a' + rnd.IntN(26))
	}
	notes := string(pool)
	cfg := &Config{Format: FormatParquet, ParquetCodec: "snappy"}
	c := newCodecs()
	type object struct {
		enc encoder
		buf *bytes.Buffer
	}
	for _, rows := range []int{20, 100, 300} {
		runtime.GC()
		runtime.GC() // and parquet-go's pools, emptied
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		objs := make([]object, 100)
		for i := range objs {
			objs[i].buf = &bytes.Buffer{}
			enc, err := c.newEncoder(cfg, "k", kindValues, rowSchema, objs[i].buf)
			if err != nil {
				t.Fatal(err)
			}
			objs[i].enc = enc
		}
		for o := 0; o < rows; o += 20 {
			for i := range objs {
				for k := o; k < o+20; k++ {
					r := rec("orders", int32(i), int64(k))
					r.Value.(*connectors.StructValue).Set("note", note(notes, rnd))
					e, err := c.encode(cfg, kindValues, r.ValueSchema, r.Value)
					if err != nil {
						t.Fatal(err)
					}
					if err := objs[i].enc.add(e); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap := int64(ms.HeapInuse) - int64(base)
		var counted int64
		for _, o := range objs {
			heap, chunks := o.enc.pending()
			counted += int64(heap + chunks + o.buf.Cap())
		}
		t.Logf("%d rows per object: heap %.2f MiB, counted %.2f MiB", rows, float64(heap)/(1<<20), float64(counted)/(1<<20))
		if heap > counted {
			t.Errorf("%d rows per object: the encoders take %d bytes of heap but count %d", rows, heap, counted)
		}
		if rows >= 300 && float64(counted) > 1.3*float64(heap) {
			t.Errorf("%d rows per object: the encoders count %d bytes for %d of heap, more than 1.3 times", rows, counted, heap)
		}
		runtime.KeepAlive(objs)
	}
}
