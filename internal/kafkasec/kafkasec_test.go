package kafkasec

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseJAAS(t *testing.T) {
	m, opts, err := parseJAAS(`org.apache.kafka.common.security.scram.ScramLoginModule required
		username="al ice" password="p\"a;ss" tokenauth=true;`)
	if err != nil {
		t.Fatal(err)
	}
	if m != "org.apache.kafka.common.security.scram.ScramLoginModule" || opts["username"] != "al ice" || opts["password"] != `p"a;ss` || opts["tokenauth"] != "true" {
		t.Fatalf("%s %v", m, opts)
	}
}

func TestJAASErrorsHideValues(t *testing.T) {
	for _, in := range []string{
		`org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="s3cr3t`,
		`org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="s3cr3t"`,
		`org.apache.kafka.common.security.plain.PlainLoginModule s3cr3t;`,
	} {
		_, _, err := parseJAAS(in)
		if err == nil {
			t.Errorf("parseJAAS(%q) accepted", in)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error shows the value: %v", err)
		}
	}
}

// TestOAuthBearerTokenFile checks the OAUTHBEARER mechanism sends the
// token of sasl.oauthbearer.token.file, re-read at each login.
func TestOAuthBearerTokenFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte("tok-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	props := map[string]string{SASLMechanism: "OAUTHBEARER", SASLTokenFile: p}
	get := func(k string) (string, string) { return props[k], k }
	m, err := kafkaSASL(get, &Security{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tok-1", "tok-2"} {
		if want == "tok-2" {
			if err := os.WriteFile(p, []byte(want), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, first, err := m.Authenticate(context.Background(), "127.0.0.1:9092")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(first), "auth=Bearer "+want+"\x01") {
			t.Errorf("login sends %q, want the token %s", first, want)
		}
	}
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Authenticate(context.Background(), "127.0.0.1:9092"); err == nil || !strings.Contains(err.Error(), "sasl.oauthbearer.token.file") {
		t.Errorf("empty token file: %v", err)
	}
}
