package broker

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestSecurityNeedsUsers checks that superusers and ACLs without the SASL
// users they name are refused at start, naming the fix.
func TestSecurityNeedsUsers(t *testing.T) {
	acl, err := ParseACL("principal=User:bob,operation=Read,topic=t")
	if err != nil {
		t.Fatal(err)
	}
	alice := User{Mechanism: "PLAIN", Name: "alice", Password: "pw"}
	for _, tc := range []struct {
		sec  Security
		want string
	}{
		{Security{ACLs: []ACL{acl}}, "superusers and ACLs need SASL users"},
		{Security{Users: []User{alice}, Superusers: []string{"root"}}, "superuser root has no SASL user: add --sasl-user MECHANISM:root:PASSWORD"},
		{Security{Users: []User{alice}, ACLs: []ACL{acl}}, "ACL for User:bob: no SASL user bob"},
	} {
		_, err := Start(t.TempDir(), "127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)), WithSecurity(tc.sec))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.sec, err, tc.want)
		}
	}
}
