package datagen

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
)

// Connector properties. The first four are kafka-connect-datagen's.
const (
	KafkaTopic  = "kafka.topic"
	Quickstart  = "quickstart"
	Iterations  = "iterations"
	MaxInterval = "max.interval"
	Seed        = "datagen.seed"
	Rate        = "datagen.rate"
	BatchSize   = "datagen.batch.size"
	PoisonEvery = "poison.every"
)

// Task properties, set by the connector on each task's config.
const (
	TaskIndex = "datagen.task.index"
	TaskCount = "datagen.task.count"
)

// Properties of Confluent's connector that Sluice's does not implement; a
// config that sets them is rejected rather than silently producing other
// data than the user asked for.
const (
	schemaFilename = "schema.filename"
	schemaString   = "schema.string"
)

// MaxBatchSize bounds datagen.batch.size, and so the memory one Poll
// allocates.
const MaxBatchSize = 100_000

const group = "Datagen"

// maxInterval bounds the pacing interval (max.interval, 1/datagen.rate) so
// that pacing arithmetic cannot overflow.
const maxInterval = 24 * time.Hour

var def = config.NewDef(
	config.Key{Name: KafkaTopic, Type: config.String, Default: config.NoDefault, Importance: config.High,
		Group: group, Order: 1, DisplayName: "Topic",
		Doc: "Topic the records are written to."},
	config.Key{Name: Quickstart, Type: config.String, Default: "users", Importance: config.High,
		Group: group, Order: 2, DisplayName: "Quickstart",
		Doc: "Shape of the generated records: users, orders or pageviews (as Confluent's kafka-connect-datagen quickstarts).",
		Recommender: func(string, map[string]any) ([]any, bool) {
			return []any{"users", "orders", "pageviews"}, true
		}},
	config.Key{Name: Iterations, Type: config.Long, Default: int64(-1), Importance: config.Medium,
		Group: group, Order: 3, DisplayName: "Iterations",
		Doc: "Total number of records the connector generates, over all its tasks; -1 generates forever."},
	config.Key{Name: MaxInterval, Type: config.Long, Default: int64(0), Importance: config.Medium,
		Group: group, Order: 4, DisplayName: "Interval (ms)",
		Doc: "Milliseconds between two records of one task; 0 generates as fast as possible. Unlike Confluent's connector the interval is fixed, not random."},
	config.Key{Name: Seed, Type: config.Long, Default: int64(0), Importance: config.Low,
		Group: group, Order: 5, DisplayName: "Seed",
		Doc: "Seed of the generator: the same seed, quickstart and sequence number always give the same record."},
	config.Key{Name: Rate, Type: config.Double, Default: 0.0, Importance: config.Medium,
		Group: group, Order: 6, DisplayName: "Rate (records/s per task)",
		Doc: "Records per second each task generates at most; 0 means unlimited. With max.interval also set, the slower applies."},
	config.Key{Name: BatchSize, Type: config.Int, Default: 1000, Importance: config.Low,
		Group: group, Order: 7, DisplayName: "Batch size",
		Doc: "Records returned by one poll, at most; between 1 and 100000."},
	config.Key{Name: PoisonEvery, Type: config.Long, Default: int64(0), Importance: config.Low,
		Group: group, Order: 8, DisplayName: "Poison every",
		Doc: "When N > 0, every record whose sequence number n has n % N == N-1 is a poison record that no converter can serialise (see the package docs); 0 turns poison records off."},
)

var taskDef = def.Merge(config.NewDef(
	config.Key{Name: TaskIndex, Type: config.Int, Default: config.NoDefault, Importance: config.Low,
		Doc: "Index of this task among the connector's tasks; set by the connector."},
	config.Key{Name: TaskCount, Type: config.Int, Default: config.NoDefault, Importance: config.Low,
		Doc: "Number of the connector's tasks; set by the connector."},
))

// Def returns the connector's config definition. It is shared; do not
// modify it.
func Def() *config.Def { return def }

// Config is a parsed, validated connector config.
type Config struct {
	Topic      string
	Quickstart string // users, orders or pageviews, lower case
	// Iterations is the total number of records; -1 is unbounded.
	Iterations int64
	// MaxInterval is the fixed interval between records of one task.
	MaxInterval time.Duration
	Seed        int64
	// Rate is records per second per task; 0 is unlimited.
	Rate        float64
	BatchSize   int
	PoisonEvery int64
}

// Interval is the time between two records of one task implied by Rate and
// MaxInterval (the longer of the two), or 0 when unpaced.
func (c *Config) Interval() time.Duration {
	iv := c.MaxInterval
	if c.Rate > 0 {
		if r := time.Duration(float64(time.Second) / c.Rate); r > iv {
			iv = r
		}
	}
	return iv
}

