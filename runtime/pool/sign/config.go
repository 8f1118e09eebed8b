package sign

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
)

// Worker property names of the settings in Config (Kafka Connect's).
const (
	KeyGenerationAlgorithm = "inter.worker.key.generation.algorithm"
	KeySize                = "inter.worker.key.size"
	KeyTTL                 = "inter.worker.key.ttl.ms"
	SignatureAlgorithm     = "inter.worker.signature.algorithm"
	VerificationAlgorithms = "inter.worker.verification.algorithms"
)

// Bounds of inter.worker.key.size. Java accepts 40 bits and up; Sluice
// refuses keys shorter than 128 bits, which could be guessed, and longer
// than 32768, which buy nothing (HMAC hashes long keys down first).
const (
	MinKeyBits = 128
	MaxKeyBits = 32768
)

// Defs defines the worker properties of this package, with Connect's names
// and defaults. The worker config adds them to its own definition
// (config.WorkerDef.Merge(sign.Defs)); FromValues reads the parsed values.
var Defs = config.NewDef(
	config.Key{Name: KeyGenerationAlgorithm, Type: config.String, Default: string(HmacSHA256), Importance: config.Low,
		Group: "Worker pool", Validator: validAlgorithm,
		Doc: "HMAC algorithm of the session keys the pool's leader generates to sign requests between workers: HmacSHA256, HmacSHA384 or HmacSHA512."},
	config.Key{Name: KeySize, Type: config.Int, Default: nil, Importance: config.Low,
		Group: "Worker pool", Validator: validKeySize,
		Doc: fmt.Sprintf("Size in bits of the session keys, from %d to %d. Unset: the digest size of inter.worker.key.generation.algorithm (256, 384 or 512).", MinKeyBits, MaxKeyBits)},
	config.Key{Name: KeyTTL, Type: config.Int, Default: "3600000", Importance: config.Low,
		Group: "Worker pool", Validator: config.AtLeast(0),
		Doc: "How long a session key is used before the leader replaces it with a new one, in milliseconds. 0: never replace it (only a change of the key algorithm or size does)."},
	config.Key{Name: SignatureAlgorithm, Type: config.String, Default: string(HmacSHA256), Importance: config.Low,
		Group: "Worker pool", Validator: validAlgorithm,
		Doc: "HMAC algorithm this worker signs its requests to other workers with: HmacSHA256, HmacSHA384 or HmacSHA512. It must be one of inter.worker.verification.algorithms."},
	config.Key{Name: VerificationAlgorithms, Type: config.List, Default: string(HmacSHA256), Importance: config.Low,
		Group: "Worker pool", Validator: validAlgorithms,
		Doc: "HMAC algorithms this worker accepts on requests from other workers (comma-separated: HmacSHA256, HmacSHA384, HmacSHA512). Every worker of a pool must accept the inter.worker.signature.algorithm of every other."},
)

// Config is the parsed signing settings of a worker. The zero value is not
// valid; start from DefaultConfig or FromValues.
type Config struct {
	// KeyAlgorithm (inter.worker.key.generation.algorithm) is the
	// algorithm of the keys the leader generates.
	KeyAlgorithm Algorithm
	// KeyBits (inter.worker.key.size) is the size of generated keys; 0
	// means KeyAlgorithm's default.
	KeyBits int
	// KeyTTL (inter.worker.key.ttl.ms) is how long a key lives before the
	// leader replaces it; 0 means it is never replaced for its age.
	KeyTTL time.Duration
	// SignatureAlgorithm (inter.worker.signature.algorithm) signs this
	// worker's requests.
	SignatureAlgorithm Algorithm
	// VerificationAlgorithms (inter.worker.verification.algorithms) are
	// the algorithms accepted on incoming requests.
	VerificationAlgorithms []Algorithm
}

// DefaultConfig returns Connect's defaults.
func DefaultConfig() Config {
	return Config{
		KeyAlgorithm:           HmacSHA256,
		KeyTTL:                 time.Hour,
		SignatureAlgorithm:     HmacSHA256,
		VerificationAlgorithms: []Algorithm{HmacSHA256},
	}
}

// ParseConfig parses and validates the signing properties in props (other
// properties are ignored). Its error is a config.Errors naming each
// property to fix.
func ParseConfig(props map[string]string) (Config, error) {
	v, err := Defs.Parse(props)
	if err != nil {
		return Config{}, err
	}
	return FromValues(v)
}

