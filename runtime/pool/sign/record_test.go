package sign

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenKey is a fixed key: bytes 0..31, created 2024-05-01T12:00:00.123Z.
func goldenKey() Key {
	secret := make([]byte, 32)
	for i := range secret {
		secret[i] = byte(i)
	}
	return Key{Secret: secret, Algorithm: "HmacSHA256", Created: time.UnixMilli(1714564800123)}
}

// TestRecordGolden pins the record's bytes: field order, base64 with
// padding, epoch milliseconds, no spaces, as Connect's JsonConverter
// writes the session-key struct with schemas disabled.
func TestRecordGolden(t *testing.T) {
	got, err := EncodeRecord(goldenKey())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "session-key.json")
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.TrimSuffix(want, []byte("\n"))) {
		t.Fatalf("record\n got %s\nwant %s", got, want)
	}
	// The golden file is Connect's shape, checked independently of the encoder.
	const connect = `{"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","algorithm":"HmacSHA256","creation-timestamp":1714564800123}`
	if string(got) != connect {
		t.Fatalf("record\n got %s\nwant %s", got, connect)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, a := range Algorithms {
		t.Run(string(a), func(t *testing.T) {
			c := DefaultConfig()
			c.KeyAlgorithm = a
			k := c.GenerateKey(time.Now())
			if len(k.Secret) != a.DefaultKeyBits()/8 {
				t.Fatalf("key of %d bytes, want %d", len(k.Secret), a.DefaultKeyBits()/8)
			}
			v, err := EncodeRecord(k)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeRecord(v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Secret, k.Secret) || got.Algorithm != string(a) || !got.Created.Equal(k.Created) {
				t.Fatalf("round trip changed the key: %v -> %v", k, got)
			}
		})
	}
}

func TestGenerateKeyIsRandom(t *testing.T) {
	c := DefaultConfig()
	now := time.Now()
	a, b := c.GenerateKey(now), c.GenerateKey(now)
	if bytes.Equal(a.Secret, b.Secret) {
		t.Fatal("two generated keys are equal")
	}
	if !a.Created.Equal(time.UnixMilli(now.UnixMilli())) {
		t.Fatalf("created %v, want %v to the millisecond", a.Created, now)
	}
	c.KeyBits = 130 // rounded up to whole bytes, as Java's KeyGenerator does
	if n := len(c.GenerateKey(now).Secret); n != 17 {
		t.Fatalf("130-bit key has %d bytes, want 17", n)
	}
}

// TestDecodeConnectRecord decodes a record as a Connect leader writes it,
// with a field order and spacing Jackson might use.
func TestDecodeConnectRecord(t *testing.T) {
	k, err := DecodeRecord([]byte(`{ "algorithm" : "HmacSHA256", "creation-timestamp": 1714564800123, "key": "bXQ=" }`))
	if err != nil {
		t.Fatal(err)
	}
	if string(k.Secret) != "mt" || k.Algorithm != "HmacSHA256" || k.Created.UnixMilli() != 1714564800123 {
		t.Fatalf("got %v", k)
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	const secret = "c2VjcmV0LWtleS1tYXRlcmlhbA==" // "secret-key-material"
	for _, tc := range []struct {
		name, value, want string
	}{
		{"tombstone", ``, "tombstone"},
		{"not json", `nope`, "invalid JSON at byte"},
		{"array", `[1]`, "not a JSON object with key, algorithm and creation-timestamp: the value is a JSON array"},
		{"missing key", `{"algorithm":"HmacSHA256","creation-timestamp":1}`, `"key" is missing`},
		{"missing algorithm", `{"key":"` + secret + `","creation-timestamp":1}`, `"algorithm" is missing`},
		{"empty algorithm", `{"key":"` + secret + `","algorithm":"","creation-timestamp":1}`, `"algorithm" is missing or empty`},
		{"missing timestamp", `{"key":"` + secret + `","algorithm":"HmacSHA256"}`, `"creation-timestamp" is missing`},
		{"timestamp string", `{"key":"` + secret + `","algorithm":"HmacSHA256","creation-timestamp":"1"}`, `field "creation-timestamp" must be a int64`},
		{"bad base64", `{"key":"` + secret[:5] + `!","algorithm":"HmacSHA256","creation-timestamp":1}`, "not standard base64"},
		{"url base64", `{"key":"_-8=","algorithm":"HmacSHA256","creation-timestamp":1}`, "not standard base64"},
		{"empty key", `{"key":"","algorithm":"HmacSHA256","creation-timestamp":1}`, `"key" is empty`},
		{"trailing data", `{"key":"` + secret + `","algorithm":"HmacSHA256","creation-timestamp":1} {}`, "data after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRecord([]byte(tc.value))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
			if strings.Contains(err.Error(), secret[:8]) {
				t.Fatalf("error shows the key: %v", err)
			}
		})
	}
	if _, err := DecodeRecord(nil); !errors.Is(err, ErrTombstone) {
		t.Fatalf("nil value: want ErrTombstone, got %v", err)
	}
}

func TestEncodeRecordRefusesEmptyKey(t *testing.T) {
	if _, err := EncodeRecord(Key{Algorithm: "HmacSHA256"}); err == nil {
		t.Fatal("an empty key encoded")
	}
	if _, err := EncodeRecord(Key{Secret: []byte{1}}); err == nil {
		t.Fatal("a key without algorithm encoded")
	}
}

// TestKeyNeverPrintsSecret formats a key every way a log line or error
// might and looks for the secret in each form.
func TestKeyNeverPrintsSecret(t *testing.T) {
	k := goldenKey()
	k.Secret = []byte("TOP-SECRET-KEY-MATERIAL-32-BYTES")
	forms := []string{
		base64.StdEncoding.EncodeToString(k.Secret),
		string(k.Secret),
		fmt.Sprintf("%x", k.Secret),
		fmt.Sprint(k.Secret),
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("rotated", "key", k)
	js, err := json.Marshal(map[string]any{"key": k})
	if err != nil {
		t.Fatal(err)
	}
	outputs := []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), fmt.Sprint(&k),
		fmt.Errorf("wrapped: %v", k).Error(), logged.String(), string(js)}
	for _, out := range outputs {
		for _, f := range forms {
			if strings.Contains(out, f) {
				t.Fatalf("output shows the secret: %s", out)
			}
		}
	}
	if !strings.Contains(outputs[0], "HmacSHA256") || !strings.Contains(outputs[0], "256 bits") {
		t.Fatalf("description lacks algorithm or size: %s", outputs[0])
	}
}

func TestHolder(t *testing.T) {
	var h Holder
	if _, ok := h.Current(); ok || h.Keys() != nil {
		t.Fatal("zero Holder has a key")
	}
	a, b := goldenKey(), DefaultConfig().GenerateKey(time.Now())
	h.Set(a)
	h.Set(b)
	got, ok := h.Current()
	if !ok || !bytes.Equal(got.Secret, b.Secret) {
		t.Fatal("Holder does not hold the last key set")
	}
	if ks := h.Keys(); len(ks) != 1 || !bytes.Equal(ks[0].Secret, b.Secret) {
		t.Fatalf("Keys: want the current key only, got %d keys", len(ks))
	}
}