// ParseConfig parses and validates a connector config. The error is a
// config.Errors naming every invalid property and how to fix it.
func ParseConfig(props map[string]string) (Config, error) {
	v, perr := def.Parse(props)
	var errs config.Errors
	if perr != nil && !errors.As(perr, &errs) {
		return Config{}, perr
	}
	c := fromValues(v)
	errs = append(errs, c.check(v, failed(errs))...)
	if len(errs) > 0 {
		return c, errs
	}
	return c, nil
}

func fromValues(v *config.Values) Config {
	return Config{
		Topic:       v.String(KafkaTopic),
		Quickstart:  strings.ToLower(strings.TrimSpace(v.String(Quickstart))),
		Iterations:  v.Long(Iterations),
		MaxInterval: v.Duration(MaxInterval),
		Seed:        v.Long(Seed),
		Rate:        v.Double(Rate),
		BatchSize:   v.Int(BatchSize),
		PoisonEvery: v.Long(PoisonEvery),
	}
}

func failed(errs config.Errors) map[string]bool {
	m := make(map[string]bool, len(errs))
	for _, e := range errs {
		m[e.Key] = true
	}
	return m
}

// check validates the ranges and combinations the definition's types do not
// express. Properties in skip failed to parse and are not checked again.
func (c *Config) check(v *config.Values, skip map[string]bool) config.Errors {
	var errs config.Errors
	add := func(key, reason string) {
		if skip[key] {
			return
		}
		raw := ""
		if v != nil {
			raw = v.Raw[key]
		}
		errs = append(errs, &config.Error{Key: key, Value: raw, Reason: reason})
	}
	if reason := topicProblem(c.Topic); reason != "" {
		add(KafkaTopic, reason)
	}
	if _, ok := quickstarts[c.Quickstart]; !ok {
		add(Quickstart, "must be one of users, orders, pageviews; Confluent's other quickstarts are not supported, so set quickstart to one of these")
	}
	if c.Iterations < -1 {
		add(Iterations, "must be -1 (generate forever) or a number of records >= 0; set iterations=-1 or a count")
	}
	if c.MaxInterval < 0 || c.MaxInterval > maxInterval {
		add(MaxInterval, "must be between 0 and 86400000 milliseconds (one day); set max.interval=0 to generate as fast as datagen.rate allows")
	}
	if c.Rate < 0 || (c.Rate > 0 && c.Rate < 1/maxInterval.Seconds()) || math.IsNaN(c.Rate) {
		add(Rate, "must be 0 (no limit) or a number of records per second of at least 1/86400 (one a day); set datagen.rate=0 for no limit")
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
		add(BatchSize, "must be between 1 and "+strconv.Itoa(MaxBatchSize)+"; set datagen.batch.size=1000")
	}
	if c.PoisonEvery < 0 {
		add(PoisonEvery, "must be >= 0; set poison.every=0 to turn poison records off or N > 0 for one in every N")
	}
	if v != nil {
		for _, k := range []string{schemaFilename, schemaString} {
			if _, ok := v.Raw[k]; ok {
				add(k, "custom schemas are not supported by Sluice's datagen connector; remove "+k+" and pick a quickstart (users, orders, pageviews)")
			}
		}
	}
	return errs
}

// topicProblem says what is wrong with a Kafka topic name, or "".
func topicProblem(t string) string {
	switch {
	case strings.TrimSpace(t) == "":
		return "must not be empty; set kafka.topic to the topic to write to"
	case t == "." || t == "..":
		return "is not a legal topic name; choose another kafka.topic"
	case len(t) > 249:
		return "is longer than 249 characters, Kafka's limit; choose a shorter kafka.topic"
	}
	for i := 0; i < len(t); i++ {
		b := t[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-') {
			return fmt.Sprintf("contains %q; a topic name may only hold ASCII letters, digits, '.', '_' and '-', so rename kafka.topic", string(rune(b)))
		}
	}
	return ""
}

// taskConfig is a parsed task config: the connector's plus the task's place.
type taskConfig struct {
	Config
	Index, Count int
}

func parseTaskConfig(props map[string]string) (taskConfig, error) {
	v, perr := taskDef.Parse(props)
	var errs config.Errors
	if perr != nil && !errors.As(perr, &errs) {
		return taskConfig{}, perr
	}
	tc := taskConfig{Config: fromValues(v), Index: v.Int(TaskIndex), Count: v.Int(TaskCount)}
	skip := failed(errs)
	errs = append(errs, tc.check(v, skip)...)
	if !skip[TaskCount] && tc.Count < 1 {
		errs = append(errs, &config.Error{Key: TaskCount, Value: v.Raw[TaskCount],
			Reason: "must be at least 1; task configs come from the connector, do not set it by hand"})
	} else if !skip[TaskIndex] && !skip[TaskCount] && (tc.Index < 0 || tc.Index >= tc.Count) {
		errs = append(errs, &config.Error{Key: TaskIndex, Value: v.Raw[TaskIndex],
			Reason: fmt.Sprintf("must be between 0 and %s-1 (%d); task configs come from the connector, do not set it by hand", TaskCount, tc.Count-1)})
	}
	if len(errs) > 0 {
		return tc, errs
	}
	return tc, nil
}
