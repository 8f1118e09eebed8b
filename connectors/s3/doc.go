// Package s3 is the S3 sink (connector.class s3 or
// io.confluent.connect.s3.S3SinkConnector) and the s3-restore source that
// replays what it archived (restore_*.go, below). The sink writes topics to objects in
// an S3 bucket with Confluent's property names and object names,
// <topics.dir>/<topic>/<partition path>/<topic>+<kafka partition>+<start
// offset, 10 digits>.<extension>, as JSON lines (optionally gzip), Avro
// object container files or Parquet files (codec/parquet maps the schemas;
// the extension carries the codec as Confluent's does: .snappy.parquet).
//
// Beside each object of values, store.kafka.keys, store.kafka.headers and
// sluice.store.kafka.timestamps write objects of the same format and name
// with .keys., .headers. or .timestamps. before the extension (objectKind),
// one entry per value in the same order; they belong to the values'
// set, so they are closed, uploaded and replayed with it.
// behavior.on.null.values=write keeps tombstones: a JSON line null, or in
// Avro objects of the schema "null" (a tombstone without a value schema
// changes the set's schema, so it closes the set before it).
//
// Parquet: rows go into a row group that is written to the object's
// buffer at 100,000 rows or 16 MiB (parquet.go); only the open row group
// is held outside that buffer, and it counts in the memory bound with
// parquet-go's writer state (column buffers, page chunks, column index:
// parquetEncoder.pending), so a large Parquet object is uploaded in parts
// like any other and the memory bound closes it (rotation by memory,
// below) rather than letting it grow.
// parquet-go writes the same bytes for the same rows, which keeps objects
// exactly-once.
//
// Exactly-once objects: the objects of one Kafka partition are opened and
// closed together (a set), and a set closes only by rules that depend on
// the records (flush.size, rotate.interval.ms by record time, a schema
// change), so a replay from any set boundary writes the same names with
// the same bytes. Flush reports the first offset of the open set as
// durable, so the consumer's committed offset is always a set boundary.
// Each object carries the start of its set in its metadata; a task that
// opens a partition resumes at the set start of the newest object and
// skips the records before it, so a lost offset commit writes nothing
// twice. rotate.schedule.interval.ms and the Wallclock extractor break
// this (documented, and logged at start).
//
// Memory: an object's bytes are held until they reach s3.part.size, then
// sent as a part of a multipart upload; an object becomes visible only
// when complete. The bytes live in 64 KiB chunks of anonymous mmap, off
// the Go heap (chunk.go), so that they cost their size in resident
// memory rather than (1+GOGC/100) times it. Task.mem sums what the open
// sets hold (chunks once, what encoders keep on the heap with the
// collector's headroom), the set being uploaded and the uploaded set
// (until the next rotation, so that the count changes only where the
// records say); the free chunks of uploaded objects, which the next
// objects take, count beside it. Past sluice.s3.memory.bytes less a
// working reserve, the free chunks are unmapped, then the fullest set is
// closed (of equals, the first by topic and partition). Chunks go back to
// the pool only in release, after the upload that read them returned,
// and every request body is a fenced reader that reads nothing once its
// request returned. Task methods run on the runtime's goroutine. Rotation
// closes the set's encoders (their last bytes take chunks, from this
// goroutine only), hands the set to one upload goroutine of the task
// (Task.inflight) and goes on encoding; the next rotation, Flush, Open,
// Close and Stop wait for it first, so sets are uploaded one at a time in
// the order they closed, and Flush reports only what is uploaded. The
// goroutine only reads the chunks of its set and writes its uploads'
// state; a failed upload makes the set its partition's closing set,
// retried on the task's goroutine by the next Put or Flush. Stop unmaps
// every chunk.
//
// s3-restore: the connector lists <topics.dir>/<topic>/ at start and
// gives each task its share of the archived Kafka partitions. A task
// (RestoreTask) reads one object at a time, partition after partition,
// in start-offset order (restore_list.go), streaming JSON lines and Avro
// blocks and spooling a Parquet object to a temporary file
// (restore_read.go). Poll runs on the runtime's goroutine and holds the
// task's mutex; the open object is read under the task's context, which
// Stop cancels before taking the mutex to close it, so a blocked Poll
// returns. The objects beside the values' (keys, headers, timestamps)
// are read in step with them. The source offset of a partition is
// {object, record index} of its last record in a poll; Start resumes
// after it.
package s3
