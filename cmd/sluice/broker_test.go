package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBrokerSecurityFlags checks `sluice broker`'s SASL, ACL and TLS
// flags: what they build, and that each mistake names the flag and the
// fix without echoing a password.
func TestBrokerSecurityFlags(t *testing.T) {
	s, err := brokerSecurity([]string{"SCRAM-SHA-512:admin:a:b:c", "plain:alice:pw"}, []string{"admin"},
		[]string{"principal=User:alice,operation=Write,topic=orders"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Users) != 2 || s.Users[0].Password != "a:b:c" || s.Users[1].Mechanism != "PLAIN" || len(s.ACLs) != 1 || s.TLS != nil {
		t.Fatalf("%+v", s)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		users, acls []string
		cert, key   string
		want        string
	}{
		{users: []string{"GSSAPI:bob:s3cr3t"}, want: "--sasl-user: SASL user bob: mechanism \"GSSAPI\" is not supported"},
		{users: []string{"PLAIN:s3cr3t"}, want: "--sasl-user: SASL user must be MECHANISM:USER:PASSWORD"},
		{acls: []string{"principal=User:a,operation=Write"}, want: "--acl: ACL \"principal=User:a,operation=Write\": give exactly one resource"},
		{cert: bad, want: "--tls-cert and --tls-key must be given together"},
		{cert: bad, key: bad, want: "--tls-cert/--tls-key"},
	} {
		_, err := brokerSecurity(tc.users, nil, tc.acls, tc.cert, tc.key)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error shows a password: %v", err)
		}
	}
}
