package converter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
	"github.com/sluice-cdc/sluice/connectors/codec/avro"
	"github.com/sluice-cdc/sluice/runtime/registry"
)

// AvroConverter property names, as Confluent's converter and serializers
// name them. The external registry's own properties (schema.registry.url,
// basic.auth.*, latest.cache.ttl.sec, schema.registry.request.timeout.ms)
// are registry's constants.
const (
	AutoRegisterSchemas       = "auto.register.schemas"
	UseLatestVersion          = "use.latest.version"
	KeySubjectNameStrategy    = "key.subject.name.strategy"
	ValueSubjectNameStrategy  = "value.subject.name.strategy"
	EnhancedAvroSchemaSupport = "enhanced.avro.schema.support"
	ConnectMetaData           = "connect.meta.data"
	SchemasCacheConfig        = "schemas.cache.config"
)

// Confluent's subject name strategies, by class name.
const (
	TopicNameStrategy       = "io.confluent.kafka.serializers.subject.TopicNameStrategy"
	RecordNameStrategy      = "io.confluent.kafka.serializers.subject.RecordNameStrategy"
	TopicRecordNameStrategy = "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy"
)

var strategyNames = []string{TopicNameStrategy, RecordNameStrategy, TopicRecordNameStrategy}

// validStrategy accepts a strategy by class name or simple class name.
func validStrategy(name string, value any) error {
	s, _ := value.(string)
	if _, ok := parseStrategy(s); ok {
		return nil
	}
	return fmt.Errorf("is not a subject name strategy; use TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy "+
		"(or their class names %s)", strings.Join(strategyNames, ", "))
}

type strategy uint8

const (
	topicName strategy = iota
	recordName
	topicRecordName
)

func parseStrategy(s string) (strategy, bool) {
	s = strings.TrimSpace(s)
	for i, full := range strategyNames {
		if strings.EqualFold(s, full) || strings.EqualFold(s, full[strings.LastIndexByte(full, '.')+1:]) {
			return strategy(i), true
		}
	}
	return 0, false
}

var avroDef = config.NewDef(
	config.Key{Name: registry.URLConfig, Type: config.String, Default: "", Importance: config.High, ConnectionIdentity: true,
		Doc: "Comma-separated URLs of an external Confluent-compatible schema registry (Confluent, Redpanda, another Sluice pool). " +
			"Empty: the worker's built-in schema registry, without HTTP."},
	config.Key{Name: registry.BasicAuthSourceConfig, Type: config.String, Default: registry.SourceURL, Importance: config.Medium,
		Validator: config.In(registry.SourceUserInfo, registry.SourceURL),
		Doc: "Where the external registry's basic-auth credentials come from: USER_INFO (basic.auth.user.info) or URL " +
			"(http://user:password@host in schema.registry.url)."},
	config.Key{Name: registry.BasicAuthUserInfoConfig, Type: config.Password, Default: "", Importance: config.Medium,
		Aliases: []string{"schema.registry." + registry.BasicAuthUserInfoConfig},
		Doc:     "The external registry's credentials as user:password, with basic.auth.credentials.source=USER_INFO."},
	config.Key{Name: registry.LatestCacheTTLConfig, Type: config.Long, Default: "-1", Importance: config.Low,
		Validator: config.AtLeast(-1),
		Doc: "How long, in seconds, the latest version of a subject is remembered with use.latest.version; -1 until restart, " +
			"0 not at all (a registry lookup per record)."},
	config.Key{Name: registry.RequestTimeoutConfig, Type: config.Int, Default: "30000", Importance: config.Low,
		Validator: config.AtLeast(1),
		Doc:       "How long, in milliseconds, one schema registry request may take."},
	config.Key{Name: AutoRegisterSchemas, Type: config.Boolean, Default: "true", Importance: config.Medium,
		Doc: "Register the schema of each record under its subject (once per schema). False: the schema must be registered " +
			"already (or, with use.latest.version, the subject's latest version is used)."},
	config.Key{Name: UseLatestVersion, Type: config.Boolean, Default: "false", Importance: config.Low,
		Doc: "With auto.register.schemas=false: write every record with the latest version of its subject, which must have " +
			"the record's fields (in any order), instead of looking the record's own schema up."},
	config.Key{Name: KeySubjectNameStrategy, Type: config.String, Default: TopicNameStrategy, Importance: config.Medium,
		Validator: validStrategy,
		Doc: "How the subject of a key schema is named: TopicNameStrategy (<topic>-key), RecordNameStrategy (the record's " +
			"full name) or TopicRecordNameStrategy (<topic>-<record full name>); class or simple name."},
	config.Key{Name: ValueSubjectNameStrategy, Type: config.String, Default: TopicNameStrategy, Importance: config.Medium,
		Validator: validStrategy,
		Doc: "How the subject of a value schema is named: TopicNameStrategy (<topic>-value), RecordNameStrategy or " +
			"TopicRecordNameStrategy; class or simple name."},
	config.Key{Name: EnhancedAvroSchemaSupport, Type: config.Boolean, Default: "false", Importance: config.Medium,
		Doc: "Keep Avro enums as enums and name union members by their full names through Connect, as Confluent's option does."},
	config.Key{Name: ConnectMetaData, Type: config.Boolean, Default: "true", Importance: config.Low,
		Doc: "Write and read the connect.* properties carrying Connect names, versions, docs, parameters and defaults in Avro schemas."},
	config.Key{Name: SchemasCacheConfig, Type: config.Int, Default: "1000", Importance: config.Low,
		Validator: config.AtLeast(1), Aliases: []string{SchemasCacheSize},
		Doc: "The number of schemas cached in each direction by this converter instance."},
)

