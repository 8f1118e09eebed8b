package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/metrics"
	"time"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
)

// Task is the S3 sink task. The runtime calls Put, Flush, Open and Close
// from one goroutine; the task adds one goroutine at a time, the upload of
// a closed set (inflight), which it waits for before the next rotation and
// in Flush, Open, Close and Stop.
type Task struct {
	cfg    *Config
	tctx   connectors.SinkTaskContext
	log    *slog.Logger
	store  *store
	codecs *codecs
	now    func() time.Time
	parts  map[connectors.TopicPartition]*partState

	// upCtx is the context of background uploads, cancelled by Stop.
	upCtx    context.Context
	upCancel context.CancelFunc
	// inflight is the closed set being uploaded by a goroutine while the
	// task encodes the next records; nil when none. Only the task's
	// goroutine reads or writes it; the upload goroutine touches only the
	// set's files and closes done when it ends.
	inflight *inflight
	// mem is what the open, closing, uploading and uploaded sets hold in
	// memory (file.mem summed); with the free chunks (held), it is checked
	// against limit.
	mem int64
	// limit is what the objects may hold: Config.MemoryBytes less the
	// task's working reserve.
	limit int64
	// uploaded is the set whose upload wait saw end, still counted in mem
	// until release: the count changes where the task rotates, which the
	// records decide, not where an offset commit (Flush) happened to wait.
	uploaded *fileSet
	// chunks holds the objects' bytes outside the Go heap (chunk.go); its
	// free chunks, those of uploaded objects kept for the next objects,
	// count in the bound too.
	chunks *chunkPool
	// headroom is 100+GOGC: what a byte an encoder keeps on the Go heap
	// costs in resident memory, in percent (the collector lets the heap
	// grow that much over what is live before it collects).
	headroom int64
}

// inflight is a set uploaded in the background.
type inflight struct {
	st   *partState
	set  *fileSet
	done chan struct{}
	err  error // written before done is closed
}

var (
	_ connectors.SinkTask         = (*Task)(nil)
	_ connectors.PartitionWatcher = (*Task)(nil)
)

// NewTask returns a task; Start configures it.
func NewTask() *Task { return &Task{now: time.Now, parts: map[connectors.TopicPartition]*partState{}} }

// partState is what the task holds for one Kafka partition: the next
// offset it takes, the open set of objects and a closed set whose upload
// has not finished (it is retried before anything else).
type partState struct {
	tp        connectors.TopicPartition
	next      int64 // -1: take whatever comes
	recovered bool  // next was read from the objects
	set       *fileSet
	closing   *fileSet
	// path is the partition path of every record with the Default
	// partitioner ("partition=<n>"), built once rather than per record.
	path string
}

// fileSet is the objects of one Kafka partition opened and closed
// together, in the order they were opened (so in ascending start offset).
type fileSet struct {
	start     int64
	count     int
	baseTime  time.Time // the record time of the first record
	opened    time.Time // wall-clock, for rotate.schedule.interval.ms
	lastEnc   string
	schema    *connectors.Schema // of the first record: another one rotates the set
	hasSchema bool               // schema is taken (not by a JSON tombstone, which takes none)
	keySchema *connectors.Schema // likewise, with store.kafka.keys
	mem       int64              // file.mem of its files, summed
	byEnc     map[string]*file
	files     []*file
}

// mem is what f costs in resident memory: its chunks, whole (outside the
// Go heap), and what its encoder keeps on the heap with the collector's
// headroom.
func (f *file) mem() int64 {
	heap, chunks := f.enc.pending()
	return int64(f.buf.Cap()+chunks) + int64(heap)*f.headroom/100
}

type file struct {
	up       upload
	enc      encoder
	buf      chunkBuf
	headroom int64 // Task.headroom
	closed   bool
	done     bool
}

