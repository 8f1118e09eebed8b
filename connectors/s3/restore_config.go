package s3

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
)

// Properties of the s3-restore source (besides the S3 sink's connection
// properties, topics, topics.dir, format.class, store.kafka.keys and
// store.kafka.headers, which it shares).
const (
	RestoreTopicRename    = "s3.restore.topic.rename"
	RestoreKeepPartitions = "s3.restore.keep.partitions"
	RestoreStartTime      = "s3.restore.start.time"
	RestoreEndTime        = "s3.restore.end.time"
	RestoreTimeField      = "s3.restore.time.field"
	RestorePathPrefix     = "s3.restore.path.prefix"
	RestoreBatchSize      = "s3.restore.batch.size"
	RestoreKeepTimestamps = "s3.restore.keep.timestamps"
	// RestoreTaskPartitions is set by the connector in each task's
	// config: the topic partitions the task restores.
	RestoreTaskPartitions = "s3.restore.task.partitions"
)

const groupRestore = "Restore"

// shared returns the S3 sink's definition of name, with doc in place of
// its documentation when doc is not empty.
func shared(name, doc string) config.Key {
	k, ok := def.Key(name)
	if !ok {
		panic("s3: no sink property " + name)
	}
	out := *k
	if doc != "" {
		out.Doc = doc
	}
	return out
}

var restoreDef = config.NewDef(
	shared(BucketName, "The bucket the S3 sink wrote the objects to. It must exist."),
	shared(Region, ""),
	shared(StoreURL, ""),
	shared(PathStyle, ""),
	shared(AccessKeyID, ""),
	shared(SecretAccessKey, ""),
	shared(PartRetries, "Times an S3 request that failed with a server error (5xx), a throttle or a timeout is retried before the task reports a retriable error (which the runtime retries for errors.retry.timeout before the task fails)."),
	shared(RetryBackoffMs, ""),
	config.Key{Name: Topics, Type: config.List, Default: config.NoDefault, Importance: config.High,
		Group: groupFormat, Order: 1, DisplayName: "Topics",
		Doc: "The archived topics to restore: the directories <topics.dir>/<topic>/ the S3 sink wrote. Each is produced to the topic of the same name unless s3.restore.topic.rename renames it."},
	shared(TopicsDir, "Top-level prefix of the objects, as the S3 sink was configured: <topics.dir>/<topic>/<partition path>/<topic>+<kafka partition>+<start offset>.<extension>."),
	shared(FormatClass, "The format the S3 sink wrote (json, avro or parquet, or Confluent's class names). Only objects of that format are read: json takes .json and .json.gz objects (JSON lines, values without a schema, as the JsonConverter with schemas.enable=false reads them); avro takes .avro object container files (uncompressed or deflate; the values get the Connect schema of the file's Avro schema); parquet takes .parquet objects of any codec: the values get the Connect schema Sluice's sink keeps in the file's metadata, or, in a file without it (an older sink's), one read from the Parquet logical types (names, versions and defaults of nested structs do not come back)."),
	shared(StoreKafkaKeys, "Whether the S3 sink stored the records' keys (store.kafka.keys=true): the keys are then read from the objects <topic>+<partition>+<start offset>.keys.<extension> beside the values' and given to the records, the n-th key to the n-th value; a values object whose keys object is missing, or holds another number of records, fails the task naming it. false restores records without keys."),
	shared(StoreKafkaHeaders, "Whether the S3 sink stored the records' headers (store.kafka.headers=true): the headers are then read from the objects <topic>+<partition>+<start offset>.headers.<extension> beside the values' and given to the records, in their original order; a values object whose headers object is missing, or holds another number of records, fails the task naming it. false restores records without headers."),
	config.Key{Name: RestoreTopicRename, Type: config.List, Default: "", Importance: config.High,
		Group: groupRestore, Order: 1, DisplayName: "Topic renames",
		Doc: "Where each archived topic is produced: a list of <archived topic>:<target topic> (orders:orders_restored,users:users_v2). A topic of topics that is not listed is produced to the topic of its own name. Each archived topic must be in topics; two may not map to one target."},
	config.Key{Name: RestoreKeepPartitions, Type: config.Boolean, Default: true, Importance: config.Medium,
		Group: groupRestore, Order: 2, DisplayName: "Keep partitions",
		Doc: "true produces each record to the partition number it was archived from (the <kafka partition> of its object's name), so the target topic must have at least as many partitions as the archive (create it first, or set topic.creation.default.partitions); a record for a partition the topic does not have fails the task, naming the partition and the topic. false lets the producer partition by key."},
	config.Key{Name: RestoreStartTime, Type: config.String, Default: "", Importance: config.Medium,
		Group: groupRestore, Order: 3, DisplayName: "Start time", Validator: validRestoreTime,
		Doc: "Restore only records whose time is at or after this time: RFC 3339 (2026-12-03T00:00:00Z) or epoch milliseconds. The time is the value field s3.restore.time.field when set, else the Kafka timestamp the sink stored (sluice.store.kafka.timestamps=true; an object without timestamps, or a record without one, fails the task naming it). Empty: no lower bound."},
	config.Key{Name: RestoreEndTime, Type: config.String, Default: "", Importance: config.Medium,
		Group: groupRestore, Order: 4, DisplayName: "End time", Validator: validRestoreTime,
		Doc: "Restore only records whose time (as for s3.restore.start.time) is before this time (RFC 3339 or epoch milliseconds). Empty: no upper bound."},
	config.Key{Name: RestoreTimeField, Type: config.String, Default: "", Importance: config.Medium,
		Group: groupRestore, Order: 5, DisplayName: "Time field",
		Doc: "The value field (dotted path into nested structs, such as after.updated_at or source.ts_ms) holding a record's time for s3.restore.start.time and s3.restore.end.time: epoch milliseconds, a Timestamp or an RFC 3339 string; a record without it fails the task, naming the object and the record. Empty: the range applies to the Kafka timestamps the sink stored."},
	config.Key{Name: RestorePathPrefix, Type: config.String, Default: "", Importance: config.Medium,
		Group: groupRestore, Order: 6, DisplayName: "Partition path prefix",
		Doc: "Restore only objects whose partition path (between <topics.dir>/<topic>/ and the object's name) starts with these path segments, compared whole: partition=3, region=eu, or year=2026/month=12 for the objects of December 2026 of a Daily, Hourly or TimeBased archive. Empty: every object."},
	config.Key{Name: RestoreKeepTimestamps, Type: config.Boolean, Default: true, Importance: config.Medium,
		Group: groupRestore, Order: 7, DisplayName: "Keep timestamps",
		Doc: "true produces each record with the Kafka timestamp the S3 sink stored for it (sluice.store.kafka.timestamps=true: the objects <topic>+<partition>+<start offset>.timestamps.<extension> beside the values'), as CreateTime; records of objects without timestamps (written with it false) get the producer's time. Mind the target topic's retention.ms: the broker deletes records whose timestamps are older than it, so restoring old records into a topic with time-based retention loses them at its next cleanup (set retention.ms=-1 on the target, or false here). false gives every record the producer's time."},
	config.Key{Name: RestoreBatchSize, Type: config.Int, Default: 1000, Importance: config.Low,
		Group: groupRestore, Order: 8, DisplayName: "Batch size", Validator: config.AtLeast(1),
		Doc: "Records a task returns from one poll at most."},
)

