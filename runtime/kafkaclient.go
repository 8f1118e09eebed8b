package runtime

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/kafkasec"
	"github.com/sluice-cdc/sluice/runtime/kafkalog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The worker's Kafka clients' security (security.protocol, sasl.*,
// ssl.*) is read by internal/kafkasec; this file picks the properties of
// each client (admin., producer., consumer. prefixes and connectors'
// overrides) and words ACL denials.

type (
	kafkaSecurity = kafkasec.Security
	propLayer     = kafkasec.Layer
)

// aclError is a request a principal's ACLs do not allow.
type aclError struct {
	Operation    string // Write, Read, Describe, Create
	ResourceType string // topic, group
	Resource     string
	Principal    string
	Err          error
}

func (e *aclError) Error() string {
	flag := "--" + e.ResourceType
	return fmt.Sprintf("%s on %s %s denied for principal %s (%v): grant it with kafka-acls.sh --add --allow-principal %s --operation %s %s %s",
		strings.ToUpper(e.Operation), e.ResourceType, e.Resource, e.Principal, e.Err, e.Principal, e.Operation, flag, e.Resource)
}

func (e *aclError) Unwrap() error { return e.Err }

// denied returns an aclError when err says the principal may not do op
// on the topic, nil otherwise.
func denied(err error, op, topic string, s *kafkaSecurity) error {
	if s == nil || !errors.Is(err, kerr.TopicAuthorizationFailed) {
		return nil
	}
	return &aclError{Operation: op, ResourceType: "topic", Resource: topic, Principal: s.Principal(), Err: err}
}

// groupDenied returns an aclError when err says the principal may not use
// the consumer group.
func groupDenied(err error, group string, s *kafkaSecurity) error {
	if s == nil || !errors.Is(err, kerr.GroupAuthorizationFailed) {
		return nil
	}
	return &aclError{Operation: "Read", ResourceType: "group", Resource: group, Principal: s.Principal(), Err: err}
}

