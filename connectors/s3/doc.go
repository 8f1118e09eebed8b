// Package s3 is the S3 sink (connector.class s3 or
// io.confluent.connect.s3.S3SinkConnector): it writes topics to objects in
// an S3 bucket with Confluent's property names and object names,
// <topics.dir>/<topic>/<partition path>/<topic>+<kafka partition>+<start
// offset, 10 digits>.<extension>, as JSON lines (optionally gzip) or Avro
// object container files.
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
// when complete. Task.mem sums what the open sets hold; past
// sluice.s3.memory.bytes the fullest set is closed. Task methods run on the runtime's goroutine. Rotation
// hands a closed set to one upload goroutine of the task (Task.inflight)
// and goes on encoding; the next rotation, Flush, Open, Close and Stop wait
// for it first, so sets are uploaded one at a time in the order they
// closed, and Flush reports only what is uploaded. The goroutine touches
// only the files of its set; a failed upload makes the set its partition's
// closing set, retried on the task's goroutine by the next Put or Flush.
package s3
