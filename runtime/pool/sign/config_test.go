package sign

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
)

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig(map[string]string{"group.id": "pool"})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	if c.KeyAlgorithm != want.KeyAlgorithm || c.KeyBits != 0 || c.KeyTTL != time.Hour ||
		c.SignatureAlgorithm != HmacSHA256 || len(c.VerificationAlgorithms) != 1 || c.VerificationAlgorithms[0] != HmacSHA256 {
		t.Fatalf("defaults: got %+v, want %+v", c, want)
	}
	if err := want.Validate(); err != nil {
		t.Fatalf("DefaultConfig does not validate: %v", err)
	}
	if got := c.keyBytes(); got != 32 {
		t.Fatalf("default key length %d bytes, want 32 (HmacSHA256's 256 bits)", got)
	}
}

func TestParseConfigValues(t *testing.T) {
	c, err := ParseConfig(map[string]string{
		KeyGenerationAlgorithm: "hmacsha512",
		KeySize:                "1024",
		KeyTTL:                 "60000",
		SignatureAlgorithm:     "HmacSHA384",
		VerificationAlgorithms: "HmacSHA256, HmacSHA384",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyAlgorithm != HmacSHA512 || c.KeyBits != 1024 || c.KeyTTL != time.Minute || c.SignatureAlgorithm != HmacSHA384 ||
		len(c.VerificationAlgorithms) != 2 || c.VerificationAlgorithms[1] != HmacSHA384 {
		t.Fatalf("got %+v", c)
	}
	if c.keyBytes() != 128 {
		t.Fatalf("key length %d bytes, want 128", c.keyBytes())
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props map[string]string
		key   string
		want  string
	}{
		{"unknown key algorithm", map[string]string{KeyGenerationAlgorithm: "HmacSHA1"}, KeyGenerationAlgorithm, "use HmacSHA256, HmacSHA384 or HmacSHA512"},
		{"unknown signature algorithm", map[string]string{SignatureAlgorithm: "HmacMD5"}, SignatureAlgorithm, "use HmacSHA256, HmacSHA384 or HmacSHA512"},
		{"unknown verification algorithm", map[string]string{VerificationAlgorithms: "HmacSHA256,HmacSHA1"}, VerificationAlgorithms, `"HmacSHA1" is not a supported algorithm`},
		{"empty verification list", map[string]string{VerificationAlgorithms: ""}, VerificationAlgorithms, "at least one algorithm"},
		{"key too short", map[string]string{KeySize: "64"}, KeySize, "between 128 and 32768 bits"},
		{"key too long", map[string]string{KeySize: "40000"}, KeySize, "between 128 and 32768 bits"},
		{"key size not a number", map[string]string{KeySize: "big"}, KeySize, "32-bit integer"},
		{"negative ttl", map[string]string{KeyTTL: "-1"}, KeyTTL, "at least 0"},
		{"signature not verified", map[string]string{SignatureAlgorithm: "HmacSHA512"}, SignatureAlgorithm,
			"must be one of inter.worker.verification.algorithms (HmacSHA256)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(tc.props)
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want config.Errors, got %v", err)
			}
			if len(errs) != 1 || errs[0].Key != tc.key || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("want one error on %s containing %q, got %v", tc.key, tc.want, err)
			}
		})
	}
}

func TestValidateConfigBuiltInCode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		key    string
	}{
		{"zero value", func(c *Config) { *c = Config{} }, KeyGenerationAlgorithm},
		{"bad key algorithm", func(c *Config) { c.KeyAlgorithm = "HmacSHA1" }, KeyGenerationAlgorithm},
		{"short key", func(c *Config) { c.KeyBits = 8 }, KeySize},
		{"ttl over an int", func(c *Config) { c.KeyTTL = 1 << 31 * time.Millisecond }, KeyTTL},
		{"no verification", func(c *Config) { c.VerificationAlgorithms = nil }, VerificationAlgorithms},
		{"signature outside verification", func(c *Config) { c.SignatureAlgorithm = HmacSHA512 }, SignatureAlgorithm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.change(&c)
			err := c.Validate()
			var errs config.Errors
			if !errors.As(err, &errs) || errs[0].Key != tc.key {
				t.Fatalf("want an error on %s first, got %v", tc.key, err)
			}
		})
	}
}

// TestDefsMergeIntoWorker shows the worker config can take the keys: a
// merged definition parses them and FromValues reads them.
func TestDefsMergeIntoWorker(t *testing.T) {
	merged := config.WorkerDef.Merge(Defs)
	v, err := merged.Parse(map[string]string{KeyTTL: "1000"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := FromValues(v)
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyTTL != time.Second {
		t.Fatalf("ttl %v, want 1s", c.KeyTTL)
	}
	for _, k := range Defs.Keys() {
		if k.Doc == "" || k.Group == "" {
			t.Errorf("%s: every key needs a doc and a group", k.Name)
		}
	}
}
