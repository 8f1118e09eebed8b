package connectors

import (
	"crypto/md5"
	"fmt"
)

// UnavailableHeader is the record header a change-data-capture source
// adds once per field whose value it does not have (an unchanged TOASTed
// PostgreSQL column), the header's value being the field's name. The
// field itself holds a stand-in (Debezium's unavailable.value.placeholder
// where Debezium has a representation for the type), so a sink must not
// write it over the stored value: the header says so for every type,
// also for those where the stand-in is a valid value (a number, say).
const UnavailableHeader = "__sluice.unavailable"

// UnavailableUUID is the uuid standing in for an unavailable uuid array
// element, as Debezium makes it: the name-based (version 3) UUID of the
// placeholder's bytes (Java's UUID.nameUUIDFromBytes).
func UnavailableUUID(placeholder string) string {
	b := md5.Sum([]byte(placeholder))
	b[6] = b[6]&0x0f | 0x30
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
