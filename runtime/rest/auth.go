package rest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/sluice-cdc/sluice/runtime/api"
)

// Role is what an authenticated caller may do.
type Role int

// Roles. The zero Role allows nothing.
const (
	// RoleReadOnly may GET and HEAD (read configs, statuses, offsets).
	RoleReadOnly Role = iota + 1
	// RoleAdmin may do everything.
	RoleAdmin
)

// Role names as written in the credential files and
// rest.auth.client.cert.roles.
const (
	RoleNameAdmin    = "admin"
	RoleNameReadOnly = "read-only"
)

func (r Role) String() string {
	switch r {
	case RoleAdmin:
		return RoleNameAdmin
	case RoleReadOnly:
		return RoleNameReadOnly
	}
	return "none"
}

// ParseRole parses "admin" or "read-only".
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case RoleNameAdmin:
		return RoleAdmin, nil
	case RoleNameReadOnly:
		return RoleReadOnly, nil
	}
	return 0, fmt.Errorf("role %q: must be %s or %s", s, RoleNameAdmin, RoleNameReadOnly)
}

// AuthConfig says where the worker's callers' credentials are. Every
// field is optional; with none set there is no authentication.
type AuthConfig struct {
	// BasicFile (rest.auth.basic.file) holds "user:bcrypt-hash:role"
	// lines for HTTP basic authentication.
	BasicFile string
	// TokensFile (rest.auth.bearer.tokens.file) holds
	// "sha256-hex-of-token:user:role" lines for bearer tokens.
	TokensFile string
	// CertRoles (rest.auth.client.cert.roles) maps the subject common
	// name of a verified client certificate to a role.
	CertRoles map[string]Role
}

// Auth authenticates requests and tells their role. Create it with
// LoadAuth; it is safe for concurrent use.
type Auth struct {
	users     map[string]basicUser
	tokens    map[string]principal // by hex SHA-256 of the token
	certRoles map[string]Role
	// verified remembers the SHA-256 of user, hash and password of the
	// last successful basic logins, so that a UI polling every second
	// does not pay a bcrypt comparison each time.
	mu struct {
		sync.Mutex
		verified map[[32]byte]bool
	}
}

type basicUser struct {
	hash []byte
	role Role
}

type principal struct {
	name string
	role Role
}

// maxVerified bounds the cache of verified basic logins.
const maxVerified = 1024

// dummyHash is compared against when the user is unknown, so that a
// login for an unknown user takes as long as one with a wrong password.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("sluice-unknown-user"), bcrypt.DefaultCost)
	return h
})

