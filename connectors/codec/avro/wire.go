package avro

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MagicByte is the first byte of Confluent's wire format.
const MagicByte = 0

// HeaderSize is the length of the wire-format header: the magic byte and a
// 4-byte big-endian schema id.
const HeaderSize = 5

// ErrNotWireFormat is wrapped by ParseWire's errors: the bytes are not in
// Confluent's wire format (a wrong magic byte, or too short for the
// header). A consumer reading a topic written by another serializer gets
// it for every record.
var ErrNotWireFormat = errors.New("not in Confluent's Avro wire format")

// AppendHeader appends the wire-format header for schema id to dst: the
// magic byte 0 and the id, big-endian. The Avro binary follows it.
func AppendHeader(dst []byte, id int32) []byte {
	dst = append(dst, MagicByte)
	return binary.BigEndian.AppendUint32(dst, uint32(id))
}

// ParseWire splits a wire-format message into its schema id and Avro
// binary. The payload aliases data.
func ParseWire(data []byte) (id int32, payload []byte, err error) {
	if len(data) < HeaderSize {
		return 0, nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header (magic byte 0 and a 4-byte schema id); "+
			"check that the producer used an Avro serializer with a schema registry", ErrNotWireFormat, len(data), HeaderSize)
	}
	if data[0] != MagicByte {
		return 0, nil, fmt.Errorf("%w: magic byte is %#02x, want 0x00; check that the producer used an Avro serializer with a schema registry",
			ErrNotWireFormat, data[0])
	}
	return int32(binary.BigEndian.Uint32(data[1:HeaderSize])), data[HeaderSize:], nil
}
