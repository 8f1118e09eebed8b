package s3

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/it/harness"
)

// BenchmarkRestore archives 100,000 records of one Kafka partition with
// the sink (flush.size 10,000: ten objects) into versitygw, then times,
// in the same iteration: the restore task (Start, which lists, then Poll
// until every record is returned); a bare read of the same objects
// (ListObjectsV2, GetObject and the restore's decoder, nothing else); and
// a bare GetObject of their bytes without decoding. It reports the
// restore's records/s and MB/s (object bytes), the bare rates and the
// ratios restore/bare-decode and restore/bare-get.
func BenchmarkRestore(b *testing.B) {
	srv := harness.StartS3(b)
	const n = 100_000
	records := recs("orders", 0, 0, n)
	withMeta := withHeaders(recs("orders", 0, 0, n))
	meta := []string{"store.kafka.headers", "true", "sluice.store.kafka.timestamps", "true"}
	for _, f := range []struct {
		name, format string
		kv           []string
	}{
		{"json", "json", nil}, {"json-gzip", "json", []string{"s3.compression.type", "gzip"}},
		{"avro", "avro", nil}, {"avro-deflate", "avro", []string{"avro.codec", "deflate"}},
		{"parquet-snappy", "parquet", nil},
		// Headers and timestamps stored and restored: three objects
		// read per object of values.
		{"json-meta", "json", meta}, {"avro-meta", "avro", meta}, {"parquet-snappy-meta", "parquet", meta},
	} {
		b.Run(f.name, func(b *testing.B) {
			e := &env{srv: srv, bucket: srv.CreateBucket(b, "rbench")}
			ctx := context.Background()
			tp := connectors.TopicPartition{Topic: "orders", Partition: 0}
			records, perValue := records, 1
			if len(f.kv) > 0 && f.kv[0] == "store.kafka.headers" {
				records, perValue = withMeta, 3
			}
			task := e.start(b, &testCtx{}, e.props(append([]string{"format.class", f.format, "flush.size", "10000"}, f.kv...)...), tp)
			for j := 0; j < n; j += 500 {
				if err := task.Put(ctx, records[j:j+500]); err != nil {
					b.Fatal(err)
				}
			}
			settle(b, task)
			props := e.restoreProps("format.class", f.format, RestoreTaskPartitions, "orders+0", "s3.restore.batch.size", "1000",
				"store.kafka.headers", fmt.Sprint(perValue == 3))
			cl := srv.Client(b)
			var restoreTime, decodeTime, getTime time.Duration
			var objBytes int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				rt := NewRestoreTask()
				if err := rt.Start(ctx, &restoreCtx{}, props); err != nil {
					b.Fatal(err)
				}
				got := 0
				for got < n {
					batch, err := rt.Poll(ctx)
					if err != nil {
						b.Fatal(err)
					}
					got += len(batch)
				}
				restoreTime += time.Since(start)
				_ = rt.Stop(ctx)

				// Bare: list, get, decode.
				start = time.Now()
				c := newRestoreCodecs()
				var keys []string
				pg := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String(e.bucket), Prefix: aws.String("topics/orders/")})
				for pg.HasMorePages() {
					page, err := pg.NextPage(ctx)
					if err != nil {
						b.Fatal(err)
					}
					for _, o := range page.Contents {
						keys = append(keys, aws.ToString(o.Key))
					}
				}
				decoded := 0
				for _, k := range keys {
					o, _, ok := parseObjectName("topics", "orders", k)
					if !ok {
						b.Fatalf("object %s", k)
					}
					g, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(k)})
					if err != nil {
						b.Fatal(err)
					}
					r, err := c.newRecordReader(o.ext, g.Body)
					if err != nil {
						b.Fatal(err)
					}
					for {
						if _, _, err := r.next(); err == io.EOF {
							break
						} else if err != nil {
							b.Fatal(err)
						}
						decoded++
					}
					r.close()
				}
				decodeTime += time.Since(start)
				if decoded != perValue*n {
					b.Fatalf("decoded %d records", decoded)
				}

				// Bare: get only.
				start = time.Now()
				for _, k := range keys {
					g, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(k)})
					if err != nil {
						b.Fatal(err)
					}
					m, err := io.Copy(io.Discard, g.Body)
					g.Body.Close()
					if err != nil {
						b.Fatal(err)
					}
					objBytes += m
				}
				getTime += time.Since(start)
			}
			b.ReportMetric(float64(n*b.N)/restoreTime.Seconds(), "records/s")
			b.ReportMetric(float64(objBytes)/1e6/restoreTime.Seconds(), "MB/s")
			b.ReportMetric(float64(n*b.N)/decodeTime.Seconds(), "bare-decode-records/s")
			b.ReportMetric(float64(objBytes)/1e6/getTime.Seconds(), "bare-get-MB/s")
			b.ReportMetric(decodeTime.Seconds()/restoreTime.Seconds(), "ratio-decode")
			b.ReportMetric(getTime.Seconds()/restoreTime.Seconds(), "ratio-get")
		})
	}
}
