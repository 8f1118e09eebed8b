package converter

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sluice-cdc/sluice/runtime/registry"
)

// openStore opens and starts a built-in registry on an in-memory topic.
func openStore(t testing.TB) *registry.Store {
	t.Helper()
	var topic registry.MemTopic
	s, err := registry.Open(topic.NewLog, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// avroConv returns an AvroConverter configured through Configs, as the
// worker does, with reg as the worker's built-in registry.
func avroConv(t testing.TB, reg registry.Client, props map[string]string, isKey bool) *Avro {
	t.Helper()
	c, err := Builtin().Configs(nil, Setting{Class: "io.confluent.connect.avro.AvroConverter", Props: props, Registry: reg}, isKey)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Avro)
}

// basicAuthServer serves h behind basic auth for user:pass.
func basicAuthServer(t testing.TB, h http.Handler, user, pass string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	return srv
}
