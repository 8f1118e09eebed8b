package registry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// authServer serves s's Handler behind basic auth and counts requests.
func authServer(t *testing.T, s *Store, user, pass string) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	h := s.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("Content-Type", ContentType)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error_code":401,"message":"Unauthorized"}`))
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestHTTPClientAgainstHandler(t *testing.T) {
	ctx := context.Background()
	store := openMem(t, &MemTopic{})
	srv, requests := authServer(t, store, "alice", "s3cret:with:colons")
	cfg, err := ParseHTTPConfig(map[string]string{
		URLConfig:               srv.URL,
		BasicAuthSourceConfig:   "USER_INFO",
		BasicAuthUserInfoConfig: "alice:s3cret:with:colons",
		"value.converter":       "ignored: props hold other keys",
	})
	must(t, err)
	c, err := NewHTTPClient(cfg)
	must(t, err)

	v1 := record("R", `{"name":"a","type":"int"}`)
	id, err := c.Register(ctx, "t-value", v1)
	if err != nil || id != 1 {
		t.Fatalf("Register = %d, %v", id, err)
	}
	// Steady state: the same calls do no round trip.
	before := requests.Load()
	for range 100 {
		if id, err := c.Register(ctx, "t-value", v1); err != nil || id != 1 {
			t.Fatalf("cached Register = %d, %v", id, err)
		}
		if text, err := c.SchemaByID(ctx, 1); err != nil || text != v1 {
			t.Fatalf("cached SchemaByID = %q, %v", text, err)
		}
		if id, err := c.LookupID(ctx, "t-value", v1); err != nil || id != 1 {
			t.Fatalf("cached LookupID = %d, %v", id, err)
		}
	}
	if n := requests.Load() - before; n != 0 {
		t.Fatalf("%d requests in steady state, want 0", n)
	}

	// Another client (a consumer) resolves the id from the registry once.
	c2, err := NewHTTPClient(cfg)
	must(t, err)
	text, err := c2.SchemaByID(ctx, 1)
	if err != nil || text != mustNormal(t, v1) {
		t.Fatalf("SchemaByID = %q, %v", text, err)
	}
	if id, err := c2.LookupID(ctx, "t-value", v1); err != nil || id != 1 {
		t.Fatalf("LookupID = %d, %v", id, err)
	}
	before = requests.Load()
	if _, err := c2.SchemaByID(ctx, 1); err != nil || requests.Load() != before {
		t.Fatalf("second SchemaByID: %v, %d requests", err, requests.Load()-before)
	}

	// Latest is cached forever by default (latest.cache.ttl.sec=-1).
	v2 := record("R", `{"name":"a","type":"int"},{"name":"b","type":"string","default":""}`)
	_, err = c.Register(ctx, "t-value", v2)
	must(t, err)
	id, version, schema, err := c2.Latest(ctx, "t-value")
	if err != nil || id != 2 || version != 2 || schema != mustNormal(t, v2) {
		t.Fatalf("Latest = %d, %d, %q, %v", id, version, schema, err)
	}
	before = requests.Load()
	if _, _, _, err := c2.Latest(ctx, "t-value"); err != nil || requests.Load() != before {
		t.Fatalf("cached Latest: %v, %d requests", err, requests.Load()-before)
	}

	// Registry errors come back as *Error with Confluent's codes.
	_, err = c.SchemaByID(ctx, 99)
	if ErrorCode(err) != CodeSchemaNotFound {
		t.Fatalf("unknown id: %v", err)
	}
	_, err = c.LookupID(ctx, "t-value", record("Other", `{"name":"a","type":"int"}`))
	if ErrorCode(err) != CodeSchemaNotFound {
		t.Fatalf("unknown schema: %v", err)
	}
	_, _, _, err = c.Latest(ctx, "nobody")
	if ErrorCode(err) != CodeSubjectNotFound {
		t.Fatalf("unknown subject: %v", err)
	}
	_, err = c.Register(ctx, "t-value", record("R", `{"name":"a","type":"string"}`))
	if ErrorCode(err) != CodeIncompatibleSchema || !strings.Contains(err.Error(), "incompatible") {
		t.Fatalf("incompatible: %v", err)
	}
	// Subjects are escaped in the path.
	if id, err := c.Register(ctx, "odd/subject name", `"int"`); err != nil || id != 3 {
		t.Fatalf("odd subject: %d, %v", id, err)
	}
	if vs, err := store.Versions("odd/subject name", false); err != nil || len(vs) != 1 {
		t.Fatalf("odd subject in the store: %v, %v", vs, err)
	}

	// Wrong credentials: 401, saying which properties to check.
	bad, err := ParseHTTPConfig(map[string]string{URLConfig: srv.URL, BasicAuthSourceConfig: "USER_INFO", BasicAuthUserInfoConfig: "alice:wrong"})
	must(t, err)
	cb, err := NewHTTPClient(bad)
	must(t, err)
	if _, err := cb.SchemaByID(ctx, 1); ErrorCode(err) != CodeUnauthorized {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestHTTPClientCredentialsInURLAndFailover(t *testing.T) {
	ctx := context.Background()
	store := openMem(t, &MemTopic{})
	srv, _ := authServer(t, store, "bob", "pw")
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close() // nothing listens there any more
	u := strings.Replace(srv.URL, "http://", "http://bob:pw@", 1)
	cfg, err := ParseHTTPConfig(map[string]string{URLConfig: downURL + ", " + u, BasicAuthSourceConfig: "URL"})
	must(t, err)
	if cfg.Username != "bob" || strings.Contains(cfg.URLs[1].String(), "pw") {
		t.Fatalf("credentials from the URL: %+v", cfg)
	}
	c, err := NewHTTPClient(cfg)
	must(t, err)
	if id, err := c.Register(ctx, "s", `"int"`); err != nil || id != 1 {
		t.Fatalf("Register through the second URL: %d, %v", id, err)
	}
}

func TestHTTPClientLatestTTL(t *testing.T) {
	ctx := context.Background()
	store := openMem(t, &MemTopic{})
	srv, requests := authServer(t, store, "u", "p")
	_, err := store.Register(ctx, "s", `"int"`)
	must(t, err)
	for _, tc := range []struct {
		ttl       string
		wantCalls int64 // for three calls, the third after the TTL
	}{{"0", 3}, {"60", 2}, {"-1", 1}} {
		cfg, err := ParseHTTPConfig(map[string]string{URLConfig: srv.URL, BasicAuthSourceConfig: "USER_INFO",
			BasicAuthUserInfoConfig: "u:p", LatestCacheTTLConfig: tc.ttl})
		must(t, err)
		c, err := NewHTTPClient(cfg)
		must(t, err)
		now := time.Unix(1000, 0)
		c.now = func() time.Time { return now }
		before := requests.Load()
		for i := range 3 {
			if i == 2 {
				now = now.Add(61 * time.Second)
			}
			if _, _, _, err := c.Latest(ctx, "s"); err != nil {
				t.Fatal(err)
			}
		}
		if n := requests.Load() - before; n != tc.wantCalls {
			t.Fatalf("ttl %s: %d requests, want %d", tc.ttl, n, tc.wantCalls)
		}
	}
}

func TestParseHTTPConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props map[string]string
		want  string
	}{
		{"no url", map[string]string{}, URLConfig + " is not set"},
		{"bad scheme", map[string]string{URLConfig: "ftp://x"}, "http:// or https://"},
		{"no host", map[string]string{URLConfig: "http://"}, "http:// or https://"},
		{"user info without colon", map[string]string{URLConfig: "http://x", BasicAuthSourceConfig: "USER_INFO", BasicAuthUserInfoConfig: "alice"}, "user:password"},
		{"user info without source", map[string]string{URLConfig: "http://x", BasicAuthUserInfoConfig: "a:b"}, BasicAuthSourceConfig + "=USER_INFO"},
		{"sasl inherit", map[string]string{URLConfig: "http://x", BasicAuthSourceConfig: "SASL_INHERIT"}, "USER_INFO or URL"},
		{"bad ttl", map[string]string{URLConfig: "http://x", LatestCacheTTLConfig: "soon"}, LatestCacheTTLConfig},
		{"bad timeout", map[string]string{URLConfig: "http://x", RequestTimeoutConfig: "0"}, RequestTimeoutConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHTTPConfig(tc.props)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one with %q", err, tc.want)
			}
		})
	}
	cfg, err := ParseHTTPConfig(map[string]string{URLConfig: "https://r:8081", RequestTimeoutConfig: "1500",
		"schema.registry." + BasicAuthUserInfoConfig: "a:b", BasicAuthSourceConfig: "user_info"})
	if err != nil || cfg.Timeout != 1500*time.Millisecond || cfg.Username != "a" || cfg.Password != "b" || cfg.LatestTTL != -1 {
		t.Fatalf("cfg = %+v, %v", cfg, err)
	}
}

