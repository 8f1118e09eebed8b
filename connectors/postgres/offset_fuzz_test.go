package postgres

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"
)

// FuzzParseOffset feeds stored offsets (as JSON, as an offsets store
// returns them) to the offset and snapshot plan decoders.
func FuzzParseOffset(f *testing.F) {
	f.Add(`{"lsn_proc":10,"lsn_commit":20,"lsn":15,"txId":7,"event":3,"ts_usec":99}`)
	f.Add(`{"snapshot":true,"snapshot_chunks":"16385:0,16385:2","snapshot_plan":"16385:1:2000:10;16390:1","lsn":5,"lsn_proc":5}`)
	f.Add(`{"lsn_proc":1.5}`)
	f.Add(`{"snapshot":true,"snapshot_chunks":"16385:0","snapshot_plan":"16385:k:a%3Ab,1:c%2C,2;16390:k:x","lsn":5}`)
	f.Add(`{"snapshot_incremental":true,"snapshot_plan":"1:x:y:z"}`)
	f.Add(`{"snapshot":true,"snapshot_chunks":"16385:0","snapshot_plan":"16385:1:2000:10","snapshot_keys":"16385:1:2500;16385:2:a%2Cb,c","lsn":5}`)
	f.Add(`{"lsn_proc":10,"lsn_commit":20,"lsn":15,"txId":7,"event":3,"event_part":2}`)
	f.Add(`{"snapshot_incremental":true,"snapshot_plan":"16385:1:2000:10:%!v %3D 1;16390:k:x:%!name LIKE '%25a%3B'"}`)
	f.Fuzz(func(t *testing.T, s string) {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) != nil {
			return
		}
		o, err := parseOffsetMap(m)
		if err != nil {
			return
		}
		if keys, err := parseSnapshotKeys(o.snapshotKeys); err == nil {
			for id, k := range keys {
				if again, err := parseSnapshotKeys(id + ":" + escapeKeys(k)); err != nil || !slices.Equal(again[id], k) {
					t.Fatalf("snapshot key %s %q does not round-trip: %q, %v", id, k, again[id], err)
				}
			}
		}
		plans, err := parsePlans(o.snapshotPlan)
		if err != nil {
			return
		}
		for _, p := range plans {
			if p.n > 1<<16 {
				continue // a plan this large is not ours; chunks would allocate it
			}
			tb := &table{relID: p.relID, keyCols: []int{0}, cols: []colDesc{{Name: "id"}}}
			if len(p.bounds) > 0 {
				tb = &table{relID: p.relID}
				for i := range p.bounds[0] {
					tb.keyCols = append(tb.keyCols, i)
					tb.cols = append(tb.cols, colDesc{Name: strconv.Itoa(i)})
				}
			}
			if got := len(p.chunks(tb)); p.n > 1 && got != p.n {
				t.Fatalf("plan %v gives %d chunks", p, got)
			}
		}
		if again, err := parsePlans(joinPlans(plans)); err != nil || joinPlans(again) != joinPlans(plans) {
			t.Fatalf("plan %q does not round-trip: %q, %v", o.snapshotPlan, joinPlans(again), err)
		}
		back, err := parseOffsetMap(o.toMap())
		if err != nil {
			t.Fatalf("re-parsing %v: %v", o.toMap(), err)
		}
		if back.lsnProc != o.lsnProc {
			t.Fatalf("lsn_proc %d became %d", o.lsnProc, back.lsnProc)
		}
	})
}
