// Package pgoutput decodes the messages of PostgreSQL's pgoutput logical
// decoding plugin (protocol version 1) without allocating per message:
// a Decoder reuses one value of each message type, and tuple column data
// aliases the input buffer. A decoded message is valid until the next call
// to Decode or until the input buffer is reused, whichever comes first;
// copy what must outlive it.
package pgoutput

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Message types.
const (
	TypeBegin    = 'B'
	TypeCommit   = 'C'
	TypeOrigin   = 'O'
	TypeRelation = 'R'
	TypeType     = 'Y'
	TypeInsert   = 'I'
	TypeUpdate   = 'U'
	TypeDelete   = 'D'
	TypeTruncate = 'T'
	TypeMessage  = 'M'
	// Protocol version 2 (streaming of in-progress transactions).
	TypeStreamStart  = 'S'
	TypeStreamStop   = 'E'
	TypeStreamCommit = 'c'
	TypeStreamAbort  = 'A'
)

// Column data kinds in a tuple.
const (
	KindNull      = 'n'
	KindUnchanged = 'u' // unchanged TOASTed value, not sent
	KindText      = 't'
	KindBinary    = 'b'
)

// ErrShort means a message ended before its fields did.
var ErrShort = errors.New("pgoutput: message too short")

// pgEpoch is 2000-01-01, PostgreSQL's timestamp epoch.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// PGTime converts microseconds since 2000-01-01 to a time.
func PGTime(us int64) time.Time { return pgEpoch.Add(time.Duration(us) * time.Microsecond) }

// Message is any decoded message; Type returns its type byte.
type Message interface{ Type() byte }

// Begin starts a transaction.
type Begin struct {
	FinalLSN uint64
	// CommitTime is microseconds since 2000-01-01.
	CommitTime int64
	Xid        uint32
}

// Commit ends a transaction.
type Commit struct {
	Flags      uint8
	CommitLSN  uint64
	EndLSN     uint64
	CommitTime int64
}

// Origin names the origin of a transaction's changes.
type Origin struct {
	LSN  uint64
	Name string
}

// RelationColumn is one column of a Relation.
type RelationColumn struct {
	// Flags bit 1 marks a replica identity (key) column.
	Flags  uint8
	Name   string
	TypeID uint32
	Typmod int32
}

// IsKey reports whether the column is part of the replica identity.
func (c RelationColumn) IsKey() bool { return c.Flags&1 != 0 }

// Relation describes a table; it is sent before the first change to the
// table in a session and after its shape changes. Its strings are copied,
// so a Relation may be kept.
type Relation struct {
	ID              uint32
	Namespace, Name string
	ReplicaIdentity uint8
	Columns         []RelationColumn
}

// TypeMsg describes a non-built-in type used by a relation.
type TypeMsg struct {
	ID              uint32
	Namespace, Name string
}

// Column is one value of a tuple; Data aliases the input.
type Column struct {
	Kind byte
	Data []byte
}

// Tuple is a row image.
type Tuple struct{ Columns []Column }

// Insert is a new row.
type Insert struct {
	RelationID uint32
	New        Tuple
}

// Update is a changed row. OldKind is 0 (no old image), 'K' (old key
// columns, when the key changed) or 'O' (old full row, REPLICA IDENTITY
// FULL).
type Update struct {
	RelationID uint32
	OldKind    byte
	Old, New   Tuple
}

// Delete is a deleted row; OldKind is 'K' or 'O' as for Update.
type Delete struct {
	RelationID uint32
	OldKind    byte
	Old        Tuple
}

// Truncate empties relations.
type Truncate struct {
	Options     uint8
	RelationIDs []uint32
}

// LogicalMessage is a pg_logical_emit_message message; Content aliases
// the input.
type LogicalMessage struct {
	Transactional bool
	LSN           uint64
	Prefix        string
	Content       []byte
}

// StreamStart opens a block of changes of the in-progress transaction
// Xid (protocol 2). Inside the block, R, Y, I, U, D, T and M messages carry
// the (sub)transaction's xid after the type byte; see StripXid.
type StreamStart struct {
	Xid   uint32
	First bool
}