// RegistryUser is a Converter that keeps schemas in a schema registry.
// Configs hands it the worker's built-in registry (Setting.Registry),
// nil when the worker has none, before calling Configure.
type RegistryUser interface {
	UseRegistry(registry.Client)
}

// Avro is Confluent's AvroConverter (io.confluent.connect.avro.AvroConverter):
// each record is the magic byte 0, the 4-byte big-endian id of its schema in
// a schema registry, and the Avro binary of the value. Schemas map between
// Connect and Avro as Confluent's AvroData maps them (connectors/codec/avro).
// The registry is the worker's built-in one unless schema.registry.url
// names another.
//
// In steady state neither direction talks to the registry: Encode caches
// the schema id per topic and Connect schema pointer, Decode the compiled
// schema per id, up to schemas.cache.config entries each. A cache miss
// makes registry requests bounded by schema.registry.request.timeout.ms.
//
// An Avro converter is used by one goroutine at a time; its caches are not
// locked.
type Avro struct {
	side         string // "key" or "value", for messages and subjects
	prop         string // "key.converter" or "value.converter"
	builtin      registry.Client
	client       registry.Client
	codec        *avro.Codec
	autoRegister bool
	useLatest    bool
	latestTTL    time.Duration
	timeout      time.Duration
	strategy     strategy
	now          func() time.Time

	enc  *codec.LRU[encKey, *avroEntry]
	dec  *codec.LRU[int32, *avro.Schema]
	last *avroEntry // the previous record's entry: one comparison per record of a stream of one shape
}

type encKey struct {
	topic  string
	schema *connectors.Schema
}

// avroEntry is what Encode caches per topic and Connect schema: the
// compiled schema and its id under the topic's subject.
type avroEntry struct {
	key     encKey
	schema  *avro.Schema
	id      int32
	expires time.Time // with use.latest.version and a latest.cache.ttl.sec; zero: never
}

// NewAvro returns an AvroConverter; call UseRegistry (or set
// schema.registry.url) and Configure before use.
func NewAvro() *Avro { return &Avro{now: time.Now} }

// Config returns the definition of the AvroConverter's properties.
func (*Avro) Config() *config.Def { return avroDef }

