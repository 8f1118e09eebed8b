package s3

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
)

// encodeObject writes records [0, n) of orders as the sink writes an
// object of cfg's format.
func encodeObject(tb testing.TB, cfg *Config, n int64) []byte {
	tb.Helper()
	c := newCodecs()
	var buf bytes.Buffer
	enc, err := c.newEncoder(cfg, "orders+0+0000000000", kindValues, rowSchema, &buf)
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range recs("orders", 0, 0, n) {
		e, err := c.encode(cfg, kindValues, r.ValueSchema, r.Value)
		if err != nil {
			tb.Fatal(err)
		}
		if err := enc.add(e); err != nil {
			tb.Fatal(err)
		}
	}
	if err := enc.close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzRestoreReaders: the restore's JSON lines, gzip and Avro container
// readers end every input with records, io.EOF or an error, never a
// panic or an unbounded allocation. (Parquet files are parsed by
// parquet-go; the rows it gives are checked by parquet.Schema.Value.)
// encodeKind writes an object of kind holding 5 values of schema s,
// value(i) the i-th.
func encodeKind(tb testing.TB, cfg *Config, kind objectKind, s *connectors.Schema, value func(i int) any) []byte {
	tb.Helper()
	c := newCodecs()
	var buf bytes.Buffer
	enc, err := c.newEncoder(cfg, "orders+0+0000000000", kind, s, &buf)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range 5 {
		e, err := c.encode(cfg, kind, s, value(i))
		if err != nil {
			tb.Fatal(err)
		}
		if err := enc.add(e); err != nil {
			tb.Fatal(err)
		}
	}
	if err := enc.close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func FuzzRestoreReaders(f *testing.F) {
	exts := []string{"json", "json.gz", "avro"}
	for i, cfg := range []*Config{
		{Format: FormatJSON}, {Format: FormatJSON, Gzip: true},
		{Format: FormatAvro, AvroCodec: "null"}, {Format: FormatAvro, AvroCodec: "deflate"},
	} {
		ext := min(i, 2)
		f.Add(uint8(ext), encodeObject(f, cfg, 5))
	}
	// Objects beside the values': headers (JSON and Avro), tombstones
	// of the Avro schema "null".
	hs := [][]connectors.Header{nil, {{Key: "a", Value: []byte("x")}, {Key: "b"}}, {{Key: "c", Value: []byte{}}}}
	for i, cfg := range []*Config{{Format: FormatJSON}, {Format: FormatAvro, AvroCodec: "null"}} {
		f.Add(uint8(2*i), encodeKind(f, cfg, kindHeaders, headersSchema, func(j int) any { return headersValue(hs[j%len(hs)]) }))
	}
	f.Add(uint8(2), encodeKind(f, &Config{Format: FormatAvro, AvroCodec: "null", WriteNulls: true}, kindValues, nil, func(int) any { return nil }))
	f.Add(uint8(0), []byte("{\"a\":1}\n\n[1,2]\nnull\n"))
	f.Add(uint8(0), []byte("[{\"key\":\"k\",\"value\":\"eA==\"},{\"key\":1},{\"value\":\"%%\"}]\n"))
	f.Add(uint8(2), []byte("Obj\x01\x00"))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		ext := exts[int(which)%len(exts)]
		r, err := newRestoreCodecs().newRecordReader(ext, io.NopCloser(bytes.NewReader(data)))
		if err != nil {
			return
		}
		defer r.close()
		for range 10000 {
			_, v, err := r.next()
			if err != nil {
				if err.Error() == "" && !errors.Is(err, io.EOF) {
					t.Fatal("empty error")
				}
				return
			}
			// Whatever an object holds gives headers or an error, never
			// a panic: headers objects are read with headersFrom.
			_, _ = headersFrom(v)
		}
	})
}
