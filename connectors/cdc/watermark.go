package cdc

import "strings"

// Incremental snapshots read a table in chunks while the log streams,
// with DBLog's watermark method, as Debezium's incremental snapshots do:
//
//  1. write a low watermark into the log, 2. read the chunk, 3. write a
//     high watermark;
//  4. while the stream is between the two watermarks, every change to a
//     key of the chunk drops that key from the chunk (the stream's value
//     is newer);
//  5. at the high watermark the remaining rows are emitted as op "r" with
//     source.snapshot "incremental".
//
// How a watermark is written and recognised is the source's (PostgreSQL:
// a non-transactional logical decoding message; MySQL: a row of a signal
// table or a binlog event); Window keeps step 4 and the watermark's
// content names the read it belongs to.

// Kinds of watermark.
const (
	WatermarkLow  = "L"
	WatermarkHigh = "H"
)

// WatermarkContent is the content of a watermark of kind (WatermarkLow or
// WatermarkHigh) for the read id.
func WatermarkContent(kind, id string) string { return kind + ":" + id }

// ParseWatermark splits a watermark's content into its kind and the id
// of its read.
func ParseWatermark(content []byte) (kind, id string) {
	kind, id, _ = strings.Cut(string(content), ":")
	return kind, id
}

// Window is the watermark window of the chunk being read: the keys that
// changed in the stream between its low and high watermarks. The zero
// value is closed, with no read. It is used by the streaming goroutine
// only.
type Window struct {
	id   string
	open bool
	seen map[string]struct{}
}

// Start begins the read id: the window is closed until its low watermark
// and remembers no key.
func (w *Window) Start(id string) {
	w.id = id
	w.Close()
}

// ID returns the id of the current read.
func (w *Window) ID() string { return w.id }

// Open opens the window at the read's low watermark.
func (w *Window) Open() { w.open = true }

// IsOpen reports whether the stream is between the low and high
// watermarks of the read.
func (w *Window) IsOpen() bool { return w.open }

// Close closes the window and forgets the keys it saw (at the high
// watermark, or when the read is abandoned); the id stays.
func (w *Window) Close() {
	w.open = false
	clear(w.seen)
}

// Note records that the row with key changed in the stream while the
// window is open; closed, it does nothing.
func (w *Window) Note(key string) {
	if !w.open {
		return
	}
	if w.seen == nil {
		w.seen = map[string]struct{}{}
	}
	w.seen[key] = struct{}{}
}

// Changed reports whether the row with key changed inside the window:
// the chunk's copy of it is older than the stream's and must be dropped.
func (w *Window) Changed(key string) bool {
	_, ok := w.seen[key]
	return ok
}

// ChangedCount returns how many keys changed inside the window.
func (w *Window) ChangedCount() int { return len(w.seen) }
