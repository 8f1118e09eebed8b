package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strconv"

	"github.com/sluice-cdc/sluice/runtime/api"
)

// readBody reads r's body, at most s.maxBodyBytes of it. An empty body, a
// body over the limit (413) and a failed read are *api.Errors.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBodyBytes))
	if err != nil {
		return nil, bodyReadError(err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, api.BadRequest("request body is empty; send a JSON object (Content-Type: application/json)")
	}
	return body, nil
}

// decodeJSON decodes the single JSON value in body into v. Numbers inside
// interface values decode as json.Number. A malformed body is a 400 that
// says what is wrong and where (line, column and byte offset); a value of
// the wrong type names the field and the type expected there.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err := dec.Decode(v)
	if err == nil {
		off := dec.InputOffset()
		rest := body[off:]
		if trimmed := bytes.TrimLeft(rest, " \t\r\n"); len(trimmed) > 0 {
			at := off + int64(len(rest)-len(trimmed))
			return api.BadRequest("malformed JSON in request body at %s: unexpected data after the JSON value; send exactly one JSON value",
				position(body, at))
		}
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, the offending one included.
		return api.BadRequest("malformed JSON in request body at %s: %s", position(body, syn.Offset-1), syn.Error())
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return api.BadRequest("malformed JSON in request body at %s: unexpected end of JSON input; the body is cut short",
			position(body, int64(len(body))))
	case errors.As(err, &typ):
		// Offset is where the decoder stood after the value: point at the value's start instead.
		at := typ.Offset - 1
		if typ.Field == "" {
			return api.BadRequest("request body must be %s, not %s (at %s)", jsonKind(typ.Type), article(typ.Value), position(body, at))
		}
		return api.BadRequest("request body field %q must be %s, not %s (at %s)", typ.Field, jsonKind(typ.Type), article(typ.Value),
			position(body, at))
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		return err
	}
	return api.BadRequest("decoding request body: %v", err)
}

// position describes byte offset off (0-based) of body as
// "line L, column C (byte offset off)", lines and columns counted from 1.
func position(body []byte, off int64) string {
	if off < 0 {
		off = 0
	}
	if off > int64(len(body)) {
		off = int64(len(body))
	}
	before := body[:off]
	line := 1 + bytes.Count(before, []byte{'\n'})
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d (byte offset %d)", line, col, off)
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a JSON value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Map, reflect.Struct:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	}
	return "a JSON " + t.String()
}

// article turns the decoder's description of a value ("number", "number
// -5", "array") into a phrase for a message.
func article(desc string) string {
	switch {
	case desc == "":
		return "that value"
	case desc == "array" || desc == "object":
		return "an " + desc
	}
	return "a " + desc
}

// Property maps. Connect's config values are strings, but a user who
// writes {"tasks.max": 2} or {"snapshot.enabled": true} means "2" and
// "true" (Jackson coerces scalars to String the same way). Nested objects
// and arrays have no string form and are rejected naming the key.

// propsError is a config map value that is not a string, number or
// boolean.
type propsError struct {
	key, reason string
}

func (e *propsError) Error() string { return fmt.Sprintf("property %q: %s", e.key, e.reason) }

// decodeProps decodes raw, a syntactically valid JSON value, as a flat
// property map. Strings are kept, numbers keep their literal text,
// booleans become "true"/"false". A null value is a nil entry when
// allowNull (PATCH's "remove this key") and an error otherwise.
func decodeProps(raw []byte, allowNull bool) (map[string]*string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("must be a JSON object of property names to string values, not %s", article(valueKind(raw)))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("must be a JSON object of property names to string values: %w", err)
	}
	out := make(map[string]*string, len(fields))
	for k, v := range fields {
		s, err := propValue(k, v, allowNull)
		if err != nil {
			return nil, err
		}
		out[k] = s
	}
	return out, nil
}

