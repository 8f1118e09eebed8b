// Package cdc holds the Debezium conventions that every change-data-capture
// source shares, so that the PostgreSQL and MySQL sources emit the same
// shapes and the JDBC sink reads them by the same names:
//
//   - the change-event envelope and the source block: the common fields of
//     Debezium's SchemaFactory.sourceInfoSchemaBuilder, then the fields a
//     connector adds (PostgreSQL: lsn, txId, xmin, sequence; MySQL:
//     server_id, gtid, file, pos, row, thread, query), and the Builder
//     that fills them, with the Slab that carves a row's structs from
//     shared arrays (envelope.go, builder.go, slab.go);
//   - op and source.snapshot markers, heartbeats (envelope.go);
//   - semantic type names (io.debezium.time.*, io.debezium.data.*) and
//     the time, decimal and binary handling modes (names.go, modes.go);
//   - the bounded record queue and its byte budget between a task's
//     reader and Poll (queue.go);
//   - transaction metadata events on <topic.prefix>.transaction
//     (txmeta.go);
//   - signals (execute-, stop-, pause-, resume-snapshot) and the DBLog
//     watermark window that incremental snapshots read chunks through
//     (signal.go, watermark.go);
//   - per-table quarantine (sluice.table.failure.mode) (quarantine.go).
//
// The Kafka signal channel's consumer is in package kafkasignal below
// this one, because it needs the Kafka client.
//
// What is specific to one database stays in its connector: how positions
// are read and written, how a watermark is written into the log, how a
// chunk is planned and read.
//
// The package imports the connector SPI only: never the runtime, the
// Kafka client or another connector (make lint checks it).
package cdc
