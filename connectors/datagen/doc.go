// Package datagen is a source connector that generates deterministic
// synthetic records, for demos, load tests and the integration tests. It
// takes the property names of Confluent's kafka-connect-datagen where they
// exist (kafka.topic, quickstart, iterations, max.interval), so a config
// written for that connector runs here, and adds datagen.seed, datagen.rate,
// datagen.batch.size and poison.every.
//
// # Sequence numbers and determinism
//
// Every record has a global sequence number n, counted from 0. The key,
// value, headers and timestamp of record n are a pure function of
// (datagen.seed, quickstart, n): a splitmix64 generator is seeded from the
// seed and n, so any record can be produced on its own, by any task, in any
// order, and comes out the same every time. With iterations=K the connector
// produces exactly the records 0..K-1; with iterations=-1 it never stops.
//
// # Tasks, partitions and offsets
//
// With N tasks, task i produces the sequence numbers i, i+N, i+2N, ... in
// increasing order, so the tasks together produce every number exactly once.
// Task i's records have the source partition {"task": i} and the source
// offset {"seq": n}. On start a task reads its committed offset and resumes
// at the first of its sequence numbers after the stored one, so a restarted
// task neither repeats nor skips a record as long as tasks.max (and hence N)
// is unchanged. A task that has produced all its records returns an empty
// batch about once a second until it is stopped.
//
// # Records
//
// Every value has an int64 field "seq" holding n, and every record has a
// header "datagen.seq" holding n in decimal, so a consumer can check that
// each number arrived. The record timestamp is 2024-01-01T00:00:00Z plus n
// milliseconds. Keys are structs holding the quickstart's id field; values
// resemble Confluent's quickstart schemas:
//
//	users      key ksql.users_key {userid string}
//	           value ksql.users {registertime int64, userid string, regionid string, gender string, seq int64}
//	orders     key ksql.orders_key {orderid int64}
//	           value ksql.orders {ordertime int64, orderid int64, itemid string, orderunits double,
//	                 address ksql.address {city string, state string, zipcode int64}, seq int64}
//	pageviews  key ksql.pageviews_key {viewtime int64}
//	           value ksql.pageviews {viewtime int64, userid string, pageid string, seq int64}
//
// orderid equals n and viewtime is 1+10n (Confluent's iteration fields);
// the other fields are drawn from the generator.
//
// # Poison records
//
// With poison.every=P > 0, every record whose sequence number n satisfies
// n % P == P-1 is a poison record: its value holds, in the required string
// field named below, a Go value of type chan int instead of a string. The
// key, the seq field, the timestamp and the datagen.seq header are as for any
// other record, and the record carries a second header "datagen.poison" with
// the value "true". No converter can serialise a chan int (not JSON, not
// Avro, not by reflection), so a poison record makes the runtime's converter
// fail: with errors.tolerance=none the task fails (which exercises the
// automatic restarts); with errors.tolerance=all the record is skipped
// and, with errors.deadletterqueue.topic.name, written to the dead
// letter queue. The
// poisoned field is gender for users, itemid for orders and pageid for
// pageviews. Poison records count towards iterations.
//
// # Pacing
//
// datagen.rate (records per second) and max.interval (milliseconds between
// records) both limit each task's rate; when both are set the slower one
// applies. Unlike Confluent's connector, max.interval is a fixed interval,
// not the upper bound of a random delay. A paced task never sleeps per
// record but once per batch: a poll returns a full datagen.batch.size batch
// as soon as its last record is due, and otherwise the records due so far
// once the oldest has waited 50 ms, so a paced record is at most 50 ms late
// and a paced task polls at most about 20 times a second. After a stall
// (the runtime applying back-pressure) it catches up by at most one batch
// rather than bursting.
//
// # Concurrency and ownership
//
// A Task is used as the SourceTask SPI says: Start, then Poll from one
// goroutine, and Stop from any goroutine, which makes a blocked Poll return.
// Tasks start no goroutines. Records returned by Poll are new on every call
// and owned by the caller; records of one batch share backing arrays
// (disjoint, capacity-limited windows), so the batch's memory is freed when
// its last record is. Schemas and the SourcePartition map are shared and
// must not be modified.
package datagen