func propValue(key string, v json.RawMessage, allowNull bool) (*string, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, &propsError{key, "has no value"}
	}
	switch v[0] {
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, &propsError{key, err.Error()}
		}
		return &s, nil
	case 't', 'f':
		s := string(v)
		return &s, nil
	case 'n':
		if allowNull {
			return nil, nil
		}
		return nil, &propsError{key, `is null; give a string value, or remove a property with PATCH /connectors/{name}/config and {"` + key + `": null}`}
	case '{', '[':
		return nil, &propsError{key, "must be a string, number or boolean, not " + article(valueKind(v)) +
			`; write nested settings as flat dotted keys such as "` + key + `.sub": "value"`}
	}
	s := string(v) // a number, kept as written
	return &s, nil
}

// valueKind names the JSON type of a value by its first byte.
func valueKind(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// decodeConfig decodes a request body that is a flat config map (PUT
// /connectors/{c}/config, PUT /connector-plugins/{p}/config/validate).
func decodeConfig(body []byte) (map[string]string, error) {
	var raw json.RawMessage
	if err := decodeJSON(body, &raw); err != nil {
		return nil, err
	}
	props, err := decodeProps(raw, false)
	if err != nil {
		return nil, api.BadRequest("request body: %v", err)
	}
	return flatten(props), nil
}

// decodePatch decodes the body of PATCH /connectors/{c}/config: a flat
// map whose null values remove keys.
func decodePatch(body []byte) (map[string]*string, error) {
	var raw json.RawMessage
	if err := decodeJSON(body, &raw); err != nil {
		return nil, err
	}
	props, err := decodeProps(raw, true)
	if err != nil {
		return nil, api.BadRequest("request body: %v", err)
	}
	return props, nil
}

func flatten(props map[string]*string) map[string]string {
	out := make(map[string]string, len(props))
	for k, v := range props {
		out[k] = *v
	}
	return out
}

// createBody is POST /connectors' body as sent; config is decoded on its
// own so numbers and booleans in it are accepted.
type createBody struct {
	Name         *string         `json:"name"`
	Config       json.RawMessage `json:"config"`
	InitialState *string         `json:"initial_state"`
}

// initialStates maps KIP-980's initial_state values to target states.
var initialStates = map[string]api.TargetState{
	"RUNNING": api.TargetStarted,
	"STARTED": api.TargetStarted,
	"PAUSED":  api.TargetPaused,
	"STOPPED": api.TargetStopped,
}

// normalizeNumbers replaces the json.Numbers that decodeJSON leaves in
// offset maps with int64 (when the number is an integer that fits) or
// float64, so the herder sees ordinary Go values, recursively.
func normalizeNumbers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s is out of range", x)
		}
		return f, nil
	case map[string]any:
		for k, e := range x {
			n, err := normalizeNumbers(e)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", k, err)
			}
			x[k] = n
		}
		return x, nil
	case []any:
		for i, e := range x {
			n, err := normalizeNumbers(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			x[i] = n
		}
		return x, nil
	}
	return v, nil
}

// decodeOffsets decodes the body of PATCH /connectors/{c}/offsets.
func decodeOffsets(body []byte) (api.Offsets, error) {
	var offs api.Offsets
	if err := decodeJSON(body, &offs); err != nil {
		return api.Offsets{}, err
	}
	if len(offs.Offsets) == 0 {
		return api.Offsets{}, api.BadRequest(`Partitions / offsets need to be provided for an alter offsets request: send {"offsets": [{"partition": {...}, "offset": {...}}]}`)
	}
	for i := range offs.Offsets {
		o := &offs.Offsets[i]
		if o.Partition == nil {
			return api.Offsets{}, api.BadRequest(`offsets[%d]: "partition" is missing; every entry needs a partition object`, i)
		}
		if _, err := normalizeNumbers(o.Partition); err != nil {
			return api.Offsets{}, api.BadRequest("offsets[%d].partition: %v", i, err)
		}
		if _, err := normalizeNumbers(o.Offset); err != nil {
			return api.Offsets{}, api.BadRequest("offsets[%d].offset: %v", i, err)
		}
	}
	return offs, nil
}
