package registry

import (
	"encoding/json"
	"strings"

	"github.com/hamba/avro/v2"
)

// SchemaTypeAvro is the one schema type the registry serves. Confluent's
// JSON and PROTOBUF types are refused with CodeInvalidSchema.
const SchemaTypeAvro = "AVRO"

// parsed is an Avro schema and its normal form: the schema as compact
// JSON with everything that matters to a reader kept (defaults, docs,
// aliases, logical types, properties). Two texts with the same normal
// form are the same schema and get the same id; the normal form is what
// the registry stores and serves.
//
// The normal form is deliberately not Avro's Parsing Canonical Form:
// that drops defaults, and two schemas that differ in a default resolve
// differently, so they must not share an id.
type parsed struct {
	schema avro.Schema
	normal string
}

// parseSchema parses text as an Avro schema with a cache of its own, so
// that a name defined by another subject's schema (or by anything else
// in the process) never resolves a reference here.
func parseSchema(text string) (parsed, error) {
	if strings.TrimSpace(text) == "" {
		return parsed{}, errorf(CodeInvalidSchema, "the schema is empty; send the Avro schema as a JSON string in the \"schema\" field")
	}
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return parsed{}, errorf(CodeInvalidSchema, "invalid Avro schema: %v", err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return parsed{}, errorf(CodeInvalidSchema, "invalid Avro schema: %v", err)
	}
	return parsed{schema: s, normal: string(b)}, nil
}

// checkSchemaType refuses every type but Avro ("" means Avro).
func checkSchemaType(t string) error {
	if t == "" || strings.EqualFold(t, SchemaTypeAvro) {
		return nil
	}
	return errorf(CodeInvalidSchema, "schemaType %q is not supported: this registry serves Avro schemas only; "+
		"send \"schemaType\": \"AVRO\" or leave it out", t)
}
