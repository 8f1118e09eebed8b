// Package registry is the schema registry built into the worker: a
// Confluent-compatible REST API (Store.Handler) over schemas kept in a
// compacted topic (Store), and the Client a converter uses, served by
// the local Store or by an external registry over HTTP (HTTPClient).
//
// # Wiring
//
// The worker opens a Store on the schemas topic (sluice-schemas, one
// partition, compacted: kafkalog.Ensure with kafkalog.Topic{Name:
// "sluice-schemas", Partitions: 1}), starts it, and mounts its handler
// on the schema.registry.listeners listener or under a path of the REST
// listener:
//
//	reg, err := registry.Open(func(cb func(kafkalog.Record)) (registry.Log, error) {
//		return kafkalog.New("sluice-schemas", cb, kafkaOpts...)
//	}, logger)
//	err = reg.Start(ctx)
//	defer reg.Close()
//	mux.Handle("/registry/", http.StripPrefix("/registry", reg.Handler()))
//
// Handler takes WithRequestTimeout, WithMaxBodyBytes and WithLogger; it
// does no authentication of its own.
//
// Converters take a Client: the Store itself, or, when
// schema.registry.url is set, NewHTTPClient(ParseHTTPConfig(props)).
//
// # Records
//
// The topic holds Confluent's record formats (see records.go): SCHEMA
// keys per subject version, CONFIG keys for compatibility levels,
// DELETE_SUBJECT keys. Every Store applies the records in topic order
// with the same rules, so all agree on the state.
//
// # Ids without a leader
//
// Two workers may register at once. Each chooses a version (the
// subject's highest plus one) and, for a schema without an id, an id
// (the highest id any record named plus one), writes its SCHEMA record
// and reads the topic back. Applying records, a Store keeps the first
// record that claims a subject version, an id, or an id for a schema,
// and ignores a later one that contradicts it; since every Store reads
// the same order, they agree on the winner. A writer that finds its
// record ignored chooses again from the state it now sees, up to
// WithMaxAttempts times. So two different schemas never share an id, and
// one schema has one id under every subject.
//
// Compaction keeps the last record of a key, which for a version two
// workers raced for is the loser's. So whoever reads a losing record
// that is the last of its key (the loser at once; any Store at Start)
// writes the winner's value again on top of it.
//
// This needs no leader and no forwarding between workers. What it does
// not cover: a worker that dies between writing a losing record for a
// version nobody else took (it lost on the id) and choosing again leaves
// a record that is ignored while the schema that beat it is live; if
// that schema is later deleted permanently and the topic compacted, the
// orphan would become a version after a restart. The next registration
// under that subject overwrites the orphan first in practice, since it
// chooses the same version. Ids of permanently deleted schemas are not
// reused while a Store remembers them; after compaction removed every
// record naming the highest ids, a restarted pool may hand those out
// again, as Confluent's registry does.
//
// # Concurrency
//
// A Store's state is guarded by one mutex; its writes are serialized by
// another (lock order: writes, then state). The log's goroutine applies
// records. Reads are answered from memory; the Client methods read the
// topic to its end once before answering "not found", so an id another
// worker just registered resolves.
package registry
