package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustProviders(t *testing.T, props map[string]string) *Providers {
	t.Helper()
	p, err := NewProviders(props)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// With no provider configured, references stay as written: nothing is
// read from the worker's files or environment.
func TestProvidersOffByDefault(t *testing.T) {
	t.Setenv("SLUICE_TEST_SECRET", "swordfish-env")
	p := mustProviders(t, map[string]string{})
	in := map[string]string{"a": "${env:SLUICE_TEST_SECRET}", "b": "${file:/etc/passwd:root}", "c": "${directory:/etc:hostname}"}
	r, err := p.Resolve(in)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range in {
		if r.Values[k] != v {
			t.Errorf("%s resolved to %q without any provider configured", k, r.Values[k])
		}
	}
}

func TestFileProviderAllowedPaths(t *testing.T) {
	root := t.TempDir()
	allowed := filepath.Join(root, "allowed")
	outside := filepath.Join(root, "outside")
	for _, d := range []string{allowed, outside} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	good := filepath.Join(allowed, "db.properties")
	secret := filepath.Join(outside, "secret.properties")
	os.WriteFile(good, []byte("db.password = hunter2\n"), 0o600)
	os.WriteFile(secret, []byte("db.password = outside-secret\n"), 0o600)
	link := filepath.Join(allowed, "link.properties")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	p := mustProviders(t, map[string]string{"config.providers": "secrets",
		"config.providers.secrets.class":               "org.apache.kafka.common.config.provider.FileConfigProvider",
		"config.providers.secrets.param.allowed.paths": allowed})

	r, err := p.Resolve(map[string]string{"pw": "${secrets:" + good + ":db.password}", "mixed": "u=${secrets:" + good + ":db.password};x"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Values["pw"] != "hunter2" || r.Values["mixed"] != "u=hunter2;x" {
		t.Fatalf("resolved %v", r.Values)
	}
	// A ${file:...} reference names a provider that is not configured
	// (only "secrets" is): it stays as written.
	if r, _ := p.Resolve(map[string]string{"k": "${file:" + good + ":db.password}"}); r.Values["k"] != "${file:"+good+":db.password}" {
		t.Fatalf("an unconfigured provider name resolved: %q", r.Values["k"])
	}

	for name, path := range map[string]string{
		"outside":   secret,
		"dot-dot":   filepath.Join(allowed, "..", "outside", "secret.properties"),
		"symlink":   link,
		"etc":       "/etc/passwd",
		"proc":      "/proc/self/environ",
		"prefix":    allowed + "-evil/x.properties",
		"relative":  "secret.properties",
		"not-found": filepath.Join(allowed, "nope.properties"),
	} {
		ref := "${secrets:" + path + ":db.password}"
		_, err := p.Resolve(map[string]string{"database.password": ref})
		if err == nil {
			t.Errorf("%s: %s was read", name, path)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "database.password") || !strings.Contains(msg, ref) {
			t.Errorf("%s: error does not name the property and the reference: %s", name, msg)
		}
		if strings.Contains(msg, "outside-secret") || strings.Contains(msg, "root:") {
			t.Errorf("%s: error shows what was read: %s", name, msg)
		}
		if name != "not-found" && name != "relative" && !strings.Contains(msg, "config.providers.secrets.param.allowed.paths") && !strings.Contains(msg, "absolute") {
			t.Errorf("%s: error does not name allowed.paths: %s", name, msg)
		}
	}
}

func TestDirectoryProvider(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "password"), []byte("s3cret"), 0o600)
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "x"), []byte("nope"), 0o600)
	p := mustProviders(t, map[string]string{"config.providers": "dir", "config.providers.dir.class": "directory",
		"config.providers.dir.param.allowed.paths": dir})
	r, err := p.Resolve(map[string]string{"k": "${dir:" + dir + ":password}"})
	if err != nil || r.Values["k"] != "s3cret" {
		t.Fatalf("got %q, %v", r.Values["k"], err)
	}
	for _, ref := range []string{"${dir:" + dir + ":../x}", "${dir:" + other + ":x}", "${dir:" + dir + ":missing}", "${dir:" + dir + ":..}"} {
		if _, err := p.Resolve(map[string]string{"k": ref}); err == nil || strings.Contains(err.Error(), "nope") {
			t.Errorf("%s: %v", ref, err)
		}
	}
}

