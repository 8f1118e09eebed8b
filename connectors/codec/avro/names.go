package avro

import (
	"strings"

	"github.com/sluice-cdc/sluice/connectors"
)

// Names and properties from Confluent's AvroData, which its converter and
// every consumer of its schemas agree on.
const (
	Namespace          = "io.confluent.connect.avro"
	DefaultName        = "ConnectDefault"
	mapEntryName       = "MapEntry"
	unionName          = Namespace + ".Union"
	enumParam          = Namespace + ".Enum"
	recordDocParam     = Namespace + ".record.doc"
	fieldDocPrefix     = Namespace + ".field.doc."
	enumDocPrefix      = Namespace + ".enum.doc."
	enumDefaultPrefix  = Namespace + ".enum.default."
	fieldDefaultFlag   = Namespace + ".field.default"
	propConnectName    = "connect.name"
	propConnectDoc     = "connect.doc"
	propConnectVersion = "connect.version"
	propConnectDefault = "connect.default"
	propConnectParams  = "connect.parameters"
	propConnectType    = "connect.type"
	propInternalType   = "connect.internal.type"
	propLogicalType    = "logicalType"
	// PrecisionParam is the Connect Decimal parameter Confluent reads the
	// Avro decimal precision from; without it the precision is 64.
	PrecisionParam   = "connect.decimal.precision"
	defaultPrecision = 64
)

// splitName splits a dotted full name into namespace and name.
func splitName(full string) (ns, name string) {
	i := strings.LastIndexByte(full, '.')
	if i < 0 {
		return "", full
	}
	return full[:i], full[i+1:]
}

// isDefaultName reports whether full is one of the names given to unnamed
// structs: io.confluent.connect.avro.ConnectDefault, then ConnectDefault2,
// ConnectDefault3, ...
func isDefaultName(full string) bool {
	rest, ok := strings.CutPrefix(full, Namespace+"."+DefaultName)
	if !ok {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}

// isEnum reports whether s is a Connect string carrying an Avro enum.
func isEnum(s *connectors.Schema) bool {
	if s.Type != connectors.String || s.Parameters == nil {
		return false
	}
	_, ok := s.Parameters[enumParam]
	return ok
}
