package proto

import (
	"encoding/binary"
	"fmt"
	"math"
)

// AppendTo appends the encoding of m to dst. It fails only when a field
// cannot be represented (a string longer than 32767 bytes).
func (m *Metadata) AppendTo(dst []byte) ([]byte, error) {
	if m.Version < 0 {
		return dst, fmt.Errorf("encoding connect metadata: version %d is negative", m.Version)
	}
	dst = be16(dst, m.Version)
	dst, err := appendString(dst, "url", m.URL)
	if err != nil {
		return dst, err
	}
	dst = be64(dst, m.ConfigOffset)
	if m.Version == 0 {
		return dst, nil
	}
	if m.Allocation == nil {
		return be32(dst, -1), nil
	}
	// Nullable bytes: reserve the length, encode, fill it in.
	at := len(dst)
	dst = be32(dst, 0)
	dst, err = m.Allocation.AppendTo(dst)
	if err != nil {
		return dst, fmt.Errorf("encoding the allocation of connect metadata: %w", err)
	}
	binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst, nil
}

// AppendTo appends the encoding of a to dst. Connectors and tasks are
// grouped per connector in order of first appearance, the Connector
// object (task -1) first, as Connect writes them.
func (a *Assignment) AppendTo(dst []byte) ([]byte, error) {
	if a.Version < 0 {
		return dst, fmt.Errorf("encoding connect assignment: version %d is negative", a.Version)
	}
	dst = be16(dst, a.Version)
	dst = be16(dst, a.Error)
	var err error
	if dst, err = appendString(dst, "leader", a.Leader); err != nil {
		return dst, err
	}
	if dst, err = appendString(dst, "leader url", a.LeaderURL); err != nil {
		return dst, err
	}
	dst = be64(dst, a.ConfigOffset)
	if dst, err = appendConnectorTasks(dst, a.Connectors, a.Tasks); err != nil {
		return dst, err
	}
	if a.Version == 0 {
		return dst, nil
	}
	if dst, err = appendConnectorTasks(dst, a.RevokedConnectors, a.RevokedTasks); err != nil {
		return dst, err
	}
	return be32(dst, a.Delay), nil
}

// appendConnectorTasks writes the array of {connector, [task]} entries.
func appendConnectorTasks(dst []byte, connectors []string, tasks []TaskID) ([]byte, error) {
	type group struct {
		name  string
		tasks []int32
	}
	var groups []group
	index := map[string]int{}
	add := func(name string, task int32) {
		i, ok := index[name]
		if !ok {
			i = len(groups)
			index[name] = i
			groups = append(groups, group{name: name})
		}
		groups[i].tasks = append(groups[i].tasks, task)
	}
	seen := map[string]bool{}
	for _, c := range connectors {
		if !seen[c] { // Connect lists a connector once
			seen[c] = true
			add(c, ConnectorTask)
		}
	}
	for _, t := range tasks {
		add(t.Connector, t.Task)
	}
	dst = be32(dst, int32(len(groups)))
	var err error
	for _, g := range groups {
		if dst, err = appendString(dst, "connector", g.name); err != nil {
			return dst, err
		}
		dst = be32(dst, int32(len(g.tasks)))
		for _, t := range g.tasks {
			dst = be32(dst, t)
		}
	}
	return dst, nil
}

func appendString(dst []byte, what, s string) ([]byte, error) {
	if len(s) > math.MaxInt16 {
		return dst, fmt.Errorf("encoding connect group data: %s is %d bytes, more than the 32767 a Kafka string holds", what, len(s))
	}
	dst = be16(dst, int16(len(s)))
	return append(dst, s...), nil
}

func be16(dst []byte, v int16) []byte { return binary.BigEndian.AppendUint16(dst, uint16(v)) }
func be32(dst []byte, v int32) []byte { return binary.BigEndian.AppendUint32(dst, uint32(v)) }
func be64(dst []byte, v int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) }
