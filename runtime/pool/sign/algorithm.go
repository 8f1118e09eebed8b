package sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"strings"
)

// Algorithm is an HMAC algorithm, named as Java names it (the names Kafka
// Connect writes in its worker properties, its session-key records and
// the X-Connect-Request-Signature-Algorithm header).
type Algorithm string

// The supported algorithms. Connect accepts any MAC its JVM provides;
// Sluice accepts these three and refuses other names.
const (
	HmacSHA256 Algorithm = "HmacSHA256"
	HmacSHA384 Algorithm = "HmacSHA384"
	HmacSHA512 Algorithm = "HmacSHA512"
)

// Algorithms lists the supported algorithms.
var Algorithms = []Algorithm{HmacSHA256, HmacSHA384, HmacSHA512}

// ParseAlgorithm returns the algorithm named name (case is ignored, as the
// JVM ignores it) in its canonical spelling. Any other name is an error
// that lists the supported ones.
func ParseAlgorithm(name string) (Algorithm, error) {
	for _, a := range Algorithms {
		if strings.EqualFold(string(a), strings.TrimSpace(name)) {
			return a, nil
		}
	}
	return "", fmt.Errorf("algorithm %q is not supported; use %s", name, supportedList())
}

func supportedList() string {
	return fmt.Sprintf("%s, %s or %s", HmacSHA256, HmacSHA384, HmacSHA512)
}

// DefaultKeyBits returns the size in bits of the keys Java's KeyGenerator
// makes for a by default: the size of its digest.
func (a Algorithm) DefaultKeyBits() int {
	switch a {
	case HmacSHA384:
		return 384
	case HmacSHA512:
		return 512
	}
	return 256
}

func (a Algorithm) hash() func() hash.Hash {
	switch a {
	case HmacSHA384:
		return sha512.New384
	case HmacSHA512:
		return sha512.New
	case HmacSHA256:
		return sha256.New
	}
	return nil
}

// mac returns the HMAC of body under key; a must be supported.
func (a Algorithm) mac(key, body []byte) []byte {
	m := hmac.New(a.hash(), key)
	m.Write(body)
	return m.Sum(nil)
}
