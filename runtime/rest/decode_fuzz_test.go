package rest

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/runtime/api"
)

// FuzzDecodeConfig feeds arbitrary bodies to the config-map decoders.
// They must never panic, must fail only with a 400 *api.Error, and when
// they accept a body every key of the JSON object is in the result: a
// string value as decoded, a number or boolean as its JSON text, and (for
// PATCH) null as a nil entry.
func FuzzDecodeConfig(f *testing.F) {
	for _, s := range []string{
		`{"connector.class":"jdbc","tasks.max":"1"}`,
		`{"tasks.max":2,"delete.enabled":true,"ratio":-0.5e-3}`,
		`{"a":null}`,
		`{"a":{"b":1}}`,
		`{"a":[1,2]}`,
		`{"a":"\u00e9\n\"","a":"dup"}`,
		`[]`, `null`, `"x"`, `12`, ``, `{`, `{"a":}`, `{"a":"b"} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cfg, err := decodeConfig(body)
		checkDecodeErr(t, err)
		patch, perr := decodePatch(body)
		checkDecodeErr(t, perr)
		if err != nil && perr != nil {
			return
		}
		// An accepted body is one JSON object; compare with a plain decode.
		var fields map[string]json.RawMessage
		if jerr := json.Unmarshal(body, &fields); jerr != nil {
			t.Fatalf("accepted a body encoding/json rejects: %v\n%q", jerr, body)
		}
		if err == nil {
			if len(cfg) != len(fields) {
				t.Fatalf("decodeConfig kept %d of %d keys", len(cfg), len(fields))
			}
			for k, raw := range fields {
				checkValue(t, k, raw, cfg[k])
			}
		}
		if perr == nil {
			if len(patch) != len(fields) {
				t.Fatalf("decodePatch kept %d of %d keys", len(patch), len(fields))
			}
			for k, raw := range fields {
				v, ok := patch[k]
				if !ok {
					t.Fatalf("decodePatch lost %q", k)
				}
				if v == nil {
					if strings.TrimSpace(string(raw)) != "null" {
						t.Fatalf("%q decoded as null from %s", k, raw)
					}
					continue
				}
				checkValue(t, k, raw, *v)
			}
		}
	})
}

func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		t.Fatalf("error is not a 400 *api.Error: %T %v", err, err)
	}
	if ae.Error() == "" {
		t.Fatal("error has no message")
	}
}

func checkValue(t *testing.T, key string, raw json.RawMessage, got string) {
	t.Helper()
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if got != s {
			t.Fatalf("%q = %q, want the string %q", key, got, s)
		}
		return
	}
	var n json.Number
	var b bool
	switch {
	case json.Unmarshal(raw, &b) == nil, json.Unmarshal(raw, &n) == nil:
		if got != strings.TrimSpace(string(raw)) {
			t.Fatalf("%q = %q, want the literal %s", key, got, raw)
		}
	default:
		t.Fatalf("%q accepted from %s, which is not a string, number or boolean", key, raw)
	}
}