// workingReserve is the part of the bound kept for what the process's
// resident memory grows by with the task besides its objects' bytes: the
// SDK's requests and connections, the codecs' scratch buffers and their
// garbage with the collector's headroom, the goroutines' stacks, the code
// pages the first uploads touch (TestMemoryRSS: up to about 6.4 MiB
// together at GOGC=100, of which the Go heap 2.6-4.3 MiB; the heap's
// share grows with GOGC, 7.5 MiB at 200; docs/benchmarks.md). A quarter
// of the bound, at most 4 MiB times (100+GOGC)/100: 8 MiB at the default
// GOGC, 12 MiB at the worker's 200.
func workingReserve(bound, headroom int64) int64 { return min(bound/4, (4<<20)*headroom/100) }

// held is what the bound counts: the sets' memory and the free chunks.
func (t *Task) held() int64 { return t.mem + t.chunks.freeBytes() }

// gcHeadroom returns 100+GOGC, in percent. GOGC off or above 1000 (the
// setting of a process whose heap a memory limit bounds, GOMEMLIMIT) and a
// setting that cannot be read count as GOGC=100: the factor would
// otherwise make every heap byte count tens of times.
func gcHeadroom() int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 200
	}
	gogc := int64(s[0].Value.Uint64())
	if gogc <= 0 || gogc > 1000 {
		return 200
	}
	return 100 + gogc
}

// Start parses the config and checks that the bucket can be listed.
func (t *Task) Start(ctx context.Context, tctx connectors.SinkTaskContext, props map[string]string) error {
	cfg, err := ParseConfig(props)
	if err != nil {
		return err
	}
	t.cfg, t.tctx, t.log = cfg, tctx, tctx.Logger()
	t.store, err = newStore(ctx, cfg)
	if err != nil {
		return err
	}
	if err := t.store.check(ctx); err != nil {
		if retriable(err) {
			return connectors.Retry(err)
		}
		return err
	}
	t.codecs = newCodecs()
	// The free chunks are kept up to a quarter of the bound (and dropped
	// first when the bound is passed).
	t.chunks = &chunkPool{maxFree: int(min(cfg.MemoryBytes/4, 1<<30))}
	t.codecs.chunks = t.chunks
	t.headroom = gcHeadroom()
	t.limit = cfg.MemoryBytes - workingReserve(cfg.MemoryBytes, t.headroom)
	t.upCtx, t.upCancel = context.WithCancel(context.WithoutCancel(ctx))
	return nil
}

