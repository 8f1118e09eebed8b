package s3

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
)

// Connector properties, with Confluent's S3 sink names.
const (
	BucketName          = "s3.bucket.name"
	Region              = "s3.region"
	StoreURL            = "store.url"
	PathStyle           = "s3.path.style.access.enabled"
	AccessKeyID         = "aws.access.key.id"
	SecretAccessKey     = "aws.secret.access.key"
	Topics              = "topics"
	TopicsRegex         = "topics.regex"
	TopicsDir           = "topics.dir"
	FormatClass         = "format.class"
	AvroCodec           = "avro.codec"
	ParquetCodec        = "parquet.codec"
	CompressionType     = "s3.compression.type"
	PartitionerClass    = "partitioner.class"
	PartitionFieldName  = "partition.field.name"
	PathFormat          = "path.format"
	PartitionDurationMs = "partition.duration.ms"
	Locale              = "locale"
	Timezone            = "timezone"
	TimestampExtractor  = "timestamp.extractor"
	TimestampField      = "timestamp.field"
	FlushSize           = "flush.size"
	RotateIntervalMs    = "rotate.interval.ms"
	RotateScheduleMs    = "rotate.schedule.interval.ms"
	PartSize            = "s3.part.size"
	PartRetries         = "s3.part.retries"
	RetryBackoffMs      = "s3.retry.backoff.ms"
	BehaviorOnNull      = "behavior.on.null.values"
	StoreKafkaKeys      = "store.kafka.keys"
	StoreKafkaHeaders   = "store.kafka.headers"
	// StoreKafkaTimestamps is Sluice's: Confluent's sink keeps no
	// record timestamps.
	StoreKafkaTimestamps = "sluice.store.kafka.timestamps"
	// MemoryBytes is Sluice's: one bound on what a task's open objects
	// hold in memory.
	MemoryBytes = "sluice.s3.memory.bytes"
)

// Formats, as format.class names them.
const (
	FormatJSON    = "json"
	FormatAvro    = "avro"
	FormatParquet = "parquet"
)

// Partitioners, as partitioner.class names them.
const (
	PartitionerDefault   = "default"
	PartitionerField     = "field"
	PartitionerTimeBased = "timebased"
	PartitionerDaily     = "daily"
	PartitionerHourly    = "hourly"
)

// Timestamp extractors, as timestamp.extractor names them.
const (
	ExtractorRecord      = "record"
	ExtractorRecordField = "recordfield"
	ExtractorWallclock   = "wallclock"
)

const (
	minPartSize   = 5 << 20
	storagePrefix = "io.confluent.connect.storage.partitioner."
	formatPrefix  = "io.confluent.connect.s3.format."
)

var formatClasses = map[string]string{
	"json": FormatJSON, formatPrefix + "json.jsonformat": FormatJSON,
	"avro": FormatAvro, formatPrefix + "avro.avroformat": FormatAvro,
	"parquet": FormatParquet, formatPrefix + "parquet.parquetformat": FormatParquet,
}

var partitionerClasses = map[string]string{
	"default": PartitionerDefault, storagePrefix + "defaultpartitioner": PartitionerDefault,
	"field": PartitionerField, storagePrefix + "fieldpartitioner": PartitionerField,
	"timebased": PartitionerTimeBased, storagePrefix + "timebasedpartitioner": PartitionerTimeBased,
	"daily": PartitionerDaily, storagePrefix + "dailypartitioner": PartitionerDaily,
	"hourly": PartitionerHourly, storagePrefix + "hourlypartitioner": PartitionerHourly,
}

var extractorClasses = map[string]string{
	"record": ExtractorRecord, storagePrefix + "timebasedpartitioner$recordtimestampextractor": ExtractorRecord,
	"recordfield": ExtractorRecordField, storagePrefix + "timebasedpartitioner$recordfieldtimestampextractor": ExtractorRecordField,
	"wallclock": ExtractorWallclock, storagePrefix + "timebasedpartitioner$wallclocktimestampextractor": ExtractorWallclock,
}

