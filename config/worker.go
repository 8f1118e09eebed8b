package config

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Worker property names (Kafka Connect's where it has one).
const (
	BootstrapServers             = "bootstrap.servers"
	GroupID                      = "group.id"
	ConfigStorageTopic           = "config.storage.topic"
	OffsetStorageTopic           = "offset.storage.topic"
	StatusStorageTopic           = "status.storage.topic"
	ConfigStorageRF              = "config.storage.replication.factor"
	OffsetStorageRF              = "offset.storage.replication.factor"
	StatusStorageRF              = "status.storage.replication.factor"
	OffsetStoragePartitions      = "offset.storage.partitions"
	StatusStoragePartitions      = "status.storage.partitions"
	OffsetFlushInterval          = "offset.flush.interval.ms"
	OffsetFlushTimeout           = "offset.flush.timeout.ms"
	KeyConverter                 = "key.converter"
	ValueConverter               = "value.converter"
	HeaderConverter              = "header.converter"
	Listeners                    = "listeners"
	TaskShutdownGracefulTimeout  = "task.shutdown.graceful.timeout.ms"
	ExactlyOnceSourceSupport     = "exactly.once.source.support"
	ScheduledRebalanceMaxDelay   = "scheduled.rebalance.max.delay.ms"
	SessionTimeout               = "session.timeout.ms"
	HeartbeatInterval            = "heartbeat.interval.ms"
	RebalanceTimeout             = "rebalance.timeout.ms"
	WorkerSyncTimeout            = "worker.sync.timeout.ms"
	RESTAdvertisedHost           = "rest.advertised.host.name"
	RESTAdvertisedPort           = "rest.advertised.port"
	RESTAdvertisedListener       = "rest.advertised.listener"
	SchemaRegistryTopic          = "schema.registry.topic"
	SchemaRegistryListeners      = "schema.registry.listeners"
	TopicCreationEnable          = "topic.creation.enable"
	DataDir                      = "sluice.data.dir"
	BrokerListen                 = "sluice.broker.listen"
	BrokerStartTimeout           = "sluice.bootstrap.timeout.ms"
	BrokerCleanerInterval        = "sluice.broker.log.cleaner.backoff.ms"
	ProducerMaxBufferedRecords   = "sluice.producer.max.buffered.records"
	ProducerMaxBufferedBytes     = "sluice.producer.max.buffered.bytes"
	ProducerLinger               = "producer.linger.ms"
	ProducerCompression          = "producer.compression.type"
	ConsumerMaxPollRecords       = "consumer.max.poll.records"
	WorkerLogLevel               = "sluice.log.level"
	DebugPprof                   = "sluice.debug.pprof"
	RESTAllowedHosts             = "rest.allowed.hosts"
	RESTAuthBasicFile            = "rest.auth.basic.file"
	RESTAuthTokensFile           = "rest.auth.bearer.tokens.file"
	RESTAuthCertRoles            = "rest.auth.client.cert.roles"
	SSLKeystoreType              = "ssl.keystore.type"
	SSLKeystoreLocation          = "ssl.keystore.location"
	SSLKeystoreCertificateChain  = "ssl.keystore.certificate.chain"
	SSLKeystoreKey               = "ssl.keystore.key"
	SSLTruststoreType            = "ssl.truststore.type"
	SSLTruststoreLocation        = "ssl.truststore.location"
	SSLTruststoreCertificates    = "ssl.truststore.certificates"
	SSLClientAuthentication      = "ssl.client.authentication"
	SSLEndpointIdentification    = "ssl.endpoint.identification.algorithm"
	SecurityProtocol             = "security.protocol"
	SASLMechanism                = "sasl.mechanism"
	SASLJAASConfig               = "sasl.jaas.config"
	SASLUsername                 = "sasl.username"
	SASLPassword                 = "sasl.password"
	SASLOAuthBearerTokenFile     = "sasl.oauthbearer.token.file"
	ClientOverridePolicy         = "connector.client.config.override.policy"
	EncryptionKey                = "config.encryption.key"
	EncryptionKeyFile            = "config.encryption.key.file"
	EncryptionPreviousKeys       = "config.encryption.previous.keys"
	DefaultWorkerListener        = "http://127.0.0.1:8083"
	DefaultEmbeddedBrokerAddress = "127.0.0.1:9092"
)

// HeaderConverters are the header.converter classes Sluice accepts: the
// ones that write a header given as bytes or text as those bytes.
var HeaderConverters = []string{
	"org.apache.kafka.connect.storage.SimpleHeaderConverter", "SimpleHeaderConverter",
	"org.apache.kafka.connect.storage.StringConverter", "StringConverter",
	"org.apache.kafka.connect.converters.ByteArrayConverter", "ByteArrayConverter",
}

// HeaderConverterDoc documents header.converter for the worker and the
// connectors.
const HeaderConverterDoc = "How record headers are written. Sluice's connectors and transforms give header values as bytes (text as UTF-8, structured values as JSON, as SimpleHeaderConverter renders them), and they are written as those bytes, which is what SimpleHeaderConverter (the default), StringConverter and ByteArrayConverter write; other header converters (JsonConverter, say) are refused."

// WorkerDef defines every worker property.
var WorkerDef = NewDef(
	Key{Name: BootstrapServers, Type: List, Default: "", Importance: High, Group: "Kafka",
		Doc: "Kafka brokers to connect to (host:port, comma-separated). Empty: start an embedded single-node broker persisted under sluice.data.dir."},
	Key{Name: GroupID, Type: String, Default: "sluice", Importance: High, Group: "Kafka",
		Doc: "The pool this worker belongs to: workers with the same group.id and the same Kafka cluster join one Kafka group (protocol type connect) and share the connectors of their configs, offsets and status topics, which must then be the same for all of them. The group leader spreads connectors and tasks evenly, writes the configs topic (other workers forward REST writes to it) and moves a departed worker's work after scheduled.rebalance.max.delay.ms (docs/operations.md, \"A pool of workers\")."},
	Key{Name: ConfigStorageTopic, Type: String, Default: "sluice-configs", Importance: High, Group: "Kafka",
		Doc: "Compacted topic (1 partition) holding connector and task configs and target states."},
	Key{Name: OffsetStorageTopic, Type: String, Default: "sluice-offsets", Importance: High, Group: "Kafka",
		Doc: "Compacted topic holding source connectors' offsets."},
	Key{Name: StatusStorageTopic, Type: String, Default: "sluice-status", Importance: High, Group: "Kafka",
		Doc: "Compacted topic holding connector and task statuses."},
	Key{Name: ConfigStorageRF, Type: Short, Default: "-1", Importance: Low, Group: "Kafka",
		Doc: "Replication factor of the configs topic when it is created; -1 uses the broker's default."},
	Key{Name: OffsetStorageRF, Type: Short, Default: "-1", Importance: Low, Group: "Kafka",
		Doc: "Replication factor of the offsets topic when it is created; -1 uses the broker's default."},
	Key{Name: StatusStorageRF, Type: Short, Default: "-1", Importance: Low, Group: "Kafka",
		Doc: "Replication factor of the status topic when it is created; -1 uses the broker's default."},
	Key{Name: OffsetStoragePartitions, Type: Int, Default: "25", Importance: Low, Group: "Kafka", Validator: AtLeast(1),
		Doc: "Partitions of the offsets topic when it is created."},
	Key{Name: StatusStoragePartitions, Type: Int, Default: "5", Importance: Low, Group: "Kafka", Validator: AtLeast(1),
		Doc: "Partitions of the status topic when it is created."},
	Key{Name: TopicCreationEnable, Type: Boolean, Default: "true", Importance: Low, Group: "Kafka",
		Doc: "Create the topics source connectors write, through the admin API before their first record, as their topic.creation.* properties say (KIP-158; without them: the brokers' default partitions and replication factor). Sluice never relies on the brokers' auto-creation: with false, a record for a topic that does not exist fails its task, and connectors may not set topic.creation.*."},
	Key{Name: OffsetFlushInterval, Type: Long, Default: "5000", Importance: Medium, Group: "Tasks", Validator: AtLeast(1),
		Doc: "How often source offsets acknowledged by Kafka are committed. After a crash, at most this much work is replayed (duplicates, never loss)."},
	Key{Name: OffsetFlushTimeout, Type: Long, Default: "5000", Importance: Low, Group: "Tasks", Validator: AtLeast(1),
		Doc: "How long an offset commit may take before it is abandoned and retried at the next interval."},
	Key{Name: KeyConverter, Type: Class, Default: "org.apache.kafka.connect.json.JsonConverter", Importance: High, Group: "Converters",
		Doc: "Default converter for record keys; properties key.converter.* configure it. Connectors may override it."},
	Key{Name: ValueConverter, Type: Class, Default: "org.apache.kafka.connect.json.JsonConverter", Importance: High, Group: "Converters",
		Doc: "Default converter for record values; properties value.converter.* configure it. Connectors may override it."},
	Key{Name: HeaderConverter, Type: Class, Default: "org.apache.kafka.connect.storage.SimpleHeaderConverter", Importance: Low, Group: "Converters",
		Validator: In(HeaderConverters...), Doc: HeaderConverterDoc},
	Key{Name: Listeners, Type: List, Default: DefaultWorkerListener, Importance: High, Group: "REST",
		Validator: oneListener, Doc: "REST API listener, as http://host:port or https://host:port (TLS from the ssl.* properties below, or their listeners.https.ssl.* forms). This version serves one listener."},
	Key{Name: RESTAllowedHosts, Type: List, Default: "", Importance: Medium, Group: "REST",
		Doc: "Host names the REST API answers to (the Host header, and the Origin header when a browser sends one), against DNS rebinding and cross-site requests: a request for another Host gets 421, one with another Origin 403. Empty: the listener's host; plus localhost, 127.0.0.1 and ::1 when it is a loopback address; and, when it listens on all interfaces (0.0.0.0, ::), those plus the machine's host name and every interface address. Add the names clients and proxies use (a DNS name, a Kubernetes service). * turns the check off."},
	Key{Name: RESTAuthBasicFile, Type: String, Default: "", Importance: High, Group: "REST",
		Doc: "File of REST users for HTTP basic authentication, one user:bcrypt-hash:role line each (role admin or read-only; htpasswd -nbBC 10 USER PASSWORD makes the first two fields). Read at start. Empty: no basic authentication. With none of the rest.auth.* properties set the API is open to whoever can reach it."},
	Key{Name: RESTAuthTokensFile, Type: String, Default: "", Importance: High, Group: "REST",
		Doc: "File of REST bearer tokens, one sha256-hex-of-token:name:role line each (the token itself is never stored). Read at start. Empty: no bearer tokens."},
	Key{Name: RESTAuthCertRoles, Type: List, Default: "", Importance: High, Group: "REST",
		Doc: "Roles of client certificates, as CN=role entries (admin or read-only) keyed by the subject common name of a certificate verified against the truststore. Needs an https listener with ssl.client.authentication requested or required."},
	Key{Name: SSLKeystoreType, Type: String, Default: "PEM", Importance: Medium, Group: "REST TLS",
		Doc: "Format of the key store of the https listener and of the Kafka clients: PEM only (JKS and PKCS12 are refused; convert them with openssl). As in Kafka Connect, the ssl.* properties configure the Kafka clients (with security.protocol SSL or SASL_SSL; producer.ssl.*, consumer.ssl.* and admin.ssl.* override them per client) and the https listener. All ssl.* properties may be given as listeners.https.ssl.*; as in Kafka Connect, when any listeners.https.ssl.* property is set, the unprefixed ones are ignored for the listener."},
	Key{Name: SSLKeystoreLocation, Type: String, Default: "", Importance: High, Group: "REST TLS",
		Doc: "PEM file with a certificate chain (its own certificate first) and unencrypted private key: the https listener's, and the Kafka clients' client certificate for brokers that ask for one."},
	Key{Name: SSLKeystoreCertificateChain, Type: String, Default: "", Importance: Medium, Group: "REST TLS",
		Doc: "The PEM certificate chain of ssl.keystore.location, inline (with ssl.keystore.key, instead of ssl.keystore.location); for the https listener and the Kafka clients."},
	Key{Name: SSLKeystoreKey, Type: Password, Default: "", Importance: Medium, Group: "REST TLS",
		Doc: "The unencrypted PEM private key of ssl.keystore.certificate.chain, inline; for the https listener and the Kafka clients. Encrypted keys and ssl.key.password are refused."},
	Key{Name: SSLTruststoreType, Type: String, Default: "PEM", Importance: Low, Group: "REST TLS",
		Doc: "Format of the trust store: PEM only (JKS and PKCS12 are refused)."},
	Key{Name: SSLTruststoreLocation, Type: String, Default: "", Importance: Medium, Group: "REST TLS",
		Doc: "PEM file of CA certificates: for the Kafka clients, the CAs that sign the brokers' certificates (empty: the system's); for the https listener, the CAs that sign accepted client certificates."},
	Key{Name: SSLTruststoreCertificates, Type: String, Default: "", Importance: Low, Group: "REST TLS",
		Doc: "The CA certificates of ssl.truststore.location, inline PEM (instead of the file)."},
	Key{Name: SSLClientAuthentication, Type: String, Default: "none", Importance: Medium, Group: "REST TLS", Validator: In("none", "requested", "required"),
		Doc: "Client certificates on the https listener, as in Kafka Connect: none; requested (verified against the truststore when sent); required (the TLS handshake fails without one)."},
	Key{Name: SSLEndpointIdentification, Type: String, Default: "https", Importance: Low, Group: "Kafka security",
		Doc: "How the Kafka clients check the brokers' certificates' host names, as in Kafka: https verifies that the certificate names the host connected to; empty does not (the chain is still verified against the trust store)."},
	Key{Name: SecurityProtocol, Type: String, Default: "PLAINTEXT", Importance: Medium, Group: "Kafka security", Validator: In("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
		Doc: "How every Kafka client of the worker (admin, state topics, source producers, sink consumers) talks to the brokers: PLAINTEXT, SSL (TLS, see the ssl.* properties), SASL_PLAINTEXT or SASL_SSL (SASL, see sasl.mechanism). producer.security.protocol, consumer.security.protocol and admin.security.protocol override it for those clients (unlike Kafka Connect, they default to this). See docs/security.md."},
	Key{Name: SASLMechanism, Type: String, Default: "GSSAPI", Importance: Medium, Group: "Kafka security",
		Doc: "SASL mechanism with SASL_PLAINTEXT or SASL_SSL: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (with sasl.oauthbearer.token.file). GSSAPI, Kafka's default, is not supported: set this."},
	Key{Name: SASLJAASConfig, Type: Password, Default: nil, Importance: Medium, Group: "Kafka security",
		Doc: "SASL credentials as Kafka users write them: org.apache.kafka.common.security.plain.PlainLoginModule required username=\"USER\" password=\"PASSWORD\"; (ScramLoginModule for SCRAM). Or use sasl.username and sasl.password."},
	Key{Name: SASLUsername, Type: String, Default: nil, Importance: Medium, Group: "Kafka security",
		Doc: "SASL user name for PLAIN and SCRAM (Sluice's simpler alternative to sasl.jaas.config)."},
	Key{Name: SASLPassword, Type: Password, Default: nil, Importance: Medium, Group: "Kafka security",
		Doc: "SASL password for PLAIN and SCRAM, with sasl.username."},
	Key{Name: SASLOAuthBearerTokenFile, Type: String, Default: nil, Importance: Low, Group: "Kafka security",
		Doc: "File holding the bearer token for sasl.mechanism=OAUTHBEARER, re-read at each new connection so that it may be rotated (Sluice does not fetch tokens itself)."},
	Key{Name: ClientOverridePolicy, Type: String, Default: "All", Importance: Medium, Group: "Kafka security", Validator: In("None", "Principal", "All"),
		Doc: "Which Kafka client settings connectors may override with producer.override.* (sources) and consumer.override.* (sinks), as in Kafka Connect: None, none; Principal, security.protocol, sasl.mechanism and sasl.jaas.config (and sasl.username, sasl.password, sasl.oauthbearer.token.file); All, the default as in Kafka 3.0+, those plus the ssl.* properties, and linger.ms and compression.type (producers) or max.poll.records (consumers). Other override keys are refused."},
	Key{Name: TaskShutdownGracefulTimeout, Type: Long, Default: "5000", Importance: Low, Group: "Tasks", Validator: AtLeast(0),
		Doc: "How long a stopping task may take before it is abandoned (and reported) so that it never blocks the worker."},
	Key{Name: ExactlyOnceSourceSupport, Type: String, Default: "disabled", Importance: Medium, Group: "Tasks",
		Validator: In("disabled", "preparing", "enabled"), Doc: "Exactly-once delivery for source connectors (KIP-618). enabled: each source task writes through a transactional producer (transactional id <group.id>-<connector>-<task>), its records and their source offsets commit in one transaction, a task fences its previous instance before it starts, and the offsets topic and sinks read only committed records. preparing: reads committed records only, for a rolling upgrade of a pool from disabled to enabled. disabled: at least once. Set the same value on every worker of a pool; the Kafka principal needs Write and Describe on the transactional ids (docs/security.md)."},
	Key{Name: ScheduledRebalanceMaxDelay, Type: Long, Default: "300000", Importance: Low, Group: "Kafka",
		Validator: AtLeast(0), Doc: "How long the connectors and tasks of a worker that left the pool wait for it to come back before the leader gives them to the other workers (KIP-415); a worker that returns within the delay gets them back without anything restarting elsewhere. 0 reassigns them at once."},
	Key{Name: SessionTimeout, Type: Long, Default: "10000", Importance: High, Group: "Kafka", Validator: AtLeast(1),
		Doc: "How long the group coordinator waits for a worker's heartbeat before it drops the worker from the pool; must be within the brokers' group.min/max.session.timeout.ms."},
	Key{Name: HeartbeatInterval, Type: Long, Default: "3000", Importance: High, Group: "Kafka", Validator: AtLeast(1),
		Doc: "How often a worker heartbeats to the group coordinator; also how long the coordinator may be unreachable before the worker stops its connectors and tasks (they may be running elsewhere by then). Below session.timeout.ms, usually a third of it."},
	Key{Name: RebalanceTimeout, Type: Long, Default: "60000", Importance: Medium, Group: "Kafka", Validator: AtLeast(1),
		Doc: "How long a rebalance waits for every worker to rejoin the pool, so how long a worker has to stop the work it gives up."},
	Key{Name: WorkerSyncTimeout, Type: Long, Default: "3000", Importance: Medium, Group: "Kafka", Validator: AtLeast(1),
		Doc: "How long a worker waits to read the configs topic as far as the leader's assignment says before it rejoins the pool instead of starting that assignment."},
	Key{Name: SchemaRegistryTopic, Type: String, Default: "sluice-schemas", Importance: Medium, Group: "Schema registry",
		Doc: "Compacted topic (1 partition) of the built-in schema registry (docs/schema-registry.md). Every worker of a pool serves it; ids survive restarts. Empty turns the built-in registry off (the Avro converter then needs schema.registry.url)."},
	Key{Name: SchemaRegistryListeners, Type: List, Default: "", Importance: Medium, Group: "Schema registry",
		Doc: "A listener of its own for the built-in schema registry, as http://host:port (for clients that expect it at a root, on port 8081 say). Empty: the registry is served on the REST listener, at its Confluent paths (/subjects, /schemas, /config, /compatibility), behind the REST listener's authentication."},
	Key{Name: RESTAdvertisedHost, Type: String, Default: "", Importance: Low, Group: "REST",
		Doc: "Host name the other workers of the pool use to reach this worker's REST API (forwarded writes, task configs), and the worker id in statuses. Empty: the listener's host, or this machine's host name when the listener is on all interfaces."},
	Key{Name: RESTAdvertisedPort, Type: Int, Default: "0", Importance: Low, Group: "REST", Validator: AtLeast(0),
		Doc: "Port the other workers use to reach this worker's REST API. 0: the listener's port."},
	Key{Name: RESTAdvertisedListener, Type: String, Default: "", Importance: Low, Group: "REST", Validator: In("", "http", "https"),
		Doc: "Scheme (http or https) the other workers use to reach this worker's REST API. Empty: the listener's."},
	Key{Name: DataDir, Type: String, Default: "./sluice-data", Importance: Medium, Group: "Embedded broker",
		Doc: "Directory of the embedded broker's data (used when bootstrap.servers is empty) and of the tasks' scratch files (spill/<connector>/<task>, emptied when the task starts)."},
	Key{Name: BrokerListen, Type: String, Default: DefaultEmbeddedBrokerAddress, Importance: Medium, Group: "Embedded broker",
		Doc: "Address the embedded broker listens on."},
	Key{Name: BrokerCleanerInterval, Type: Long, Default: "0", Importance: Low, Group: "Embedded broker", Validator: AtLeast(0),
		Doc: "How often the embedded broker compacts compacted topics and applies retention while it runs (Kafka's log.cleaner.backoff.ms). 0, the default, never does: it compacts and applies retention at each start instead, because a kill -9 during a compaction can wipe a partition (docs/operations.md). Meant for tests only."},
	Key{Name: BrokerStartTimeout, Type: Long, Default: "15000", Importance: Low, Group: "Kafka", Validator: AtLeast(1),
		Doc: "How long the worker waits for bootstrap.servers to answer at start before it exits with an error naming them."},
	Key{Name: ProducerMaxBufferedRecords, Type: Int, Default: "50000", Importance: Low, Group: "Tasks", Validator: AtLeast(1),
		Doc: "Records a source task may have in flight to Kafka before polling blocks (back-pressure)."},
	Key{Name: ProducerMaxBufferedBytes, Type: Long, Default: "8388608", Importance: Low, Group: "Tasks", Validator: AtLeast(1),
		Doc: "Bytes a source task may have in flight to Kafka before polling blocks (back-pressure)."},
	Key{Name: ProducerLinger, Type: Long, Default: "5", Importance: Low, Group: "Tasks", Validator: AtLeast(0),
		Doc: "How long the producer waits to fill a batch."},
	Key{Name: ProducerCompression, Type: String, Default: "snappy", Importance: Low, Group: "Tasks", Validator: In("none", "gzip", "snappy", "lz4", "zstd"),
		Doc: "Compression of the record batches source tasks produce: none, gzip, snappy, lz4 or zstd. snappy, the default, shrinks JSON change events several times for little CPU; zstd and gzip shrink them further for more CPU."},
	Key{Name: ConsumerMaxPollRecords, Type: Int, Default: "2000", Importance: Low, Group: "Tasks", Validator: AtLeast(1),
		Doc: "Most records a sink task is handed in one put."},
	Key{Name: DebugPprof, Type: Boolean, Default: "false", Importance: Low, Group: "REST",
		Doc: "Serve Go's profiler under /sluice/debug/pprof/ on the REST listener (for diagnosing performance; do not expose publicly)."},
	Key{Name: ConfigProviders, Type: List, Default: "", Importance: Low, Group: "Security",
		Doc: "Names of the config providers connector configs may reference as ${name:path:key} (Kafka's KIP-297). Each needs config.providers.<name>.class: file (org.apache.kafka.common.config.provider.FileConfigProvider, ${name:/path/file.properties:key}), directory (DirectoryConfigProvider, ${name:/dir:file} is the file's content) or env (EnvVarConfigProvider, ${name:VARIABLE}). config.providers.<name>.param.allowed.paths limits the file and directory providers to paths under the listed absolute paths (KIP-993); config.providers.<name>.param.allowlist.pattern limits the env provider to variables whose names fully match the regular expression (KIP-887). Empty, the default: no providers, and references stay as written. See docs/security.md."},
	Key{Name: EncryptionKey, Type: Password, Default: nil, Importance: Medium, Group: "Security",
		Doc: "Key that encrypts sensitive connector values (PASSWORD properties and credentials inside URLs) in the configs topic: base64 of 32 random bytes (openssl rand -base64 32). Values are stored as AES-256-GCM envelopes ${sluice-encrypted:v1:<key id>:...} and decrypted when read. Unset (and config.encryption.key.file unset): values are stored in plain text, readable by anyone who can read the configs topic. See docs/security.md."},
	Key{Name: EncryptionKeyFile, Type: String, Default: nil, Importance: Medium, Group: "Security",
		Doc: "File holding config.encryption.key (base64, surrounding white space ignored), instead of the key itself."},
	Key{Name: EncryptionPreviousKeys, Type: List, Sensitive: true, Default: "", Importance: Low, Group: "Security",
		Doc: "Earlier encryption keys (base64, comma-separated) that still open values stored with them, for key rotation: new writes always use config.encryption.key."},
	Key{Name: WorkerLogLevel, Type: String, Default: "info", Importance: Low, Group: "Logging", Validator: In("debug", "info", "warn", "error"),
		Doc: "Log level: debug, info, warn or error."},
)

// Worker is a parsed worker config.
type Worker struct {
	Values *Values
	// Props are every property as given (defined or not), for converter
	// and client pass-through (key.converter.schemas.enable, ...).
	Props map[string]string
}

// BootstrapServers returns the brokers, empty for the embedded broker.
func (w *Worker) BootstrapServers() []string { return w.Values.List(BootstrapServers) }

// String returns a string property.
func (w *Worker) String(name string) string { return w.Values.String(name) }

// Duration returns a millisecond property as a duration.
func (w *Worker) Duration(name string) time.Duration { return w.Values.Duration(name) }

// LoadWorker builds the worker config from, in increasing precedence, the
// file (a .properties, .yaml or .yml; "" for none), SLUICE_* environment
// variables (SLUICE_BOOTSTRAP_SERVERS is bootstrap.servers: upper case,
// dots as underscores) and flags (already parsed, name → value).
func LoadWorker(file string, environ []string, flags map[string]string) (*Worker, error) {
	props := map[string]string{}
	if file != "" {
		var m map[string]string
		var err error
		switch strings.ToLower(filepath.Ext(file)) {
		case ".yaml", ".yml":
			m, err = readYAML(file)
		default:
			m, err = ReadProperties(file)
		}
		if err != nil {
			return nil, fmt.Errorf("reading worker config %s: %w", file, err)
		}
		for k, v := range m {
			props[k] = v
		}
	}
	envNames := map[string]string{}
	for _, k := range WorkerDef.Keys() {
		envNames[EnvName(k.Name)] = k.Name
	}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "SLUICE_") || strings.HasPrefix(name, "SLUICE_IT_") {
			continue
		}
		if key, ok := envNames[name]; ok {
			props[key] = val
		} else {
			// Properties the worker passes on (key.converter.schemas.enable
			// as SLUICE_KEY_CONVERTER_SCHEMAS_ENABLE).
			props[strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, "SLUICE_"), "_", "."))] = val
		}
	}
	for k, v := range flags {
		props[k] = v
	}
	v, err := WorkerDef.Parse(props)
	if err != nil {
		return nil, fmt.Errorf("worker config: %w", err)
	}
	return &Worker{Values: v, Props: props}, nil
}

// EnvName returns the environment variable that sets a worker property.
func EnvName(property string) string {
	return "SLUICE_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(property))
}

func readYAML(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	out := map[string]string{}
	flatten("", raw, out)
	return out, nil
}

// flatten turns nested YAML maps into dotted property names, so both
// "bootstrap.servers: x" and "bootstrap: {servers: x}" work.
func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, x[k], out)
		}
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(e)
		}
		out[prefix] = strings.Join(parts, ",")
	case nil:
		out[prefix] = ""
	default:
		out[prefix] = fmt.Sprint(x)
	}
}

// Prefixed returns the properties under prefix with the prefix removed.
func Prefixed(props map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range props {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

// ParsePropertiesString parses .properties text.
func ParsePropertiesString(s string) (map[string]string, error) {
	return ParseProperties(bufio.NewScanner(strings.NewReader(s)))
}

// oneListener refuses more than one REST listener: only one is served,
// and a second one silently ignored would be a lie.
func oneListener(name string, v any) error {
	if ls, _ := v.([]string); len(ls) > 1 {
		return fmt.Errorf("%s %q: this version serves one REST listener; keep one http://host:port", name, strings.Join(ls, ","))
	}
	return nil
}
