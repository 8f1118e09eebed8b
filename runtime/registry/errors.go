package registry

import (
	"errors"
	"fmt"
	"net/http"
)

// Error codes of Confluent's Schema Registry, as its REST API and its
// clients use them. A code of five digits starts with the HTTP status it
// is served with (40401 → 404); 409 and the plain HTTP statuses are their
// own code.
const (
	CodeSubjectNotFound            = 40401
	CodeVersionNotFound            = 40402
	CodeSchemaNotFound             = 40403
	CodeSubjectSoftDeleted         = 40404
	CodeSubjectNotSoftDeleted      = 40405
	CodeVersionSoftDeleted         = 40406
	CodeVersionNotSoftDeleted      = 40407
	CodeSubjectCompatibilityNotSet = 40408
	CodeIncompatibleSchema         = 409
	CodeInvalidSchema              = 42201
	CodeInvalidVersion             = 42202
	CodeInvalidCompatibilityLevel  = 42203
	CodeOperationNotPermitted      = 42205
	CodeInvalidSubject             = 42208
	CodeBackendStore               = 50001
	CodeOperationTimeout           = 50002
	CodeBadRequest                 = 400
	CodeUnauthorized               = 401
	CodeNotFound                   = 404
	CodeMethodNotAllowed           = 405
	CodeUnsupportedMediaType       = 415
	CodeRequestTooLarge            = 413
	codeInternal                   = 500
)

// Error is a registry error with Confluent's error code: what the REST
// API answers ({"error_code": Code, "message": Message}) and what both
// Client implementations return, so a caller handles a local and a
// remote registry alike (errors.As, then Code). Reasons holds the
// compatibility checker's findings for CodeIncompatibleSchema.
type Error struct {
	Code    int
	Message string
	Reasons []string
	// Err is the cause, when there is one (a store write failing).
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("schema registry error %d: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status the error is served with.
func (e *Error) Status() int {
	switch {
	case e.Code >= 10000:
		return e.Code / 100
	case e.Code >= 400 && e.Code <= 599:
		return e.Code
	default:
		return http.StatusInternalServerError
	}
}

// ErrorCode returns the registry error code in err's chain, or 0 when
// err holds no *Error.
func ErrorCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func subjectNotFound(subject string) *Error {
	return errorf(CodeSubjectNotFound, "subject %q not found; list the subjects with GET /subjects", subject)
}

func versionNotFound(subject string, version int) *Error {
	return errorf(CodeVersionNotFound, "version %d of subject %q not found; list its versions with GET /subjects/%s/versions",
		version, subject, subject)
}

func schemaIDNotFound(id int) *Error {
	return errorf(CodeSchemaNotFound, "schema id %d not found", id)
}

func storeError(doing string, err error) *Error {
	return &Error{Code: CodeBackendStore, Message: fmt.Sprintf("%s: %v", doing, err), Err: err}
}