// UseRegistry implements RegistryUser: c is the worker's built-in
// registry, used unless schema.registry.url is set.
func (c *Avro) UseRegistry(r registry.Client) { c.builtin = r }

// Configure implements Converter. Without schema.registry.url and without
// a built-in registry it fails, saying to set schema.registry.url.
func (c *Avro) Configure(props map[string]string, isKey bool) error {
	v, err := parseProps(avroDef, props, isKey)
	if err != nil {
		return err
	}
	c.side, c.prop = "value", ValueConverter
	stratKey := ValueSubjectNameStrategy
	if isKey {
		c.side, c.prop, stratKey = "key", KeyConverter, KeySubjectNameStrategy
	}
	c.autoRegister = v.Bool(AutoRegisterSchemas)
	c.useLatest = v.Bool(UseLatestVersion)
	if c.autoRegister && c.useLatest {
		return &config.Error{Key: c.prop + "." + UseLatestVersion, Value: "true",
			Reason: "takes effect only with auto.register.schemas=false; set " + c.prop + "." + AutoRegisterSchemas +
				"=false to write with the subject's latest version, or remove " + c.prop + "." + UseLatestVersion}
	}
	c.strategy, _ = parseStrategy(v.String(stratKey))
	c.timeout = time.Duration(v.Int(registry.RequestTimeoutConfig)) * time.Millisecond
	c.latestTTL = time.Duration(v.Long(registry.LatestCacheTTLConfig)) * time.Second
	if v.Long(registry.LatestCacheTTLConfig) < 0 {
		c.latestTTL = -1
	}
	if strings.TrimSpace(v.String(registry.URLConfig)) != "" {
		cfg, err := registry.ParseHTTPConfig(props)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", c.prop, registry.URLConfig, err)
		}
		hc, err := registry.NewHTTPClient(cfg)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", c.prop, registry.URLConfig, err)
		}
		c.client = hc
	} else {
		for _, k := range []string{registry.BasicAuthUserInfoConfig, registry.BasicAuthSourceConfig} {
			if v.IsSet(k) {
				return &config.Error{Key: c.prop + "." + k, Reason: "is set but " + c.prop + "." + registry.URLConfig +
					" is not; the built-in schema registry takes no credentials: set " + c.prop + "." + registry.URLConfig +
					" to the external registry, or remove " + c.prop + "." + k}
			}
		}
		if c.builtin == nil {
			return &config.Error{Key: c.prop + "." + registry.URLConfig, Reason: "is not set and this worker has no built-in " +
				"schema registry; set " + c.prop + "." + registry.URLConfig + " to the registry's URL, such as http://localhost:8081"}
		}
		c.client = c.builtin
	}
	size := v.Int(SchemasCacheConfig)
	c.codec = avro.New(avro.Options{
		ConnectMetaData:       v.Bool(ConnectMetaData),
		EnhancedSchemaSupport: v.Bool(EnhancedAvroSchemaSupport),
		CacheSize:             size,
	})
	c.enc = codec.NewLRU[encKey, *avroEntry](size)
	c.dec = codec.NewLRU[int32, *avro.Schema](size)
	c.last = nil
	if c.now == nil {
		c.now = time.Now
	}
	return nil
}