// StreamStop closes a block of streamed changes.
type StreamStop struct{}

// StreamCommit commits a streamed transaction.
type StreamCommit struct {
	Xid        uint32
	Flags      uint8
	CommitLSN  uint64
	EndLSN     uint64
	CommitTime int64
}

// StreamAbort aborts a streamed transaction (SubXid == Xid) or one of its
// subtransactions.
type StreamAbort struct {
	Xid, SubXid uint32
}

// StripXid splits a message sent inside a stream block into the xid it
// carries and the message without it (a fresh slice: type byte + rest),
// which Decode reads like its protocol 1 form.
func StripXid(b []byte) (xid uint32, msg []byte, err error) {
	if len(b) < 5 {
		return 0, nil, ErrShort
	}
	msg = make([]byte, 0, len(b)-4)
	msg = append(append(msg, b[0]), b[5:]...)
	return binary.BigEndian.Uint32(b[1:5]), msg, nil
}

// Type implementations.
func (*Begin) Type() byte          { return TypeBegin }
func (*Commit) Type() byte         { return TypeCommit }
func (*Origin) Type() byte         { return TypeOrigin }
func (*Relation) Type() byte       { return TypeRelation }
func (*TypeMsg) Type() byte        { return TypeType }
func (*Insert) Type() byte         { return TypeInsert }
func (*Update) Type() byte         { return TypeUpdate }
func (*Delete) Type() byte         { return TypeDelete }
func (*Truncate) Type() byte       { return TypeTruncate }
func (*LogicalMessage) Type() byte { return TypeMessage }
func (*StreamStart) Type() byte    { return TypeStreamStart }
func (*StreamStop) Type() byte     { return TypeStreamStop }
func (*StreamCommit) Type() byte   { return TypeStreamCommit }
func (*StreamAbort) Type() byte    { return TypeStreamAbort }

