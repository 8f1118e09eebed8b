package proto

import (
	"encoding/binary"
	"fmt"
)

// DecodeMetadata decodes a member's metadata. Any version from 0 up is
// accepted, as Connect does: versions above 2 are read with the layout of
// version 1, and a missing allocation decodes as nil. Bytes after the
// known fields are ignored (a newer worker may append some).
func DecodeMetadata(b []byte) (Metadata, error) {
	r := reader{b: b}
	var m Metadata
	m.Version = r.int16("version")
	if r.err == nil && m.Version < 0 {
		return m, fmt.Errorf("%w: metadata version %d", ErrMalformed, m.Version)
	}
	m.URL = r.string("url")
	m.ConfigOffset = r.int64("config offset")
	if r.err != nil || m.Version == 0 || r.done() {
		return m, r.errorf("metadata")
	}
	alloc, ok := r.bytes("allocation")
	if r.err != nil || !ok {
		return m, r.errorf("metadata")
	}
	a, err := DecodeAssignment(alloc)
	if err != nil {
		return m, fmt.Errorf("decoding the allocation in connect metadata: %w", err)
	}
	m.Allocation = &a
	return m, nil
}

// DecodeAssignment decodes an assignment. Versions 1 and up may omit the
// revoked list and delay (decoded as none and 0), as Connect tolerates.
func DecodeAssignment(b []byte) (Assignment, error) {
	r := reader{b: b}
	var a Assignment
	a.Version = r.int16("version")
	if r.err == nil && a.Version < 0 {
		return a, fmt.Errorf("%w: assignment version %d", ErrMalformed, a.Version)
	}
	a.Error = r.int16("error")
	a.Leader = r.string("leader")
	a.LeaderURL = r.string("leader url")
	a.ConfigOffset = r.int64("config offset")
	a.Connectors, a.Tasks = r.connectorTasks("assignment")
	if r.err != nil || a.Version == 0 || r.done() {
		return a, r.errorf("assignment")
	}
	a.RevokedConnectors, a.RevokedTasks = r.connectorTasks("revoked")
	if r.err != nil || r.done() {
		return a, r.errorf("assignment")
	}
	a.Delay = r.int32("delay")
	return a, r.errorf("assignment")
}

// reader reads primitives; the first failure sticks in err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) done() bool { return len(r.b) == 0 }

func (r *reader) errorf(what string) error {
	if r.err == nil {
		return nil
	}
	return fmt.Errorf("decoding connect %s: %w", what, r.err)
}

func (r *reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = fmt.Errorf("%w: %s needs %d bytes, %d left", ErrMalformed, field, n, len(r.b))
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) int16(field string) int16 {
	p := r.take(2, field)
	if p == nil {
		return 0
	}
	return int16(binary.BigEndian.Uint16(p))
}

func (r *reader) int32(field string) int32 {
	p := r.take(4, field)
	if p == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(p))
}

func (r *reader) int64(field string) int64 {
	p := r.take(8, field)
	if p == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(p))
}

func (r *reader) string(field string) string {
	n := r.int16(field + " length")
	if r.err != nil {
		return ""
	}
	if n < 0 {
		r.err = fmt.Errorf("%w: %s is null", ErrMalformed, field)
		return ""
	}
	return string(r.take(int(n), field))
}

// bytes reads nullable bytes; ok is false for null.
func (r *reader) bytes(field string) (p []byte, ok bool) {
	n := r.int32(field + " length")
	if r.err != nil || n < 0 {
		return nil, false
	}
	return r.take(int(n), field), r.err == nil
}

// count reads an array length, checking that the bytes left can hold
// that many elements of at least min bytes each (so a corrupt count
// cannot make us allocate gigabytes).
func (r *reader) count(field string, min int) int {
	n := r.int32(field + " count")
	if r.err != nil || n < 0 {
		return 0 // null array: none
	}
	if int64(n)*int64(min) > int64(len(r.b)) {
		r.err = fmt.Errorf("%w: %s claims %d entries, %d bytes left", ErrMalformed, field, n, len(r.b))
		return 0
	}
	return int(n)
}

func (r *reader) connectorTasks(field string) (connectors []string, tasks []TaskID) {
	n := r.count(field, 6) // an entry: int16 name length + int32 task count
	for range n {
		name := r.string(field + " connector")
		m := r.count(field+" tasks", 4)
		for range m {
			t := r.int32(field + " task")
			if r.err != nil {
				return nil, nil
			}
			if t == ConnectorTask {
				connectors = append(connectors, name)
			} else {
				tasks = append(tasks, TaskID{Connector: name, Task: t})
			}
		}
		if r.err != nil {
			return nil, nil
		}
	}
	return connectors, tasks
}
