package assign

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestRandomChurn drives a pool through random joins, crashes, bounces,
// zombies, lagging members and config changes, one rebalance after each.
// pool.round checks in every round that no member is told to start work
// another member still runs and that revocations name running work; every
// so often, and at the end, the pool settles and every connector and task
// must run on exactly one member, balanced within one.
func TestRandomChurn(t *testing.T) {
	for _, maxDelay := range []time.Duration{0, 50 * time.Millisecond, 5 * time.Minute} {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("delay=%v/seed=%d", maxDelay, seed), func(t *testing.T) {
				churn(t, rand.New(rand.NewPCG(seed, 13)), maxDelay, 400)
			})
		}
	}
}

func churn(t *testing.T, rng *rand.Rand, maxDelay time.Duration, steps int) {
	p := newPool(t, maxDelay)
	gone := map[string]*node{} // departed members, by id, as they were
	nextID, nextConn, nextURL := 0, 0, 0
	join := func(url string) {
		nextID++
		p.join(fmt.Sprintf("m%03d", nextID), url)
	}
	newURL := func() string { nextURL++; return fmt.Sprintf("http://w%d:8083", nextURL) }
	for range 3 {
		join(newURL())
	}
	pick := func(keys []string) string { return keys[rng.IntN(len(keys))] }
	settles := 0

	for step := range steps {
		switch op := rng.IntN(12); {
		case op < 2 && len(p.members) < 8: // a new worker
			join(newURL())
		case op < 3 && len(gone) > 0: // a crashed worker restarts under a new id
			z := gone[pick(slices.Sorted(maps.Keys(gone)))]
			delete(gone, z.id)
			join(z.url)
		case op < 4 && len(gone) > 0: // a zombie rejoins, still running what it ran
			z := gone[pick(slices.Sorted(maps.Keys(gone)))]
			delete(gone, z.id)
			p.members[z.id] = z
		case op < 6 && len(p.members) > 1: // a worker crashes
			id := pick(p.ids())
			gone[id] = p.members[id].clone()
			p.leave(id)
		case op < 8: // a new connector
			nextConn++
			p.setConnector(fmt.Sprintf("conn%03d", nextConn), rng.IntN(5))
		case op < 9 && len(p.cfg) > 0:
			p.deleteConnector(pick(slices.Sorted(maps.Keys(p.cfg))))
		case op < 10 && len(p.cfg) > 0: // reconfigured: more or fewer tasks
			p.setConnector(pick(slices.Sorted(maps.Keys(p.cfg))), rng.IntN(6))
		case op < 11: // a member falls behind on the configs topic, or catches up
			id := pick(p.ids())
			p.lagging[id] = !p.lagging[id]
		default:
			p.now = p.now.Add(time.Duration(rng.Int64N(int64(maxDelay)*3/2 + 1)))
		}
		p.now = p.now.Add(time.Duration(rng.IntN(20)) * time.Millisecond)
		p.round()

		if step%25 == 24 || step == steps-1 {
			clear(p.lagging)
			p.settle()
			p.checkExactlyOnce()
			p.checkBalanced()
			settles++
		}
	}
	if settles == 0 || len(p.cfg) == 0 {
		t.Fatalf("the run proved little: %d settles, %d connectors", settles, len(p.cfg))
	}
	t.Logf("%d members, %d connectors at the end", len(p.members), len(p.cfg))
}
