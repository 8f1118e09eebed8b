package registry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/runtime/kafkalog"
)

type restClient struct {
	t   *testing.T
	url string
}

func newREST(t *testing.T, s *Store) *restClient {
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &restClient{t: t, url: srv.URL}
}

// do sends body (a Go value as JSON, or a string as is) with the
// registry's content type and returns the status and body.
func (c *restClient) do(method, path string, body any) (int, string) {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		r = strings.NewReader(string(mustJSON(b)))
	}
	req, err := http.NewRequest(method, c.url+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", ContentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != ContentType {
		c.t.Fatalf("%s %s: Content-Type %q, want %q", method, path, ct, ContentType)
	}
	return resp.StatusCode, strings.TrimSpace(string(raw))
}

// want checks a status and an exact JSON body.
func (c *restClient) want(method, path string, body any, status int, want string) {
	c.t.Helper()
	got, raw := c.do(method, path, body)
	if got != status || !jsonEqual(raw, want) {
		c.t.Fatalf("%s %s: %d %s\nwant %d %s", method, path, got, raw, status, want)
	}
}

// wantErr checks a status and error code, and that the message says
// something.
func (c *restClient) wantErr(method, path string, body any, status, code int, msgHas string) {
	c.t.Helper()
	got, raw := c.do(method, path, body)
	var e errorBody
	if err := json.Unmarshal([]byte(raw), &e); err != nil || got != status || e.ErrorCode != code ||
		!strings.Contains(e.Message, msgHas) {
		c.t.Fatalf("%s %s: %d %s\nwant %d, error_code %d, message with %q", method, path, got, raw, status, code, msgHas)
	}
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	return string(mustJSON(x)) == string(mustJSON(y))
}

func schemaReq(schema string) map[string]string { return map[string]string{"schema": schema} }

// quoteJSON is s as a JSON string.
func quoteJSON(s string) string { return string(mustJSON(s)) }

func TestRESTRegisterAndRead(t *testing.T) {
	c := newREST(t, openMem(t, &MemTopic{}))
	v1 := record("User", `{"name":"id","type":"long"}`)
	v2 := record("User", `{"name":"id","type":"long"},{"name":"email","type":["null","string"],"default":null}`)
	n1, n2 := mustNormal(t, v1), mustNormal(t, v2)

	c.want("GET", "/", nil, 200, `{}`)
	c.want("GET", "/subjects", nil, 200, `[]`)
	c.want("GET", "/schemas/types", nil, 200, `["AVRO"]`)
	c.want("POST", "/subjects/users-value/versions", schemaReq(v1), 200, `{"id":1}`)
	// The same schema again, and written differently, is the same id.
	c.want("POST", "/subjects/users-value/versions", schemaReq(v1), 200, `{"id":1}`)
	c.want("POST", "/subjects/users-value/versions", map[string]string{"schema": " " + v1 + "\n", "schemaType": "AVRO"}, 200, `{"id":1}`)
	// The same schema in another subject gets the same id.
	c.want("POST", "/subjects/other-value/versions", schemaReq(v1), 200, `{"id":1}`)
	c.want("POST", "/subjects/users-value/versions", schemaReq(v2), 200, `{"id":2}`)
	// A primitive schema, and one with a default that differs, are
	// schemas of their own.
	c.want("POST", "/subjects/users-key/versions", schemaReq(`"string"`), 200, `{"id":3}`)

	c.want("GET", "/subjects", nil, 200, `["other-value","users-key","users-value"]`)
	c.want("GET", "/subjects/users-value/versions", nil, 200, `[1,2]`)
	c.want("GET", "/subjects/users-value/versions/1", nil, 200,
		`{"subject":"users-value","version":1,"id":1,"schema":`+quoteJSON(n1)+`}`)
	c.want("GET", "/subjects/users-value/versions/latest", nil, 200,
		`{"subject":"users-value","version":2,"id":2,"schema":`+quoteJSON(n2)+`}`)
	if st, raw := c.do("GET", "/subjects/users-value/versions/2/schema", nil); st != 200 || raw != n2 {
		t.Fatalf("raw schema: %d %s", st, raw)
	}
	c.want("GET", "/schemas/ids/2", nil, 200, `{"schema":`+quoteJSON(n2)+`}`)
	if st, raw := c.do("GET", "/schemas/ids/3/schema", nil); st != 200 || raw != `"string"` {
		t.Fatalf("raw schema by id: %d %s", st, raw)
	}
	c.want("GET", "/schemas/ids/1/versions", nil, 200,
		`[{"subject":"other-value","version":1},{"subject":"users-value","version":1}]`)

	// Lookup.
	c.want("POST", "/subjects/users-value", schemaReq(v1), 200,
		`{"subject":"users-value","version":1,"id":1,"schema":`+quoteJSON(n1)+`}`)
	c.wantErr("POST", "/subjects/users-value", schemaReq(record("Other", `{"name":"x","type":"int"}`)), 404, 40403, "users-value")
	c.wantErr("POST", "/subjects/nobody", schemaReq(v1), 404, 40401, "nobody")

	// Not found and invalid.
	c.wantErr("GET", "/subjects/nobody/versions", nil, 404, 40401, `"nobody"`)
	c.wantErr("GET", "/subjects/nobody/versions/1", nil, 404, 40401, `"nobody"`)
	c.wantErr("GET", "/subjects/users-value/versions/9", nil, 404, 40402, "version 9")
	for _, bad := range []string{"0", "-2", "x", "2147483648"} {
		c.wantErr("GET", "/subjects/users-value/versions/"+bad, nil, 422, 42202, "latest")
	}
	c.wantErr("GET", "/schemas/ids/99", nil, 404, 40403, "99")
	c.wantErr("GET", "/schemas/ids/99/versions", nil, 404, 40403, "99")
	c.wantErr("GET", "/schemas/ids/x", nil, 404, 404, `"x"`)
	c.wantErr("GET", "/nowhere", nil, 404, 404, "/nowhere")
	c.wantErr("PATCH", "/subjects", nil, 405, 405, "PATCH")
	c.wantErr("GET", "/subjects?deleted=maybe", nil, 400, 400, "deleted")
}

