package registry

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// The bodies of the REST API, as Confluent's clients read them. The
// schemaType field is left out for Avro, as Confluent does.
type (
	versionBody struct {
		Subject string `json:"subject"`
		Version int    `json:"version"`
		ID      int    `json:"id"`
		Schema  string `json:"schema"`
	}
	schemaBody struct {
		Schema string `json:"schema"`
	}
	idBody struct {
		ID int `json:"id"`
	}
	subjectVersionBody struct {
		Subject string `json:"subject"`
		Version int    `json:"version"`
	}
	levelBody struct {
		CompatibilityLevel string `json:"compatibilityLevel"`
	}
	compatibilityBody struct {
		Compatibility string `json:"compatibility"`
	}
	compatibleBody struct {
		IsCompatible bool      `json:"is_compatible"`
		Messages     *[]string `json:"messages,omitempty"`
	}
)

// schemaRequest is the body of POST /subjects/{s}/versions, POST
// /subjects/{s} and POST /compatibility/...: the schema, and fields this
// registry does not support, refused when set rather than ignored.
type schemaRequest struct {
	Schema     *string         `json:"schema"`
	SchemaType string          `json:"schemaType"`
	References json.RawMessage `json:"references"`
	Metadata   json.RawMessage `json:"metadata"`
	RuleSet    json.RawMessage `json:"ruleSet"`
	ID         *int            `json:"id"`
	Version    *int            `json:"version"`
}

// DecodeSchemaRequest reads the body of a register, lookup or
// compatibility request and returns the schema text, or an *Error
// saying what to fix. It is the decoder the fuzz target drives.
func DecodeSchemaRequest(body io.Reader) (string, error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return "", errorf(CodeRequestTooLarge, "the request body is larger than %d bytes", tooLarge.Limit)
		}
		return "", errorf(CodeBadRequest, "reading the request body: %v", err)
	}
	var req schemaRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return "", errorf(CodeBadRequest, "the request body is not a JSON object like {\"schema\": \"...\"}: %v", err)
	}
	switch {
	case req.Schema == nil:
		return "", errorf(CodeInvalidSchema, "the request has no \"schema\" field; send {\"schema\": \"<Avro schema as a JSON string>\"}")
	case !isEmptyJSON(req.References):
		return "", errorf(CodeInvalidSchema, "schema references are not supported; inline the referenced types in the schema")
	case !isEmptyJSON(req.Metadata) || !isEmptyJSON(req.RuleSet):
		return "", errorf(CodeInvalidSchema, "schema metadata and rule sets are not supported; leave out \"metadata\" and \"ruleSet\"")
	case req.ID != nil || req.Version != nil:
		return "", errorf(CodeOperationNotPermitted, "registering with a given id or version needs IMPORT mode, which is not supported; "+
			"leave out \"id\" and \"version\"")
	}
	if err := checkSchemaType(req.SchemaType); err != nil {
		return "", err
	}
	return *req.Schema, nil
}

func isEmptyJSON(m json.RawMessage) bool {
	s := strings.TrimSpace(string(m))
	return s == "" || s == "null" || s == "[]" || s == "{}"
}

// parseVersion reads a version path segment: a number from 1 to
// 2^31-1, or "latest" (also -1), which is -1.
func parseVersion(s string) (int, error) {
	if s == "latest" || s == "-1" {
		return -1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > math.MaxInt32 {
		return 0, errorf(CodeInvalidVersion, "version %q is not valid: use a number from 1 to %d, or \"latest\"", s, math.MaxInt32)
	}
	return int(n), nil
}

func parseID(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt32 {
		return 0, errorf(CodeNotFound, "schema id %q is not a number from 0 to %d", s, math.MaxInt32)
	}
	return int(n), nil
}

// flag reads a boolean query parameter; a value that is not one is an
// error rather than false.
func flag(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errorf(CodeBadRequest, "query parameter %s=%q is not true or false", name, v)
	}
	return b, nil
}

func (h *handler) listSubjects(r *http.Request) (any, error) {
	deleted, err := flag(r, "deleted")
	if err != nil {
		return nil, err
	}
	return h.store.Subjects(deleted), nil
}

func (h *handler) listVersions(r *http.Request) (any, error) {
	deleted, err := flag(r, "deleted")
	if err != nil {
		return nil, err
	}
	return h.store.Versions(r.PathValue("s"), deleted)
}

func (h *handler) register(r *http.Request) (any, error) {
	text, err := DecodeSchemaRequest(r.Body)
	if err != nil {
		return nil, err
	}
	if _, err := flag(r, "normalize"); err != nil {
		return nil, err // every schema is stored in its normal form
	}
	reg, err := h.store.RegisterVersion(r.Context(), r.PathValue("s"), text)
	if err != nil {
		return nil, err
	}
	return idBody{ID: reg.ID}, nil
}

