package runtime

import (
	"regexp"

	"github.com/sluice-cdc/sluice/config"
)

// Properties every connector takes, as in Kafka Connect's ConnectorConfig
// and SinkConnectorConfig, plus Sluice's restart policy.
const (
	propName              = "name"
	propClass             = "connector.class"
	propTasksMax          = "tasks.max"
	propTopics            = "topics"
	propTopicsRegex       = "topics.regex"
	propTransforms        = "transforms"
	propPredicates        = "predicates"
	propErrorsTolerance   = "errors.tolerance"
	propErrorsRetryTime   = "errors.retry.timeout"
	propErrorsRetryDelay  = "errors.retry.delay.max.ms"
	propRestartEnable     = "sluice.task.restart.enable"
	propRestartInitial    = "sluice.task.restart.backoff.initial.ms"
	propRestartMax        = "sluice.task.restart.backoff.max.ms"
	propRestartAttempts   = "sluice.task.restart.max.attempts"
	groupCommon           = "Common"
	groupTransforms       = "Transforms"
	groupErrors           = "Error Handling"
	groupRestart          = "Automatic restarts"
	defaultErrorTolerance = "none"
)

var commonDef = config.NewDef(
	config.Key{Name: propName, Type: config.String, Default: config.NoDefault, Importance: config.High, Group: groupCommon,
		Validator: config.NonEmpty, Doc: "Globally unique name of the connector."},
	config.Key{Name: propClass, Type: config.String, Default: config.NoDefault, Importance: config.High, Group: groupCommon,
		Doc: "The connector plugin: a short name (postgres, jdbc, datagen, ...) or the Java class name used with Kafka Connect."},
	config.Key{Name: propTasksMax, Type: config.Int, Default: "1", Importance: config.High, Group: groupCommon, Validator: config.AtLeast(1),
		Doc: "Most tasks the connector may use."},
	config.Key{Name: "key.converter", Type: config.Class, Default: nil, Importance: config.Low, Group: groupCommon,
		Doc: "Converter for keys; overrides the worker's key.converter (configure it with key.converter.*)."},
	config.Key{Name: "value.converter", Type: config.Class, Default: nil, Importance: config.Low, Group: groupCommon,
		Doc: "Converter for values; overrides the worker's value.converter (configure it with value.converter.*)."},
	config.Key{Name: config.HeaderConverter, Type: config.Class, Default: nil, Importance: config.Low, Group: groupCommon,
		Validator: func(name string, v any) error {
			if s, _ := v.(string); s == "" {
				return nil
			}
			return config.In(config.HeaderConverters...)(name, v)
		}, Doc: config.HeaderConverterDoc + " Overrides the worker's header.converter."},
	config.Key{Name: propTransforms, Type: config.List, Default: "", Importance: config.Low, Group: groupTransforms,
		Doc: "Aliases of the transformations to apply to records, in order (transforms.<alias>.type and options)."},
	config.Key{Name: propPredicates, Type: config.List, Default: "", Importance: config.Low, Group: groupTransforms,
		Doc: "Aliases of the predicates used by transformations (predicates.<alias>.type and options)."},
	config.Key{Name: propErrorsTolerance, Type: config.String, Default: defaultErrorTolerance, Importance: config.Medium, Group: groupErrors,
		Validator: config.In(toleranceNone, toleranceAll), Doc: errorsToleranceDocument},
	config.Key{Name: propErrorsRetryTime, Type: config.Long, Default: "0", Importance: config.Medium, Group: groupErrors,
		Doc: "Total time in ms to retry a retriable failure of poll, a converter, a transform or put (exponential back-off from 300 ms, with jitter); 0 does not retry, -1 retries forever. A sink whose put still fails then opens its circuit breaker (sluice.circuit.breaker.*) instead of failing."},
	config.Key{Name: propErrorsRetryDelay, Type: config.Long, Default: "60000", Importance: config.Medium, Group: groupErrors, Validator: config.AtLeast(1),
		Doc: "Longest wait between retries of a retriable failure."},
	errorKeys[0], errorKeys[1], errorKeys[2], errorKeys[3], errorKeys[4],
	config.Key{Name: propRestartEnable, Type: config.Boolean, Default: "true", Importance: config.Medium, Group: groupRestart,
		Doc: "Restart a failed connector or task automatically, with exponential back-off (Kafka Connect leaves them FAILED)."},
	config.Key{Name: propRestartInitial, Type: config.Long, Default: "1000", Importance: config.Low, Group: groupRestart, Validator: config.AtLeast(1),
		Doc: "Wait before the first automatic restart; doubled after each failure."},
	config.Key{Name: propRestartMax, Type: config.Long, Default: "300000", Importance: config.Low, Group: groupRestart, Validator: config.AtLeast(1),
		Doc: "Longest wait between automatic restarts."},
	config.Key{Name: propRestartAttempts, Type: config.Int, Default: "10", Importance: config.Low, Group: groupRestart, Validator: config.AtLeast(-1),
		Doc: "Automatic restarts before the task stays FAILED; -1 for no limit. The count resets once the task has run for the longest back-off."},
	rateLimitKeys[0], rateLimitKeys[1],
	isolationKeys[0], isolationKeys[1],
).Merge(clientOverrideDef)

// sinkDef holds the properties only sinks take: their topics and their
// circuit breaker.

var sinkDef = config.NewDef(
	config.Key{Name: propTopics, Type: config.List, Default: "", Importance: config.High, Group: groupCommon,
		Doc: "Topics to consume (comma-separated). Set this or topics.regex."},
	config.Key{Name: propTopicsRegex, Type: config.String, Default: "", Importance: config.High, Group: groupCommon,
		Validator: func(_ string, v any) error {
			_, err := regexp.Compile(v.(string))
			return err
		}, Doc: "Regular expression of the topics to consume; it must match the whole topic name, as in Kafka Connect (orders takes orders, not orders_archive). Topics created later are taken within 10 seconds. Set this or topics."},
	breakerKeys[0], breakerKeys[1], breakerKeys[2],
)

// CommonConfig returns the definition of the properties every connector
// takes (and, with sink, those every sink takes), for docs.
func CommonConfig(sink bool) *config.Def {
	if sink {
		return sinkDef
	}
	return commonDef
}
