package s3

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
	"github.com/sluice-cdc/sluice/connectors/codec/connectjson"
)

// Source partition and offset fields of restored records: the partition
// is the archived topic partition, the offset the object and the index
// of the record in it (0-based) of the last record produced.
const (
	RestorePartitionTopic = "topic"
	RestorePartitionNum   = "partition"
	RestoreOffsetObject   = "object"
	RestoreOffsetRecord   = "record"
)

// restoreIdleWait is how long Poll waits before returning an empty batch
// once every object is restored.
const restoreIdleWait = time.Second

// RestoreTask is an s3-restore source task: it reads the objects of its
// topic partitions in order and returns their records. Poll is called
// from one goroutine; Stop may be called from another and makes a
// blocked Poll return.
type RestoreTask struct {
	cfg    *RestoreConfig
	log    *slog.Logger
	store  *store
	codecs *restoreCodecs
	parts  []*restorePart
	// stopCtx is cancelled by Stop; Poll's S3 reads end with it.
	stopCtx context.Context
	stop    context.CancelFunc
	// mu is held by Poll; Stop takes it, after cancelling stopCtx, to
	// close the open object.
	mu struct {
		sync.Mutex
		cur      *openObject
		finished bool // every object read (logged once)
	}
}

// restorePart is one archived topic partition of the task.
type restorePart struct {
	tp      topicPartition
	target  string
	sp      map[string]any
	objects []archived
	// next is the index in objects of the object being read or to read
	// next; skip the records of it already produced (the committed
	// offset, or a read that failed midway).
	next int
	skip int64
}

// openObject is the object being read.
type openObject struct {
	part   *restorePart
	obj    archived
	values recordReader
	// side holds, by kind, the readers of the objects beside the values'
	// (keys, headers, timestamps), read in step with them.
	side [numKinds]recordReader
	// index is the number of records read from it so far; filtered
	// whether the last of them was left out by the time range.
	index    int64
	filtered bool
}

var _ connectors.SourceTask = (*RestoreTask)(nil)

// NewRestoreTask returns a task; Start configures it.
func NewRestoreTask() *RestoreTask { return &RestoreTask{} }

// Start parses the task config, lists the objects of the task's topic
// partitions and positions each after its committed offset.
func (t *RestoreTask) Start(ctx context.Context, tctx connectors.SourceTaskContext, props map[string]string) error {
	cfg, err := parseRestoreTask(props)
	if err != nil {
		return fmt.Errorf("s3-restore task: %w", err)
	}
	t.cfg, t.log = cfg, tctx.Logger()
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.store, err = newStore(ctx, cfg.S3); err != nil {
		return err
	}
	t.codecs = newRestoreCodecs()
	only := map[topicPartition]bool{}
	for _, tp := range cfg.Partitions {
		only[tp] = true
	}
	arch := archive{}
	listed := map[string]bool{}
	for _, tp := range cfg.Partitions {
		if listed[tp.topic] {
			continue
		}
		listed[tp.topic] = true
		if err := listArchive(ctx, t.store, cfg, tp.topic, only, arch); err != nil {
			return t.fail(err)
		}
	}
	for _, tp := range cfg.Partitions {
		p := &restorePart{tp: tp, target: cfg.target(tp.topic), objects: arch[tp],
			sp: map[string]any{RestorePartitionTopic: tp.topic, RestorePartitionNum: int64(tp.partition)}}
		off, err := tctx.Offset(ctx, p.sp)
		if err != nil {
			return fmt.Errorf("s3-restore task: reading the committed offset of %s: %w", tp, err)
		}
		if err := p.resume(t.cfg.S3.TopicsDir, off); err != nil {
			return fmt.Errorf("s3-restore task: committed offset %v of %s: %w; reset the connector's offsets (DELETE /connectors/{name}/offsets on a stopped connector) to restore from the start", off, tp, err)
		}
		t.parts = append(t.parts, p)
		t.log.Info("restoring", "topic", tp.topic, "partition", tp.partition, "target", p.target,
			"objects", len(p.objects), "from_object", p.next, "skip_records", p.skip)
	}
	t.stopCtx, t.stop = context.WithCancel(context.WithoutCancel(ctx))
	return nil
}

// fail returns err as a retriable error when S3 may recover.
func (t *RestoreTask) fail(err error) error {
	if retriable(err) {
		return connectors.Retry(err)
	}
	return err
}

