package config

import (
	"strings"
	"testing"
)

// TestWorkerOneListener: a second REST listener is refused, naming the
// property, rather than parsed and ignored.
func TestWorkerOneListener(t *testing.T) {
	if _, err := LoadWorker("", nil, map[string]string{Listeners: "http://127.0.0.1:8083"}); err != nil {
		t.Fatalf("one listener: %v", err)
	}
	_, err := LoadWorker("", nil, map[string]string{Listeners: "http://127.0.0.1:8083,http://127.0.0.1:8084"})
	if err == nil || !strings.Contains(err.Error(), Listeners) || !strings.Contains(err.Error(), "one REST listener") {
		t.Fatalf("two listeners: err = %v, want one naming %s", err, Listeners)
	}
}
