package harness

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testpki"
)

// TLS host names. A server started with TLS listens on both addresses;
// its certificate names only TLSHost (and localhost), so connecting to
// TLSWrongHost with host name verification on must be refused.
const (
	TLSHost      = "127.0.0.1"
	TLSWrongHost = "127.0.0.2"
)

// TLSFiles is a throwaway certificate authority with a server certificate
// (SAN localhost and 127.0.0.1, not 127.0.0.2) and a client certificate
// whose common name is ClientUser, all PEM files in Dir. OtherCA is a
// second authority that signed nothing, for "wrong CA" tests.
type TLSFiles struct {
	Dir string
	// CA is the authority's certificate; OtherCA an unrelated one.
	CA, OtherCA string
	// ServerCert and ServerKey are the server's certificate and key.
	ServerCert, ServerKey string
	// ClientUser is the client certificate's CN (the database user that
	// authenticates with it).
	ClientUser string
	// ClientCert and ClientKey are the client's certificate and key;
	// ClientPEM holds both in one file (Connector/J key store style).
	ClientCert, ClientKey, ClientPEM string
	// StrangerCert and StrangerKey are a client certificate from the same
	// CA for CN "stranger" (a user that is not ClientUser).
	StrangerCert, StrangerKey string
}

// NewTLSFiles makes a CA, a server certificate and a client certificate
// for clientUser in a fresh directory removed when t ends.
func NewTLSFiles(t testing.TB, clientUser string) *TLSFiles {
	t.Helper()
	dir := TempDir(t, "")
	f := &TLSFiles{Dir: dir, ClientUser: clientUser,
		CA: filepath.Join(dir, "ca.crt"), OtherCA: filepath.Join(dir, "other-ca.crt"),
		ServerCert: filepath.Join(dir, "server.crt"), ServerKey: filepath.Join(dir, "server.key"),
		ClientCert: filepath.Join(dir, "client.crt"), ClientKey: filepath.Join(dir, "client.key"),
		ClientPEM:    filepath.Join(dir, "client.pem"),
		StrangerCert: filepath.Join(dir, "stranger.crt"), StrangerKey: filepath.Join(dir, "stranger.key")}
	ca, other := testpki.NewCA(t, "sluice test CA"), testpki.NewCA(t, "sluice unrelated CA")
	testpki.WriteFile(t, f.CA, 0o644, ca.CertPEM)
	testpki.WriteFile(t, f.OtherCA, 0o644, other.CertPEM)
	srv := ca.Server(t, "localhost", TLSHost)
	testpki.WriteFile(t, f.ServerCert, 0o644, srv.CertPEM)
	testpki.WriteFile(t, f.ServerKey, 0o600, srv.KeyPEM)
	cli := ca.Client(t, clientUser)
	testpki.WriteFile(t, f.ClientCert, 0o644, cli.CertPEM)
	testpki.WriteFile(t, f.ClientKey, 0o600, cli.KeyPEM)
	testpki.WriteFile(t, f.ClientPEM, 0o600, append(append([]byte{}, cli.CertPEM...), cli.KeyPEM...))
	str := ca.Client(t, "stranger")
	testpki.WriteFile(t, f.StrangerCert, 0o644, str.CertPEM)
	testpki.WriteFile(t, f.StrangerKey, 0o600, str.KeyPEM)
	return f
}

// installServerFiles copies the server certificate, key and CA into dir,
// owned by the OS user owner (when we are root) with the key mode 0600,
// as PostgreSQL requires, and returns their paths.
func (f *TLSFiles) installServerFiles(t testing.TB, dir, owner string) (cert, key, ca string) {
	t.Helper()
	cert, key, ca = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), filepath.Join(dir, "ca.crt")
	for _, c := range []struct {
		from, to string
		mode     os.FileMode
	}{{f.ServerCert, cert, 0o644}, {f.ServerKey, key, 0o600}, {f.CA, ca, 0o644}} {
		b, err := os.ReadFile(c.from)
		if err != nil {
			t.Fatalf("harness: %v", err)
		}
		testpki.WriteFile(t, c.to, c.mode, b)
		if os.Geteuid() == 0 && owner != "" {
			u, err := user.Lookup(owner)
			if err != nil {
				t.Fatalf("harness: user %s: %v", owner, err)
			}
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			if err := os.Chown(c.to, uid, gid); err != nil {
				t.Fatalf("harness: %v", err)
			}
		}
	}
	return cert, key, ca
}