func oneOf(m map[string]string, what string) config.Validator {
	return func(name string, value any) error {
		s, _ := value.(string)
		if _, ok := m[strings.ToLower(strings.TrimSpace(s))]; !ok {
			var short []string
			for k := range m {
				if !strings.Contains(k, ".") {
					short = append(short, k)
				}
			}
			return fmt.Errorf("unknown %s; use one of the short names %s or Confluent's class names", what, strings.Join(sortedStrings(short), ", "))
		}
		return nil
	}
}

const (
	groupS3     = "S3"
	groupFormat = "Format"
	groupPart   = "Partitioning"
	groupRotate = "Rotation"
)

var def = config.NewDef(
	config.Key{Name: BucketName, Type: config.String, Default: config.NoDefault, Importance: config.High, ConnectionIdentity: true,
		Group: groupS3, Order: 1, DisplayName: "Bucket", Validator: config.NonEmpty,
		Doc: "The bucket the objects are written to. It must exist."},
	config.Key{Name: Region, Type: config.String, Default: "us-west-2", Importance: config.Medium, ConnectionIdentity: true,
		Group: groupS3, Order: 2, DisplayName: "Region",
		Doc: "The bucket's AWS region (Confluent's default, us-west-2)."},
	config.Key{Name: StoreURL, Type: config.String, Default: nil, Importance: config.High, ConnectionIdentity: true,
		Group: groupS3, Order: 3, DisplayName: "Endpoint", Validator: validEndpoint,
		Doc: "The S3 endpoint URL (http://host:port or https://host) of an S3-compatible server (MinIO, versitygw, Ceph); empty means AWS's endpoint for s3.region."},
	config.Key{Name: PathStyle, Type: config.Boolean, Default: true, Importance: config.Low,
		Group: groupS3, Order: 4, DisplayName: "Path-style access",
		Doc: "Address the bucket as endpoint/bucket/key rather than bucket.endpoint/key (true, Confluent's default, is what most S3-compatible servers need)."},
	config.Key{Name: AccessKeyID, Type: config.String, Default: "", Importance: config.High, ConnectionIdentity: true,
		Group: groupS3, Order: 5, DisplayName: "Access key id",
		Doc: "The AWS access key id. Empty (with an empty secret) uses the SDK's default credential chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the shared config and credentials files, web identity, ECS and EC2 instance roles."},
	config.Key{Name: SecretAccessKey, Type: config.Password, Default: "", Importance: config.High,
		Group: groupS3, Order: 6, DisplayName: "Secret access key",
		Doc: "The AWS secret access key, with aws.access.key.id."},
	config.Key{Name: PartSize, Type: config.Int, Default: 26214400, Importance: config.Medium,
		Group: groupS3, Order: 7, DisplayName: "Part size", Validator: config.AtLeast(minPartSize),
		Doc: "Bytes of each part of a multipart upload (at least 5 MiB, S3's minimum). An open file holds at most this much in memory: a larger file is uploaded in parts as it grows, and becomes visible only once it is complete."},
	config.Key{Name: PartRetries, Type: config.Int, Default: 3, Importance: config.Low,
		Group: groupS3, Order: 8, DisplayName: "Retries",
		Validator: config.AtLeast(0),
		Doc:       "Times an S3 request that failed with a server error (5xx), a throttle or a timeout is retried before the upload fails; the task then reports a retriable error, which the runtime retries for errors.retry.timeout before the task fails. Nothing is committed that is not in S3."},
	config.Key{Name: RetryBackoffMs, Type: config.Long, Default: int64(200), Importance: config.Low,
		Group: groupS3, Order: 9, DisplayName: "Retry back-off (ms)", Validator: config.AtLeast(0),
		Doc: "Milliseconds before the first retry of an S3 request; doubled at each retry, up to 100 times the value."},
	config.Key{Name: MemoryBytes, Type: config.Long, Default: int64(512 << 20), Importance: config.Medium,
		Group: groupS3, Order: 10, DisplayName: "Memory bound (bytes)", Validator: config.AtLeast(1 << 20),
		Doc: "Bytes of resident memory a task's objects may take together, over all their Kafka partitions and partition paths, so that the process's resident memory grows by no more than this with the task (measured with 100 open partitions for JSON, Avro and Parquet: docs/benchmarks.md). The objects' bytes (JSON lines, Avro blocks, Parquet row groups written out, parts waiting to be sent) are kept outside the Go heap in 64 KiB chunks and count once, whole chunks; what an encoder keeps on the Go heap counts (100+GOGC)/100 times, the garbage collector's headroom (twice at the default GOGC, three times at the worker's GOGC=200; GOGC off or above 1000 counts as 100); chunks of uploaded objects kept for the next objects (up to a quarter of the bound) count too and are unmapped first when the bound is passed. A quarter of the bound, at most 4 MiB times (100+GOGC)/100 (8 MiB at the default GOGC, 12 MiB at the worker's 200), is kept for the task's own working memory (S3 requests, encoders' scratch buffers and their garbage, stacks); below about 32 MiB that reserve is smaller than what the task needs besides its objects, so the process may pass the bound by a few MiB. The open objects, the closed set being uploaded, and the uploaded set until the next rotation count. When a record takes them past it, the objects of the Kafka partition holding the most are closed and uploaded (after the upload before them ends), as many times as needed. The gzip compressors of JSON objects come on top (a few hundred KiB per open object). A Parquet object counts its open row group (closed at 100,000 rows or 16 MiB of encoded pages and buffered values, whichever comes first) and parquet-go's writer state, on the Go heap: 36 KiB per column from the moment it opens (its value buffers, up to twice a 16 KiB page, and its last page chunk) and the min and max value of each page of the open row group (its column index), twice at the default GOGC; so each open Parquet object takes a share of the bound however few records it holds (288 KiB for four columns at the default GOGC: 100 open objects take 28 MiB before any record, and of 27 columns 190 MiB); Parquet needs no whole file in memory, since a file is written front to back and its footer last. Closing by memory depends on how partitions interleave, not on the records alone; a task that restarts still resumes at the start of the newest set of objects, which it rewrites under the same names, so every record stays in S3 once."},
	config.Key{Name: Topics, Type: config.List, Default: "", Importance: config.High,
		Group: groupFormat, Order: 1, DisplayName: "Topics",
		Doc: "Topics to write (or topics.regex)."},
	config.Key{Name: TopicsRegex, Type: config.String, Default: "", Importance: config.High,
		Group: groupFormat, Order: 2, DisplayName: "Topics regex", Validator: config.Regex,
		Doc: "Regular expression of the topics to write (or topics)."},
	config.Key{Name: TopicsDir, Type: config.String, Default: "topics", Importance: config.High,
		Group: groupFormat, Order: 3, DisplayName: "Topics directory",
		Doc: "Top-level prefix of every object: <topics.dir>/<topic>/<partition path>/<topic>+<kafka partition>+<start offset>.<extension>."},
	config.Key{Name: FormatClass, Type: config.String, Default: config.NoDefault, Importance: config.High,
		Group: groupFormat, Order: 4, DisplayName: "Format", Validator: oneOf(formatClasses, "format"),
		Doc: "The object format: json (io.confluent.connect.s3.format.json.JsonFormat: one JSON value per line, as the JsonConverter writes it with schemas.enable=false, except that a string that is not valid UTF-8 fails its record, naming it, rather than being written with U+FFFD in place of its bytes; extension .json, or .json.gz with s3.compression.type=gzip), avro (io.confluent.connect.s3.format.avro.AvroFormat: Avro object container files with the records' schema, logical types kept; extension .avro) or parquet (io.confluent.connect.s3.format.parquet.ParquetFormat: Parquet files with the records' schema as logical types DuckDB, Spark, Athena and Trino read as such: DECIMAL, DATE, TIME, TIMESTAMP, nested groups, LIST, MAP; extension .parquet after the codec's, .snappy.parquet by default, as Confluent names them). Avro and Parquet need records with a value schema."},
	config.Key{Name: AvroCodec, Type: config.String, Default: "null", Importance: config.Low,
		Group: groupFormat, Order: 5, DisplayName: "Avro codec", Validator: validAvroCodec,
		Doc: "Compression of Avro container blocks: null or deflate. snappy, bzip2 and zstandard (which Confluent also offers) are refused."},
	config.Key{Name: ParquetCodec, Type: config.String, Default: "snappy", Importance: config.Low,
		Group: groupFormat, Order: 6, DisplayName: "Parquet codec", Validator: validParquetCodec,
		Doc: "Compression of the pages of Parquet files: none (or uncompressed), snappy (Confluent's default), gzip, zstd or lz4_raw. The codec is part of the extension, as in Confluent: .parquet, .snappy.parquet, .gz.parquet, .zstd.parquet, .lz4raw.parquet. lz4 (Hadoop's LZ4 framing), lzo and brotli are refused."},
	config.Key{Name: CompressionType, Type: config.String, Default: "none", Importance: config.Low,
		Group: groupFormat, Order: 7, DisplayName: "Compression", Validator: config.In("none", "gzip"),
		Doc: "gzip compresses JSON objects (extension .json.gz); none writes them plain. Only the JSON format takes gzip."},
	config.Key{Name: BehaviorOnNull, Type: config.String, Default: "fail", Importance: config.Low,
		Group: groupFormat, Order: 8, DisplayName: "Behavior on null values", Validator: config.In("fail", "ignore", "write"),
		Doc: "A record with a null value (a tombstone): fail fails the task naming topic, partition and offset; ignore skips it; write archives it as a null value, which s3-restore produces again as a tombstone (what the backup of a compacted topic needs, with store.kafka.keys=true). With write, the JSON format writes the line null; the Avro format writes a tombstone without a value schema into an object of its own whose Avro schema is \"null\" (a tombstone whose value schema is optional goes into the objects of that schema as the null branch); Parquet, which has no null row, is refused."},
	config.Key{Name: StoreKafkaKeys, Type: config.Boolean, Default: false, Importance: config.Low,
		Group: groupFormat, Order: 9, DisplayName: "Store Kafka keys",
		Doc: "Also write the records' keys, in the same format, to objects of their own beside the values' (<topic>+<partition>+<start offset>.keys.<extension>, the n-th key belonging to the n-th value). A record without a key then fails (or goes to the dead letter queue); with Avro and Parquet, keys need a schema, and a change of the key schema closes the objects as a value schema change does."},
	config.Key{Name: StoreKafkaHeaders, Type: config.Boolean, Default: false, Importance: config.Low,
		Group: groupFormat, Order: 10, DisplayName: "Store Kafka headers",
		Doc: "Also write the records' headers, in the same format, to objects of their own beside the values' (<topic>+<partition>+<start offset>.headers.<extension>, the n-th record of headers belonging to the n-th value): each record of headers is an array, in the records' order, of structs sluice.s3.Header {key: string, value: optional bytes} (an empty array for a record without headers; JSON writes the bytes in base64). s3-restore gives them back."},
	config.Key{Name: StoreKafkaTimestamps, Type: config.Boolean, Default: false, Importance: config.Low,
		Group: groupFormat, Order: 11, DisplayName: "Store Kafka timestamps",
		Doc: "Sluice's: also write the records' Kafka timestamps, in the same format, to objects of their own beside the values' (<topic>+<partition>+<start offset>.timestamps.<extension>, one optional int64 of epoch milliseconds per value: a JSON line, an Avro [\"null\",\"long\"], a Parquet column named value), so that s3-restore produces the records with their original timestamps. The timestamp type (CreateTime or LogAppendTime) is not kept: a restored record is produced with its original time as CreateTime."},
	config.Key{Name: PartitionerClass, Type: config.String, Default: storagePrefix + "DefaultPartitioner", Importance: config.High,
		Group: groupPart, Order: 1, DisplayName: "Partitioner", Validator: oneOf(partitionerClasses, "partitioner"),
		Doc: "How records are spread over partition paths: Default (partition=<kafka partition>), Field (<field>=<value>/… of partition.field.name), TimeBased (path.format of the record's time, bucketed by partition.duration.ms), Daily ('year'=YYYY/'month'=MM/'day'=dd), Hourly (Daily plus /'hour'=HH). Confluent's class names (io.confluent.connect.storage.partitioner.DefaultPartitioner, …) and these short names are accepted."},
	config.Key{Name: PartitionFieldName, Type: config.List, Default: "", Importance: config.Medium,
		Group: groupPart, Order: 2, DisplayName: "Partition fields",
		Doc: "Field partitioner: the value fields whose values name the partition path, one segment <field>=<value> each, in order. A dotted path reaches into a nested struct (after.region); its segment is named by the last part (region=eu). Integer, string and boolean fields only; a record without the field fails (or goes to the dead letter queue)."},
	config.Key{Name: PathFormat, Type: config.String, Default: "", Importance: config.Medium,
		Group: groupPart, Order: 3, DisplayName: "Path format",
		Doc: "TimeBased partitioner: a Joda-Time pattern of the partition path, such as 'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH. Quoted text is literal; the numeric fields y, Y, M, d, H, m, s and S are supported (text fields such as MMM are refused)."},
	config.Key{Name: PartitionDurationMs, Type: config.Long, Default: int64(-1), Importance: config.Medium,
		Group: groupPart, Order: 4, DisplayName: "Partition duration (ms)",
		Doc: "TimeBased partitioner: the length of one time partition; a record's time is rounded down to a multiple of it (in timezone) before path.format formats it."},
	config.Key{Name: Locale, Type: config.String, Default: "", Importance: config.Low,
		Group: groupPart, Order: 5, DisplayName: "Locale",
		Doc: "Time-based partitioners: Confluent requires it to format text fields of path.format; the numeric fields Sluice supports are the same in every locale, so any value is accepted."},
	config.Key{Name: Timezone, Type: config.String, Default: "", Importance: config.Medium,
		Group: groupPart, Order: 6, DisplayName: "Time zone", Validator: config.TimeZone,
		Doc: "Time-based partitioners: the IANA time zone (UTC, Europe/Paris) the path is formatted in; required, as in Confluent, for TimeBased, Daily and Hourly."},
	config.Key{Name: TimestampExtractor, Type: config.String, Default: "Wallclock", Importance: config.Medium,
		Group: groupPart, Order: 7, DisplayName: "Timestamp extractor", Validator: oneOf(extractorClasses, "timestamp extractor"),
		Doc: "Where a record's time comes from, for time-based partitioners and rotate.interval.ms: Record (the Kafka record's timestamp), RecordField (the value field timestamp.field) or Wallclock (the worker's clock when the record is written; Confluent's default). Wallclock makes the objects depend on when the sink ran, so a replay after a crash may write records again under other names: use Record or RecordField for exactly-once objects."},
	config.Key{Name: TimestampField, Type: config.String, Default: "timestamp", Importance: config.Medium,
		Group: groupPart, Order: 8, DisplayName: "Timestamp field",
		Doc: "RecordField extractor: the value field (dotted path for nested structs) holding the time: an integer of epoch milliseconds, a Timestamp, or an RFC 3339 string."},
	config.Key{Name: FlushSize, Type: config.Int, Default: config.NoDefault, Importance: config.High,
		Group: groupRotate, Order: 1, DisplayName: "Flush size", Validator: config.AtLeast(1),
		Doc: "Records of one Kafka partition after which its open objects are closed and uploaded. As in Confluent, the objects of one Kafka partition are opened and closed together, so the committed consumer offset is always a boundary between objects."},
	config.Key{Name: RotateIntervalMs, Type: config.Long, Default: int64(-1), Importance: config.Medium,
		Group: groupRotate, Order: 2, DisplayName: "Rotate interval (ms)",
		Doc: "Close the open objects of a Kafka partition when a record's time (timestamp.extractor) is this many milliseconds or more after the time of their first record; with a time-based partitioner also when the record falls in another time partition. Depends only on the records with Record or RecordField, so it keeps objects exactly-once. -1 disables."},
	config.Key{Name: RotateScheduleMs, Type: config.Long, Default: int64(-1), Importance: config.Medium,
		Group: groupRotate, Order: 3, DisplayName: "Rotate schedule interval (ms)",
		Doc: "Close the open objects of a Kafka partition when they have been open this many milliseconds of wall-clock time, even if no record arrives. Objects then depend on when the sink ran: a replay after a crash can write some records a second time under other names (exactly-once is lost), as in Confluent. -1 disables."},
)

