package runtime

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/config"
)

func TestTopicCreationGroupMatching(t *testing.T) {
	props := map[string]string{
		"topic.creation.groups":                     "compacted, big",
		"topic.creation.default.partitions":         "3",
		"topic.creation.default.replication.factor": "2",
		"topic.creation.default.compression.type":   "zstd",
		"topic.creation.compacted.include":          `db\.public\.(users|accounts), db\.audit\..*`,
		"topic.creation.compacted.exclude":          `db\.audit\.raw`,
		"topic.creation.compacted.cleanup.policy":   "compact",
		"topic.creation.big.include":                `db\..*`,
		"topic.creation.big.partitions":             "12",
		"topic.creation.big.retention.ms":           "-1",
	}
	tc, err := parseTopicCreation(props, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		topic string
		want  topicSpec
	}{
		// First group that matches wins; it inherits the default group's
		// partitions and replication factor unless it sets its own.
		{"db.public.users", topicSpec{Group: "compacted", Partitions: 3, ReplicationFactor: 2, Configs: map[string]string{"cleanup.policy": "compact"}}},
		{"db.audit.login", topicSpec{Group: "compacted", Partitions: 3, ReplicationFactor: 2, Configs: map[string]string{"cleanup.policy": "compact"}}},
		// Excluded from compacted: the next group takes it.
		{"db.audit.raw", topicSpec{Group: "big", Partitions: 12, ReplicationFactor: 2, Configs: map[string]string{"retention.ms": "-1"}}},
		// The whole name must match: a prefix is not enough.
		{"db.public.users_v2", topicSpec{Group: "big", Partitions: 12, ReplicationFactor: 2, Configs: map[string]string{"retention.ms": "-1"}}},
		// No group matches: the default group.
		{"other", topicSpec{Group: "default", Partitions: 3, ReplicationFactor: 2, Configs: map[string]string{"compression.type": "zstd"}}},
		{"xdb.public.users", topicSpec{Group: "default", Partitions: 3, ReplicationFactor: 2, Configs: map[string]string{"compression.type": "zstd"}}},
	} {
		if got := tc.spec(c.topic); !reflect.DeepEqual(got, c.want) {
			t.Errorf("spec(%q) = %+v, want %+v", c.topic, got, c.want)
		}
	}
}

func TestTopicCreationDefaults(t *testing.T) {
	// No topic.creation.* at all: Sluice still creates topics (it never
	// relies on auto-creation), with the brokers' defaults.
	tc, err := parseTopicCreation(map[string]string{"name": "x"}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := topicSpec{Group: "default", Partitions: -1, ReplicationFactor: -1, Configs: map[string]string{}}
	if got := tc.spec("anything"); !reflect.DeepEqual(got, want) {
		t.Errorf("spec = %+v, want %+v", got, want)
	}
	// A group's name may contain dots; its properties are not taken for
	// topic configs of a shorter group.
	tc, err = parseTopicCreation(map[string]string{
		"topic.creation.groups":         "a,a.b",
		"topic.creation.a.include":      "x",
		"topic.creation.a.b.include":    "y",
		"topic.creation.a.b.partitions": "4",
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := tc.spec("x"); got.Group != "a" || got.Partitions != -1 || len(got.Configs) != 0 {
		t.Errorf("spec(x) = %+v, want group a with no configs", got)
	}
	if got := tc.spec("y"); got.Group != "a.b" || got.Partitions != 4 {
		t.Errorf("spec(y) = %+v, want group a.b with 4 partitions", got)
	}
}

func TestTopicCreationValidation(t *testing.T) {
	for _, c := range []struct {
		name    string
		props   map[string]string
		enabled bool
		key     string // the property the error names
		reason  string // part of the error's text
	}{
		{"zero partitions", map[string]string{"topic.creation.default.partitions": "0"}, true,
			"topic.creation.default.partitions", "-1 (the broker's default) or at least 1"},
		{"negative partitions", map[string]string{"topic.creation.default.partitions": "-2"}, true,
			"topic.creation.default.partitions", "at least 1"},
		{"not a number", map[string]string{"topic.creation.default.partitions": "many"}, true,
			"topic.creation.default.partitions", "integer"},
		{"zero replication factor", map[string]string{"topic.creation.default.replication.factor": "0"}, true,
			"topic.creation.default.replication.factor", "between 1 and 32767"},
		{"replication factor too big", map[string]string{"topic.creation.default.replication.factor": "40000"}, true,
			"topic.creation.default.replication.factor", "between 1 and 32767"},
		{"bad cleanup policy", map[string]string{"topic.creation.default.cleanup.policy": "forever"}, true,
			"topic.creation.default.cleanup.policy", "delete, compact"},
		{"bad regex", map[string]string{"topic.creation.groups": "g", "topic.creation.g.include": "db\\.(users"}, true,
			"topic.creation.g.include", "not a valid regular expression"},
		{"bad exclude regex", map[string]string{"topic.creation.groups": "g", "topic.creation.g.exclude": "[z-a]"}, true,
			"topic.creation.g.exclude", "not a valid regular expression"},
		{"group partitions", map[string]string{"topic.creation.groups": "g", "topic.creation.g.partitions": "0"}, true,
			"topic.creation.g.partitions", "at least 1"},
		{"unlisted group", map[string]string{"topic.creation.groups": "g", "topic.creation.h.partitions": "3"}, true,
			"topic.creation.h.partitions", "names no group of topic.creation.groups"},
		{"default listed", map[string]string{"topic.creation.groups": "default"}, true,
			"topic.creation.groups", "default group always exists"},
		{"duplicate group", map[string]string{"topic.creation.groups": "g,g"}, true,
			"topic.creation.groups", "listed twice"},
		{"default include", map[string]string{"topic.creation.default.include": "x.*"}, true,
			"topic.creation.default.include", "takes no include or exclude"},
		{"disabled on the worker", map[string]string{"topic.creation.default.partitions": "3"}, false,
			"topic.creation.default.partitions", "topic.creation.enable=false"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseTopicCreation(c.props, c.enabled)
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("parse = %v, want config.Errors", err)
			}
			found := false
			for _, e := range errs {
				if e.Key == c.key && strings.Contains(e.Reason, c.reason) {
					found = true
				}
			}
			if !found {
				t.Errorf("errors %v do not name %s with %q", err, c.key, c.reason)
			}
			// Validation (REST validate, create) reports the same.
			infos := topicCreationDef(c.props).Validate("x", c.props, topicCreationErrors(c.props, c.enabled))
			found = false
			for _, ci := range infos.Configs {
				for _, e := range ci.Value.Errors {
					if ci.Value.Name == c.key && strings.Contains(e, c.reason) {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("validate does not report %s with %q: %v", c.key, c.reason, infos.Messages())
			}
		})
	}
	// Valid settings, defined for each listed group.
	props := map[string]string{"topic.creation.groups": "g", "topic.creation.g.include": "a.*", "topic.creation.g.partitions": "-1",
		"topic.creation.default.replication.factor": "3", "topic.creation.g.min.insync.replicas": "2"}
	infos := topicCreationDef(props).Validate("x", props, topicCreationErrors(props, true))
	if infos.ErrorCount != 0 {
		t.Errorf("valid settings: %v", infos.Messages())
	}
	names := map[string]bool{}
	for _, ci := range infos.Configs {
		names[ci.Definition.Name] = true
	}
	for _, k := range []string{"topic.creation.g.include", "topic.creation.g.exclude", "topic.creation.g.partitions", "topic.creation.g.replication.factor"} {
		if !names[k] {
			t.Errorf("validate lists no %s", k)
		}
	}
}