func TestEnvProvider(t *testing.T) {
	t.Setenv("SLUICE_TEST_DB_PASSWORD", "swordfish-env")
	t.Setenv("HOME_SECRET", "do-not-read")
	p := mustProviders(t, map[string]string{"config.providers": "env", "config.providers.env.class": "EnvVarConfigProvider",
		"config.providers.env.param.allowlist.pattern": "SLUICE_TEST_.*"})
	r, err := p.Resolve(map[string]string{"a": "${env:SLUICE_TEST_DB_PASSWORD}", "b": "${env::SLUICE_TEST_DB_PASSWORD}"})
	if err != nil || r.Values["a"] != "swordfish-env" || r.Values["b"] != "swordfish-env" {
		t.Fatalf("got %v, %v", r.Values, err)
	}
	// The pattern must match the whole name.
	for _, ref := range []string{"${env:HOME_SECRET}", "${env:XSLUICE_TEST_DB_PASSWORD}", "${env:SLUICE_TEST_UNSET}", "${env:/p:SLUICE_TEST_DB_PASSWORD}"} {
		_, err := p.Resolve(map[string]string{"k": ref})
		if err == nil {
			t.Errorf("%s resolved", ref)
			continue
		}
		if strings.Contains(err.Error(), "do-not-read") || strings.Contains(err.Error(), "swordfish") {
			t.Errorf("%s: error shows a value: %v", ref, err)
		}
	}
	if _, err := p.Resolve(map[string]string{"k": "${env:HOME_SECRET}"}); !strings.Contains(err.Error(), "config.providers.env.param.allowlist.pattern") {
		t.Errorf("error does not name allowlist.pattern: %v", err)
	}
}

func TestNewProvidersErrors(t *testing.T) {
	for _, c := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"config.providers": "x"}, "config.providers.x.class is not set"},
		{map[string]string{"config.providers": "x", "config.providers.x.class": "com.example.Vault"}, "config.providers.x.class \"com.example.Vault\": unknown config provider"},
		{map[string]string{"config.providers": "e", "config.providers.e.class": "env", "config.providers.e.param.allowlist.pattern": "("}, "config.providers.e.param.allowlist.pattern"},
		{map[string]string{"config.providers": "f", "config.providers.f.class": "file", "config.providers.f.param.allowed.paths": "etc"}, "not an absolute path"},
		{map[string]string{"config.providers.file.class": "file"}, "config.providers does not list \"file\""},
		{map[string]string{"config.providers": "sluice-encrypted", "config.providers.sluice-encrypted.class": "env"}, "reserved"},
	} {
		_, err := NewProviders(c.props)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.props, err, c.want)
		}
	}
}

