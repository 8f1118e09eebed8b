package registry

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRegisterBody posts arbitrary bodies to POST /subjects/{s}/versions:
// never a panic or a 500; an error always has the registry's shape and
// a 4xx status; a schema that registers reads back by id, and the
// schema read back registers again as the same id (its normal form is a
// fixed point).
func FuzzRegisterBody(f *testing.F) {
	for _, seed := range []string{
		`{"schema":"\"int\""}`,
		`{"schema":"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\",\"default\":1}]}"}`,
		`{"schema":"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"],\"default\":\"A\"}","schemaType":"AVRO"}`,
		`{"schema":"[\"null\",{\"type\":\"array\",\"items\":\"long\"}]"}`,
		`{"schema":"{\"type\":\"fixed\",\"name\":\"F\",\"size\":4,\"logicalType\":\"decimal\",\"precision\":4}"}`,
		`{"schema":"{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"next\",\"type\":[\"null\",\"L\"]}]}"}`,
		`{"schema":"x","schemaType":"JSON"}`,
		`{"schema":"\"int\"","references":[{"name":"a","subject":"b","version":1}]}`,
		`{"schema":null}`, `{}`, `[]`, `null`, ``, `{"schema":"`, `{"schema":"{\"type\":\"record\"}"}`,
	} {
		f.Add(seed)
	}
	s := openMem(f, &MemTopic{}, WithMaxAttempts(1))
	must(f, s.SetCompatibility(f.Context(), "", LevelNone))
	h := s.Handler()
	post := func(t *testing.T, path, body string) (int, map[string]any) {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", ContentType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s answered %d with a body that is not a JSON object: %q", path, rec.Code, rec.Body.String())
		}
		return rec.Code, out
	}
	f.Fuzz(func(t *testing.T, body string) {
		status, out := post(t, "/subjects/fuzz/versions", body)
		if status != http.StatusOK {
			code, _ := out["error_code"].(float64)
			msg, _ := out["message"].(string)
			if status >= 500 || code == 0 || msg == "" {
				t.Fatalf("status %d, body %v", status, out)
			}
			return
		}
		id, ok := out["id"].(float64)
		if !ok {
			t.Fatalf("200 without an id: %v", out)
		}
		text, err := s.SchemaByID(t.Context(), int(id))
		if err != nil {
			t.Fatalf("id %v does not read back: %v", id, err)
		}
		status, again := post(t, "/subjects/fuzz-again/versions", string(mustJSON(schemaReq(text))))
		if status != http.StatusOK || again["id"] != out["id"] {
			t.Fatalf("the stored form %s registers as %d %v, want id %v", text, status, again, id)
		}
	})
}

// FuzzDecodeSchemaRequest drives the body decoder alone: it returns the
// schema or an *Error, never panics.
func FuzzDecodeSchemaRequest(f *testing.F) {
	f.Add(`{"schema":"\"int\"","schemaType":"AVRO"}`)
	f.Add(`{"schema":"\"int\"","id":1}`)
	f.Add(`{"schema":"\"int\"","metadata":{"a":1}}`)
	f.Fuzz(func(t *testing.T, body string) {
		text, err := DecodeSchemaRequest(strings.NewReader(body))
		if err != nil {
			if ErrorCode(err) == 0 {
				t.Fatalf("error without a registry code: %v", err)
			}
			return
		}
		var req struct {
			Schema string `json:"schema"`
		}
		if json.Unmarshal([]byte(body), &req) != nil || req.Schema != text {
			t.Fatalf("decoded %q from %q", text, body)
		}
	})
}