// resume positions p after the committed offset off (nil: from the
// start): at the committed object, past its committed record; or, when
// that object is gone, at the first object after it in restore order.
func (p *restorePart) resume(topicsDir string, off map[string]any) error {
	if off == nil {
		return nil
	}
	key, _ := off[RestoreOffsetObject].(string)
	rec, ok := offsetInt(off[RestoreOffsetRecord])
	if key == "" || !ok || rec < 0 {
		return fmt.Errorf("want {%q: <object key>, %q: <record index>}", RestoreOffsetObject, RestoreOffsetRecord)
	}
	o, _, ok := parseObjectName(topicsDir, p.tp.topic, key)
	if !ok || o.partition != p.tp.partition {
		return fmt.Errorf("object %q is not an object of %s under topics.dir", key, p.tp)
	}
	p.next = len(p.objects)
	for i, x := range p.objects {
		if c := compareArchived(x, o); c >= 0 {
			p.next = i
			if c == 0 {
				p.skip = rec + 1
			}
			break
		}
	}
	return nil
}

// offsetInt reads an integer of a committed offset, which comes back from
// the offsets store through JSON.
func offsetInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, false
		}
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// Poll returns the next records, up to s3.restore.batch.size, of the
// first topic partition not restored yet. Once everything is restored it
// waits a second and returns an empty batch.
func (t *RestoreTask) Poll(ctx context.Context) ([]*connectors.Record, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(t.stopCtx, cancel)
	defer stop()

	// Only the last record of each topic partition in the batch gets a
	// source offset: the runtime commits a partition's offset once every
	// record before it is acknowledged, so it covers the others, and a
	// batch builds one offset map per partition rather than one per
	// record. A crash before it is committed replays those records (with
	// exactly.once.source.support, the batch is one transaction: nothing
	// is replayed).
	var batch []*connectors.Record
	var last *connectors.Record
	var lastObj *openObject
	var lastIdx int64
	settle := func() {
		if last != nil {
			last.SourceOffset = lastObj.offset(lastIdx)
			last = nil
		}
	}
	defer settle()
	for len(batch) < t.cfg.BatchSize {
		if err := ctx.Err(); err != nil {
			return partial(batch, err)
		}
		cur := t.mu.cur
		if cur == nil {
			p := t.nextPart()
			if p == nil {
				break
			}
			var err error
			// The object outlives this Poll: its body is read by the
			// next ones, so its request ends with the task (Stop), not
			// with this Poll's context.
			if cur, err = t.open(t.stopCtx, p); err != nil {
				return partial(batch, err)
			}
			t.mu.cur = cur
		}
		r, err := t.read(cur)
		if err == io.EOF {
			if cur.filtered && cur.index > 0 {
				// Move the committed position past the records left
				// out: an offset marker.
				if last != nil && lastObj.part == cur.part {
					last = nil
				}
				batch = append(batch, &connectors.Record{SourcePartition: cur.part.sp, SourceOffset: cur.offset(cur.index - 1)})
			}
			t.closeCur()
			cur.part.next++
			cur.part.skip = 0
			continue
		}
		if err != nil {
			// Read again from the object's start, skipping what was
			// produced, when the task goes on.
			cur.part.skip = cur.index
			t.closeCur()
			return partial(batch, err)
		}
		if r != nil {
			if last != nil && lastObj.part != cur.part {
				settle()
			}
			batch = append(batch, r)
			last, lastObj, lastIdx = r, cur, cur.index-1
		}
	}
	settle()
	if len(batch) == 0 && t.nextPart() == nil {
		if !t.mu.finished {
			t.mu.finished = true
			t.log.Info("every archived object of the task's partitions is restored; the task now idles (restart it to read objects written since)")
		}
		timer := time.NewTimer(restoreIdleWait)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
	return batch, nil
}

// partial returns what Poll read before err. The runtime drops the
// records of a Poll that fails, while the task's position is already
// past them: a batch that holds records is returned without the error,
// and the next Poll meets the error again (a failed read reopens the
// object, skipping what was returned) and returns it with nothing.
func partial(batch []*connectors.Record, err error) ([]*connectors.Record, error) {
	if len(batch) > 0 {
		return batch, nil
	}
	return nil, err
}

func (o *openObject) offset(index int64) map[string]any {
	return map[string]any{RestoreOffsetObject: o.obj.key, RestoreOffsetRecord: index}
}

// nextPart returns the first partition with objects left.
func (t *RestoreTask) nextPart() *restorePart {
	for _, p := range t.parts {
		if p.next < len(p.objects) {
			return p
		}
	}
	return nil
}

// open opens the next object of p (and the objects beside it) and skips
// the records already produced.
func (t *RestoreTask) open(ctx context.Context, p *restorePart) (*openObject, error) {
	obj := p.objects[p.next]
	o := &openObject{part: p, obj: obj}
	var err error
	if o.values, err = t.reader(ctx, obj.key, obj.ext); err != nil {
		return nil, err
	}
	for k := kindKeys; k < numKinds; k++ {
		if !t.cfg.reads(k) {
			continue
		}
		if obj.side[k] == "" {
			if k == kindTimestamps && t.cfg.byKafkaTime() {
				o.close()
				return nil, fmt.Errorf("object %s has no timestamps object beside it (%s+%d+%010d.timestamps.%s): the sink did not store Kafka timestamps (sluice.store.kafka.timestamps=false), so s3.restore.start.time and s3.restore.end.time cannot place its records; set s3.restore.time.field to a value field holding their time", obj.key, obj.topic, obj.partition, obj.start, obj.ext)
			}
			if k == kindTimestamps {
				// Written without sluice.store.kafka.timestamps: the
				// records get the producer's time.
				continue
			}
			o.close()
			prop := StoreKafkaKeys
			if k == kindHeaders {
				prop = StoreKafkaHeaders
			}
			return nil, fmt.Errorf("object %s has no %s object beside it (%s+%d+%010d.%s%s) though %s=true; set %s=false to restore the records without %s", obj.key, k, obj.topic, obj.partition, obj.start, k.infix(), obj.ext, prop, prop, k)
		}
		if o.side[k], err = t.reader(ctx, obj.side[k], obj.ext); err != nil {
			o.close()
			return nil, err
		}
	}
	for o.index < p.skip {
		if _, err := t.read(o); err != nil {
			if err == io.EOF {
				err = fmt.Errorf("object %s holds %d records, fewer than the %d the committed offset says were produced (rewritten since?)", obj.key, o.index, p.skip)
			}
			o.close()
			return nil, err
		}
	}
	return o, nil
}

// reader opens one object for reading.
func (t *RestoreTask) reader(ctx context.Context, key, ext string) (recordReader, error) {
	out, err := t.store.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(t.cfg.S3.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, t.fail(t.store.explain("reading "+key, err))
	}
	r, err := t.codecs.newRecordReader(ext, out.Body)
	if err != nil {
		return nil, t.readErr(key, 0, err)
	}
	return r, nil
}

// read reads the next record of o: nil (and no error) when the time range
// leaves it out; io.EOF after the last.
func (t *RestoreTask) read(o *openObject) (*connectors.Record, error) {
	vs, v, err := o.values.next()
	if err == io.EOF {
		for k, sr := range o.side {
			if sr == nil {
				continue
			}
			if _, _, serr := sr.next(); serr != io.EOF {
				if serr == nil {
					serr = fmt.Errorf("%s object %s holds more records than %s (%d)", objectKind(k), o.obj.side[k], o.obj.key, o.index)
				}
				return nil, t.readErr(o.obj.side[k], o.index, serr)
			}
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, t.readErr(o.obj.key, o.index, err)
	}
	r := &connectors.Record{Topic: o.part.target, Partition: o.obj.partition, PinPartition: t.cfg.KeepPartitions,
		ValueSchema: vs, Value: v, SourcePartition: o.part.sp}
	for k, sr := range o.side {
		if sr == nil {
			continue
		}
		kind := objectKind(k)
		ss, sv, err := sr.next()
		if err == io.EOF {
			err = fmt.Errorf("%s object %s holds fewer records than %s", kind, o.obj.side[k], o.obj.key)
		}
		if err == nil {
			err = setSide(r, kind, ss, sv)
		}
		if err != nil {
			return nil, t.readErr(o.obj.side[k], o.index, err)
		}
	}
	o.index++
	o.filtered = false
	if t.cfg.filters() {
		ts := r.Timestamp
		if t.cfg.TimeField != "" {
			if v == nil {
				return nil, fmt.Errorf("record %d of object %s is a tombstone (a null value), which has no field %s; leave s3.restore.time.field empty to filter by the Kafka timestamps the sink stored (sluice.store.kafka.timestamps=true)", o.index-1, o.obj.key, t.cfg.TimeField)
			}
			if ts, err = timeField(v, t.cfg.TimeField, RestoreTimeField); err != nil {
				return nil, fmt.Errorf("record %d of object %s: %w", o.index-1, o.obj.key, err)
			}
		} else if ts.IsZero() {
			return nil, fmt.Errorf("record %d of object %s: no Kafka timestamp stored for it, so s3.restore.start.time and s3.restore.end.time cannot place it; set s3.restore.time.field to a value field holding its time", o.index-1, o.obj.key)
		}
		if ts.Before(t.cfg.Start) || !t.cfg.End.IsZero() && !ts.Before(t.cfg.End) {
			o.filtered = true
			return nil, nil
		}
	}
	if !t.cfg.KeepTimestamps {
		r.Timestamp = time.Time{} // read for the time range only
	}
	return r, nil
}

// setSide gives r what an object beside its value's holds for it: its
// key, headers or Kafka timestamp.
func setSide(r *connectors.Record, kind objectKind, s *connectors.Schema, v any) error {
	switch kind {
	case kindKeys:
		r.KeySchema, r.Key = s, v
	case kindHeaders:
		hs, err := headersFrom(v)
		if err != nil {
			return err
		}
		r.Headers = hs
	case kindTimestamps:
		if v == nil {
			return nil
		}
		ms, ok := v.(int64)
		if !ok {
			return codec.Errorf("a stored timestamp is %T, not epoch milliseconds", v)
		}
		r.Timestamp = time.UnixMilli(ms).UTC()
	}
	return nil
}

// headersFrom reads a record's headers as a headers object holds them:
// an array of {key, value} structs (Avro, Parquet) or, from JSON lines,
// of objects whose value is base64 or null.
func headersFrom(v any) ([]connectors.Header, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, codec.Errorf("stored headers are %T, not an array of {key, value}", v)
	}
	if len(items) == 0 {
		return nil, nil
	}
	out := make([]connectors.Header, len(items))
	for i, it := range items {
		var key, val any
		switch h := it.(type) {
		case *connectors.StructValue:
			key, val = h.Get("key"), h.Get("value")
		case []connectors.MapEntry:
			for _, e := range h {
				switch e.Key {
				case "key":
					key = e.Value
				case "value":
					val = e.Value
				}
			}
		default:
			return nil, codec.Errorf("stored header %d is %T, not {key, value}", i, it)
		}
		k, ok := key.(string)
		if !ok {
			return nil, codec.Errorf("stored header %d has no string key", i)
		}
		out[i].Key = k
		switch b := val.(type) {
		case nil:
		case []byte:
			out[i].Value = b
		case string: // JSON: base64, as the JsonConverter writes bytes
			d, err := base64.StdEncoding.DecodeString(b)
			if err != nil {
				return nil, codec.Errorf("stored header %q: value is not base64: %v", k, err)
			}
			out[i].Value = d
		default:
			return nil, codec.Errorf("stored header %q: value is %T, not bytes", k, val)
		}
	}
	return out, nil
}

// readErr names the object and record of a read error; data that cannot
// be decoded fails the task, anything else (the connection) is retried.
func (t *RestoreTask) readErr(key string, index int64, err error) error {
	err = fmt.Errorf("reading record %d of object %s in bucket %q: %w", index, key, t.cfg.S3.Bucket, err)
	var de *codec.DataError
	var se *connectjson.SyntaxError
	var fe *formatError
	if errors.As(err, &de) || errors.As(err, &se) || errors.As(err, &fe) {
		return err
	}
	return connectors.Retry(err)
}

// formatError is an object whose bytes are not of its format.
type formatError struct{ msg string }

func (e *formatError) Error() string { return e.msg }

func formatErrorf(format string, args ...any) error {
	return &formatError{msg: fmt.Sprintf(format, args...)}
}

func (t *RestoreTask) closeCur() {
	if t.mu.cur != nil {
		t.mu.cur.close()
		t.mu.cur = nil
	}
}

func (o *openObject) close() {
	if o.values != nil {
		o.values.close()
	}
	for _, sr := range o.side {
		if sr != nil {
			sr.close()
		}
	}
}

// Stop makes a blocked Poll return and closes the open object.
func (t *RestoreTask) Stop(ctx context.Context) error {
	if t.stop == nil {
		return nil // Start failed
	}
	t.stop()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closeCur()
	return nil
}