// Encode implements Converter: the wire-format header with the schema's
// registry id, then the Avro binary. A nil value with a nil or optional
// schema is a Kafka null (a tombstone), as with Confluent's converter; any
// other value needs a schema.
//
// The first record of a Connect schema on a topic compiles the schema,
// names its subject and registers it (auto.register.schemas), looks it up,
// or fetches the subject's latest version (use.latest.version); a
// registry refusal (an incompatible schema) is an error naming the
// subject and the registry's reasons, and the next record tries again.
// Later records of that schema pointer are only encoded: schemas must not
// be modified once used. On error dst is returned truncated to its
// original length.
func (c *Avro) Encode(dst []byte, topic string, s *connectors.Schema, v any) ([]byte, error) {
	if v == nil && (s == nil || s.Optional) {
		if len(dst) == 0 {
			return nil, nil
		}
		return dst, nil
	}
	if s == nil {
		return dst, fmt.Errorf("AvroConverter: the %s for topic %q has no schema; Avro needs one: use a connector or transform "+
			"that gives the %s a schema, or set %s to JsonConverter (with schemas.enable=false) for schemaless data",
			c.side, topic, c.side, c.prop)
	}
	e := c.last
	if e == nil || e.key.schema != s || e.key.topic != topic || (!e.expires.IsZero() && !c.now().Before(e.expires)) {
		var err error
		if e, err = c.entry(topic, s); err != nil {
			return dst, err
		}
		c.last = e
	}
	start := len(dst)
	dst = avro.AppendHeader(dst, e.id)
	dst, err := e.schema.Append(dst, v)
	if err != nil {
		return dst[:start], fmt.Errorf("AvroConverter: converting the %s for topic %q: %w", c.side, topic, err)
	}
	return dst, nil
}

// EncodesLazy reports that Encode writes connectors.LazyStruct values
// from the fields they visit, without building them.
func (*Avro) EncodesLazy() bool { return true }

// entry returns the cached entry of (topic, s), resolving it with the
// registry on a miss or when it expired.
func (c *Avro) entry(topic string, s *connectors.Schema) (*avroEntry, error) {
	k := encKey{topic, s}
	if le, ok := c.enc.M[k]; ok {
		if le.Val.expires.IsZero() || c.now().Before(le.Val.expires) {
			c.enc.Touch(le)
			return le.Val, nil
		}
		c.enc.Remove(le)
	}
	e, err := c.resolve(topic, s)
	if err != nil {
		return nil, err
	}
	e.key = k
	c.enc.Add(k, e)
	return e, nil
}

// resolve compiles s and finds its id under its subject, as
// auto.register.schemas and use.latest.version say.
func (c *Avro) resolve(topic string, s *connectors.Schema) (*avroEntry, error) {
	compiled, err := c.codec.Schema(s)
	if err != nil {
		return nil, fmt.Errorf("AvroConverter: the %s schema %s for topic %q cannot be written in Avro: %w", c.side, label(s), topic, err)
	}
	subject, err := c.subject(topic, compiled)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	e := &avroEntry{schema: compiled}
	var id int
	switch {
	case c.autoRegister:
		id, err = c.client.Register(ctx, subject, compiled.String())
		if err != nil {
			return nil, c.registryError(err, "registering the %s schema of topic %q under subject %q", c.side, topic, subject)
		}
	case c.useLatest:
		var text string
		id, _, text, err = c.client.Latest(ctx, subject)
		if err != nil {
			return nil, c.registryError(err, "fetching the latest version of subject %q for the %s of topic %q (use.latest.version)",
				subject, c.side, topic)
		}
		if e.schema, err = c.codec.WriterFor(s, text); err != nil {
			return nil, fmt.Errorf("AvroConverter: the latest version (id %d) of subject %q does not fit the %s schema %s of topic %q: %w; "+
				"register a version with the record's fields, or set %s.%s=false", id, subject, c.side, label(s), topic, err, c.prop, UseLatestVersion)
		}
		if c.latestTTL >= 0 {
			e.expires = c.now().Add(c.latestTTL)
		}
	default:
		id, err = c.client.LookupID(ctx, subject, compiled.String())
		if err != nil {
			return nil, c.registryError(err, "looking up the %s schema of topic %q under subject %q (auto.register.schemas=false)",
				c.side, topic, subject)
		}
	}
	e.id = int32(id)
	return e, nil
}

