package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The properties of an external registry, named as Confluent's
// serializers and converters name them (a converter passes its
// key.converter./value.converter. properties with the prefix removed).
const (
	// URLConfig is a comma-separated list of registry URLs; requests go
	// to the first that answers.
	URLConfig = "schema.registry.url"
	// BasicAuthSourceConfig says where basic-auth credentials come from:
	// USER_INFO (BasicAuthUserInfoConfig) or URL (the URL's user:pass@).
	BasicAuthSourceConfig = "basic.auth.credentials.source"
	// BasicAuthUserInfoConfig is "user:password" for USER_INFO.
	BasicAuthUserInfoConfig = "basic.auth.user.info"
	// LatestCacheTTLConfig is how long, in seconds, Latest answers from
	// memory; -1 (the default) forever, 0 never.
	LatestCacheTTLConfig = "latest.cache.ttl.sec"
	// RequestTimeoutConfig bounds one request, in milliseconds.
	RequestTimeoutConfig = "schema.registry.request.timeout.ms"
)

// Credential sources of BasicAuthSourceConfig.
const (
	SourceUserInfo = "USER_INFO"
	SourceURL      = "URL"
)

// Defaults of the HTTP client.
const (
	DefaultHTTPRequestTimeout = 30 * time.Second
	// DefaultMaxCached bounds each of the client's caches; a full cache
	// is emptied and refilled from the registry.
	DefaultMaxCached = 10000
)

// HTTPConfig is an external registry's address and credentials.
type HTTPConfig struct {
	URLs []*url.URL
	// Username and Password, when Username is set, are sent as basic
	// auth on every request.
	Username, Password string
	// LatestTTL is how long Latest answers from memory; < 0 forever.
	LatestTTL time.Duration
	// Timeout bounds each request (default DefaultHTTPRequestTimeout).
	Timeout time.Duration
	// Transport is the HTTP transport (nil: http.DefaultTransport), for
	// TLS settings and tests.
	Transport http.RoundTripper
}

// ParseHTTPConfig reads an external registry's properties (URLConfig
// and the others above); props may hold unrelated keys, which it leaves
// alone. A missing URL, a malformed one, or credentials that do not fit
// the source are errors naming the property.
func ParseHTTPConfig(props map[string]string) (HTTPConfig, error) {
	cfg := HTTPConfig{LatestTTL: -1, Timeout: DefaultHTTPRequestTimeout}
	raw := strings.TrimSpace(props[URLConfig])
	if raw == "" {
		return cfg, fmt.Errorf("%s is not set; set it to the registry's URL, such as http://localhost:8081", URLConfig)
	}
	for _, s := range strings.Split(raw, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cfg, fmt.Errorf("%s %q: each URL must be http:// or https:// with a host, such as http://localhost:8081", URLConfig, s)
		}
		cfg.URLs = append(cfg.URLs, u)
	}
	source := strings.ToUpper(strings.TrimSpace(props[BasicAuthSourceConfig]))
	info, hasInfo := props[BasicAuthUserInfoConfig]
	if !hasInfo {
		info, hasInfo = props["schema.registry."+BasicAuthUserInfoConfig]
	}
	switch source {
	case SourceUserInfo:
		user, pass, ok := strings.Cut(info, ":")
		if !ok || user == "" {
			return cfg, fmt.Errorf("%s=USER_INFO needs %s as user:password", BasicAuthSourceConfig, BasicAuthUserInfoConfig)
		}
		cfg.Username, cfg.Password = user, pass
	case "", SourceURL:
		if source == "" && hasInfo {
			return cfg, fmt.Errorf("%s is set but %s is not; set %s=USER_INFO to use it", BasicAuthUserInfoConfig,
				BasicAuthSourceConfig, BasicAuthSourceConfig)
		}
		for _, u := range cfg.URLs {
			if u.User != nil {
				cfg.Username = u.User.Username()
				cfg.Password, _ = u.User.Password()
				break
			}
		}
	default:
		return cfg, fmt.Errorf("%s %q is not supported; use USER_INFO or URL", BasicAuthSourceConfig, props[BasicAuthSourceConfig])
	}
	for _, u := range cfg.URLs {
		u.User = nil // sent as a header, never in a logged URL
	}
	if s, ok := props[LatestCacheTTLConfig]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n < -1 {
			return cfg, fmt.Errorf("%s %q: must be a number of seconds, or -1 for no expiry", LatestCacheTTLConfig, s)
		}
		cfg.LatestTTL = time.Duration(n) * time.Second
	}
	if s, ok := props[RequestTimeoutConfig]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n <= 0 {
			return cfg, fmt.Errorf("%s %q: must be a positive number of milliseconds", RequestTimeoutConfig, s)
		}
		cfg.Timeout = time.Duration(n) * time.Millisecond
	}
	return cfg, nil
}

// HTTPClient is a Client of an external Confluent-compatible registry
// (Confluent, Redpanda, or another worker's built-in one). It caches
// every answer that cannot change (a subject's id for a schema, an id's
// schema) and Latest for LatestTTL, so a converter in steady state does
// no round trip. Safe for concurrent use.
type HTTPClient struct {
	cfg  HTTPConfig
	http *http.Client
	now  func() time.Time

	mu struct {
		sync.Mutex
		ids     map[string]int // subject + "\x00" + schema text → id
		schemas map[int]string
		latest  map[string]latestEntry
	}
}

type latestEntry struct {
	id, version int
	schema      string
	at          time.Time
}

