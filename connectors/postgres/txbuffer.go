package postgres

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sluice-cdc/sluice/connectors/postgres/pgoutput"
)

// With protocol version 2 and streaming on (PostgreSQL 14+), the server
// sends a large transaction while it is still in progress, in blocks
// (Stream Start ... Stream Stop) that may interleave with other
// transactions, and then Stream Commit or Stream Abort. The streamer keeps
// each such transaction's messages, as received, in a buffer: in memory
// while all buffers together stay under sluice.stream.buffer.bytes, then
// in a temporary file in the task's scratch directory (under
// sluice.data.dir, emptied by the runtime before each start, so a crash
// leaves nothing behind for good). At Stream Commit the messages are replayed through
// the same path as a protocol 1 transaction; at Stream Abort they are
// dropped (only those of the aborted subtransaction, when it is one).

// streamEntry is one buffered message: the (sub)transaction it belongs
// to, its LSN and its bytes in protocol 1 form.
type streamEntry struct {
	subxid uint32
	lsn    uint64
	data   []byte
}

// streamBuffer holds one streamed transaction.
type streamBuffer struct {
	xid     uint32
	dir     string // where the file goes; "" for the system's temporary directory
	entries []streamEntry
	mem     int
	file    *os.File
	w       *bufio.Writer
	aborted map[uint32]bool
}

func (b *streamBuffer) close() {
	if b.file != nil {
		_ = b.file.Close()
		_ = os.Remove(b.file.Name())
		b.file, b.w = nil, nil
	}
}

func writeEntry(w *bufio.Writer, e *streamEntry) error {
	var hdr [16]byte
	binary.BigEndian.PutUint32(hdr[0:], e.subxid)
	binary.BigEndian.PutUint64(hdr[4:], e.lsn)
	binary.BigEndian.PutUint32(hdr[12:], uint32(len(e.data)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(e.data)
	return err
}

// spill moves the buffer's entries to its temporary file.
func (b *streamBuffer) spill() error {
	if b.file == nil {
		f, err := os.CreateTemp(b.dir, fmt.Sprintf("sluice-pg-xid%d-*", b.xid))
		if err != nil {
			return fmt.Errorf("spilling streamed transaction %d: %w", b.xid, err)
		}
		b.file, b.w = f, bufio.NewWriterSize(f, 1<<16)
	}
	for i := range b.entries {
		if err := writeEntry(b.w, &b.entries[i]); err != nil {
			return fmt.Errorf("spilling streamed transaction %d: %w", b.xid, err)
		}
	}
	b.entries, b.mem = nil, 0
	return nil
}

// streamAdd buffers a message of the open stream block.
func (s *streamer) streamAdd(lsn uint64, data []byte) error {
	b := s.curStream
	subxid, msg, err := pgoutput.StripXid(data)
	if err != nil {
		return fmt.Errorf("at LSN %s: %w", lsnString(lsn), err)
	}
	e := streamEntry{subxid: subxid, lsn: lsn, data: msg}
	if b.file != nil {
		return writeEntry(b.w, &e)
	}
	if s.streamMem+len(msg) > s.t.cfg.StreamBufferBytes {
		s.streamMem -= b.mem
		if err := b.spill(); err != nil {
			return err
		}
		return writeEntry(b.w, &e)
	}
	b.entries = append(b.entries, e)
	b.mem += len(msg)
	s.streamMem += len(msg)
	return nil
}

// streamStart opens a block of the transaction xid.
func (s *streamer) streamStart(m *pgoutput.StreamStart) {
	if s.streams == nil {
		s.streams = map[uint32]*streamBuffer{}
	}
	b := s.streams[m.Xid]
	if b == nil {
		b = &streamBuffer{xid: m.Xid, dir: s.t.spillDir}
		s.streams[m.Xid] = b
	}
	s.curStream = b
}

// streamAbort drops an aborted transaction or subtransaction.
func (s *streamer) streamAbort(m *pgoutput.StreamAbort) {
	b := s.streams[m.Xid]
	if b == nil {
		return
	}
	if m.SubXid == m.Xid {
		s.streamMem -= b.mem
		b.close()
		delete(s.streams, m.Xid)
		return
	}
	if b.aborted == nil {
		b.aborted = map[uint32]bool{}
	}
	b.aborted[m.SubXid] = true
	kept := b.entries[:0]
	for _, e := range b.entries {
		if e.subxid == m.SubXid {
			b.mem -= len(e.data)
			s.streamMem -= len(e.data)
			continue
		}
		kept = append(kept, e)
	}
	b.entries = kept
}

// streamCommit replays a committed streamed transaction as if it had
// arrived whole.
func (s *streamer) streamCommit(ctx context.Context, lsn uint64, m *pgoutput.StreamCommit) error {
	b := s.streams[m.Xid]
	delete(s.streams, m.Xid)
	commit := pgoutput.Commit{Flags: m.Flags, CommitLSN: m.CommitLSN, EndLSN: m.EndLSN, CommitTime: m.CommitTime}
	s.begin(&pgoutput.Begin{FinalLSN: m.CommitLSN, CommitTime: m.CommitTime, Xid: m.Xid})
	if b != nil {
		s.streamMem -= b.mem
		defer b.close()
		if b.file != nil {
			if err := b.w.Flush(); err != nil {
				return fmt.Errorf("reading back streamed transaction %d: %w", b.xid, err)
			}
			if _, err := b.file.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("reading back streamed transaction %d: %w", b.xid, err)
			}
			r := bufio.NewReaderSize(b.file, 1<<16)
			var hdr [16]byte
			var data []byte
			for {
				if _, err := io.ReadFull(r, hdr[:]); err != nil {
					if errors.Is(err, io.EOF) {
						break
					}
					return fmt.Errorf("reading back streamed transaction %d: %w", b.xid, err)
				}
				n := int(binary.BigEndian.Uint32(hdr[12:]))
				if cap(data) < n {
					data = make([]byte, n)
				}
				data = data[:n]
				if _, err := io.ReadFull(r, data); err != nil {
					return fmt.Errorf("reading back streamed transaction %d: %w", b.xid, err)
				}
				if b.aborted[binary.BigEndian.Uint32(hdr[0:])] {
					continue
				}
				if err := s.handle(ctx, binary.BigEndian.Uint64(hdr[4:]), data); err != nil {
					return err
				}
			}
		}
		for i := range b.entries {
			e := &b.entries[i]
			if b.aborted[e.subxid] {
				continue
			}
			if err := s.handle(ctx, e.lsn, e.data); err != nil {
				return err
			}
		}
	}
	return s.commit(ctx, lsn, &commit)
}

// closeStreams removes every buffer (the streamer is ending; the server
// streams unfinished transactions again after a reconnect).
func (s *streamer) closeStreams() {
	for _, b := range s.streams {
		b.close()
	}
	s.streams, s.curStream, s.streamMem = nil, nil, 0
}
