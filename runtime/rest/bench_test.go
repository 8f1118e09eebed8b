package rest_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkExpandStatus measures GET /connectors?expand=status,info over
// 100 connectors, the request dashboards poll.
func BenchmarkExpandStatus(b *testing.B) {
	f := newFake()
	f.names = nil
	for i := range 100 {
		name := fmt.Sprintf("conn-%03d", i)
		f.names = append(f.names, name)
		f.infos[name] = f.infos["orders-sink"]
		f.statuses[name] = f.statuses["orders-sink"]
	}
	srv := newServer(f)
	b.ReportAllocs()
	for b.Loop() {
		f.mu.Lock()
		f.calls = f.calls[:0]
		f.mu.Unlock()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", "/connectors?expand=status,info", nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkCreate measures POST /connectors with a 30-property config.
func BenchmarkCreate(b *testing.B) {
	var props []string
	for i := range 30 {
		props = append(props, fmt.Sprintf(`"prop.%d":"value-%d"`, i, i))
	}
	body := `{"name":"c","config":{` + strings.Join(props, ",") + `,"tasks.max":2}}`
	f := newFake()
	srv := newServer(f)
	b.ReportAllocs()
	for b.Loop() {
		f.mu.Lock()
		f.calls = f.calls[:0]
		f.mu.Unlock()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/connectors", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		srv.ServeHTTP(rec, req)
		if rec.Code != 201 {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}