// overrideKeys returns the connector's producer.override.* or
// consumer.override.* keys, sorted.
func overrideKeys(connCfg map[string]string, prefix string) []string {
	var keys []string
	for k := range connCfg {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// workerSecurity is the security of each kind of client the worker
// makes, from the worker's properties.
type workerSecurity struct {
	admin, log, producer, consumer *kafkaSecurity
	props                          map[string]string
	// servers are the brokers, for messages.
	servers []string
}

// unchecked says whether s is not the security of a client the worker
// checked at start (admin or state topics).
func (ws *workerSecurity) unchecked(s *kafkaSecurity) bool {
	return s != ws.admin && s != ws.log
}

// check pings the brokers with cl, turning an authentication or TLS
// failure into a message naming the fix.
func (ws *workerSecurity) check(ctx context.Context, cl *kgo.Client, s *kafkaSecurity, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("connecting to Kafka with this connector's client settings: %w", kafkasec.Explain(err, s, ws.servers))
	}
	return nil
}

// checkOpts is check with a client made from opts.
func (ws *workerSecurity) checkOpts(ctx context.Context, opts []kgo.Opt, s *kafkaSecurity, timeout time.Duration) error {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return ws.check(ctx, cl, s, timeout)
}

// workerKafkaSecurity reads the security of the worker's clients.
func workerKafkaSecurity(props map[string]string) (*workerSecurity, error) {
	ws := &workerSecurity{props: props}
	var err error
	if ws.log, err = kafkasec.From(propLayer{Props: props, Prefix: ""}); err != nil {
		return nil, err
	}
	ws.admin, ws.producer, ws.consumer = ws.log, ws.log, ws.log
	for _, c := range []struct {
		prefix string
		dst    **kafkaSecurity
	}{{"admin.", &ws.admin}, {"producer.", &ws.producer}, {"consumer.", &ws.consumer}} {
		if !hasSecurityKey(props, c.prefix) {
			continue
		}
		if *c.dst, err = kafkasec.From(propLayer{Props: props, Prefix: c.prefix}, propLayer{Props: props, Prefix: ""}); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

// hasSecurityKey says whether props set a security property under prefix.
func hasSecurityKey(props map[string]string, prefix string) bool {
	for _, k := range kafkasec.Keys {
		if _, ok := props[prefix+k]; ok {
			return true
		}
	}
	return false
}

// forConnector returns the security of a connector's producer (or, with
// consumer, its consumer): its producer.override.* (consumer.override.*)
// properties over the worker's.
func (ws *workerSecurity) forConnector(connCfg map[string]string, consumer bool) (*kafkaSecurity, error) {
	base, client, override := ws.producer, "producer.", "producer.override."
	if consumer {
		base, client, override = ws.consumer, "consumer.", "consumer.override."
	}
	if !hasSecurityKey(connCfg, override) {
		return base, nil
	}
	return kafkasec.From(propLayer{Props: connCfg, Prefix: override}, propLayer{Props: ws.props, Prefix: client}, propLayer{Props: ws.props, Prefix: ""})
}

// withOpts returns base followed by more, in a new slice.
func withOpts(base []kgo.Opt, more ...kgo.Opt) []kgo.Opt {
	out := make([]kgo.Opt, 0, len(base)+len(more))
	return append(append(out, base...), more...)
}

// checkClient connects a client with opts and asks for metadata, turning
// an authentication or TLS failure into a message naming the fix.
func checkClient(ctx context.Context, opts []kgo.Opt, s *kafkaSecurity, servers []string, timeout time.Duration) error {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		if e := kafkasec.Explain(err, s, servers); e != err {
			return e
		}
		return &UnreachableError{Servers: servers, Err: err}
	}
	return nil
}

// Connector client overrides (producer.override.* for sources,
// consumer.override.* for sinks), under the worker's
// connector.client.config.override.policy.
const (
	producerOverride = "producer.override."
	consumerOverride = "consumer.override."
	overrideLinger   = "linger.ms"
	overrideCompress = "compression.type"
	overrideMaxPoll  = "max.poll.records"
)

// principalOverrides are the keys the Principal policy allows, as in
// Kafka Connect, plus Sluice's simple SASL keys.
var principalOverrides = map[string]bool{kafkasec.SecurityProtocol: true, kafkasec.SASLMechanism: true, kafkasec.SASLJAAS: true,
	kafkasec.SASLUsername: true, kafkasec.SASLPassword: true, kafkasec.SASLTokenFile: true}

// overridable are the security keys a connector may override (the
// password ones are refused anyway: PEM stores have none).
var overridable = []string{kafkasec.SecurityProtocol, kafkasec.SASLMechanism, kafkasec.SASLJAAS, kafkasec.SASLUsername, kafkasec.SASLPassword, kafkasec.SASLTokenFile,
	kafkasec.SSLTruststoreType, kafkasec.SSLTruststoreLoc, kafkasec.SSLTruststoreCert, kafkasec.SSLKeystoreType, kafkasec.SSLKeystoreLoc,
	kafkasec.SSLKeystoreChain, kafkasec.SSLKeystoreKey, kafkasec.SSLEndpointAlg}

// clientOverrideDef defines the override keys, so that secrets among them
// are redacted and encrypted like any password.
var clientOverrideDef = func() *config.Def {
	var keys []config.Key
	for _, p := range []string{producerOverride, consumerOverride} {
		client := "producer"
		if p == consumerOverride {
			client = "consumer"
		}
		for _, k := range overridable {
			t := config.String
			if k == kafkasec.SASLJAAS || k == kafkasec.SASLPassword || k == kafkasec.SSLKeystoreKey {
				t = config.Password
			}
			keys = append(keys, config.Key{Name: p + k, Type: t, Default: nil, Importance: config.Low, Group: groupOverrides,
				Doc: fmt.Sprintf("The worker's %s for this connector's %s only (see connector.client.config.override.policy and docs/security.md).", k, client)})
		}
	}
	keys = append(keys,
		config.Key{Name: producerOverride + overrideLinger, Type: config.Long, Default: nil, Importance: config.Low, Group: groupOverrides,
			Validator: config.AtLeast(0), Doc: "The worker's producer.linger.ms for this connector's producer only."},
		config.Key{Name: producerOverride + overrideCompress, Type: config.String, Default: nil, Importance: config.Low, Group: groupOverrides,
			Validator: config.In("none", "gzip", "snappy", "lz4", "zstd"), Doc: "The worker's producer.compression.type for this connector's producer only."},
		config.Key{Name: consumerOverride + overrideMaxPoll, Type: config.Int, Default: nil, Importance: config.Low, Group: groupOverrides,
			Validator: config.AtLeast(1), Doc: "The worker's consumer.max.poll.records for this connector's consumer only."})
	return config.NewDef(keys...)
}()

const groupOverrides = "Client overrides"

// overrideErrors checks a connector's client overrides against the
// policy and what Sluice applies.
func (h *Herder) overrideErrors(sink bool, cfg map[string]string) map[string][]string {
	errs := map[string][]string{}
	policy := "All"
	if h.worker != nil {
		policy = h.worker.String(config.ClientOverridePolicy)
	}
	own, other, kind := producerOverride, consumerOverride, "source"
	if sink {
		own, other, kind = consumerOverride, producerOverride, "sink"
	}
	for _, k := range overrideKeys(cfg, other) {
		errs[k] = append(errs[k], fmt.Sprintf("a %s connector's tasks have no %s client; remove %s (use %s* instead)", kind, strings.TrimSuffix(other, ".override."), k, own))
	}
	for _, k := range overrideKeys(cfg, own) {
		key := strings.TrimPrefix(k, own)
		if _, ok := clientOverrideDef.Key(k); !ok {
			errs[k] = append(errs[k], fmt.Sprintf("%s is not supported by Sluice; remove it (supported: %s with security.protocol, sasl.*, ssl.* as in docs/security.md, and %s)",
				k, own+"*", strings.Join(overrideKnobs(own), ", ")))
			continue
		}
		switch {
		case strings.EqualFold(policy, "None"):
			errs[k] = append(errs[k], fmt.Sprintf("The 'None' policy does not allow '%s' to be overridden; remove it, or set the worker's %s=All (or Principal for the SASL keys)", key, config.ClientOverridePolicy))
		case strings.EqualFold(policy, "Principal") && !principalOverrides[key]:
			errs[k] = append(errs[k], fmt.Sprintf("The 'Principal' policy does not allow '%s' to be overridden; remove it, or set the worker's %s=All", key, config.ClientOverridePolicy))
		}
	}
	if len(errs) == 0 && h.sec != nil {
		if _, err := h.sec.forConnector(cfg, sink); err != nil {
			errs[""] = append(errs[""], err.Error())
		}
	}
	return errs
}

func overrideKnobs(prefix string) []string {
	if prefix == producerOverride {
		return []string{prefix + overrideLinger, prefix + overrideCompress}
	}
	return []string{prefix + overrideMaxPoll}
}

// consumerConfig returns the effective security properties of the
// worker's consumers (consumer.* over the unprefixed ones), unprefixed,
// for clients connectors make themselves.
func (ws *workerSecurity) consumerConfig() map[string]string {
	out := map[string]string{}
	for _, k := range kafkasec.Keys {
		if v, ok := ws.props["consumer."+k]; ok {
			out[k] = v
		} else if v, ok := ws.props[k]; ok {
			out[k] = v
		}
	}
	return out
}

// stateTopicsDenied words an authorization failure on the state topics
// at start: the worker's principal needs every operation on them.
func stateTopicsDenied(err error, topics []kafkalog.Topic, s *kafkaSecurity) error {
	if !errors.Is(err, kerr.TopicAuthorizationFailed) && !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		return nil
	}
	names := make([]string, len(topics))
	grants := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Name
		grants[i] = "--topic " + t.Name
	}
	return fmt.Errorf("%w: the worker's principal %s may not use its state topics %s (config.storage.topic, offset.storage.topic, status.storage.topic, schema.registry.topic); "+
		"it needs Describe, Create, Read and Write on them: grant them with kafka-acls.sh --add --allow-principal %s --operation All %s, "+
		"or point those properties at topics it may use (an empty schema.registry.topic turns the built-in schema registry off)",
		err, s.Principal(), strings.Join(names, ", "), s.Principal(), strings.Join(grants, " "))
}