// restoreTaskDef is restoreDef plus the task's share of the work.
var restoreTaskDef = restoreDef.Merge(config.NewDef(
	config.Key{Name: RestoreTaskPartitions, Type: config.List, Default: config.NoDefault, Importance: config.Low,
		Group: groupRestore, Order: 100, DisplayName: "Task partitions",
		Doc: "Set by the connector in each task's config: the topic partitions (<topic>+<partition>) the task restores. Do not set it by hand."},
))

// RestoreDef returns the s3-restore source's config definition.
func RestoreDef() *config.Def { return restoreDef }

// RestoreConfig is the parsed s3-restore config.
type RestoreConfig struct {
	// S3 holds the connection, topics.dir and format.class, as the sink's
	// store and object names use them.
	S3             *Config
	Topics         []string
	Rename         map[string]string
	KeepPartitions bool
	KeepTimestamps bool
	// Start and End bound the records' time (zero: unbounded); TimeField
	// is where it is read.
	Start, End time.Time
	TimeField  string
	PathPrefix []string
	BatchSize  int
	// Partitions is a task's share (nil in the connector's config).
	Partitions []topicPartition
}

type topicPartition struct {
	topic     string
	partition int32
}

func (tp topicPartition) String() string { return tp.topic + "+" + strconv.Itoa(int(tp.partition)) }

// reads reports whether the restore reads the objects of kind beside the
// values' (values always).
func (c *RestoreConfig) reads(k objectKind) bool {
	switch k {
	case kindKeys:
		return c.S3.StoreKeys
	case kindHeaders:
		return c.S3.StoreHeaders
	case kindTimestamps:
		return c.KeepTimestamps || c.byKafkaTime()
	}
	return true
}

// filters reports whether s3.restore.start.time or s3.restore.end.time
// is set.
func (c *RestoreConfig) filters() bool { return !c.Start.IsZero() || !c.End.IsZero() }

// byKafkaTime reports whether the time range applies to the Kafka
// timestamps the sink stored (no s3.restore.time.field).
func (c *RestoreConfig) byKafkaTime() bool { return c.filters() && c.TimeField == "" }

// target returns the topic records of the archived topic are produced to.
func (c *RestoreConfig) target(topic string) string {
	if t, ok := c.Rename[topic]; ok {
		return t
	}
	return topic
}

