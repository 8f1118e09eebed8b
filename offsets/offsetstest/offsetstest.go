// Package offsetstest is the behaviour suite every offsets.Store runs:
// the in-memory store in offsets and the Kafka store in
// runtime/offsetstore, as hashicorp/raft runs its suites against every
// store.
package offsetstest

import (
	"context"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/offsets"
)

// Exercise checks the behaviour every offsets.Store must have: offsets
// per connector and source partition, the latest Put wins, All lists a
// connector's offsets, and a nil offset deletes.
func Exercise(t *testing.T, s offsets.Store) {
	t.Helper()
	ctx := context.Background()
	p1 := map[string]any{"task": int64(0)}
	p2 := map[string]any{"task": int64(1)}
	if err := s.Put(ctx, "dg", []connectors.SourceOffset{{Partition: p1, Offset: map[string]any{"seq": int64(10)}}, {Partition: p2, Offset: map[string]any{"seq": int64(3)}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "dg", []connectors.SourceOffset{{Partition: p1, Offset: map[string]any{"seq": int64(20)}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "dg", p1)
	if err != nil || got["seq"] != int64(20) {
		t.Fatalf("Get p1 = %v %v, want seq 20", got, err)
	}
	if got, _ := s.Get(ctx, "other", p1); got != nil {
		t.Fatalf("other connector sees %v", got)
	}
	all, _ := s.All(ctx, "dg")
	if len(all) != 2 {
		t.Fatalf("All = %v", all)
	}
	if err := s.Put(ctx, "dg", []connectors.SourceOffset{{Partition: p2}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "dg", p2); got != nil {
		t.Fatalf("deleted offset still there: %v", got)
	}
}