// registryError wraps a registry failure, with the fix where the code
// says what it is.
func (c *Avro) registryError(err error, format string, args ...any) error {
	msg := "AvroConverter: " + fmt.Sprintf(format, args...)
	var re *registry.Error
	if errors.As(err, &re) {
		switch re.Code {
		case registry.CodeIncompatibleSchema:
			msg += ": the registry refused the schema as incompatible"
			if len(re.Reasons) > 0 {
				msg += " (" + strings.Join(re.Reasons, "; ") + ")"
			}
		case registry.CodeSubjectNotFound, registry.CodeSchemaNotFound:
			if c.useLatest {
				msg += ": the subject has no live version; register one"
			} else {
				msg += ": the schema is not registered; register it, or set " + c.prop + "." + AutoRegisterSchemas + "=true"
			}
		}
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// subject names the subject of a schema by the configured strategy.
func (c *Avro) subject(topic string, s *avro.Schema) (string, error) {
	if c.strategy == topicName {
		return topic + "-" + c.side, nil
	}
	name, ok := recordFullName(s.Avro())
	if !ok {
		return "", fmt.Errorf("AvroConverter: the %s schema of topic %q is an Avro %s, which has no name for %s; "+
			"set %s.%s=TopicNameStrategy, or give the %s a struct schema", c.side, topic, s.Avro().Type(),
			strategyNames[c.strategy], c.prop, c.side+".subject.name.strategy", c.side)
	}
	if c.strategy == recordName {
		return name, nil
	}
	return topic + "-" + name, nil
}

// recordFullName is the full name of a named Avro schema (record, enum,
// fixed), or of the one named member of a union with null (an optional
// struct).
func recordFullName(a hamba.Schema) (string, bool) {
	if u, ok := a.(*hamba.UnionSchema); ok {
		var named hamba.Schema
		for _, t := range u.Types() {
			if t.Type() == hamba.Null {
				continue
			}
			if named != nil {
				return "", false
			}
			named = t
		}
		if named == nil {
			return "", false
		}
		a = named
	}
	if r, ok := a.(*hamba.RefSchema); ok {
		a = r.Schema()
	}
	n, ok := a.(hamba.NamedSchema)
	if !ok {
		return "", false
	}
	return n.FullName(), true
}

func label(s *connectors.Schema) string {
	if s.Name != "" {
		return fmt.Sprintf("%q", s.Name)
	}
	return string(s.Type)
}

// Decode implements Converter: Kafka null decodes as a nil schema and
// value; anything else must be in Confluent's wire format. The schema of
// an id is fetched from the registry once and cached (up to
// schemas.cache.config ids), so every record of an id gets the same
// *connectors.Schema. A wrong magic byte, an id the registry does not
// know and a truncated or malformed payload are errors for that record;
// the value never aliases data.
func (c *Avro) Decode(topic string, data []byte) (*connectors.Schema, any, error) {
	if data == nil {
		return nil, nil, nil
	}
	id, payload, err := avro.ParseWire(data)
	if err != nil {
		return nil, nil, fmt.Errorf("AvroConverter: converting the %s of topic %q: %w", c.side, topic, err)
	}
	s, err := c.schemaByID(id)
	if err != nil {
		return nil, nil, fmt.Errorf("AvroConverter: converting the %s of topic %q: schema id %d: %w", c.side, topic, id, err)
	}
	v, err := s.Decode(payload)
	if err != nil {
		return nil, nil, fmt.Errorf("AvroConverter: converting the %s of topic %q with schema id %d: %w", c.side, topic, id, err)
	}
	return s.Connect(), v, nil
}

func (c *Avro) schemaByID(id int32) (*avro.Schema, error) {
	if e, ok := c.dec.M[id]; ok {
		c.dec.Touch(e)
		return e.Val, nil
	}
	if id < 0 {
		return nil, errors.New("negative schema ids are never assigned; the data is corrupt")
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	text, err := c.client.SchemaByID(ctx, int(id))
	if err != nil {
		if registry.ErrorCode(err) == registry.CodeSchemaNotFound {
			return nil, fmt.Errorf("the schema registry does not know it; check that %s.%s names the registry the producer used: %w",
				c.prop, registry.URLConfig, err)
		}
		return nil, err
	}
	s, err := c.codec.FromAvro(text)
	if err != nil {
		return nil, fmt.Errorf("the registered schema cannot be read as Connect data: %w", err)
	}
	c.dec.Add(id, s)
	return s, nil
}
