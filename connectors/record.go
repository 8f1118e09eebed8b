package connectors

import "time"

// Header is one Kafka record header. Values are raw bytes, as on the wire.
type Header struct {
	Key   string
	Value []byte
}

// Record is one change on its way through a worker: produced by a source
// task or handed to a sink task.
//
// A source task fills Topic, Key/KeySchema, Value/ValueSchema, optionally
// Headers, Timestamp and Partition, and SourcePartition/SourceOffset: the
// offset is committed for the partition once Kafka has acknowledged this
// record and every record the task returned before it.
//
// A sink task receives records with Partition and Offset set to their Kafka
// coordinates. Records handed to Put are owned by the task until Put returns;
// it must copy what it keeps beyond that.
//
// A source record with an empty Topic is an offset marker: nothing is
// produced, and its SourceOffset is committed once every record the task
// returned before it has been acknowledged. A source uses it to move its
// position past data that produced no record (WAL of tables it does not
// capture), where Kafka Connect needs a heartbeat topic.
type Record struct {
	Topic string
	// Partition is the Kafka partition of a record handed to a sink. On
	// a source record it is used only with PinPartition: otherwise the
	// producer partitions by key with Kafka's default (murmur2)
	// partitioner, so a key always lands in the same partition whichever
	// client wrote it.
	Partition int32
	// PinPartition, on a source record, sends it to Partition rather
	// than to the partition its key hashes to (Kafka Connect's
	// kafkaPartition): a restore putting records back into the
	// partitions they came from. A partition the topic does not have
	// fails the task, naming it.
	PinPartition bool
	// Offset is the Kafka offset, set on records handed to sinks.
	Offset int64

	KeySchema   *Schema
	Key         any
	ValueSchema *Schema
	Value       any
	Headers     []Header
	Timestamp   time.Time

	// SourcePartition identifies the stream this record came from (a
	// slot, a binlog server, a datagen task). Records of the same source
	// partition are acknowledged in the order the task returned them.
	// A task may return the same map for many records; the runtime never
	// modifies it.
	SourcePartition map[string]any
	// SourceOffset is where to resume after this record. Values must be
	// JSON primitives (string, bool, numbers, nil) as in Kafka Connect.
	// It may be nil: the record is then covered by the next record of its
	// source partition that has an offset, and nothing is committed for it
	// alone. Tasks that emit many records per position (a batch, a
	// transaction) save an offset map per record this way; a crash before
	// the covering record is acknowledged replays them, never skips them.
	SourceOffset map[string]any

	// Failure, set by a source task, marks a change the task could not
	// turn into a record and chose to skip (a table set aside by a
	// quarantine mode): nothing is produced to Topic. The runtime writes
	// it to the connector's dead letter queue when
	// errors.deadletterqueue.topic.name is set — Key and Value as the task
	// could give them (raw column text, say; schemaless values are fine),
	// Failure in the __connect.errors.* headers, stage TASK_POLL — and
	// counts it as tolerated otherwise, whatever errors.tolerance says
	// (the task's own mode tolerated it). Its SourceOffset commits like
	// any record's.
	Failure error
}

// TopicPartition names one Kafka partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// SourceOffset pairs a source partition with an offset.
type SourceOffset struct {
	Partition map[string]any
	Offset    map[string]any
}