// LoadAuth reads the credential files of c. It returns nil, and no
// error, when c configures no authentication.
func LoadAuth(c AuthConfig) (*Auth, error) {
	if c.BasicFile == "" && c.TokensFile == "" && len(c.CertRoles) == 0 {
		return nil, nil
	}
	a := &Auth{certRoles: c.CertRoles}
	a.mu.verified = map[[32]byte]bool{}
	if c.BasicFile != "" {
		// Made now rather than at the first unknown user's login, so that
		// one is not slower than the next.
		dummyHash()
		a.users = map[string]basicUser{}
		err := readCredentialLines("rest.auth.basic.file", c.BasicFile, func(line int, f []string) error {
			user, hash := f[0], []byte(f[1])
			if _, err := bcrypt.Cost(hash); err != nil {
				return fmt.Errorf("the password of user %q is not a bcrypt hash ($2a$, $2b$ or $2y$); make one with htpasswd -nbBC 10 USER PASSWORD", user)
			}
			if _, dup := a.users[user]; dup {
				return fmt.Errorf("user %q is listed twice; keep one line per user", user)
			}
			role, err := ParseRole(f[2])
			if err != nil {
				return err
			}
			a.users[user] = basicUser{hash: hash, role: role}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if c.TokensFile != "" {
		a.tokens = map[string]principal{}
		err := readCredentialLines("rest.auth.bearer.tokens.file", c.TokensFile, func(line int, f []string) error {
			h := strings.ToLower(f[0])
			if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
				return fmt.Errorf("the first field must be the token's SHA-256 as 64 hex digits (printf %%s \"$TOKEN\" | sha256sum), never the token itself")
			}
			if _, dup := a.tokens[h]; dup {
				return fmt.Errorf("the same token hash is listed twice; keep one line per token")
			}
			role, err := ParseRole(f[2])
			if err != nil {
				return err
			}
			a.tokens[h] = principal{name: f[1], role: role}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}

// readCredentialLines calls fn with the three colon-separated fields of
// each line of file that is not blank or a # comment.
func readCredentialLines(prop, file string, fn func(line int, fields []string) error) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("%s: %w", prop, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) != 3 || fields[0] == "" || fields[1] == "" {
			// The line is not shown: it may hold a secret.
			return fmt.Errorf("%s %s line %d: expected NAME:HASH:ROLE (three fields separated by colons)", prop, file, n)
		}
		if err := fn(n, fields); err != nil {
			return fmt.Errorf("%s %s line %d: %w", prop, file, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: reading %s: %w", prop, file, err)
	}
	return nil
}

// challenges are the WWW-Authenticate values of a 401.
func (a *Auth) challenges() []string {
	var c []string
	if a.users != nil {
		c = append(c, `Basic realm="sluice", charset="UTF-8"`)
	}
	if a.tokens != nil {
		c = append(c, `Bearer realm="sluice"`)
	}
	return c
}

// methods names the ways a caller may authenticate, for messages.
func (a *Auth) methods() string {
	var m []string
	if a.users != nil {
		m = append(m, "basic (user and password)")
	}
	if a.tokens != nil {
		m = append(m, "bearer token")
	}
	if len(a.certRoles) > 0 {
		m = append(m, "client certificate")
	}
	sort.Strings(m)
	return strings.Join(m, ", ")
}

func unauthorized(format string, args ...any) error {
	return api.Errorf(http.StatusUnauthorized, format, args...)
}

// authenticate returns who sent r and their role, or a 401 *api.Error.
// An Authorization header wins over a client certificate.
func (a *Auth) authenticate(r *http.Request) (principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(h, " ")
		cred = strings.TrimSpace(cred)
		switch strings.ToLower(scheme) {
		case "basic":
			if a.users == nil {
				return principal{}, unauthorized("basic authentication is not enabled on this worker; authenticate with: %s", a.methods())
			}
			user, pass, ok := r.BasicAuth()
			if !ok {
				return principal{}, unauthorized("malformed basic Authorization header; send base64(user:password)")
			}
			return a.basic(user, pass)
		case "bearer":
			if a.tokens == nil {
				return principal{}, unauthorized("bearer tokens are not enabled on this worker; authenticate with: %s", a.methods())
			}
			sum := sha256.Sum256([]byte(cred))
			if p, ok := a.tokens[hex.EncodeToString(sum[:])]; ok && cred != "" {
				return p, nil
			}
			return principal{}, unauthorized("invalid bearer token")
		}
		return principal{}, unauthorized("unsupported Authorization scheme %q; authenticate with: %s", scheme, a.methods())
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(a.certRoles) > 0 {
		cn := r.TLS.VerifiedChains[0][0].Subject.CommonName
		if role, ok := a.certRoles[cn]; ok {
			return principal{name: "CN=" + cn, role: role}, nil
		}
		return principal{}, unauthorized("client certificate CN=%q has no role; add %s=admin or %s=read-only to rest.auth.client.cert.roles",
			cn, cn, cn)
	}
	return principal{}, unauthorized("authentication required; authenticate with: %s", a.methods())
}

// basic checks a user's password against the bcrypt hash.
func (a *Auth) basic(user, pass string) (principal, error) {
	u, known := a.users[user]
	hash := u.hash
	if !known {
		hash = dummyHash()
	}
	key := sha256.Sum256([]byte(user + "\x00" + string(hash) + "\x00" + pass))
	a.mu.Lock()
	cached := a.mu.verified[key]
	a.mu.Unlock()
	if known && cached {
		return principal{name: user, role: u.role}, nil
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(pass))
	if !known || err != nil {
		// The same message either way: do not tell which users exist.
		return principal{}, unauthorized("invalid user name or password")
	}
	a.mu.Lock()
	if len(a.mu.verified) >= maxVerified {
		clear(a.mu.verified)
	}
	a.mu.verified[key] = true
	a.mu.Unlock()
	return principal{name: user, role: u.role}, nil
}

// authorize refuses a write by a read-only caller with a 403.
func authorize(p principal, r *http.Request) error {
	if p.role == RoleAdmin {
		return nil
	}
	if p.role == RoleReadOnly {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return nil
		}
	}
	return api.Errorf(http.StatusForbidden, "%s has the %s role, which may only read (GET); %s %s needs the %s role",
		p.name, p.role, r.Method, r.URL.Path, RoleNameAdmin)
}

// unauthenticatedPaths answer without credentials: liveness and
// readiness probes, which reveal nothing but whether the worker is up.
var unauthenticatedPaths = map[string]bool{"/health": true, "/sluice/health": true, "/sluice/ready": true}