// Def returns the connector's config definition.
func Def() *config.Def { return def }

// Config is the parsed connector config.
type Config struct {
	Bucket          string
	Region          string
	Endpoint        string
	PathStyle       bool
	AccessKeyID     string
	SecretKey       string
	TopicsDir       string
	Format          string
	AvroCodec       string
	ParquetCodec    string
	Gzip            bool
	Partitioner     string
	PartitionFields []string
	PathFormat      string
	PartitionDur    time.Duration
	Location        *time.Location
	Extractor       string
	TimestampField  string
	FlushSize       int
	RotateInterval  time.Duration
	RotateSchedule  time.Duration
	PartSize        int
	Retries         int
	RetryBackoff    time.Duration
	IgnoreNulls     bool
	// WriteNulls is behavior.on.null.values=write.
	WriteNulls      bool
	MemoryBytes     int64
	StoreKeys       bool
	StoreHeaders    bool
	StoreTimestamps bool

	path *pathFormat
}

// storeConfig is what the sink and the s3-restore source read alike: the
// bucket and how to reach it, topics.dir, the format, retries,
// store.kafka.keys and store.kafka.headers.
func storeConfig(v *config.Values) *Config {
	return &Config{
		Bucket:       v.String(BucketName),
		Region:       v.String(Region),
		Endpoint:     v.String(StoreURL),
		PathStyle:    v.Bool(PathStyle),
		AccessKeyID:  v.String(AccessKeyID),
		SecretKey:    v.String(SecretAccessKey),
		TopicsDir:    strings.Trim(v.String(TopicsDir), "/"),
		Format:       formatClasses[strings.ToLower(strings.TrimSpace(v.String(FormatClass)))],
		Retries:      v.Int(PartRetries),
		RetryBackoff: v.Duration(RetryBackoffMs),
		StoreKeys:    v.Bool(StoreKafkaKeys),
		StoreHeaders: v.Bool(StoreKafkaHeaders),
	}
}

