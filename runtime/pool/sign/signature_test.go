package sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
)

func newRequest(t *testing.T) *http.Request {
	t.Helper()
	return httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8083/connectors/c/tasks", nil)
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSignMatchesConnect signs the body of Connect's own
// InternalRequestSignatureTest with its key and expects its signature, so
// a Connect worker and a Sluice worker agree on the bytes.
func TestSignMatchesConnect(t *testing.T) {
	key := Key{Secret: mustHex(t, "6d749131a219992c9d8a35bb578405305997fe3aa457433183b1d982cdcbab39"), Algorithm: "HmacSHA256"}
	body := []byte(`[{"config":"value"},{"config":"other_value"}]`)
	req := newRequest(t)
	c := DefaultConfig()
	if err := c.Sign(req, body, key); err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get("X-Connect-Authorization"); got != "Kv1/OSsxzdVIwvZ4e30avyRIVrngDfhzVUm/kAZEKc4=" {
		t.Fatalf("signature %s differs from Connect's", got)
	}
	if got := req.Header.Get("X-Connect-Request-Signature-Algorithm"); got != "HmacSHA256" {
		t.Fatalf("algorithm header %q", got)
	}
	if err := c.Verify(req, body, key); err != nil {
		t.Fatalf("Connect's signature does not verify: %v", err)
	}
}

// TestSignEachAlgorithm signs with each algorithm and checks the header
// against an HMAC computed here with the hash named in the test, then
// verifies the round trip.
func TestSignEachAlgorithm(t *testing.T) {
	for _, tc := range []struct {
		alg  Algorithm
		hash func() hash.Hash
	}{{HmacSHA256, sha256.New}, {HmacSHA384, sha512.New384}, {HmacSHA512, sha512.New}} {
		t.Run(string(tc.alg), func(t *testing.T) {
			c := Config{KeyAlgorithm: tc.alg, KeyTTL: time.Hour, SignatureAlgorithm: tc.alg, VerificationAlgorithms: Algorithms}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			key := c.GenerateKey(time.Now())
			body := []byte(`[{"task.class":"x"}]`)
			req := newRequest(t)
			if err := c.Sign(req, body, key); err != nil {
				t.Fatal(err)
			}
			m := hmac.New(tc.hash, key.Secret)
			m.Write(body)
			want := base64.StdEncoding.EncodeToString(m.Sum(nil))
			if got := req.Header.Get(SignatureHeader); got != want {
				t.Fatalf("signature %s, want %s", got, want)
			}
			if got := req.Header.Get(AlgorithmHeader); got != string(tc.alg) {
				t.Fatalf("algorithm header %q, want %q", got, tc.alg)
			}
			if err := c.Verify(req, body, key); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSignEmptyBody: PUT /connectors/{c}/fence has no body; it is signed
// and verified as zero bytes.
func TestSignEmptyBody(t *testing.T) {
	c := DefaultConfig()
	key := c.GenerateKey(time.Now())
	req := newRequest(t)
	if err := c.Sign(req, nil, key); err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(req, []byte{}, key); err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(req, []byte("x"), key); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("a body added to a signed empty request verified: %v", err)
	}
}

func TestSignWithoutKey(t *testing.T) {
	c := DefaultConfig()
	req := newRequest(t)
	err := c.Sign(req, []byte("{}"), Key{})
	if err == nil || !strings.Contains(err.Error(), "no session key yet") {
		t.Fatalf("want a no-key error, got %v", err)
	}
	if req.Header.Get(SignatureHeader) != "" {
		t.Fatal("a request was signed without a key")
	}
}

func TestVerifyFailures(t *testing.T) {
	c := DefaultConfig()
	key := c.GenerateKey(time.Now())
	other := c.GenerateKey(time.Now())
	body := []byte(`[{"a":"b"}]`)
	signed := func() *http.Request {
		req := newRequest(t)
		if err := c.Sign(req, body, key); err != nil {
			t.Fatal(err)
		}
		return req
	}
	wide := Config{KeyAlgorithm: HmacSHA256, SignatureAlgorithm: HmacSHA512, VerificationAlgorithms: Algorithms}

	for _, tc := range []struct {
		name     string
		req      func() *http.Request
		body     []byte
		keys     []Key
		status   int
		sentinel error
		message  string
	}{
		{"tampered body", signed, []byte(`[{"a":"c"}]`), []Key{key}, 403, ErrInvalidSignature, "Internal request contained invalid signature."},
		{"wrong key", signed, body, []Key{other}, 403, ErrInvalidSignature, "Internal request contained invalid signature."},
		{"no signature header", func() *http.Request { r := signed(); r.Header.Del(SignatureHeader); return r },
			body, []Key{key}, 400, ErrMissingSignature, "Internal request missing required signature"},
		{"no algorithm header", func() *http.Request { r := signed(); r.Header.Del(AlgorithmHeader); return r },
			body, []Key{key}, 400, ErrMissingSignature, "Internal request missing required signature"},
		{"unsigned", func() *http.Request { return newRequest(t) }, body, []Key{key}, 400, ErrMissingSignature, "Internal request missing required signature"},
		{"unknown algorithm", func() *http.Request { r := signed(); r.Header.Set(AlgorithmHeader, "HmacMD5"); return r },
			body, []Key{key}, 400, ErrUnsupportedAlgorithm, `Algorithm "HmacMD5" not available: this worker verifies HmacSHA256, HmacSHA384 or HmacSHA512`},
		{"algorithm not accepted", func() *http.Request {
			r := newRequest(t)
			if err := wide.Sign(r, body, key); err != nil {
				t.Fatal(err)
			}
			return r
		}, body, []Key{key}, 400, ErrUnsupportedAlgorithm,
			"This worker does not support the 'HmacSHA512' key signing algorithm used by other workers. This worker is currently configured to use: [HmacSHA256]. Check that all workers' configuration files permit the same set of signature algorithms, and correct any misconfigured worker and restart it."},
		{"signature not base64", func() *http.Request { r := signed(); r.Header.Set(SignatureHeader, "not valid base 64"); return r },
			body, []Key{key}, 400, ErrMalformedSignature, "Internal request signature in X-Connect-Authorization is not valid base64"},
		{"truncated signature", func() *http.Request {
			r := signed()
			sig, _ := base64.StdEncoding.DecodeString(r.Header.Get(SignatureHeader))
			r.Header.Set(SignatureHeader, base64.StdEncoding.EncodeToString(sig[:16]))
			return r
		}, body, []Key{key}, 403, ErrInvalidSignature, "Internal request contained invalid signature."},
		{"no session key yet", signed, body, nil, 503, ErrNoSessionKey,
			"This worker is still starting up and has not been able to read a session key from the config topic yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Verify(tc.req(), tc.body, tc.keys...)
			var ae *api.Error
			if !errors.As(err, &ae) {
				t.Fatalf("want an *api.Error, got %v", err)
			}
			if ae.Status != tc.status || !errors.Is(err, tc.sentinel) || !strings.HasPrefix(err.Error(), tc.message) {
				t.Fatalf("got %d %v (%q), want %d %v (%q)", ae.Status, ae.Err, err.Error(), tc.status, tc.sentinel, tc.message)
			}
		})
	}
}

// TestVerifyAlgorithmHeaderCase: the JVM takes algorithm names in any
// case, so a Connect worker configured with "hmacsha256" still verifies.
func TestVerifyAlgorithmHeaderCase(t *testing.T) {
	c := DefaultConfig()
	key := c.GenerateKey(time.Now())
	req := newRequest(t)
	if err := c.Sign(req, []byte("{}"), key); err != nil {
		t.Fatal(err)
	}
	req.Header.Set(AlgorithmHeader, "hmacsha256")
	if err := c.Verify(req, []byte("{}"), key); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyLongAlgorithmHeaderIsCut: a caller cannot put a long string
// in the error message.
func TestVerifyLongAlgorithmHeaderIsCut(t *testing.T) {
	c := DefaultConfig()
	req := newRequest(t)
	req.Header.Set(SignatureHeader, "AAAA")
	req.Header.Set(AlgorithmHeader, strings.Repeat("x", 5000))
	err := c.Verify(req, nil, c.GenerateKey(time.Now()))
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("message of %d bytes: %.100v", len(err.Error()), err)
	}
}

// TestVerifyAnyOfSeveralKeys: Verify accepts a signature under any key
// given (the Holder gives only the current one; see the package doc).
func TestVerifyAnyOfSeveralKeys(t *testing.T) {
	c := DefaultConfig()
	old, cur := c.GenerateKey(time.Now()), c.GenerateKey(time.Now())
	req := newRequest(t)
	if err := c.Sign(req, []byte("{}"), old); err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(req, []byte("{}"), cur, old); err != nil {
		t.Fatalf("signature under the second key refused: %v", err)
	}
	if err := c.Verify(req, []byte("{}"), cur); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("signature under a replaced key accepted with only the current key given: %v", err)
	}
}