// Decoder decodes messages into reused values. It is not safe for
// concurrent use.
type Decoder struct {
	begin    Begin
	commit   Commit
	origin   Origin
	typ      TypeMsg
	insert   Insert
	update   Update
	delete   Delete
	truncate Truncate
	message  LogicalMessage
	sstart   StreamStart
	sstop    StreamStop
	scommit  StreamCommit
	sabort   StreamAbort
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) u8() uint8 {
	if len(r.b) < 1 {
		r.err = ErrShort
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if len(r.b) < 2 {
		r.err = ErrShort
		r.b = nil
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *reader) u32() uint32 {
	if len(r.b) < 4 {
		r.err = ErrShort
		r.b = nil
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.err = ErrShort
		r.b = nil
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// cstr reads a NUL-terminated string, copying it.
func (r *reader) cstr() string {
	for i, c := range r.b {
		if c == 0 {
			s := string(r.b[:i])
			r.b = r.b[i+1:]
			return s
		}
	}
	r.err = ErrShort
	r.b = nil
	return ""
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.err = ErrShort
		r.b = nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) tuple(t *Tuple) {
	n := int(r.u16())
	if r.err != nil {
		return
	}
	if cap(t.Columns) < n {
		t.Columns = make([]Column, n)
	}
	t.Columns = t.Columns[:n]
	for i := 0; i < n; i++ {
		k := r.u8()
		c := &t.Columns[i]
		c.Kind, c.Data = k, nil
		switch k {
		case KindNull, KindUnchanged:
		case KindText, KindBinary:
			c.Data = r.bytes(int(int32(r.u32())))
		default:
			if r.err == nil {
				r.err = fmt.Errorf("pgoutput: unknown tuple column kind %q", k)
			}
		}
		if r.err != nil {
			return
		}
	}
}

// Decode decodes one pgoutput message (the WAL data of an XLogData
// message). Relation messages are returned as fresh values; every other
// type is a reused value valid until the next Decode.
func (d *Decoder) Decode(b []byte) (Message, error) {
	if len(b) == 0 {
		return nil, ErrShort
	}
	r := &reader{b: b[1:]}
	var m Message
	switch b[0] {
	case TypeBegin:
		d.begin = Begin{FinalLSN: r.u64(), CommitTime: int64(r.u64()), Xid: r.u32()}
		m = &d.begin
	case TypeCommit:
		d.commit = Commit{Flags: r.u8(), CommitLSN: r.u64(), EndLSN: r.u64(), CommitTime: int64(r.u64())}
		m = &d.commit
	case TypeOrigin:
		d.origin = Origin{LSN: r.u64(), Name: r.cstr()}
		m = &d.origin
	case TypeRelation:
		rel := &Relation{ID: r.u32(), Namespace: r.cstr(), Name: r.cstr(), ReplicaIdentity: r.u8()}
		n := int(r.u16())
		if r.err == nil && n > len(r.b) {
			r.err = ErrShort
		}
		if r.err == nil {
			rel.Columns = make([]RelationColumn, n)
			for i := 0; i < n && r.err == nil; i++ {
				rel.Columns[i] = RelationColumn{Flags: r.u8(), Name: r.cstr(), TypeID: r.u32(), Typmod: int32(r.u32())}
			}
		}
		m = rel
	case TypeType:
		d.typ = TypeMsg{ID: r.u32(), Namespace: r.cstr(), Name: r.cstr()}
		m = &d.typ
	case TypeInsert:
		d.insert.RelationID = r.u32()
		if k := r.u8(); r.err == nil && k != 'N' {
			return nil, fmt.Errorf("pgoutput: insert: expected new tuple 'N', got %q", k)
		}
		r.tuple(&d.insert.New)
		m = &d.insert
	case TypeUpdate:
		u := &d.update
		u.RelationID = r.u32()
		u.OldKind = 0
		k := r.u8()
		if k == 'K' || k == 'O' {
			u.OldKind = k
			r.tuple(&u.Old)
			k = r.u8()
		}
		if r.err == nil && k != 'N' {
			return nil, fmt.Errorf("pgoutput: update: expected new tuple 'N', got %q", k)
		}
		r.tuple(&u.New)
		m = u
	case TypeDelete:
		dl := &d.delete
		dl.RelationID = r.u32()
		dl.OldKind = r.u8()
		if r.err == nil && dl.OldKind != 'K' && dl.OldKind != 'O' {
			return nil, fmt.Errorf("pgoutput: delete: expected 'K' or 'O', got %q", dl.OldKind)
		}
		r.tuple(&dl.Old)
		m = dl
	case TypeTruncate:
		n := int(r.u32())
		d.truncate.Options = r.u8()
		if r.err == nil && n > len(r.b)/4 {
			r.err = ErrShort
		}
		d.truncate.RelationIDs = d.truncate.RelationIDs[:0]
		for i := 0; i < n && r.err == nil; i++ {
			d.truncate.RelationIDs = append(d.truncate.RelationIDs, r.u32())
		}
		m = &d.truncate
	case TypeMessage:
		d.message = LogicalMessage{Transactional: r.u8() == 1, LSN: r.u64(), Prefix: r.cstr()}
		d.message.Content = r.bytes(int(int32(r.u32())))
		m = &d.message
	case TypeStreamStart:
		d.sstart = StreamStart{Xid: r.u32(), First: r.u8() == 1}
		m = &d.sstart
	case TypeStreamStop:
		m = &d.sstop
	case TypeStreamCommit:
		d.scommit = StreamCommit{Xid: r.u32(), Flags: r.u8(), CommitLSN: r.u64(), EndLSN: r.u64(), CommitTime: int64(r.u64())}
		m = &d.scommit
	case TypeStreamAbort:
		d.sabort = StreamAbort{Xid: r.u32(), SubXid: r.u32()}
		m = &d.sabort
	default:
		return nil, fmt.Errorf("pgoutput: unsupported message type %q", b[0])
	}
	if r.err != nil {
		return nil, fmt.Errorf("pgoutput: decoding %q message: %w", b[0], r.err)
	}
	return m, nil
}
