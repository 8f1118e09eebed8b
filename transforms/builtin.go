package transforms

const (
	kafkaPkg    = "org.apache.kafka.connect.transforms."
	kafkaPreds  = "org.apache.kafka.connect.transforms.predicates."
	debeziumPkg = "io.debezium.transforms."
)

// keyValue registers a Kafka transform's $Key and $Value variants.
func keyValue(name, doc string, build func(side) Transform) []Plugin {
	return []Plugin{
		{Name: name + "$Key", Class: kafkaPkg + name + "$Key", Doc: doc + " This variant works on the key.",
			NewTransform: func() Transform { return build(keySide) }},
		{Name: name + "$Value", Class: kafkaPkg + name + "$Value", Doc: doc + " This variant works on the value.",
			NewTransform: func() Transform { return build(valueSide) }},
	}
}

// BuiltinPlugins lists Kafka Connect's and Debezium's transforms and
// predicates that Sluice implements, by class name and short name.
func BuiltinPlugins() []Plugin {
	var ps []Plugin
	add := func(p ...Plugin) { ps = append(ps, p...) }
	add(keyValue("InsertField", "Adds fields holding the record's topic, partition, offset (sink connectors), timestamp, or a fixed string. A null value (tombstone) passes through.", func(s side) Transform { return &InsertField{side: s} })...)
	add(keyValue("ReplaceField", "Keeps (include), drops (exclude) and renames fields.", func(s side) Transform { return &ReplaceField{side: s} })...)
	add(keyValue("MaskField", "Replaces the values of fields with their type's empty value or with replacement; nulls stay null.", func(s side) Transform { return &MaskField{side: s} })...)
	add(keyValue("ExtractField", "Replaces the key or value with one of its fields (or nested field, with field.syntax.version=V2).", func(s side) Transform { return &ExtractField{side: s} })...)
	add(keyValue("HoistField", "Wraps the key or value into a struct (a map without a schema) of one field.", func(s side) Transform { return &HoistField{side: s} })...)
	add(keyValue("Cast", "Casts fields, or the whole key or value, to another primitive type. Decimals cast to numbers and strings; dates and times to strings (ISO 8601); bytes to strings as base64.", func(s side) Transform { return &Cast{side: s} })...)
	add(keyValue("TimestampConverter", "Converts a timestamp field (or the whole key or value) between strings, unix times and the Date, Time and Timestamp logical types.", func(s side) Transform { return &TimestampConverter{side: s} })...)
	add(keyValue("Flatten", "Flattens nested structs (maps without a schema) into top-level fields named by their path; arrays are left as they are.", func(s side) Transform { return &Flatten{side: s} })...)
	add(keyValue("SetSchemaMetadata", "Sets the schema name and/or version.", func(s side) Transform { return &SetSchemaMetadata{side: s} })...)
	add(keyValue("HeaderFrom", "Copies or moves fields into headers. Header values are written as Connect's SimpleHeaderConverter writes them: strings and bytes as they are, other primitives in their string form, structs, maps and arrays as JSON.", func(s side) Transform { return &HeaderFrom{side: s} })...)
	add(
		Plugin{Name: "ValueToKey", Doc: "Replaces the key with a struct (a map without a schema) of fields of the value. A tombstone keeps its key.", Class: kafkaPkg + "ValueToKey", NewTransform: func() Transform { return &ValueToKey{} }},
		Plugin{Name: "RegexRouter", Doc: "Renames topics that match regex as a whole to replacement.", Class: kafkaPkg + "RegexRouter", NewTransform: func() Transform { return &RegexRouter{} }},
		Plugin{Name: "TimestampRouter", Doc: "Renames the topic after the record's timestamp, for time-partitioned topics or tables.", Class: kafkaPkg + "TimestampRouter", NewTransform: func() Transform { return &TimestampRouter{} }},
		Plugin{Name: "InsertHeader", Doc: "Adds a header with a fixed value.", Class: kafkaPkg + "InsertHeader", NewTransform: func() Transform { return &InsertHeader{} }},
		Plugin{Name: "DropHeaders", Doc: "Removes headers by name.", Class: kafkaPkg + "DropHeaders", NewTransform: func() Transform { return &DropHeaders{} }},
		Plugin{Name: "Filter", Doc: "Drops every record; with a predicate, drops the records it matches (or, with negate, the ones it does not).", Class: kafkaPkg + "Filter", NewTransform: func() Transform { return Filter{} }},
		Plugin{Name: "TopicNameMatches", Doc: "True for records whose topic matches pattern as a whole.", Class: kafkaPreds + "TopicNameMatches", NewPredicate: func() Predicate { return &TopicNameMatches{} }},
		Plugin{Name: "HasHeaderKey", Doc: "True for records with a header called name.", Class: kafkaPreds + "HasHeaderKey", NewPredicate: func() Predicate { return &HasHeaderKey{} }},
		Plugin{Name: "RecordIsTombstone", Doc: "True for records with a null value.", Class: kafkaPreds + "RecordIsTombstone", NewPredicate: func() Predicate { return RecordIsTombstone{} }},
		Plugin{Name: "ExtractNewRecordState", Doc: "Replaces a Debezium change event with the row after the change (or, for deletes, as delete.tombstone.handling.mode says), optionally adding envelope and source fields as fields or headers. Records that are not row changes (heartbeats, schema changes, truncates, messages) pass through unchanged; envelopes read without a schema (maps) are unwrapped too.", Class: debeziumPkg + "ExtractNewRecordState", NewTransform: func() Transform { return &ExtractNewRecordState{} }},
		Plugin{Name: "EventRouter", Doc: "The outbox pattern: turns inserts into an outbox table into events, routed by a column to a topic, keyed by a column, with the payload column as the value and the event id as the header id. Deletes and tombstones are dropped; updates follow table.op.invalid.behavior.", Class: debeziumPkg + "outbox.EventRouter", NewTransform: func() Transform { return &EventRouter{} }},
		Plugin{Name: "TraceContext", Doc: "Gives each Debezium change event a W3C Trace Context header, traceparent, naming one trace per source transaction (derived from source.name and transaction.id, or source.txId with source.ts_ms, or source.gtid), so that the events of a transaction can be followed through topics and sinks; a record that already has one keeps it unless overwrite=true, and a record without a transaction passes unchanged. Sluice's CDC sources stamp their events themselves (sluice.trace.context.enable); use it on a sink to stamp events from other Debezium sources.", Class: "io.sluice.transforms.TraceContext", NewTransform: func() Transform { return &TraceContext{} }},
		Plugin{Name: "ByLogicalTableRouter", Doc: "Sends the change events of several physical tables (shards) to one logical table's topic, renaming the key, envelope and row schemas after it (<topic>.Key, <topic>.Envelope, <topic>.Value) and adding the physical table to the key.", Class: debeziumPkg + "ByLogicalTableRouter", NewTransform: func() Transform { return &ByLogicalTableRouter{} }},
	)
	return ps
}

// Builtin returns a registry of BuiltinPlugins.
func Builtin() *Registry { return NewRegistry(BuiltinPlugins()...) }
