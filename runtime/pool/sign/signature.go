package sign

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/sluice-cdc/sluice/runtime/api"
)

// The headers of a signed request, as Connect names them.
const (
	// SignatureHeader holds the base64 HMAC of the request body.
	SignatureHeader = "X-Connect-Authorization"
	// AlgorithmHeader names the HMAC algorithm of SignatureHeader.
	AlgorithmHeader = "X-Connect-Request-Signature-Algorithm"
)

// Sentinels for the ways a request fails verification; Verify's errors
// wrap one of them (compare with errors.Is) inside an *api.Error whose
// status and message are Connect's answer.
var (
	// ErrMissingSignature: a signature header is absent (400).
	ErrMissingSignature = errors.New("internal request missing required signature")
	// ErrUnsupportedAlgorithm: the algorithm header names an algorithm
	// this worker does not accept (400).
	ErrUnsupportedAlgorithm = errors.New("internal request signed with an algorithm this worker does not accept")
	// ErrMalformedSignature: the signature header is not base64 (400).
	ErrMalformedSignature = errors.New("internal request signature is not base64")
	// ErrNoSessionKey: this worker has not read a session key yet (503).
	ErrNoSessionKey = errors.New("no session key yet")
	// ErrInvalidSignature: the signature matches no session key (403);
	// see KeyMayHaveRotated.
	ErrInvalidSignature = errors.New("internal request contained invalid signature")
)

// Sign signs req, whose body is body, with key: it sets SignatureHeader to
// the base64 HMAC of body under c.SignatureAlgorithm and AlgorithmHeader
// to that algorithm's name. body must be the exact bytes sent (an empty
// body is signed too, as for PUT /connectors/{c}/fence). It fails only
// when key is empty or c's signature algorithm is not supported.
func (c Config) Sign(req *http.Request, body []byte, key Key) error {
	if len(key.Secret) == 0 {
		return errors.New("signing an internal request: no session key yet; wait until the leader has distributed one")
	}
	if c.SignatureAlgorithm.hash() == nil {
		return fmt.Errorf("signing an internal request: %s %q is %s", SignatureAlgorithm, c.SignatureAlgorithm, algorithmReason)
	}
	sig := c.SignatureAlgorithm.mac(key.Secret, body)
	req.Header.Set(SignatureHeader, base64.StdEncoding.EncodeToString(sig))
	req.Header.Set(AlgorithmHeader, string(c.SignatureAlgorithm))
	return nil
}

// Verify checks that req, whose body is body, is signed with one of keys
// (a Holder gives the current key only; see the package doc). The HMAC
// comparison takes constant time. The error is an *api.Error carrying
// Connect's status and message, wrapping one of ErrMissingSignature,
// ErrUnsupportedAlgorithm, ErrMalformedSignature, ErrNoSessionKey and
// ErrInvalidSignature.
func (c Config) Verify(req *http.Request, body []byte, keys ...Key) error {
	s, err := c.signature(req)
	if err != nil {
		return err
	}
	return s.verify(body, keys)
}

// signature is a request's parsed signature headers.
type signature struct {
	alg Algorithm
	mac []byte
}

// signature reads and checks req's signature headers, in Connect's order:
// both present, an algorithm that exists, base64, an algorithm this
// worker accepts.
func (c Config) signature(req *http.Request) (signature, error) {
	enc, name := req.Header.Get(SignatureHeader), req.Header.Get(AlgorithmHeader)
	if enc == "" || name == "" {
		return signature{}, &api.Error{Status: http.StatusBadRequest, Err: ErrMissingSignature,
			Message: "Internal request missing required signature"}
	}
	alg, err := ParseAlgorithm(name)
	if err != nil {
		return signature{}, &api.Error{Status: http.StatusBadRequest, Err: ErrUnsupportedAlgorithm,
			Message: fmt.Sprintf("Algorithm %s not available: this worker verifies %s; "+
				"set inter.worker.signature.algorithm on the sending worker to one of them",
				quoteHeader(name), supportedList())}
	}
	mac, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return signature{}, &api.Error{Status: http.StatusBadRequest, Err: ErrMalformedSignature,
			Message: fmt.Sprintf("Internal request signature in %s is not valid base64", SignatureHeader)}
	}
	if !c.verifies(alg) {
		return signature{}, &api.Error{Status: http.StatusBadRequest, Err: ErrUnsupportedAlgorithm,
			Message: fmt.Sprintf("This worker does not support the '%s' key signing algorithm used by other workers. "+
				"This worker is currently configured to use: [%s]. "+
				"Check that all workers' configuration files permit the same set of signature algorithms, "+
				"and correct any misconfigured worker and restart it.", alg, c.verificationList())}
	}
	return signature{alg: alg, mac: mac}, nil
}

func (s signature) verify(body []byte, keys []Key) error {
	usable := false
	for _, k := range keys {
		if len(k.Secret) == 0 {
			continue
		}
		usable = true
		if hmac.Equal(s.alg.mac(k.Secret, body), s.mac) {
			return nil
		}
	}
	if !usable {
		return &api.Error{Status: http.StatusServiceUnavailable, Err: ErrNoSessionKey,
			Message: "This worker is still starting up and has not been able to read a session key from the config topic yet"}
	}
	return &api.Error{Status: http.StatusForbidden, Err: ErrInvalidSignature,
		Message: "Internal request contained invalid signature."}
}

// quoteHeader quotes a header value for an error message, cut to 64 bytes
// so that a caller cannot fill a log line.
func quoteHeader(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Sprintf("%q", s)
}
