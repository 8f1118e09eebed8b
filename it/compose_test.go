package it

import (
	"github.com/sluice-cdc/sluice/it/harness"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of it/compose.yaml the checks read.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Profiles    []string          `yaml:"profiles"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Volumes     []string          `yaml:"volumes"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

// TestComposePoolProfile checks it/compose.yaml without Docker (the
// build machines have none, so the containers themselves are untested):
// it parses, the suite's own services are outside any profile, and the
// "pool" profile is three workers of one group with exactly-once on,
// each advertising its own service name, reaching the kafka service on
// the listener it advertises inside the network, and waiting for the
// binary sluice-build writes.
func TestComposePoolProfile(t *testing.T) {
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("it/compose.yaml: %v", err)
	}
	for _, name := range []string{"kafka", "postgres", "mariadb", "mysql", "s3"} {
		s, ok := c.Services[name]
		if !ok {
			t.Fatalf("it/compose.yaml has no service %s", name)
		}
		if len(s.Profiles) != 0 {
			t.Errorf("service %s has profiles %v: `make it-compose` would not start it", name, s.Profiles)
		}
	}
	// The S3 service is the server CI runs, where make it-compose points
	// the suite.
	s3 := c.Services["s3"]
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if cmd := strings.Join(s3.Command, " "); !strings.Contains(cmd, "versitygw@"+harness.VersityGWVersion) || !strings.Contains(cmd, "--access sluiceit --secret sluiceit-secret-key") {
		t.Errorf("s3's command %q is not versitygw %s with the credentials make it-compose passes", cmd, harness.VersityGWVersion)
	}
	if !slices.Contains(s3.Ports, "127.0.0.1:17070:7070") || !strings.Contains(string(mk), "SLUICE_IT_S3_ENDPOINT=http://127.0.0.1:17070") {
		t.Errorf("s3 publishes %v; make it-compose must point SLUICE_IT_S3_ENDPOINT at 127.0.0.1:17070", s3.Ports)
	}
	kafka := strings.Join(c.Services["kafka"].Command, " ")
	for _, want := range []string{"PLAINTEXT://127.0.0.1:19092", "INTERNAL://kafka:9092", "INTERNAL://0.0.0.0:9092"} {
		if !strings.Contains(kafka, want) {
			t.Errorf("kafka's command %q does not listen on or advertise %s", kafka, want)
		}
	}
	build, ok := c.Services["sluice-build"]
	if !ok || !slices.Equal(build.Profiles, []string{"pool"}) || !slices.Contains(build.Volumes, "sluice-bin:/sluice-bin") {
		t.Fatalf("sluice-build: %+v, want a pool-profile service writing the sluice-bin volume", build)
	}
	if _, ok := c.Volumes["sluice-bin"]; !ok {
		t.Errorf("volume sluice-bin not declared: %v", c.Volumes)
	}
	var ports []string
	for _, name := range []string{"worker1", "worker2", "worker3"} {
		w, ok := c.Services[name]
		if !ok {
			t.Fatalf("the pool profile has no service %s", name)
		}
		if !slices.Equal(w.Profiles, []string{"pool"}) {
			t.Errorf("%s has profiles %v, want [pool]", name, w.Profiles)
		}
		cmd := strings.Join(w.Command, " ")
		if !strings.HasPrefix(cmd, "/sluice-bin/sluice worker ") || !strings.Contains(cmd, "--bootstrap-servers kafka:9092") ||
			!strings.Contains(cmd, "--listeners http://0.0.0.0:8083") {
			t.Errorf("%s's command %q: want `sluice worker` on 0.0.0.0:8083 with --bootstrap-servers kafka:9092", name, cmd)
		}
		env := w.Environment
		for k, v := range map[string]string{
			"SLUICE_GROUP_ID":                    "compose-pool",
			"SLUICE_EXACTLY_ONCE_SOURCE_SUPPORT": "enabled",
			"SLUICE_CONFIG_STORAGE_TOPIC":        "compose-pool-configs",
			"SLUICE_OFFSET_STORAGE_TOPIC":        "compose-pool-offsets",
			"SLUICE_STATUS_STORAGE_TOPIC":        "compose-pool-status",
			"SLUICE_REST_ADVERTISED_HOST_NAME":   name,
			"SLUICE_REST_ADVERTISED_PORT":        "8083",
		} {
			if env[k] != v {
				t.Errorf("%s: %s=%q, want %q", name, k, env[k], v)
			}
		}
		if w.DependsOn["kafka"].Condition != "service_healthy" || w.DependsOn["sluice-build"].Condition != "service_completed_successfully" {
			t.Errorf("%s depends on %+v, want kafka healthy and sluice-build completed", name, w.DependsOn)
		}
		if len(w.Ports) != 1 || !strings.HasSuffix(w.Ports[0], ":8083") {
			t.Errorf("%s publishes %v, want one 127.0.0.1 port for 8083", name, w.Ports)
		}
		ports = append(ports, w.Ports...)
	}
	slices.Sort(ports)
	if len(slices.Compact(ports)) != 3 {
		t.Errorf("the workers publish %v: want three different host ports", ports)
	}
}
