package connectors

// KafkaClientConfigContext is implemented by the task contexts of
// runtimes whose Kafka clients may need security settings: a connector
// that makes a Kafka client of its own (the PostgreSQL source's signal
// consumer) applies them so that it reaches the brokers as the worker's
// consumers do.
type KafkaClientConfigContext interface {
	// KafkaClientConfig returns the security properties of the worker's
	// consumers, unprefixed, as Kafka names them (security.protocol,
	// sasl.mechanism, sasl.jaas.config, ssl.truststore.location, ...),
	// plus Sluice's sasl.username, sasl.password and
	// sasl.oauthbearer.token.file. Values are secrets: never log them.
	KafkaClientConfig() map[string]string
}

// KafkaClientConfig returns the Kafka client properties tctx offers, or
// nil (plaintext, no authentication) when it offers none. tctx is a
// SourceTaskContext or a SinkTaskContext.
func KafkaClientConfig(tctx any) map[string]string {
	if k, ok := tctx.(KafkaClientConfigContext); ok {
		return k.KafkaClientConfig()
	}
	return nil
}
