// Package pemfile loads the PEM certificates and private keys that TLS
// properties name: a file on the worker or a property's inline value.
// It builds certificate pools and checks key pairs, and its errors name
// the property, the file and what was expected, never the content.
//
// Every function is safe for concurrent use; nothing is cached, so a
// file replaced on disk is read anew at the next call.
package pemfile

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Source is PEM text given by a property: a file on the worker (Path),
// or the property's value itself (Inline, when Path is empty).
type Source struct {
	// Prop is the property or URL parameter that gave the source, as the
	// user wrote it ("database.sslrootcert", "listeners.https.ssl.keystore.key").
	Prop string
	// Path is the file to read; empty for an inline value.
	Path string
	// Inline is the PEM text of an inline value.
	Inline string
}

// File is the PEM file at path, named by the property prop.
func File(prop, path string) Source { return Source{Prop: prop, Path: path} }

// Inline is PEM text given as the value of the property prop.
func Inline(prop, text string) Source { return Source{Prop: prop, Inline: text} }

// subject is how messages call the source: its path, or "the value".
func (s Source) subject() string {
	if s.Path != "" {
		return s.Path
	}
	return "the value"
}

// Kind is what was wrong with a source.
type Kind int

// The kinds of Error.
const (
	// Unreadable: the file could not be read.
	Unreadable Kind = iota + 1
	// NotPEM: no complete -----BEGIN/-----END block.
	NotPEM
	// NoCertificate: no CERTIFICATE block.
	NoCertificate
	// BadCertificate: a CERTIFICATE block that is not an X.509 certificate.
	BadCertificate
	// NoKey: no private key block.
	NoKey
	// EncryptedKey: the private key is encrypted.
	EncryptedKey
	// BadKey: a private key block that is not a PKCS#8, PKCS#1 or EC key.
	BadKey
	// Mismatch: the private key is not the certificate's.
	Mismatch
)

// Error is a PEM source that cannot be used. Its text names the property,
// the file and what the source must hold, never the source's content.
type Error struct {
	Kind Kind
	// Source is the source at fault; for Mismatch, the certificate.
	Source Source
	// KeySource is the private key's source, for Mismatch only.
	KeySource Source
	// Hint is the caller's fix for content that is not what it needs
	// ("set database.sslrootcert to the CA certificate in PEM").
	Hint string
	// Err is the cause (a file system or parse error), if any.
	Err error
}

// Error is the property, then Reason.
func (e *Error) Error() string {
	prop := e.Source.Prop
	if e.Kind == Mismatch && e.KeySource.Prop != prop {
		prop += " and " + e.KeySource.Prop
	}
	if prop == "" {
		return e.Reason()
	}
	return prop + ": " + e.Reason()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Reason is the message without the property, for callers that name
// the property elsewhere (a config.Error's Key).
func (e *Error) Reason() string {
	s := e.Source.subject()
	var what, fix string
	switch e.Kind {
	case Unreadable:
		return fmt.Sprintf("cannot read %s on the worker (%v); the file must exist on every worker and be readable by its user", e.Source.Path, e.Err)
	case NotPEM:
		what = "is not a PEM file (no -----BEGIN ...----- block)"
		if e.Source.Path == "" {
			what = "is not PEM (no complete -----BEGIN ...----- / -----END ...----- block)"
		}
		fix = "only PEM is supported: convert it (openssl x509 -inform der -in cert.der -out cert.pem for a DER certificate, openssl pkcs12 -nodes for a PKCS#12 store)"
	case NoCertificate:
		what = "holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)"
	case BadCertificate:
		what = fmt.Sprintf("holds a CERTIFICATE block that is not an X.509 certificate (%v)", e.Err)
	case NoKey:
		what = "holds no private key (no PEM block of a PKCS#8, PKCS#1 or EC key)"
	case EncryptedKey:
		what = "holds an encrypted private key: encrypted private keys are not supported"
		fix = "decrypt it (openssl pkey -in key.pem -out plain.pem)"
		if e.Source.Path != "" {
			fix += " and keep the file readable only by the worker's user"
		}
	case BadKey:
		what = "holds a private key block that is not a PKCS#8, PKCS#1 or EC key"
	case Mismatch:
		k := e.KeySource.subject()
		if e.KeySource == e.Source {
			what = fmt.Sprintf("does not hold a matching PEM certificate and private key (%v)", e.Err)
		} else {
			s = s + " and " + k
			if e.Source.Path == "" && e.KeySource.Path == "" {
				s = "the values"
			}
			what = fmt.Sprintf("are not a matching PEM certificate and private key (%v)", e.Err)
		}
	default:
		what = fmt.Sprintf("cannot be used (%v)", e.Err)
	}
	if fix == "" {
		fix = e.Hint
	}
	if fix == "" {
		return s + " " + what
	}
	return s + " " + what + "; " + fix
}

// Read returns the source's PEM text: the file's content or the inline
// value. It fails with Unreadable or NotPEM.
func Read(src Source) ([]byte, error) {
	b := []byte(src.Inline)
	if src.Path != "" {
		var err error
		if b, err = os.ReadFile(src.Path); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, &Error{Kind: Unreadable, Source: src, Err: err}
		}
	}
	if blk, _ := pem.Decode(b); blk == nil {
		return nil, &Error{Kind: NotPEM, Source: src}
	}
	return b, nil
}