func TestRESTRegisterRefuses(t *testing.T) {
	c := newREST(t, openMem(t, &MemTopic{}))
	v1 := record("User", `{"name":"id","type":"long"}`)
	c.want("POST", "/subjects/s/versions", schemaReq(v1), 200, `{"id":1}`)

	// Incompatible under the default BACKWARD: 409 with the reasons.
	c.wantErr("POST", "/subjects/s/versions", schemaReq(record("User", `{"name":"id","type":"long"},{"name":"n","type":"string"}`)),
		409, 409, "reader field n is missing in writer schema")
	c.wantErr("POST", "/subjects/s/versions", schemaReq(`{"type":"record","name":"R","fields":[{"name":"a","type":"nope"}]}`),
		422, 42201, "invalid Avro schema")
	c.wantErr("POST", "/subjects/s/versions", schemaReq(`not json`), 422, 42201, "invalid Avro schema")
	c.wantErr("POST", "/subjects/s/versions", schemaReq(``), 422, 42201, "empty")
	c.wantErr("POST", "/subjects/s/versions", map[string]string{"schema": `syntax = "proto3";`, "schemaType": "PROTOBUF"},
		422, 42201, `"PROTOBUF" is not supported`)
	c.wantErr("POST", "/subjects/s/versions", map[string]any{"schema": v1, "references": []any{map[string]any{"name": "x"}}},
		422, 42201, "references")
	c.wantErr("POST", "/subjects/s/versions", map[string]any{"schema": v1, "id": 7}, 422, 42205, "IMPORT")
	c.wantErr("POST", "/subjects/s/versions", map[string]any{"schemaType": "AVRO"}, 422, 42201, `no "schema"`)
	c.wantErr("POST", "/subjects/s/versions", `{"schema": 5}`, 400, 400, "not a JSON object")
	c.wantErr("POST", "/subjects/s/versions", `{`, 400, 400, "not a JSON object")
	c.wantErr("POST", "/subjects/%20/versions", schemaReq(v1), 422, 42208, "empty")

	// Null references and metadata, as newer serializers send, are fine.
	c.want("POST", "/subjects/t/versions", map[string]any{"schema": v1, "references": []any{}, "metadata": nil, "ruleSet": nil},
		200, `{"id":1}`)

	req, _ := http.NewRequest("POST", c.url+"/subjects/s/versions", strings.NewReader(string(mustJSON(schemaReq(v1)))))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Fatalf("text/plain: %d, want 415", resp.StatusCode)
	}
	for _, ct := range []string{"application/json", "application/vnd.schemaregistry+json", "application/json; charset=utf-8"} {
		req, _ := http.NewRequest("POST", c.url+"/subjects/s/versions", strings.NewReader(string(mustJSON(schemaReq(v1)))))
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d, want 200", ct, resp.StatusCode)
		}
	}
}

