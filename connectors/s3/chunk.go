package s3

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// The bytes of the objects a task writes (JSON lines, Avro blocks, the
// Parquet pages written out, the parts waiting to be uploaded) live in
// chunks of memory mapped outside the Go heap. The garbage collector lets
// the heap grow to (1+GOGC/100) times what is live before it collects, so
// a buffer on the heap costs about twice its size in resident memory; a
// chunk costs its size. This is what lets sluice.s3.memory.bytes bound the
// process's resident memory rather than half of it.
//
// Ownership: a chunkBuf belongs to one object. The task's goroutine
// writes it while the object is open; once its set is closed, the upload
// goroutine (or the task's, for a closing set) reads it through
// chunkReaders; its chunks go back to the pool only in Task.release,
// after the upload that read them returned, and a chunkReader is fenced
// when its request returns, so that an HTTP transport still holding the
// body (a retry, a connection closed late) reads nothing from a chunk
// that was reused or unmapped.

// chunkSize is the size of one chunk. An object's last chunk is partly
// empty (100 open objects waste 3.2 MiB on average), and the bound
// counts whole chunks; a smaller chunk means more mappings.
const chunkSize = 64 << 10

// chunkPool hands out chunks and keeps returned ones for reuse, up to
// maxFree bytes (the rest is unmapped). It is used from the task's
// goroutine only: the upload goroutine reads chunks but neither takes
// nor returns any.
type chunkPool struct {
	free    [][]byte
	maxFree int
	// mapped counts the chunks mapped and not yet unmapped (in objects
	// and free), for tests and Stop.
	mapped     int
	peakMapped int
}

// get returns a chunk of chunkSize bytes (contents undefined).
func (p *chunkPool) get() ([]byte, error) {
	if n := len(p.free); n > 0 {
		c := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return c, nil
	}
	c, err := mapChunk()
	if err != nil {
		return nil, fmt.Errorf("mapping a %d KiB chunk for object bytes: %w; lower sluice.s3.memory.bytes or give the worker more memory", chunkSize>>10, err)
	}
	p.mapped++
	p.peakMapped = max(p.peakMapped, p.mapped)
	return c, nil
}

// put takes back chunks no reader will read again.
func (p *chunkPool) put(chunks [][]byte) {
	for _, c := range chunks {
		if (len(p.free)+1)*chunkSize > p.maxFree {
			p.unmap(c)
			continue
		}
		if poisonFreed {
			for i := range c {
				c[i] = poisonByte
			}
		}
		p.free = append(p.free, c)
	}
}

// freeBytes is what the free chunks hold.
func (p *chunkPool) freeBytes() int64 { return int64(len(p.free)) * chunkSize }

// trim unmaps the free chunks.
func (p *chunkPool) trim() {
	for i, c := range p.free {
		p.unmap(c)
		p.free[i] = nil
	}
	p.free = p.free[:0]
}

func (p *chunkPool) unmap(c []byte) {
	unmapChunk(c)
	p.mapped--
}

// poisonFreed makes put overwrite every chunk it takes back with
// poisonByte, so that a chunk reused while an upload still read it would
// show in the uploaded object (tests set it).
var poisonFreed = false

const poisonByte = 0xDB

// chunkBuf is the bytes of one object not yet sent, in chunks of its
// task's pool. Not safe for concurrent use; see the ownership note above.
type chunkBuf struct {
	pool   *chunkPool
	chunks [][]byte
	n      int // bytes written
}

// Write appends p, taking chunks from the pool as needed. It fails only
// when no chunk can be mapped.
func (b *chunkBuf) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		i, off := b.n/chunkSize, b.n%chunkSize
		if i == len(b.chunks) {
			c, err := b.pool.get()
			if err != nil {
				return written, err
			}
			b.chunks = append(b.chunks, c)
		}
		k := copy(b.chunks[i][off:], p)
		b.n += k
		written += k
		p = p[k:]
	}
	return written, nil
}

// Len is the number of bytes written.
func (b *chunkBuf) Len() int { return b.n }

// Cap is what the buffer holds: its chunks, whole.
func (b *chunkBuf) Cap() int { return len(b.chunks) * chunkSize }

// Reset gives the chunks back to the pool. The caller guarantees that no
// reader of them is still in use (each was fenced).
func (b *chunkBuf) Reset() {
	b.pool.put(b.chunks)
	clear(b.chunks)
	b.chunks = b.chunks[:0]
	b.n = 0
}

// writeTo writes the bytes to w, chunk by chunk.
func (b *chunkBuf) writeTo(w io.Writer) error {
	for i, rest := 0, b.n; rest > 0; i++ {
		k := min(rest, chunkSize)
		if _, err := w.Write(b.chunks[i][:k]); err != nil {
			return err
		}
		rest -= k
	}
	return nil
}

// Bytes copies the bytes into one slice on the heap (tests).
func (b *chunkBuf) Bytes() []byte {
	out := make([]byte, 0, b.n)
	for i, rest := 0, b.n; rest > 0; i++ {
		k := min(rest, chunkSize)
		out = append(out, b.chunks[i][:k]...)
		rest -= k
	}
	return out
}

// reader returns a reader of the bytes written so far, for one request;
// the caller fences it once the request returned.
func (b *chunkBuf) reader() *chunkReader {
	return &chunkReader{chunks: b.chunks, size: b.n}
}

// chunkReader is an io.ReadSeeker over a chunkBuf's bytes, the body of
// one request (the SDK seeks back to the start to retry). Once fenced, it
// reads nothing: the chunks may then be reused.
type chunkReader struct {
	mu     sync.Mutex
	chunks [][]byte
	size   int
	off    int
	fenced bool
}

var errFenced = errors.New("object bytes read after their request returned")

func (r *chunkReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fenced {
		return 0, errFenced
	}
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := 0
	for len(p) > 0 && r.off < r.size {
		i, off := r.off/chunkSize, r.off%chunkSize
		end := min(chunkSize, r.size-i*chunkSize)
		k := copy(p, r.chunks[i][off:end])
		r.off += k
		n += k
		p = p[k:]
	}
	return n, nil
}

func (r *chunkReader) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = offset
	case io.SeekCurrent:
		pos = int64(r.off) + offset
	case io.SeekEnd:
		pos = int64(r.size) + offset
	default:
		return 0, fmt.Errorf("object reader: seek whence %d", whence)
	}
	if pos < 0 {
		return 0, fmt.Errorf("object reader: seek to %d", pos)
	}
	r.off = int(pos)
	return pos, nil
}

// fence makes every later Read fail; it waits for a Read in progress.
func (r *chunkReader) fence() {
	r.mu.Lock()
	r.fenced, r.chunks = true, nil
	r.mu.Unlock()
}