// ParseConfig parses and checks props.
func ParseConfig(props map[string]string) (*Config, error) {
	v, err := def.Parse(props)
	if err != nil {
		return nil, err
	}
	c := storeConfig(v)
	c.AvroCodec = strings.ToLower(v.String(AvroCodec))
	c.ParquetCodec = parquetCodecs[strings.ToLower(strings.TrimSpace(v.String(ParquetCodec)))]
	c.Gzip = strings.EqualFold(v.String(CompressionType), "gzip")
	c.Partitioner = partitionerClasses[strings.ToLower(strings.TrimSpace(v.String(PartitionerClass)))]
	c.PartitionFields = v.List(PartitionFieldName)
	c.PathFormat = v.String(PathFormat)
	c.PartitionDur = time.Duration(v.Long(PartitionDurationMs)) * time.Millisecond
	c.Extractor = extractorClasses[strings.ToLower(strings.TrimSpace(v.String(TimestampExtractor)))]
	c.TimestampField = v.String(TimestampField)
	c.FlushSize = v.Int(FlushSize)
	c.RotateInterval = time.Duration(v.Long(RotateIntervalMs)) * time.Millisecond
	c.RotateSchedule = time.Duration(v.Long(RotateScheduleMs)) * time.Millisecond
	c.PartSize = v.Int(PartSize)
	c.IgnoreNulls = strings.EqualFold(v.String(BehaviorOnNull), "ignore")
	c.WriteNulls = strings.EqualFold(v.String(BehaviorOnNull), "write")
	c.StoreTimestamps = v.Bool(StoreKafkaTimestamps)
	c.MemoryBytes = v.Long(MemoryBytes)
	var errs config.Errors
	bad := func(key, value, reason string) {
		errs = append(errs, &config.Error{Key: key, Value: value, Reason: reason})
	}
	if c.Gzip && c.Format != FormatJSON {
		bad(CompressionType, "gzip", "gzip applies to the JSON format only; for Avro set avro.codec=deflate, for Parquet parquet.codec, or set s3.compression.type=none")
	}
	if c.WriteNulls && c.Format == FormatParquet {
		bad(BehaviorOnNull, "write", "a Parquet file has no row for a null value; to archive tombstones use format.class=json or avro, or set behavior.on.null.values to ignore or fail")
	}
	if (c.AccessKeyID == "") != (c.SecretKey == "") {
		bad(AccessKeyID, "", "set both aws.access.key.id and aws.secret.access.key, or neither to use the SDK's default credential chain")
	}
	if len(v.List(Topics)) == 0 && v.String(TopicsRegex) == "" {
		bad(Topics, "", "set topics or topics.regex to the topics to write")
	}
	if v.String(Timezone) != "" {
		c.Location, _ = time.LoadLocation(v.String(Timezone))
	}
	switch c.Partitioner {
	case PartitionerField:
		if len(c.PartitionFields) == 0 {
			bad(PartitionFieldName, "", "the Field partitioner needs the value fields that name the partition path; list them in partition.field.name")
		}
	case PartitionerDaily:
		c.PathFormat, c.PartitionDur = "'year'=YYYY/'month'=MM/'day'=dd", 24*time.Hour
	case PartitionerHourly:
		c.PathFormat, c.PartitionDur = "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH", time.Hour
	case PartitionerTimeBased:
		if c.PathFormat == "" {
			bad(PathFormat, "", "the TimeBased partitioner needs path.format, such as 'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH")
		}
		if c.PartitionDur <= 0 {
			bad(PartitionDurationMs, fmt.Sprint(v.Long(PartitionDurationMs)), "the TimeBased partitioner needs partition.duration.ms > 0, such as 3600000 for hourly paths")
		}
	}
	if c.timeBased() {
		if c.Location == nil {
			bad(Timezone, "", "time-based partitioners need a time zone; set timezone, such as UTC")
		}
		if c.PathFormat != "" {
			pf, err := parsePathFormat(c.PathFormat)
			if err != nil {
				bad(PathFormat, c.PathFormat, err.Error())
			}
			c.path = pf
		}
	}
	if c.Extractor == ExtractorRecordField && strings.TrimSpace(c.TimestampField) == "" {
		bad(TimestampField, "", "the RecordField extractor needs the value field holding the time; set timestamp.field")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

func (c *Config) timeBased() bool {
	return c.Partitioner == PartitionerTimeBased || c.Partitioner == PartitionerDaily || c.Partitioner == PartitionerHourly
}

// stores reports whether the sink writes objects of kind (values always).
func (c *Config) stores(k objectKind) bool {
	switch k {
	case kindKeys:
		return c.StoreKeys
	case kindHeaders:
		return c.StoreHeaders
	case kindTimestamps:
		return c.StoreTimestamps
	}
	return true
}

// usesTime reports whether the sink needs a record's time.
func (c *Config) usesTime() bool { return c.timeBased() || c.RotateInterval > 0 }

// extension returns the objects' file extension, without the dot.
func (c *Config) extension() string {
	switch {
	case c.Format == FormatAvro:
		return "avro"
	case c.Format == FormatParquet:
		return parquetExtensions[c.ParquetCodec] + "parquet"
	case c.Gzip:
		return "json.gz"
	default:
		return "json"
	}
}

func validEndpoint(name string, value any) error {
	s, _ := value.(string)
	if s == "" {
		return nil
	}
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		return errors.New("must be an http:// or https:// URL, such as http://127.0.0.1:9000")
	}
	return nil
}

func validAvroCodec(name string, value any) error {
	s, _ := value.(string)
	switch strings.ToLower(s) {
	case "null", "deflate":
		return nil
	case "snappy", "bzip2", "zstandard", "xz":
		return fmt.Errorf("the %s codec is not implemented; use null or deflate", s)
	}
	return errors.New("must be null or deflate")
}

// Parquet codecs, as parquet.codec names them (none and uncompressed are
// one), and the part of the extension each adds, as parquet-mr's
// CompressionCodecName names it for Confluent's sink.
var (
	parquetCodecs = map[string]string{
		"none": "none", "uncompressed": "none", "snappy": "snappy", "gzip": "gzip", "zstd": "zstd", "lz4_raw": "lz4_raw",
	}
	parquetExtensions = map[string]string{
		"none": "", "snappy": "snappy.", "gzip": "gz.", "zstd": "zstd.", "lz4_raw": "lz4raw.",
	}
)

func validParquetCodec(name string, value any) error {
	s, _ := value.(string)
	s = strings.ToLower(strings.TrimSpace(s))
	if _, ok := parquetCodecs[s]; ok {
		return nil
	}
	switch s {
	case "lz4":
		return errors.New("lz4 is Hadoop's LZ4 framing, which Sluice does not write; use lz4_raw (the LZ4_RAW codec of current Parquet readers), snappy, zstd, gzip or none")
	case "lzo", "brotli":
		return fmt.Errorf("the %s codec is not implemented; use snappy, zstd, gzip, lz4_raw or none", s)
	}
	return errors.New("must be one of none, uncompressed, snappy, gzip, zstd, lz4_raw")
}