// Certificates returns the certificates of the source's CERTIFICATE
// blocks, in order; other blocks are skipped. hint is the fix named when
// there is none or one does not parse.
func Certificates(src Source, hint string) ([]*x509.Certificate, error) {
	b, err := Read(src)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, &Error{Kind: BadCertificate, Source: src, Hint: hint, Err: err}
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, &Error{Kind: NoCertificate, Source: src, Hint: hint}
	}
	return certs, nil
}

// CertPool returns a pool of the source's certificates, for trusting a
// CA. As x509.CertPool.AppendCertsFromPEM, a CERTIFICATE block that does
// not parse is skipped; the source must hold at least one that does.
func CertPool(src Source, hint string) (*x509.CertPool, error) {
	b, err := Read(src)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if pool.AppendCertsFromPEM(b) {
		return pool, nil
	}
	// Say why: no certificate, or none that parses.
	if _, err := Certificates(src, hint); err != nil {
		return nil, err
	}
	return nil, &Error{Kind: NoCertificate, Source: src, Hint: hint}
}

// KeyPair loads a certificate chain (leaf first) and its private key
// (PKCS#8, PKCS#1 or EC; unencrypted), which may come from the same
// source. As tls.X509KeyPair, only the leaf must parse. It fails with
// the kind of the first problem found, naming the source at fault; hint
// is the fix for content that is not what is needed.
func KeyPair(cert, key Source, hint string) (tls.Certificate, error) {
	cb, err := Read(cert)
	if err != nil {
		return tls.Certificate{}, err
	}
	var leaf *pem.Block
	for blk, rest := pem.Decode(cb); blk != nil && leaf == nil; blk, rest = pem.Decode(rest) {
		if blk.Type == "CERTIFICATE" {
			leaf = blk
		}
	}
	if leaf == nil {
		return tls.Certificate{}, &Error{Kind: NoCertificate, Source: cert, Hint: hint}
	}
	kb := cb
	if key != cert {
		if kb, err = Read(key); err != nil {
			return tls.Certificate{}, err
		}
	}
	if _, err := parseKey(key, kb, hint); err != nil {
		return tls.Certificate{}, err
	}
	if _, err := x509.ParseCertificate(leaf.Bytes); err != nil {
		return tls.Certificate{}, &Error{Kind: BadCertificate, Source: cert, Hint: hint, Err: err}
	}
	pair, err := tls.X509KeyPair(cb, kb)
	if err != nil {
		return tls.Certificate{}, &Error{Kind: Mismatch, Source: cert, KeySource: key, Hint: hint, Err: err}
	}
	return pair, nil
}

// PrivateKey returns the source's first private key: PKCS#8, PKCS#1 or
// EC, unencrypted. hint is the fix named when there is none or it does
// not parse.
func PrivateKey(src Source, hint string) (crypto.PrivateKey, error) {
	b, err := Read(src)
	if err != nil {
		return nil, err
	}
	return parseKey(src, b, hint)
}

// parseKey parses the first private key block of b, the one
// tls.X509KeyPair takes, trying the encodings in the same order.
func parseKey(src Source, b []byte, hint string) (crypto.PrivateKey, error) {
	for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
		if blk.Type != "PRIVATE KEY" && !strings.HasSuffix(blk.Type, " PRIVATE KEY") {
			continue
		}
		if strings.Contains(blk.Type, "ENCRYPTED") || blk.Headers["Proc-Type"] != "" {
			return nil, &Error{Kind: EncryptedKey, Source: src}
		}
		if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
			return k, nil
		}
		if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
			return k, nil
		}
		k, err := x509.ParseECPrivateKey(blk.Bytes)
		if err != nil {
			return nil, &Error{Kind: BadKey, Source: src, Hint: hint, Err: errors.New("no PKCS#1, PKCS#8 or EC encoding parses")}
		}
		return k, nil
	}
	return nil, &Error{Kind: NoKey, Source: src, Hint: hint}
}
