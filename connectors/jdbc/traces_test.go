package jdbc

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/tracectx"
)

func TestTraceSet(t *testing.T) {
	var s traceSet
	if s.String() != "" || s.attrs() != nil {
		t.Fatalf("empty set: %q %v", s.String(), s.attrs())
	}
	hs := func(tp []byte) []connectors.Header {
		return []connectors.Header{{Key: "other", Value: []byte("x")}, {Key: tracectx.Header, Value: tp}}
	}
	var ids []string
	for i := range maxTraces + 3 {
		tp := tracectx.Parent("srv", fmt.Sprint(i))
		id, _ := tracectx.TraceID(tp)
		ids = append(ids, id)
		s.note(hs(tp))
		s.note(hs(tp))                                      // the same transaction again
		s.note(hs([]byte("not a traceparent")))             // ignored
		s.note([]connectors.Header{{Key: "a", Value: nil}}) // no trace
	}
	if fmt.Sprint(s.ids) != fmt.Sprint(ids[:maxTraces]) || !s.more {
		t.Fatalf("ids %v more %v, want the first %d of %v and more", s.ids, s.more, maxTraces, ids)
	}
	if got := s.attrs(); len(got) != 4 || got[0] != "trace_ids" || got[2] != "more_traces" {
		t.Errorf("attrs %v", got)
	}
	want := " (traces " + ids[0]
	if got := s.String(); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, ", …)") {
		t.Errorf("String() = %q", got)
	}
	s.reset()
	s.note(hs(tracectx.Parent("srv", "0")))
	if len(s.ids) != 1 || s.more || s.ids[0] != ids[0] {
		t.Errorf("after reset: %v %v", s.ids, s.more)
	}
}
