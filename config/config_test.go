package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testDef = NewDef(
	Key{Name: "host", Type: String, Default: NoDefault, Importance: High, Group: "Connection", Doc: "Host."},
	Key{Name: "port", Type: Int, Default: "5432", Group: "Connection", Validator: AtLeast(1)},
	Key{Name: "password", Type: Password, Default: nil, Group: "Connection"},
	Key{Name: "mode", Type: String, Default: "initial", Validator: In("initial", "never"), Aliases: []string{"old.mode"}},
	Key{Name: "tables", Type: List, Default: ""},
	Key{Name: "enabled", Type: Boolean, Default: "true"},
	Key{Name: "interval.ms", Type: Long, Default: "1000"},
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		props   map[string]string
		wantErr []string
		check   func(t *testing.T, v *Values)
	}{
		{name: "defaults", props: map[string]string{"host": "db"}, check: func(t *testing.T, v *Values) {
			if v.String("host") != "db" || v.Int("port") != 5432 || v.String("mode") != "initial" || !v.Bool("enabled") ||
				v.Duration("interval.ms") != time.Second || len(v.List("tables")) != 0 || v.IsSet("port") {
				t.Fatalf("unexpected values %+v", v.parsed)
			}
		}},
		{name: "typed values and alias", props: map[string]string{"host": "db", "port": " 6543 ", "old.mode": "NEVER", "tables": "a, b,,c", "enabled": "False"}, check: func(t *testing.T, v *Values) {
			if v.Int("port") != 6543 || v.String("mode") != "NEVER" || strings.Join(v.List("tables"), "|") != "a|b|c" || v.Bool("enabled") || !v.IsSet("mode") {
				t.Fatalf("unexpected values %+v", v.parsed)
			}
		}},
		{name: "every error at once", props: map[string]string{"port": "x", "mode": "sometimes", "enabled": "yes"},
			wantErr: []string{`host: missing required configuration "host"`, `port "x": expected a 32-bit integer`, `mode "sometimes": must be one of initial, never`, `enabled "yes": expected a boolean`}},
		{name: "validator", props: map[string]string{"host": "db", "port": "0"}, wantErr: []string{`port "0": must be at least 1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := testDef.Parse(tt.props)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, v)
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestValidateShapesAndHidesSecrets(t *testing.T) {
	infos := testDef.Validate("x.Connector", map[string]string{"port": "abc", "password": "s3cret"}, map[string][]string{"": {"cannot reach db"}, "port": {"also bad"}})
	if infos.Name != "x.Connector" || infos.ErrorCount != 4 {
		t.Fatalf("infos = %+v", infos)
	}
	var sawPassword bool
	for _, c := range infos.Configs {
		if c.Value.Value != nil && strings.Contains(*c.Value.Value, "s3cret") {
			t.Fatalf("password leaked: %+v", c)
		}
		if c.Definition.Name == "password" {
			sawPassword = *c.Value.Value == "[hidden]"
		}
	}
	if !sawPassword {
		t.Fatal("password value not shown as [hidden]")
	}
	msgs := strings.Join(infos.Messages(), "\n")
	for _, w := range []string{`missing required configuration "host"`, "Invalid value abc for configuration port: expected a 32-bit integer", "port: also bad", "cannot reach db"} {
		if !strings.Contains(msgs, w) {
			t.Errorf("messages %q lack %q", msgs, w)
		}
	}
}

func TestLoadWorkerPrecedence(t *testing.T) {
	dir := t.TempDir()
	props := filepath.Join(dir, "w.properties")
	os.WriteFile(props, []byte("bootstrap.servers=file:9092\ngroup.id=g-file\noffset.flush.interval.ms=100\nkey.converter.schemas.enable=false\n"), 0o644)
	w, err := LoadWorker(props, []string{"SLUICE_GROUP_ID=g-env", "SLUICE_VALUE_CONVERTER_SCHEMAS_ENABLE=false", "PATH=/bin"}, map[string]string{"offset.flush.interval.ms": "200"})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.BootstrapServers(); len(got) != 1 || got[0] != "file:9092" {
		t.Errorf("bootstrap = %v", got)
	}
	if w.String(GroupID) != "g-env" || w.Duration(OffsetFlushInterval) != 200*time.Millisecond {
		t.Errorf("group %q interval %v", w.String(GroupID), w.Duration(OffsetFlushInterval))
	}
	if w.Props["key.converter.schemas.enable"] != "false" || w.Props["value.converter.schemas.enable"] != "false" {
		t.Errorf("pass-through props lost: %v", w.Props)
	}
	y := filepath.Join(dir, "w.yaml")
	os.WriteFile(y, []byte("bootstrap:\n  servers: [a:1, b:2]\nlisteners: http://127.0.0.1:9999\n"), 0o644)
	w, err = LoadWorker(y, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(w.BootstrapServers(), ","); got != "a:1,b:2" || w.Values.List(Listeners)[0] != "http://127.0.0.1:9999" {
		t.Errorf("yaml: bootstrap %q listeners %v", got, w.Values.List(Listeners))
	}
	if _, err := LoadWorker("", nil, map[string]string{ExactlyOnceSourceSupport: "maybe"}); err == nil {
		t.Error("invalid value accepted")
	}
}

func TestNearMisses(t *testing.T) {
	for _, tt := range []struct {
		prop, want string
	}{
		{"hots", "host"},  // swap
		{"hostt", "host"}, // insertion
		{"prt", "port"},   // deletion
		{"Port", "port"},  // case
		{"interval.sm", "interval.ms"},
		{"intervall.mss", "interval.ms"}, // two slips in a long name
		{"old.mod", "mode"},              // an alias's near miss names the property
		{"hostname", ""},                 // too far
		{"host", ""},                     // defined
		{"old.mode", ""},                 // an alias is defined
		{"transforms.x.type", ""},
		{"ab", ""},
	} {
		got := testDef.NearMisses(map[string]string{tt.prop: "v"})[tt.prop]
		if got != tt.want {
			t.Errorf("near miss of %q = %q, want %q", tt.prop, got, tt.want)
		}
	}
	_, err := testDef.Parse(map[string]string{"hots": "db"})
	if err == nil || !strings.Contains(err.Error(), `the config has "hots", which is not a property: did you mean host?`) {
		t.Errorf("missing host with hots given: %v", err)
	}
	_, err = testDef.Parse(map[string]string{"tables": "a"})
	if err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("missing host with no near miss: %v", err)
	}
}