// TestStoreAsClient: the local Store answers the Client methods, and a
// second Store on the topic resolves an id the first just registered.
func TestStoreAsClient(t *testing.T) {
	ctx := context.Background()
	topic := &MemTopic{}
	a, b := openMem(t, topic), openMem(t, topic)
	var cl Client = a
	id, err := cl.Register(ctx, "s", `"int"`)
	if err != nil || id != 1 {
		t.Fatalf("Register = %d, %v", id, err)
	}
	cl = b
	if text, err := cl.SchemaByID(ctx, 1); err != nil || text != `"int"` {
		t.Fatalf("SchemaByID on the other store = %q, %v", text, err)
	}
	if id, err := cl.LookupID(ctx, "s", ` "int"`); err != nil || id != 1 {
		t.Fatalf("LookupID = %d, %v", id, err)
	}
	if id, v, text, err := cl.Latest(ctx, "s"); err != nil || id != 1 || v != 1 || text != `"int"` {
		t.Fatalf("Latest = %d, %d, %q, %v", id, v, text, err)
	}
	if _, err := cl.SchemaByID(ctx, 2); ErrorCode(err) != CodeSchemaNotFound {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := cl.LookupID(ctx, "s", `"long"`); ErrorCode(err) != CodeSchemaNotFound {
		t.Fatalf("unknown schema: %v", err)
	}
	if _, _, _, err := cl.Latest(ctx, "none"); ErrorCode(err) != CodeSubjectNotFound {
		t.Fatalf("unknown subject: %v", err)
	}
}