// Validation errors about a resolved value quote the reference.
func TestValidateResolvedShowsReferences(t *testing.T) {
	t.Setenv("SLUICE_TEST_HOME", "/home/leaky-value")
	p := mustProviders(t, map[string]string{"config.providers": "env", "config.providers.env.class": "env"})
	d := NewDef(Key{Name: "tasks.max", Type: Int, Default: "1"},
		Key{Name: "host", Type: String, Default: "", Validator: func(string, any) error { return os.ErrInvalid }},
		Key{Name: "url", Type: String, Default: ""})
	props := map[string]string{"tasks.max": "${env:SLUICE_TEST_HOME}", "host": "x${env:SLUICE_TEST_HOME}",
		"url": "jdbc:postgresql://u:pw-in-url@h/db?password=pw-param"}
	r, err := p.Resolve(props)
	if err != nil {
		t.Fatal(err)
	}
	infos := d.ValidateResolved("c", r, map[string][]string{"": {"connecting to /home/leaky-value failed"}, "url": {"bad url jdbc:postgresql://u:pw-in-url@h/db"}})
	if infos.ErrorCount != 4 {
		t.Fatalf("%d errors: %+v", infos.ErrorCount, infos)
	}
	out := ""
	for _, c := range infos.Configs {
		if c.Value.Value != nil {
			out += *c.Value.Value + "\n"
		}
		out += strings.Join(c.Value.Errors, "\n") + "\n"
	}
	for _, leak := range []string{"leaky-value", "pw-in-url", "pw-param"} {
		if strings.Contains(out, leak) {
			t.Errorf("validation shows %q:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, "Invalid value ${env:SLUICE_TEST_HOME} for configuration tasks.max") {
		t.Errorf("the tasks.max error does not quote the reference:\n%s", out)
	}
}

func TestRedactText(t *testing.T) {
	for in, want := range map[string]string{
		"jdbc:postgresql://u:pw@host:5432/db":              "jdbc:postgresql://u:[hidden]@host:5432/db",
		"jdbc:mysql://host/db?user=u&password=pw&ssl=1":    "jdbc:mysql://host/db?user=u&password=[hidden]&ssl=1",
		"jdbc:postgresql://host/db?password=pw":            "jdbc:postgresql://host/db?password=[hidden]",
		"jdbc:sqlserver://h;user=u;Password=pw;db=x":       "jdbc:sqlserver://h;user=u;Password=[hidden];db=x",
		`parse "postgres://u:p%40ss@h:x/db": invalid port`: `parse "postgres://u:[hidden]@h:x/db": invalid port`,
		"jdbc:postgresql://host:5432/db":                   "jdbc:postgresql://host:5432/db",
		"jdbc:postgresql://u@host/db":                      "jdbc:postgresql://u@host/db",
		"plain":                                            "plain",
		"jdbc:postgresql://u:[hidden]@host/db":             "jdbc:postgresql://u:[hidden]@host/db",
	} {
		if got := RedactText(in); got != want {
			t.Errorf("RedactText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScrub(t *testing.T) {
	t.Setenv("SLUICE_TEST_PW", "correct-horse")
	p := mustProviders(t, map[string]string{"config.providers": "env", "config.providers.env.class": "env"})
	r, _ := p.Resolve(map[string]string{"k": "${env:SLUICE_TEST_PW}"})
	if got := r.Scrub("auth failed with correct-horse"); got != "auth failed with ${env:SLUICE_TEST_PW}" {
		t.Fatal(got)
	}
}

// A longer value is replaced before a shorter one it contains, in a
// Resolve's result and in a Merge of several; HasValues says whether
// there is anything to replace.
func TestScrubLongestFirstAndHasValues(t *testing.T) {
	t.Setenv("SLUICE_TEST_SHORT", "horse")
	t.Setenv("SLUICE_TEST_LONG", "correct-horse-battery")
	p := mustProviders(t, map[string]string{"config.providers": "env", "config.providers.env.class": "env"})
	short, _ := p.Resolve(map[string]string{"a": "${env:SLUICE_TEST_SHORT}"})
	long, _ := p.Resolve(map[string]string{"b": "${env:SLUICE_TEST_LONG}"})
	both, _ := p.Resolve(map[string]string{"a": "${env:SLUICE_TEST_SHORT}", "b": "${env:SLUICE_TEST_LONG}"})
	const in, want = "correct-horse-battery, horse", "${env:SLUICE_TEST_LONG}, ${env:SLUICE_TEST_SHORT}"
	for name, r := range map[string]*Resolved{"resolve": both, "merge": Merge(short, nil, long), "merge reversed": Merge(long, short)} {
		if got := r.Scrub(in); got != want {
			t.Errorf("%s: Scrub(%q) = %q, want %q", name, in, got, want)
		}
		if !r.HasValues() {
			t.Errorf("%s: HasValues() = false", name)
		}
	}
	plain, _ := p.Resolve(map[string]string{"a": "no reference"})
	for name, r := range map[string]*Resolved{"nil": nil, "no reference": plain, "empty merge": Merge(nil, plain)} {
		if r.HasValues() || r.Scrub(in) != in {
			t.Errorf("%s: HasValues() = %v, Scrub changed %q to %q", name, r.HasValues(), in, r.Scrub(in))
		}
	}
}

// Hiding adds plain values that Scrub replaces by [hidden], longest
// first among the resolved ones, without changing the config it copies;
// a value a reference resolved to keeps showing as the reference, and
// values under 3 characters are never replaced.
func TestScrubHidingPlainValues(t *testing.T) {
	t.Setenv("SLUICE_TEST_PW", "correct-horse")
	p := mustProviders(t, map[string]string{"config.providers": "env", "config.providers.env.class": "env"})
	r, _ := p.Resolve(map[string]string{"a": "${env:SLUICE_TEST_PW}", "b": "plain"})
	h := r.Hiding("hunter2xyz", "hunter2xyz-longer", "correct-horse", "pw", "")
	const in = "hunter2xyz-longer, hunter2xyz, correct-horse, pw"
	if got, want := h.Scrub(in), "[hidden], [hidden], ${env:SLUICE_TEST_PW}, pw"; got != want {
		t.Errorf("Scrub(%q) = %q, want %q", in, got, want)
	}
	if !h.HasValues() || h.Values["a"] != "correct-horse" || h.Values["b"] != "plain" {
		t.Errorf("Hiding lost the config: HasValues() = %v, Values = %v", h.HasValues(), h.Values)
	}
	if got, want := r.Scrub(in), "hunter2xyz-longer, hunter2xyz, ${env:SLUICE_TEST_PW}, pw"; got != want {
		t.Errorf("Hiding changed the original: Scrub(%q) = %q, want %q", in, got, want)
	}
	if got := (*Resolved)(nil).Hiding("hunter2xyz").Scrub("pw hunter2xyz"); got != "pw [hidden]" {
		t.Errorf("nil.Hiding: Scrub = %q", got)
	}
	if h := (*Resolved)(nil).Hiding("pw", ""); h.HasValues() {
		t.Errorf("Hiding only short values: HasValues() = true")
	}
	// Merged into a logger's or a task's config, the hidden values stay hidden.
	if got := Merge(nil, h).Scrub(in); got != "[hidden], [hidden], ${env:SLUICE_TEST_PW}, pw" {
		t.Errorf("Merge(h).Scrub = %q", got)
	}
}

func TestEncryptedEnvelopeRefused(t *testing.T) {
	r, err := (*Providers)(nil).Resolve(map[string]string{"database.password": "${sluice-encrypted:v1:abcd1234:AAAA}"})
	if err == nil || !strings.Contains(err.Error(), "abcd1234") || !strings.Contains(err.Error(), "database.password") {
		t.Fatalf("%v", err)
	}
	_ = r
}

// The providers can be configured through SLUICE_* environment
// variables, as the README shows.
func TestProvidersFromEnvironment(t *testing.T) {
	w, err := LoadWorker("", []string{"SLUICE_CONFIG_PROVIDERS=env", "SLUICE_CONFIG_PROVIDERS_ENV_CLASS=env",
		"SLUICE_CONFIG_PROVIDERS_ENV_PARAM_ALLOWLIST_PATTERN=PGPASSWORD"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSWORD", "from-env")
	t.Setenv("OTHER_SECRET", "x")
	p := mustProviders(t, w.Props)
	if r, err := p.Resolve(map[string]string{"k": "${env:PGPASSWORD}"}); err != nil || r.Values["k"] != "from-env" {
		t.Fatalf("%v %v", r.Values, err)
	}
	if _, err := p.Resolve(map[string]string{"k": "${env:OTHER_SECRET}"}); err == nil {
		t.Fatal("a variable outside the allowlist resolved")
	}
}