func (h *handler) getVersion(r *http.Request) (any, error) {
	v, err := parseVersion(r.PathValue("v"))
	if err != nil {
		return nil, err
	}
	deleted, err := flag(r, "deleted")
	if err != nil {
		return nil, err
	}
	ver, err := h.store.GetVersion(r.PathValue("s"), v, deleted)
	if err != nil {
		return nil, err
	}
	return versionBody{Subject: ver.Subject, Version: ver.Version, ID: ver.ID, Schema: ver.Schema}, nil
}

func (h *handler) deleteVersion(r *http.Request) (any, error) {
	v, err := parseVersion(r.PathValue("v"))
	if err != nil {
		return nil, err
	}
	permanent, err := flag(r, "permanent")
	if err != nil {
		return nil, err
	}
	return h.store.DeleteVersion(r.Context(), r.PathValue("s"), v, permanent)
}

func (h *handler) lookup(r *http.Request) (any, error) {
	text, err := DecodeSchemaRequest(r.Body)
	if err != nil {
		return nil, err
	}
	deleted, err := flag(r, "deleted")
	if err != nil {
		return nil, err
	}
	v, err := h.store.Lookup(r.PathValue("s"), text, deleted)
	if err != nil {
		return nil, err
	}
	return versionBody{Subject: v.Subject, Version: v.Version, ID: v.ID, Schema: v.Schema}, nil
}

func (h *handler) deleteSubject(r *http.Request) (any, error) {
	permanent, err := flag(r, "permanent")
	if err != nil {
		return nil, err
	}
	return h.store.DeleteSubject(r.Context(), r.PathValue("s"), permanent)
}

func (h *handler) getSchema(r *http.Request) (any, error) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	text, err := h.store.SchemaByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return schemaBody{Schema: text}, nil
}

func (h *handler) getSchemaVersions(r *http.Request) (any, error) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	deleted, err := flag(r, "deleted")
	if err != nil {
		return nil, err
	}
	vs, err := h.store.SubjectVersionsOfID(id, deleted)
	if err != nil {
		return nil, err
	}
	out := make([]subjectVersionBody, len(vs))
	for i, v := range vs {
		out[i] = subjectVersionBody{Subject: v.Subject, Version: v.Version}
	}
	return out, nil
}

func (h *handler) getConfig(r *http.Request) (any, error) {
	fallback, err := flag(r, "defaultToGlobal")
	if err != nil {
		return nil, err
	}
	l, err := h.store.Compatibility(r.PathValue("s"), fallback)
	if err != nil {
		return nil, err
	}
	return levelBody{CompatibilityLevel: string(l)}, nil
}

func (h *handler) putConfig(r *http.Request) (any, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, errorf(CodeBadRequest, "reading the request body: %v", err)
	}
	var req struct {
		Compatibility *string `json:"compatibility"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, errorf(CodeBadRequest, "the request body is not a JSON object like {\"compatibility\": \"FULL\"}: %v", err)
	}
	if req.Compatibility == nil {
		return nil, errorf(CodeInvalidCompatibilityLevel, "the request has no \"compatibility\" field; send {\"compatibility\": \"BACKWARD\"}")
	}
	l, err := ParseLevel(*req.Compatibility)
	if err != nil {
		return nil, err
	}
	subject := r.PathValue("s")
	if subject != "" {
		if err := checkSubject(subject); err != nil {
			return nil, err
		}
	}
	if err := h.store.SetCompatibility(r.Context(), subject, l); err != nil {
		return nil, err
	}
	return compatibilityBody{Compatibility: string(l)}, nil
}

func (h *handler) deleteConfig(r *http.Request) (any, error) {
	l, err := h.store.DeleteCompatibility(r.Context(), r.PathValue("s"))
	if err != nil {
		return nil, err
	}
	return levelBody{CompatibilityLevel: string(l)}, nil
}

func (h *handler) compatibility(r *http.Request) (any, error) {
	version := 0
	if s := r.PathValue("v"); s != "" {
		v, err := parseVersion(s)
		if err != nil {
			return nil, err
		}
		version = v
	}
	verbose, err := flag(r, "verbose")
	if err != nil {
		return nil, err
	}
	text, err := DecodeSchemaRequest(r.Body)
	if err != nil {
		return nil, err
	}
	reasons, err := h.store.CheckCompatibility(r.PathValue("s"), version, text)
	if err != nil {
		return nil, err
	}
	out := compatibleBody{IsCompatible: len(reasons) == 0}
	if verbose {
		if reasons == nil {
			reasons = []string{}
		}
		out.Messages = &reasons
	}
	return out, nil
}