func TestRESTBodyTooLarge(t *testing.T) {
	srv := httptest.NewServer(openMem(t, &MemTopic{}).Handler(WithMaxBodyBytes(64)))
	t.Cleanup(srv.Close)
	c := &restClient{t: t, url: srv.URL}
	c.wantErr("POST", "/subjects/s/versions", schemaReq(record("R", `{"name":"`+strings.Repeat("a", 100)+`","type":"int"}`)),
		413, 413, "64 bytes")
}

func TestRESTConfig(t *testing.T) {
	c := newREST(t, openMem(t, &MemTopic{}))
	c.want("GET", "/config", nil, 200, `{"compatibilityLevel":"BACKWARD"}`)
	c.want("PUT", "/config", map[string]string{"compatibility": "full"}, 200, `{"compatibility":"FULL"}`)
	c.want("GET", "/config", nil, 200, `{"compatibilityLevel":"FULL"}`)
	c.wantErr("PUT", "/config", map[string]string{"compatibility": "SIDEWAYS"}, 422, 42203, "FULL_TRANSITIVE")
	c.wantErr("PUT", "/config", map[string]string{"compatibilityLevel": "NONE"}, 422, 42203, `no "compatibility"`)
	c.wantErr("PUT", "/config", `[]`, 400, 400, "not a JSON object")
	c.wantErr("GET", "/config/s", nil, 404, 40408, `"s"`)
	c.want("GET", "/config/s?defaultToGlobal=true", nil, 200, `{"compatibilityLevel":"FULL"}`)
	c.want("PUT", "/config/s", map[string]string{"compatibility": "NONE"}, 200, `{"compatibility":"NONE"}`)
	c.want("GET", "/config/s", nil, 200, `{"compatibilityLevel":"NONE"}`)

	// The subject's level decides: NONE lets an incompatible change in.
	c.want("POST", "/subjects/s/versions", schemaReq(`"int"`), 200, `{"id":1}`)
	c.want("POST", "/subjects/s/versions", schemaReq(`"string"`), 200, `{"id":2}`)
	c.want("DELETE", "/config/s", nil, 200, `{"compatibilityLevel":"NONE"}`)
	c.wantErr("GET", "/config/s", nil, 404, 40408, `"s"`)
	c.wantErr("POST", "/subjects/s/versions", schemaReq(`"boolean"`), 409, 409, "FULL")
	c.want("DELETE", "/config", nil, 200, `{"compatibilityLevel":"FULL"}`)
	c.want("GET", "/config", nil, 200, `{"compatibilityLevel":"BACKWARD"}`)
}

