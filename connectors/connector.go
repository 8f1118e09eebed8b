package connectors

import (
	"context"
	"log/slog"

	"github.com/sluice-cdc/sluice/config"
)

// Panics: the runtime calls every method of a connector, a task, a
// converter and a transform through Protect, so a panic there fails only
// that connector or task (FAILED, with the panic and its stack in the
// status trace), which then restarts by its restart policy; the worker and
// its other connectors keep running. The runtime cannot recover a panic in
// a goroutine it did not start: a connector or task that starts its own
// goroutines runs each one's body through Protect and hands the error to
// its next Poll or Put (a task) or to RaiseError (a connector), as it
// would any other failure of that goroutine. A goroutine that panics
// unrecovered ends the whole worker process.

// Connector is the part of a plugin that owns a connector's configuration
// and divides its work into tasks. One instance runs per connector on the
// worker that owns it.
type Connector interface {
	// Config describes every property the connector takes. It is used to
	// parse and validate configs, to answer the config endpoints and to
	// write docs/connectors.
	Config() *config.Def
	// Start starts the connector with its (provider-resolved) properties.
	// It must return promptly; long work belongs in a goroutine the
	// connector owns and stops in Stop.
	Start(ctx context.Context, cctx ConnectorContext, props map[string]string) error
	// TaskConfigs splits the work into at most maxTasks task configs.
	TaskConfigs(maxTasks int) ([]map[string]string, error)
	// Stop stops the connector; it is called once, after Start succeeded.
	Stop(ctx context.Context) error
}

// Validator is implemented by connectors that check more than each
// property on its own (a reachable database, a privilege, a combination of
// properties). It returns errors by property name; the runtime merges them
// into the per-field validation result. An error that belongs to no one
// property goes under the empty name.
type Validator interface {
	Validate(ctx context.Context, props map[string]string) map[string][]string
}

// ConnectorContext is what the runtime offers a running connector.
type ConnectorContext interface {
	// RequestTaskReconfiguration asks the runtime to call TaskConfigs
	// again and restart the tasks if their configs changed.
	RequestTaskReconfiguration()
	// RaiseError fails the connector with err.
	RaiseError(err error)
	// Logger is the connector's logger, with connector attached.
	Logger() *slog.Logger
}

// SourceConnector is a connector whose tasks read an external system.
type SourceConnector interface {
	Connector
	NewTask() SourceTask
}

// SinkConnector is a connector whose tasks write topics to an external
// system.
type SinkConnector interface {
	Connector
	NewTask() SinkTask
}

// SourceTask reads records from an external system. The runtime calls
// Start, then Poll repeatedly from one goroutine, and Stop from another
// goroutine (Stop must make a blocked Poll return).
type SourceTask interface {
	// Start starts the task; OffsetReader in tctx gives the offsets
	// committed for its source partitions.
	Start(ctx context.Context, tctx SourceTaskContext, props map[string]string) error
	// Poll returns the next batch of records. It may block until records
	// are available, but must return when ctx is done (with ctx.Err()) and
	// should return an empty batch from time to time when idle so the
	// runtime can flush offsets. The returned slice and records are owned
	// by the runtime afterwards.
	Poll(ctx context.Context) ([]*Record, error)
	// Stop releases the task's resources. Poll is not running or has been
	// told to return through its context.
	Stop(ctx context.Context) error
}

// SourceCommitter is implemented by source tasks that act on durable
// offsets (a PostgreSQL slot confirms its LSN, for example). Commit is
// called after the offsets were written to the offsets store, with the
// latest committed offset of each source partition; every record up to it
// was acknowledged by Kafka.
type SourceCommitter interface {
	Commit(ctx context.Context, offsets []SourceOffset) error
}

// SourceTaskContext is what the runtime offers a running source task.
type SourceTaskContext interface {
	// Offset returns the committed offset for a source partition, or nil.
	Offset(ctx context.Context, partition map[string]any) (map[string]any, error)
	Logger() *slog.Logger
}

// SinkTask writes records to an external system. Put and Flush are called
// from one goroutine; Stop may be called from another.
type SinkTask interface {
	Start(ctx context.Context, tctx SinkTaskContext, props map[string]string) error
	// Put writes a batch. It may buffer; what counts as durable is what
	// Flush returns. An error fails the task unless it is Retriable, in
	// which case the same batch is offered again after a back-off.
	Put(ctx context.Context, records []*Record) error
	// Flush makes buffered records durable and returns, per partition, the
	// offset of the next record to consume (Kafka's committed offset
	// convention). Only these offsets are committed to the consumer group.
	// current holds the next offset after the last record handed to Put.
	Flush(ctx context.Context, current map[TopicPartition]int64) (map[TopicPartition]int64, error)
	Stop(ctx context.Context) error
}

// PartitionWatcher is implemented by sink tasks that need to know when
// partitions are assigned to them or taken away.
//
// Open is called with partitions newly assigned, before any of their
// records is handed to Put. Close is called with partitions taken away:
// when they are revoked (a rebalance this task takes part in) after a
// final Flush whose offsets for them were committed; when they are lost
// (the task left the group unknowingly; another task may own them
// already) with no Flush before it. Either way Close must drop what the
// task still buffers for them without writing it, and Flush must not
// report them again: the runtime commits only partitions the task owns.
type PartitionWatcher interface {
	Open(ctx context.Context, partitions []TopicPartition) error
	Close(ctx context.Context, partitions []TopicPartition) error
}

// SinkTaskContext is what the runtime offers a running sink task.
type SinkTaskContext interface {
	Logger() *slog.Logger
	// Errant reports a record handed to Put that cannot be written (from
	// Put or Flush). With errors.tolerance=all the runtime logs it,
	// writes the consumed record to the dead letter queue when one is
	// set, and returns nil: the task goes on without it. Otherwise it
	// returns the error the task must fail with. Put may instead return
	// a *RecordError naming the record, with the same effect.
	Errant(ctx context.Context, r *Record, err error) error
}
