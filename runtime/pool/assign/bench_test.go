package assign

import (
	"fmt"
	"testing"
)

// BenchmarkAssign times one assignment for 3 members and 100 connectors
// of 3 tasks: from scratch (everything new), in a balanced pool (a
// rebalance that changes nothing), and when a fourth member joins (the
// revoking round).
func BenchmarkAssign(b *testing.B) {
	build := func() *pool {
		p := newPool(b, fiveMinutes)
		for _, id := range []string{"a", "b", "c"} {
			p.join(id, "http://"+id+":8083")
		}
		for i := range 100 {
			p.setConnector(fmt.Sprintf("conn%03d", i), 3)
		}
		return p
	}
	run := func(b *testing.B, in Input) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Assign(in); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("fresh", func(b *testing.B) {
		run(b, build().input())
	})
	b.Run("balanced", func(b *testing.B) {
		p := build()
		p.settle()
		run(b, p.input())
	})
	b.Run("member-joins", func(b *testing.B) {
		p := build()
		p.settle()
		p.join("d", "http://d:8083")
		run(b, p.input())
	})
}