func TestRESTCompatibility(t *testing.T) {
	c := newREST(t, openMem(t, &MemTopic{}))
	v1 := record("R", `{"name":"a","type":"int"}`)
	c.want("POST", "/subjects/s/versions", schemaReq(v1), 200, `{"id":1}`)
	good := record("R", `{"name":"a","type":"long"}`)
	bad := record("R", `{"name":"a","type":"string"}`)
	c.want("POST", "/compatibility/subjects/s/versions/latest", schemaReq(good), 200, `{"is_compatible":true}`)
	c.want("POST", "/compatibility/subjects/s/versions/1?verbose=true", schemaReq(good), 200, `{"is_compatible":true,"messages":[]}`)
	c.want("POST", "/compatibility/subjects/s/versions", schemaReq(good), 200, `{"is_compatible":true}`)
	c.want("POST", "/compatibility/subjects/s/versions/latest", schemaReq(bad), 200, `{"is_compatible":false}`)
	_, raw := c.do("POST", "/compatibility/subjects/s/versions/1?verbose=true", schemaReq(bad))
	var body struct {
		IsCompatible bool     `json:"is_compatible"`
		Messages     []string `json:"messages"`
	}
	if err := json.Unmarshal([]byte(raw), &body); err != nil || body.IsCompatible || len(body.Messages) != 1 ||
		!strings.Contains(body.Messages[0], "BACKWARD") || !strings.Contains(body.Messages[0], "version 1") {
		t.Fatalf("verbose incompatible: %s", raw)
	}
	c.wantErr("POST", "/compatibility/subjects/s/versions/7", schemaReq(good), 404, 40402, "version 7")
	c.wantErr("POST", "/compatibility/subjects/none/versions/latest", schemaReq(good), 404, 40401, `"none"`)
	c.wantErr("POST", "/compatibility/subjects/s/versions/latest", schemaReq(`{"type":"bogus"}`), 422, 42201, "invalid Avro schema")
	c.wantErr("POST", "/compatibility/subjects/s/versions/zero", schemaReq(good), 422, 42202, `"zero"`)
}

func TestRESTDelete(t *testing.T) {
	c := newREST(t, openMem(t, &MemTopic{}))
	c.want("PUT", "/config", map[string]string{"compatibility": "NONE"}, 200, `{"compatibility":"NONE"}`)
	for i, typ := range []string{"int", "long", "string"} {
		c.want("POST", "/subjects/s/versions", schemaReq(quoteJSON(typ)), 200, `{"id":`+strconv.Itoa(i+1)+`}`)
	}
	c.want("POST", "/subjects/keep/versions", schemaReq(`"int"`), 200, `{"id":1}`)

	// A version: permanent only after soft.
	c.wantErr("DELETE", "/subjects/s/versions/1?permanent=true", nil, 404, 40407, "soft-deleted before")
	c.want("DELETE", "/subjects/s/versions/1", nil, 200, `1`)
	c.wantErr("DELETE", "/subjects/s/versions/1", nil, 404, 40406, "permanent=true")
	c.wantErr("GET", "/subjects/s/versions/1", nil, 404, 40402, "version 1")
	c.want("GET", "/subjects/s/versions/1?deleted=true", nil, 200, `{"subject":"s","version":1,"id":1,"schema":"\"int\""}`)
	c.want("GET", "/subjects/s/versions", nil, 200, `[2,3]`)
	c.want("GET", "/subjects/s/versions?deleted=true", nil, 200, `[1,2,3]`)
	c.want("GET", "/schemas/ids/1/versions", nil, 200, `[{"subject":"keep","version":1}]`)
	c.want("GET", "/schemas/ids/1/versions?deleted=true", nil, 200, `[{"subject":"keep","version":1},{"subject":"s","version":1}]`)
	c.want("DELETE", "/subjects/s/versions/1?permanent=true", nil, 200, `1`)
	c.wantErr("GET", "/subjects/s/versions/1?deleted=true", nil, 404, 40402, "version 1")
	c.wantErr("DELETE", "/subjects/s/versions/1", nil, 404, 40402, "version 1")
	c.want("DELETE", "/subjects/s/versions/latest", nil, 200, `3`)
	c.want("GET", "/subjects/s/versions/latest", nil, 200, `{"subject":"s","version":2,"id":2,"schema":"\"long\""}`)
	// Re-registering a soft-deleted schema makes a new version.
	c.want("POST", "/subjects/s/versions", schemaReq(`"string"`), 200, `{"id":3}`)
	c.want("GET", "/subjects/s/versions", nil, 200, `[2,4]`)

	// A subject: permanent only after soft.
	c.wantErr("DELETE", "/subjects/s?permanent=true", nil, 404, 40405, "soft-deleted before")
	c.want("DELETE", "/subjects/s", nil, 200, `[2,4]`)
	c.wantErr("DELETE", "/subjects/s", nil, 404, 40404, "permanent=true")
	c.want("GET", "/subjects", nil, 200, `["keep"]`)
	c.want("GET", "/subjects?deleted=true", nil, 200, `["keep","s"]`)
	c.wantErr("GET", "/subjects/s/versions", nil, 404, 40401, `"s"`)
	c.wantErr("GET", "/subjects/s/versions/latest", nil, 404, 40401, `"s"`)
	// Soft-deleted schemas still resolve by id: old records stay readable.
	c.want("GET", "/schemas/ids/3", nil, 200, `{"schema":"\"string\""}`)
	c.want("DELETE", "/subjects/s?permanent=true", nil, 200, `[2,3,4]`)
	c.want("GET", "/subjects?deleted=true", nil, 200, `["keep"]`)
	c.wantErr("GET", "/schemas/ids/3", nil, 404, 40403, "3")
	c.wantErr("DELETE", "/subjects/s", nil, 404, 40401, `"s"`)
	c.wantErr("DELETE", "/subjects/s/versions/2", nil, 404, 40401, `"s"`)

	// A new schema after a permanent delete gets a new id, never one
	// handed out before.
	c.want("POST", "/subjects/s/versions", schemaReq(`"double"`), 200, `{"id":4}`)
	c.want("GET", "/subjects/s/versions", nil, 200, `[1]`)
}

