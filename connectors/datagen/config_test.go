package datagen

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

func TestPlugin(t *testing.T) {
	reg := connectors.NewRegistry(Plugin())
	for _, name := range []string{"datagen", "DATAGEN", "io.confluent.kafka.connect.datagen.DatagenConnector", "DatagenConnector"} {
		p, err := reg.Lookup(name)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", name, err)
		}
		if p.Name != "datagen" || p.Class != "datagen" || p.Type != connectors.SourceType || p.Version != "0.1.0" {
			t.Errorf("Lookup(%q) = %+v", name, p)
		}
	}
	a, b := Plugin().New(), Plugin().New()
	if a == b {
		t.Error("New returned the same connector twice")
	}
	if _, ok := a.(connectors.SourceConnector); !ok {
		t.Errorf("New returned %T, not a SourceConnector", a)
	}
	if a.Config() != Def() {
		t.Error("Config() is not the package definition")
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig(map[string]string{
		KafkaTopic: "orders", Quickstart: "ORDERS", Iterations: "100", MaxInterval: "5",
		Seed: "-7", Rate: "250.5", BatchSize: "10", PoisonEvery: "3",
		"connector.class": "io.confluent.kafka.connect.datagen.DatagenConnector", "tasks.max": "2",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Topic: "orders", Quickstart: "orders", Iterations: 100, MaxInterval: 5 * time.Millisecond,
		Seed: -7, Rate: 250.5, BatchSize: 10, PoisonEvery: 3}
	if c != want {
		t.Errorf("ParseConfig = %+v, want %+v", c, want)
	}

	d, err := ParseConfig(map[string]string{KafkaTopic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Config{Topic: "t", Quickstart: "users", Iterations: -1, BatchSize: 1000}); d != want {
		t.Errorf("defaults = %+v, want %+v", d, want)
	}
}

func TestConfigInterval(t *testing.T) {
	for _, tc := range []struct {
		rate     float64
		interval time.Duration
		want     time.Duration
	}{
		{0, 0, 0},
		{1000, 0, time.Millisecond},
		{0, 5 * time.Millisecond, 5 * time.Millisecond},
		{1000, 5 * time.Millisecond, 5 * time.Millisecond}, // the slower wins
		{10, 5 * time.Millisecond, 100 * time.Millisecond},
	} {
		c := Config{Rate: tc.rate, MaxInterval: tc.interval}
		if got := c.Interval(); got != tc.want {
			t.Errorf("Interval(rate %v, max.interval %v) = %v, want %v", tc.rate, tc.interval, got, tc.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props map[string]string
		key   string
		want  string // in the reason
		// validate says whether the connector's Validator reports it
		// (false: the definition's own parsing does).
		validate bool
	}{
		{"missing topic", map[string]string{}, KafkaTopic, "missing required", false},
		{"empty topic", map[string]string{KafkaTopic: " "}, KafkaTopic, "set kafka.topic", true},
		{"bad topic char", testProps(KafkaTopic + "=a b"), KafkaTopic, "rename kafka.topic", true},
		{"topic dot", testProps(KafkaTopic + "=.."), KafkaTopic, "choose another kafka.topic", true},
		{"long topic", testProps(KafkaTopic + "=" + strings.Repeat("x", 250)), KafkaTopic, "249", true},
		{"quickstart", testProps(Quickstart + "=clickstream"), Quickstart, "users, orders, pageviews", true},
		{"iterations -2", testProps(Iterations + "=-2"), Iterations, "set iterations=-1", true},
		{"iterations text", testProps(Iterations + "=many"), Iterations, "64-bit integer", false},
		{"max.interval negative", testProps(MaxInterval + "=-1"), MaxInterval, "set max.interval=0", true},
		{"max.interval too long", testProps(MaxInterval + "=86400001"), MaxInterval, "one day", true},
		{"rate negative", testProps(Rate + "=-1"), Rate, "set datagen.rate=0", true},
		{"rate NaN", testProps(Rate + "=NaN"), Rate, "set datagen.rate=0", true},
		{"rate too slow", testProps(Rate + "=0.00001"), Rate, "one a day", true},
		{"batch zero", testProps(BatchSize + "=0"), BatchSize, "between 1 and 100000", true},
		{"batch huge", testProps(BatchSize + "=100001"), BatchSize, "between 1 and 100000", true},
		{"poison negative", testProps(PoisonEvery + "=-3"), PoisonEvery, "set poison.every=0", true},
		{"seed text", testProps(Seed + "=x"), Seed, "64-bit integer", false},
		{"schema.filename", testProps("schema.filename=/x.avro"), "schema.filename", "remove schema.filename", true},
		{"schema.string", testProps("schema.string={}"), "schema.string", "remove schema.string", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(tc.props)
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("ParseConfig error = %v, want config.Errors", err)
			}
			if len(errs) != 1 || errs[0].Key != tc.key || !strings.Contains(errs[0].Reason, tc.want) {
				t.Fatalf("ParseConfig errors = %v, want one about %s containing %q", errs, tc.key, tc.want)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("message %q does not name %s", err, tc.key)
			}

			if err := NewConnector().Start(context.Background(), nil, tc.props); !errors.As(err, &errs) {
				t.Errorf("Start error = %v, want config.Errors", err)
			}

			got := NewConnector().Validate(context.Background(), tc.props)
			if tc.validate {
				if len(got) != 1 || len(got[tc.key]) != 1 || !strings.Contains(got[tc.key][0], tc.want) {
					t.Errorf("Validate = %v, want one error under %s containing %q", got, tc.key, tc.want)
				}
			} else if len(got) != 0 {
				t.Errorf("Validate = %v, want nothing (the definition reports it)", got)
			}

			// Merged as the runtime does, each problem appears once.
			infos := def.Validate("datagen", tc.props, got)
			if infos.ErrorCount != 1 {
				t.Errorf("merged validation has %d errors, want 1: %v", infos.ErrorCount, infos.Messages())
			}
		})
	}
}

func TestValidConfigsHaveNoErrors(t *testing.T) {
	for _, props := range []map[string]string{
		testProps(),
		testProps(Quickstart+"=pageviews", Iterations+"=-1", Rate+"=0.5", MaxInterval+"=86400000", BatchSize+"=100000"),
		testProps(Quickstart+"=Orders", Iterations+"=0", PoisonEvery+"=1", Seed+"=-9223372036854775808"),
	} {
		if got := NewConnector().Validate(context.Background(), props); len(got) != 0 {
			t.Errorf("Validate(%v) = %v", props, got)
		}
		if _, err := ParseConfig(props); err != nil {
			t.Errorf("ParseConfig(%v): %v", props, err)
		}
	}
}

func TestTaskConfigs(t *testing.T) {
	for _, tc := range []struct {
		iterations string
		maxTasks   int
		want       int
	}{
		{"-1", 4, 4},
		{"1000", 3, 3},
		{"2", 5, 2},
		{"0", 5, 1},
		{"1", 1, 1},
	} {
		c := NewConnector()
		if err := c.Start(context.Background(), nil, testProps(Iterations+"="+tc.iterations, "x.extra=y")); err != nil {
			t.Fatal(err)
		}
		cfgs, err := c.TaskConfigs(tc.maxTasks)
		if err != nil {
			t.Fatal(err)
		}
		if len(cfgs) != tc.want {
			t.Fatalf("iterations %s, tasks.max %d: %d task configs, want %d", tc.iterations, tc.maxTasks, len(cfgs), tc.want)
		}
		for i, cfg := range cfgs {
			tc2, err := parseTaskConfig(cfg)
			if err != nil {
				t.Fatalf("task config %d: %v", i, err)
			}
			if tc2.Index != i || tc2.Count != tc.want || cfg["x.extra"] != "y" || cfg[KafkaTopic] != "t" {
				t.Errorf("task config %d = %v", i, cfg)
			}
		}
	}

	if _, err := NewConnector().TaskConfigs(1); err == nil {
		t.Error("TaskConfigs before Start succeeded")
	}
	c := NewConnector()
	if err := c.Start(context.Background(), nil, testProps()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TaskConfigs(0); err == nil || !strings.Contains(err.Error(), "tasks.max") {
		t.Errorf("TaskConfigs(0) error = %v, want one naming tasks.max", err)
	}
}

func TestTaskConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props map[string]string
		key   string
	}{
		{"no index", testProps(TaskCount + "=2"), TaskIndex},
		{"index out of range", testProps(TaskIndex+"=2", TaskCount+"=2"), TaskIndex},
		{"negative index", testProps(TaskIndex+"=-1", TaskCount+"=2"), TaskIndex},
		{"zero count", testProps(TaskIndex+"=0", TaskCount+"=0"), TaskCount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := NewTask()
			err := task.Start(context.Background(), &memOffsets{}, tc.props)
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Key != tc.key {
				t.Fatalf("Start error = %v, want one about %s", err, tc.key)
			}
		})
	}
}