// FromValues reads the signing settings from values parsed with a
// definition that includes Defs (it panics otherwise, as Values.Get does)
// and validates them together.
func FromValues(v *config.Values) (Config, error) {
	c := Config{KeyBits: v.Int(KeySize), KeyTTL: v.Duration(KeyTTL)}
	var errs config.Errors
	parse := func(name, s string) Algorithm {
		a, err := ParseAlgorithm(s)
		if err != nil {
			errs = append(errs, &config.Error{Key: name, Value: s, Reason: algorithmReason})
		}
		return a
	}
	c.KeyAlgorithm = parse(KeyGenerationAlgorithm, v.String(KeyGenerationAlgorithm))
	c.SignatureAlgorithm = parse(SignatureAlgorithm, v.String(SignatureAlgorithm))
	for _, s := range v.List(VerificationAlgorithms) {
		c.VerificationAlgorithms = append(c.VerificationAlgorithms, parse(VerificationAlgorithms, s))
	}
	if len(errs) > 0 {
		return Config{}, errs
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

const algorithmReason = "not a supported algorithm; use HmacSHA256, HmacSHA384 or HmacSHA512"

// Validate checks c; its error is a config.Errors naming each property to
// fix.
func (c Config) Validate() error {
	var errs config.Errors
	bad := func(name string, value any, reason string) {
		errs = append(errs, &config.Error{Key: name, Value: fmt.Sprint(value), Reason: reason})
	}
	if c.KeyAlgorithm.hash() == nil {
		bad(KeyGenerationAlgorithm, c.KeyAlgorithm, algorithmReason)
	}
	if err := checkKeyBits(c.KeyBits); err != nil && c.KeyBits != 0 {
		bad(KeySize, c.KeyBits, err.Error())
	}
	if c.KeyTTL < 0 || c.KeyTTL.Milliseconds() > math.MaxInt32 {
		bad(KeyTTL, c.KeyTTL.Milliseconds(), fmt.Sprintf("must be between 0 and %d milliseconds", math.MaxInt32))
	}
	if c.SignatureAlgorithm.hash() == nil {
		bad(SignatureAlgorithm, c.SignatureAlgorithm, algorithmReason)
	}
	if len(c.VerificationAlgorithms) == 0 {
		bad(VerificationAlgorithms, "", "must list at least one algorithm: HmacSHA256, HmacSHA384 or HmacSHA512")
	}
	for _, a := range c.VerificationAlgorithms {
		if a.hash() == nil {
			bad(VerificationAlgorithms, a, algorithmReason)
		}
	}
	if len(errs) == 0 && !c.verifies(c.SignatureAlgorithm) {
		bad(SignatureAlgorithm, c.SignatureAlgorithm, fmt.Sprintf(
			"must be one of %s (%s), or this worker could not verify its own signatures; add it to %s or sign with one of those",
			VerificationAlgorithms, c.verificationList(), VerificationAlgorithms))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// keyBytes is the length of the keys c generates.
func (c Config) keyBytes() int {
	bits := c.KeyBits
	if bits == 0 {
		bits = c.KeyAlgorithm.DefaultKeyBits()
	}
	return (bits + 7) / 8 // as Java's HMAC KeyGenerator rounds
}

func (c Config) verifies(a Algorithm) bool {
	for _, v := range c.VerificationAlgorithms {
		if v == a {
			return true
		}
	}
	return false
}

func (c Config) verificationList() string {
	s := make([]string, len(c.VerificationAlgorithms))
	for i, a := range c.VerificationAlgorithms {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

func checkKeyBits(bits int) error {
	if bits < MinKeyBits || bits > MaxKeyBits {
		return fmt.Errorf("must be between %d and %d bits; unset it to use the algorithm's size", MinKeyBits, MaxKeyBits)
	}
	return nil
}

func validAlgorithm(_ string, value any) error {
	s, _ := value.(string)
	if _, err := ParseAlgorithm(s); err != nil {
		return fmt.Errorf("%s", algorithmReason)
	}
	return nil
}

func validAlgorithms(_ string, value any) error {
	l, _ := value.([]string)
	if len(l) == 0 {
		return fmt.Errorf("must list at least one algorithm: HmacSHA256, HmacSHA384 or HmacSHA512")
	}
	for _, s := range l {
		if _, err := ParseAlgorithm(s); err != nil {
			return fmt.Errorf("%q is %s", s, algorithmReason)
		}
	}
	return nil
}

func validKeySize(_ string, value any) error {
	n, _ := value.(int)
	return checkKeyBits(n)
}