func mustNormal(t *testing.T, text string) string {
	t.Helper()
	p, err := parseSchema(text)
	if err != nil {
		t.Fatal(err)
	}
	return p.normal
}

// TestRESTUnderPrefix mounts the handler under a path of another mux, as
// the worker's REST listener does.
func TestRESTUnderPrefix(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/registry/", http.StripPrefix("/registry", openMem(t, &MemTopic{}).Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := &restClient{t: t, url: srv.URL + "/registry"}
	c.want("POST", "/subjects/a%2Fb/versions", schemaReq(`"int"`), 200, `{"id":1}`)
	c.want("GET", "/subjects", nil, 200, `["a/b"]`)
	c.want("GET", "/subjects/a%2Fb/versions/latest", nil, 200, `{"subject":"a/b","version":1,"id":1,"schema":"\"int\""}`)
}

// failingLog cannot write, as when the brokers are unreachable.
type failingLog struct{ Log }

func (failingLog) Write(context.Context, ...kafkalog.KV) error {
	return errors.New("broker unreachable")
}

func TestRESTStoreFailure(t *testing.T) {
	topic := &MemTopic{}
	s, err := Open(func(cb func(kafkalog.Record)) (Log, error) {
		l, err := topic.NewLog(cb)
		return failingLog{l}, err
	}, quietLogger())
	must(t, err)
	must(t, s.Start(context.Background()))
	t.Cleanup(s.Close)
	c := newREST(t, s)
	c.wantErr("POST", "/subjects/s/versions", schemaReq(`"int"`), 500, 50001, "broker unreachable")
	c.wantErr("PUT", "/config", map[string]string{"compatibility": "NONE"}, 500, 50001, "broker unreachable")
}

// blockingLog's writes wait until their context ends.
type blockingLog struct{ Log }

func (blockingLog) Write(ctx context.Context, _ ...kafkalog.KV) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestRESTTimeout(t *testing.T) {
	topic := &MemTopic{}
	s, err := Open(func(cb func(kafkalog.Record)) (Log, error) {
		l, err := topic.NewLog(cb)
		return blockingLog{l}, err
	}, quietLogger())
	must(t, err)
	must(t, s.Start(context.Background()))
	t.Cleanup(s.Close)
	srv := httptest.NewServer(s.Handler(WithRequestTimeout(50 * time.Millisecond)))
	t.Cleanup(srv.Close)
	c := &restClient{t: t, url: srv.URL}
	c.wantErr("POST", "/subjects/s/versions", schemaReq(`"int"`), 500, 50002, "timed out after 50ms")
}