var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// ParseRestoreConfig parses and checks the connector's props.
func ParseRestoreConfig(props map[string]string) (*RestoreConfig, error) {
	return parseRestore(restoreDef, props)
}

func parseRestoreTask(props map[string]string) (*RestoreConfig, error) {
	return parseRestore(restoreTaskDef, props)
}

func parseRestore(d *config.Def, props map[string]string) (*RestoreConfig, error) {
	v, err := d.Parse(props)
	if err != nil {
		return nil, err
	}
	s3 := storeConfig(v)
	c := &RestoreConfig{
		S3:             s3,
		Topics:         v.List(Topics),
		Rename:         map[string]string{},
		KeepPartitions: v.Bool(RestoreKeepPartitions),
		KeepTimestamps: v.Bool(RestoreKeepTimestamps),
		TimeField:      strings.TrimSpace(v.String(RestoreTimeField)),
		BatchSize:      v.Int(RestoreBatchSize),
	}
	var errs config.Errors
	bad := func(key, value, reason string) {
		errs = append(errs, &config.Error{Key: key, Value: value, Reason: reason})
	}
	if (s3.AccessKeyID == "") != (s3.SecretKey == "") {
		bad(AccessKeyID, "", "set both aws.access.key.id and aws.secret.access.key, or neither to use the SDK's default credential chain")
	}
	if len(c.Topics) == 0 {
		bad(Topics, "", "list the archived topics to restore")
	}
	archived := map[string]bool{}
	for _, t := range c.Topics {
		if !topicName.MatchString(t) {
			bad(Topics, t, "not a Kafka topic name (letters, digits, '.', '_' and '-', at most 249)")
		}
		archived[t] = true
	}
	targets := map[string]string{}
	for _, r := range v.List(RestoreTopicRename) {
		from, to, ok := strings.Cut(r, ":")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		switch {
		case !ok || from == "" || to == "":
			bad(RestoreTopicRename, r, "each entry is <archived topic>:<target topic>, such as orders:orders_restored")
			continue
		case !archived[from]:
			bad(RestoreTopicRename, r, fmt.Sprintf("%q is not one of topics; add it to topics or remove this entry", from))
			continue
		case !topicName.MatchString(to):
			bad(RestoreTopicRename, r, fmt.Sprintf("%q is not a Kafka topic name", to))
			continue
		case c.Rename[from] != "":
			bad(RestoreTopicRename, r, fmt.Sprintf("%q is renamed twice", from))
			continue
		}
		c.Rename[from] = to
	}
	for _, t := range c.Topics {
		to := c.target(t)
		if other, ok := targets[to]; ok {
			bad(RestoreTopicRename, to, fmt.Sprintf("topics %q and %q would both be restored into %q; give each its own target", other, t, to))
		}
		targets[to] = t
	}
	if s := v.String(RestoreStartTime); s != "" {
		c.Start, _ = parseRestoreTime(s)
	}
	if s := v.String(RestoreEndTime); s != "" {
		c.End, _ = parseRestoreTime(s)
	}
	if c.TimeField != "" && c.Start.IsZero() && c.End.IsZero() {
		bad(RestoreTimeField, c.TimeField, "s3.restore.time.field is only used with s3.restore.start.time or s3.restore.end.time; set one of them or remove it")
	}
	if !c.Start.IsZero() && !c.End.IsZero() && !c.End.After(c.Start) {
		bad(RestoreEndTime, v.String(RestoreEndTime), "must be after s3.restore.start.time")
	}
	if p := strings.Trim(v.String(RestorePathPrefix), "/"); p != "" {
		c.PathPrefix = strings.Split(p, "/")
	}
	if _, ok := d.Key(RestoreTaskPartitions); ok {
		for _, s := range v.List(RestoreTaskPartitions) {
			tp, err := parseTopicPartition(s)
			if err != nil {
				bad(RestoreTaskPartitions, s, err.Error())
				continue
			}
			if !archived[tp.topic] {
				bad(RestoreTaskPartitions, s, "not a partition of one of topics; task configs come from the connector, do not set them by hand")
				continue
			}
			c.Partitions = append(c.Partitions, tp)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

func parseTopicPartition(s string) (topicPartition, error) {
	i := strings.LastIndexByte(s, '+')
	if i <= 0 {
		return topicPartition{}, errors.New("want <topic>+<partition>")
	}
	p, err := strconv.ParseInt(s[i+1:], 10, 32)
	if err != nil || p < 0 {
		return topicPartition{}, errors.New("want <topic>+<partition>, the partition a number")
	}
	return topicPartition{topic: s[:i], partition: int32(p)}, nil
}

// parseRestoreTime reads RFC 3339 or epoch milliseconds.
func parseRestoreTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("want an RFC 3339 time (2026-12-03T00:00:00Z) or epoch milliseconds")
	}
	return t, nil
}

func validRestoreTime(name string, value any) error {
	s, _ := value.(string)
	if s == "" {
		return nil
	}
	_, err := parseRestoreTime(s)
	return err
}