// Open recovers each partition's position from its newest object.
func (t *Task) Open(ctx context.Context, partitions []connectors.TopicPartition) error {
	_ = t.wait(ctx) // a failed upload stays its partition's closing set
	t.release()
	var first error
	for _, tp := range partitions {
		if old := t.parts[tp]; old != nil {
			t.drop(ctx, old)
		}
		st := &partState{tp: tp, next: -1}
		t.parts[tp] = st
		if err := t.recover(ctx, st); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// recover sets st.next to where the partition's objects end; until it
// succeeds, Put tries again before taking the partition's records (the
// runtime only logs an error of Open).
func (t *Task) recover(ctx context.Context, st *partState) error {
	r, err := t.store.resumeOffset(ctx, st.tp.Topic, st.tp.Partition)
	if err != nil {
		return t.uploadErr(err)
	}
	st.next, st.recovered = r, true
	if r >= 0 {
		t.log.Info("resuming from the newest object", "topic", st.tp.Topic, "partition", st.tp.Partition, "offset", r)
	}
	return nil
}

// Close drops what the task holds for partitions taken away, aborting
// their multipart uploads: another task writes them again from the
// committed offset.
func (t *Task) Close(ctx context.Context, partitions []connectors.TopicPartition) error {
	_ = t.wait(ctx) // a failed upload stays the partition's closing set, dropped below or retried later
	t.release()
	for _, tp := range partitions {
		if st := t.parts[tp]; st != nil {
			t.drop(ctx, st)
			delete(t.parts, tp)
		}
	}
	return nil
}

func (t *Task) drop(ctx context.Context, st *partState) {
	for _, set := range []*fileSet{st.closing, st.set} {
		if set == nil {
			continue
		}
		for _, f := range set.files {
			if !f.done {
				t.store.abort(ctx, &f.up)
			}
			f.enc.discard()
			f.buf.Reset() // no upload reads it: Open, Close and Stop wait for them
		}
		t.mem -= set.mem
	}
	st.set, st.closing = nil, nil
}

// Put adds the records to their partitions' open objects, closing and
// uploading a partition's objects when a rotation rule says so.
func (t *Task) Put(ctx context.Context, records []*connectors.Record) error {
	for _, r := range records {
		tp := connectors.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		st := t.parts[tp]
		if st == nil {
			// Open creates the state of every assigned partition, so a
			// transform renamed this record's topic (or changed its
			// partition). Objects are named, and offsets committed, by
			// the consumed topic and partition, as in Confluent's sink,
			// which does not support such transforms either: writing it
			// would let the consumed partition's offsets be committed
			// before its records are in S3.
			// A config error, not a bad record: it fails the task even
			// with errors.tolerance=all.
			return fmt.Errorf("record %s-%d@%d: topic %q partition %d is not one this task consumes: a transform (such as RegexRouter) renamed the topic or changed the partition; the S3 sink names objects and commits offsets by the consumed topic and partition, so remove that transform (to keep archives apart, use topics.dir)", r.Topic, r.Partition, r.Offset, r.Topic, r.Partition)
		}
		if !st.recovered {
			if err := t.recover(ctx, st); err != nil {
				return err
			}
		}
		if st.next >= 0 && r.Offset < st.next {
			continue // already in S3, or already taken before a retried Put
		}
		if err := t.commitClosing(ctx, st); err != nil {
			return err
		}
		if err := t.put(ctx, st, r); err != nil {
			return err
		}
		if t.held() > t.limit {
			if err := t.enforceMemory(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *Task) errant(ctx context.Context, st *partState, r *connectors.Record, err error) error {
	rerr := &connectors.RecordError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Err: err}
	if e := t.tctx.Errant(ctx, r, rerr); e != nil {
		return e
	}
	st.next = r.Offset + 1
	return nil
}

func (t *Task) put(ctx context.Context, st *partState, r *connectors.Record) error {
	cfg := t.cfg
	tombstone := r.Value == nil
	if tombstone && !cfg.WriteNulls {
		if cfg.IgnoreNulls {
			st.next = r.Offset + 1
			return nil
		}
		return t.errant(ctx, st, r, errors.New("the value is null (a tombstone); set behavior.on.null.values=ignore to skip such records, or write to archive them (the backup of a compacted topic)"))
	}
	var ts time.Time
	if cfg.usesTime() {
		var err error
		if ts, err = cfg.recordTime(r, t.now); err != nil {
			return t.errant(ctx, st, r, err)
		}
	}
	enc := st.path
	var err error
	if enc == "" || cfg.Partitioner != PartitionerDefault {
		if enc, err = cfg.encodePartition(r, ts); err != nil {
			return t.errant(ctx, st, r, err)
		}
		if cfg.Partitioner == PartitionerDefault {
			st.path = enc
		}
	}
	// Every object of the record is encoded before any is written, so a
	// record that does not fit one of them touches none.
	var data [numKinds]encoded
	if data[kindValues], err = t.codecs.encode(cfg, kindValues, r.ValueSchema, r.Value); err != nil {
		return t.errant(ctx, st, r, err)
	}
	if cfg.StoreKeys {
		if r.Key == nil {
			return t.errant(ctx, st, r, errors.New("store.kafka.keys=true, but the record has no key; set store.kafka.keys=false, or give the records keys"))
		}
		if data[kindKeys], err = t.codecs.encode(cfg, kindKeys, r.KeySchema, r.Key); err != nil {
			return t.errant(ctx, st, r, err)
		}
	}
	if cfg.StoreHeaders {
		if cfg.Format == FormatJSON {
			for _, h := range r.Headers {
				if !utf8.ValidString(h.Key) {
					// JSON would replace the bytes with U+FFFD: refuse
					// rather than store another key.
					return t.errant(ctx, st, r, fmt.Errorf("header key %q is not valid UTF-8, which a JSON line cannot hold unchanged; use format.class=avro or parquet, or set store.kafka.headers=false", h.Key))
				}
			}
		}
		if data[kindHeaders], err = t.codecs.encode(cfg, kindHeaders, headersSchema, t.codecs.headersValue(r.Headers)); err != nil {
			return t.errant(ctx, st, r, err)
		}
	}
	if cfg.StoreTimestamps {
		if data[kindTimestamps], err = t.codecs.encode(cfg, kindTimestamps, timestampSchema, timestampValue(r.Timestamp)); err != nil {
			return t.errant(ctx, st, r, err)
		}
	}
	if set := st.set; set != nil && set.count >= cfg.FlushSize {
		// Full, but its rotation failed to start the last time.
		if err := t.rotate(ctx, st); err != nil {
			return err
		}
	}
	// A JSON line null is the same in objects of any schema: in JSON, a
	// tombstone neither changes a set's value schema nor takes it.
	jsonTombstone := tombstone && cfg.Format == FormatJSON
	if set := st.set; set != nil {
		schemaChanged := !jsonTombstone && set.hasSchema && set.schema != r.ValueSchema && !codec.SchemaEqual(set.schema, r.ValueSchema) ||
			cfg.StoreKeys && set.keySchema != r.KeySchema && !codec.SchemaEqual(set.keySchema, r.KeySchema)
		if schemaChanged || t.rotateBefore(set, enc, ts) {
			if err := t.rotate(ctx, st); err != nil {
				return err
			}
		}
	}
	newSet := st.set == nil
	if newSet {
		st.set = &fileSet{start: r.Offset, baseTime: ts, opened: t.now(), keySchema: r.KeySchema, byEnc: map[string]*file{}}
	}
	set := st.set
	if !set.hasSchema && !jsonTombstone {
		set.schema, set.hasSchema = r.ValueSchema, true
	}
	var files [numKinds]*file
	for k := range numKinds {
		if k != kindValues && !cfg.stores(k) {
			continue
		}
		if files[k], err = t.fileFor(set, enc, r, k); err != nil {
			if k == kindValues {
				if newSet {
					st.set = nil
				}
				return t.errant(ctx, st, r, err)
			}
			return fmt.Errorf("opening the %s object: %w", k, err)
		}
	}
	set.count++
	set.lastEnc = enc
	st.next = r.Offset + 1
	for k, f := range files {
		if f != nil {
			if err := t.addTo(set, f, data[k]); err != nil {
				return err
			}
		}
	}
	// The record is in its objects (and counted in st.next) before any
	// network call: a failed part is sent again later, with more bytes.
	for _, f := range files {
		if f != nil {
			if err := t.sendFullPart(ctx, set, f); err != nil {
				return err
			}
		}
	}
	if set.count >= cfg.FlushSize {
		return t.rotate(ctx, st)
	}
	return nil
}

// enforceMemory closes the fullest open set until the open sets and the
// set being uploaded hold no more than t.limit (closing the
// next waits for that upload to end). Of sets holding as much, the first
// by topic and partition closes, so that the same records in the same
// order close the same sets (not the map's random order).
func (t *Task) enforceMemory(ctx context.Context) error {
	for {
		// Free chunks go first (a rotation may have released more).
		t.chunks.trim()
		if t.mem <= t.limit {
			return nil
		}
		var fullest *partState
		for _, st := range t.parts {
			if st.set == nil {
				continue
			}
			if fullest == nil || st.set.mem > fullest.set.mem ||
				st.set.mem == fullest.set.mem && (st.tp.Topic < fullest.tp.Topic || st.tp.Topic == fullest.tp.Topic && st.tp.Partition < fullest.tp.Partition) {
				fullest = st
			}
		}
		if fullest == nil {
			return nil // what is left is closing sets, uploaded before anything else
		}
		if err := t.rotate(ctx, fullest); err != nil {
			return err
		}
	}
}

// fileFor returns the object of kind of set for partition path enc,
// opening it for r when it is not open.
func (t *Task) fileFor(set *fileSet, enc string, r *connectors.Record, kind objectKind) (*file, error) {
	id := enc
	var schema *connectors.Schema
	switch kind {
	case kindValues:
		schema = r.ValueSchema
	case kindKeys:
		id, schema = enc+"\x00keys", r.KeySchema
	case kindHeaders:
		id, schema = enc+"\x00headers", headersSchema
	case kindTimestamps:
		id, schema = enc+"\x00timestamps", timestampSchema
	}
	if f := set.byEnc[id]; f != nil {
		return f, nil
	}
	f := &file{buf: chunkBuf{pool: t.chunks}, headroom: t.headroom}
	f.up = upload{key: t.store.objectKey(r.Topic, r.Partition, enc, r.Offset, kind), setStart: set.start}
	var err error
	if f.enc, err = t.codecs.newEncoder(t.cfg, f.up.key, kind, schema, &f.buf); err != nil {
		return nil, err
	}
	set.byEnc[id] = f
	set.files = append(set.files, f)
	// What a new object holds before its first record (an Avro header,
	// parquet-go's column buffers) counts too.
	d := f.mem()
	set.mem += d
	t.mem += d
	return f, nil
}

// addTo appends one encoded record to f, counting its memory.
func (t *Task) addTo(set *fileSet, f *file, data encoded) error {
	before := f.mem()
	if err := f.enc.add(data); err != nil {
		return fmt.Errorf("writing %s: %w", f.up.key, err)
	}
	d := f.mem() - before
	set.mem += d
	t.mem += d
	return nil
}

// sendFullPart sends f's buffer as a part once it holds s3.part.size.
func (t *Task) sendFullPart(ctx context.Context, set *fileSet, f *file) error {
	if f.buf.Len() >= t.cfg.PartSize {
		before := f.mem()
		if err := t.store.sendPart(ctx, &f.up, &f.buf); err != nil {
			return t.uploadErr(err)
		}
		f.buf.Reset()
		d := f.mem() - before
		set.mem += d
		t.mem += d
	}
	return nil
}

// rotateBefore reports whether the open set must be closed before a record
// with partition path enc and time ts joins it.
func (t *Task) rotateBefore(set *fileSet, enc string, ts time.Time) bool {
	cfg := t.cfg
	if cfg.RotateInterval > 0 && (ts.Sub(set.baseTime) >= cfg.RotateInterval || (cfg.timeBased() && enc != set.lastEnc)) {
		return true
	}
	return cfg.RotateSchedule > 0 && t.now().Sub(set.opened) >= cfg.RotateSchedule
}

// rotate closes the open set of st and starts its upload in the
// background, once the previous background upload is over: sets are
// uploaded one at a time, in the order they closed, so an object of a set
// exists only once every earlier set is complete (what resumeOffset relies
// on).
func (t *Task) rotate(ctx context.Context, st *partState) error {
	if err := t.wait(ctx); err != nil {
		return err
	}
	t.release()
	if err := t.commitClosing(ctx, st); err != nil {
		return err
	}
	set := st.set
	st.set = nil
	// The encoders close here rather than in the upload goroutine: the
	// last bytes they write take chunks from the pool, which only this
	// goroutine uses, and count where the records put them.
	for _, f := range set.files {
		before := f.mem()
		if err := f.enc.close(); err != nil {
			st.closing = set // closed again before its upload
			return fmt.Errorf("closing %s: %w", f.up.key, err)
		}
		f.closed = true
		d := f.mem() - before
		set.mem += d
		t.mem += d
	}
	// set.mem stays in t.mem until the upload is over: the bound holds
	// what is being uploaded too.
	in := &inflight{st: st, set: set, done: make(chan struct{})}
	t.inflight = in
	go func() {
		defer close(in.done)
		in.err = connectors.Protect(func() error { return t.uploadSet(t.upCtx, set) })
	}()
	return nil
}

// wait waits for the background upload. When it failed, its set becomes
// its partition's closing set, whose remaining objects the next Put or
// Flush uploads again, and the error is returned.
func (t *Task) wait(ctx context.Context) error {
	in := t.inflight
	if in == nil {
		return nil
	}
	select {
	case <-in.done:
	case <-ctx.Done():
		return connectors.Retry(fmt.Errorf("waiting for the upload of a closed set of %s-%d: %w", in.st.tp.Topic, in.st.tp.Partition, ctx.Err()))
	}
	t.inflight = nil
	if in.err != nil {
		in.st.closing = in.set // its memory still counted
		return t.uploadErr(in.err)
	}
	t.release() // an earlier one, if no rotation came between (none does)
	t.uploaded = in.set
	return nil
}

// release stops counting the uploaded set, giving its chunks back to the
// pool: its upload returned, and every request reading them with it.
func (t *Task) release() {
	set := t.uploaded
	if set == nil {
		return
	}
	t.uploaded = nil
	t.mem -= set.mem
	for _, f := range set.files {
		f.buf.Reset()
	}
}

// uploadSet closes and uploads the objects of set that are not done yet,
// in the order they were opened.
func (t *Task) uploadSet(ctx context.Context, set *fileSet) error {
	for _, f := range set.files {
		if f.done {
			continue
		}
		if !f.closed {
			if err := f.enc.close(); err != nil {
				return fmt.Errorf("closing %s: %w", f.up.key, err)
			}
			f.closed = true
		}
		if err := t.store.finish(ctx, &f.up, &f.buf); err != nil {
			return err
		}
		f.done = true // its buffer is kept for release
	}
	return nil
}

// commitClosing uploads what is left of the closed set of st, in the order
// its objects were opened.
func (t *Task) commitClosing(ctx context.Context, st *partState) error {
	if st.closing == nil {
		return nil
	}
	if err := t.uploadSet(ctx, st.closing); err != nil {
		return t.uploadErr(err)
	}
	t.mem -= st.closing.mem
	for _, f := range st.closing.files {
		f.buf.Reset()
	}
	st.closing = nil
	return nil
}

func (t *Task) uploadErr(err error) error {
	if retriable(err) {
		return connectors.Retry(err)
	}
	return err
}

// Flush reports, per partition, the first offset of its open objects
// (what is before it is in S3), or the next offset when nothing is open.
// It finishes uploads that failed before and applies
// rotate.schedule.interval.ms; it does not close objects otherwise, so
// that the objects depend only on the records.
func (t *Task) Flush(ctx context.Context, current map[connectors.TopicPartition]int64) (map[connectors.TopicPartition]int64, error) {
	if err := t.wait(ctx); err != nil {
		return nil, err
	}
	for _, st := range t.parts {
		if err := t.commitClosing(ctx, st); err != nil {
			return nil, err
		}
		if st.set != nil && t.cfg.RotateSchedule > 0 && t.now().Sub(st.set.opened) >= t.cfg.RotateSchedule {
			if err := t.rotate(ctx, st); err != nil {
				return nil, err
			}
		}
	}
	// The sets rotated just now may still be uploading.
	if err := t.wait(ctx); err != nil {
		return nil, err
	}
	out := make(map[connectors.TopicPartition]int64, len(current))
	for tp, off := range current {
		if st := t.parts[tp]; st != nil && st.set != nil {
			out[tp] = st.set.start
			continue
		}
		out[tp] = off
	}
	return out, nil
}

// Stop aborts the multipart uploads of open objects; their records are
// written again from the committed offsets.
func (t *Task) Stop(ctx context.Context) error {
	if t.upCancel == nil {
		return nil // Start failed
	}
	t.upCancel()
	if in := t.inflight; in != nil {
		<-in.done
		t.inflight = nil
		if in.err != nil {
			in.st.closing = in.set
		} else {
			t.release()
			t.uploaded = in.set
		}
	}
	t.release()
	for tp, st := range t.parts {
		t.drop(ctx, st)
		delete(t.parts, tp)
	}
	t.chunks.trim() // every chunk is free now: the mappings go
	return nil
}
