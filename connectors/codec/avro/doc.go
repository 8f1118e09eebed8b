// Package avro maps Kafka Connect schemas and values to and from Avro, as
// Confluent's AvroConverter (its AvroData class) does, and frames Avro
// binary in Confluent's wire format. It sits beside the connectors so that
// both the runtime's converters and sinks that write Avro files can use it;
// it depends on the connector SPI and github.com/hamba/avro/v2 only.
//
// A [Codec] turns a Connect schema into a compiled [Schema]: the Avro schema
// (its JSON text, and the same schema parsed by hamba/avro, which validates
// it) and an encoding plan. Compiled schemas are cached by the Connect
// schema's pointer, since one schema is shared by every record of a table
// shape, so the per-record path does no schema work. [Codec.FromAvro] goes
// the other way for a consumer: Avro schema text (from a registry, say) to
// a compiled Schema whose Connect schema is what Confluent's converter
// would produce, cached by the SHA-256 of the text.
//
// Encoding appends to the caller's buffer ([Schema.Append]) and, in steady
// state, allocates nothing for records without decimals outside the int64
// range. Decoding ([Schema.Decode]) copies what it keeps: the returned
// value never aliases the input.
//
// Values use the SPI's Go types (see connectors.Schema): int8..int64,
// float32, float64, bool, string, []byte, *connectors.StructValue, []any,
// []connectors.MapEntry (map[string]any is accepted too when encoding a
// map with string keys), connectors.Decimal and time.Time for the logical
// types. A value that does not fit its schema is a *DataError whose Path
// names the field ("after.balance", "tags[2]").
//
// Everything here is safe for concurrent use.
package avro