// NewHTTPClient returns a client of the registry cfg names.
func NewHTTPClient(cfg HTTPConfig) (*HTTPClient, error) {
	if len(cfg.URLs) == 0 {
		return nil, fmt.Errorf("%s is not set; set it to the registry's URL", URLConfig)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultHTTPRequestTimeout
	}
	tr := cfg.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	c := &HTTPClient{cfg: cfg, http: &http.Client{Transport: tr, Timeout: cfg.Timeout}, now: time.Now}
	c.mu.ids = map[string]int{}
	c.mu.schemas = map[int]string{}
	c.mu.latest = map[string]latestEntry{}
	return c, nil
}

// Register registers schema under subject (POST /subjects/{s}/versions).
func (c *HTTPClient) Register(ctx context.Context, subject, schema string) (int, error) {
	return c.subjectID(ctx, "/subjects/"+url.PathEscape(subject)+"/versions", subject, schema)
}

// LookupID looks schema up under subject (POST /subjects/{s}).
func (c *HTTPClient) LookupID(ctx context.Context, subject, schema string) (int, error) {
	return c.subjectID(ctx, "/subjects/"+url.PathEscape(subject), subject, schema)
}

// subjectID answers Register and LookupID: both map (subject, schema)
// to an id that never changes once given, so either fills the cache.
func (c *HTTPClient) subjectID(ctx context.Context, path, subject, schema string) (int, error) {
	key := subject + "\x00" + schema
	c.mu.Lock()
	id, ok := c.mu.ids[key]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	var resp struct {
		ID *int `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, path, schemaBody{Schema: schema}, &resp); err != nil {
		return 0, err
	}
	if resp.ID == nil {
		return 0, fmt.Errorf("schema registry answered POST %s without an id", path)
	}
	c.mu.Lock()
	putBounded(c.mu.ids, key, *resp.ID)
	putBounded(c.mu.schemas, *resp.ID, schema)
	c.mu.Unlock()
	return *resp.ID, nil
}

// SchemaByID returns the schema with id (GET /schemas/ids/{id}).
func (c *HTTPClient) SchemaByID(ctx context.Context, id int) (string, error) {
	c.mu.Lock()
	text, ok := c.mu.schemas[id]
	c.mu.Unlock()
	if ok {
		return text, nil
	}
	var resp struct {
		Schema     string `json:"schema"`
		SchemaType string `json:"schemaType"`
	}
	if err := c.do(ctx, http.MethodGet, "/schemas/ids/"+strconv.Itoa(id), nil, &resp); err != nil {
		return "", err
	}
	if err := checkSchemaType(resp.SchemaType); err != nil {
		return "", fmt.Errorf("schema id %d: %w", id, err)
	}
	c.mu.Lock()
	putBounded(c.mu.schemas, id, resp.Schema)
	c.mu.Unlock()
	return resp.Schema, nil
}

// Latest returns subject's latest version (GET
// /subjects/{s}/versions/latest), from memory within LatestTTL.
func (c *HTTPClient) Latest(ctx context.Context, subject string) (int, int, string, error) {
	c.mu.Lock()
	e, ok := c.mu.latest[subject]
	c.mu.Unlock()
	if ok && (c.cfg.LatestTTL < 0 || c.now().Sub(e.at) < c.cfg.LatestTTL) {
		return e.id, e.version, e.schema, nil
	}
	var resp versionBody
	if err := c.do(ctx, http.MethodGet, "/subjects/"+url.PathEscape(subject)+"/versions/latest", nil, &resp); err != nil {
		return 0, 0, "", err
	}
	c.mu.Lock()
	if c.cfg.LatestTTL != 0 {
		putBounded(c.mu.latest, subject, latestEntry{id: resp.ID, version: resp.Version, schema: resp.Schema, at: c.now()})
	}
	putBounded(c.mu.schemas, resp.ID, resp.Schema)
	putBounded(c.mu.ids, subject+"\x00"+resp.Schema, resp.ID)
	c.mu.Unlock()
	return resp.ID, resp.Version, resp.Schema, nil
}

// putBounded adds to a cache, emptying it first when full.
func putBounded[K comparable, V any](m map[K]V, k K, v V) {
	if _, ok := m[k]; !ok && len(m) >= DefaultMaxCached {
		clear(m)
	}
	m[k] = v
}

// do sends one request to the first URL that answers and decodes a 200
// body into out; an error answer becomes an *Error with the registry's
// code and message.
func (c *HTTPClient) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		body = mustJSON(in)
	}
	var lastErr error
	for _, base := range c.cfg.URLs {
		u := strings.TrimSuffix(base.String(), "/") + path
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("schema registry request %s %s: %w", method, u, err)
		}
		req.Header.Set("Accept", ContentType+", application/vnd.schemaregistry+json; q=0.9, application/json; q=0.5")
		if in != nil {
			req.Header.Set("Content-Type", ContentType)
		}
		if c.cfg.Username != "" {
			req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			lastErr = fmt.Errorf("schema registry %s %s: %w", method, u, err)
			if ctx.Err() != nil {
				return lastErr
			}
			continue // the next URL
		}
		return decodeResponse(resp, method, u, out)
	}
	return lastErr
}

func decodeResponse(resp *http.Response, method, u string, out any) error {
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, DefaultMaxBodyBytes))
	if err != nil {
		return fmt.Errorf("schema registry %s %s: reading the answer: %w", method, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.Unmarshal(raw, &e) == nil && e.ErrorCode != 0 {
			return &Error{Code: e.ErrorCode, Message: e.Message}
		}
		msg := strings.TrimSpace(string(raw))
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			msg = fmt.Sprintf("%s %s: %s; check %s and %s", method, u, resp.Status, BasicAuthSourceConfig, BasicAuthUserInfoConfig)
		}
		return &Error{Code: resp.StatusCode, Message: msg}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("schema registry %s %s: the answer is not the JSON expected: %w", method, u, err)
	}
	return nil
}
