package postgres

import "testing"

// The key of an emitted offset equals the key of its committed (stored)
// form: pending() compares the two.
func TestOffsetKeySurvivesTheRoundTrip(t *testing.T) {
	for _, o := range []offset{
		{lsnProc: 100},
		{lsnProc: 100, lsn: 100, incremental: true, snapshotPlan: "p", snapshotChunks: "1:0", paused: true},
		{lsnProc: 100, lsnCommit: 200, lsn: 150, txID: 7, event: 3, tsUsec: 9},
		{lsnProc: 100, lsnCommit: 200, lsn: 150, txID: 7, event: 3, part: 2, tsUsec: 9},
		{snapshot: true, lsnProc: 50, lsn: 50, snapshotPlan: "p", snapshotChunks: "1:0,1:1"},
		{snapshot: true, lsnProc: 50, lsn: 50, snapshotPlan: "p", snapshotChunks: "1:0", snapshotKeys: "1:1:42;1:2:a%2Cb"},
		{lsnProc: 100, lsn: 100, incremental: true, snapshotPlan: "p", snapshotChunks: "1:0", snapshotKeys: "1:1:42"},
		{lsnProc: 100, lastSnapshot: true},
	} {
		back, err := parseOffsetMap(o.toMap())
		if err != nil {
			t.Fatal(err)
		}
		if keyOf(&o) != keyOf(&back) {
			t.Errorf("offset %+v: key %+v, stored form's key %+v", o, keyOf(&o), keyOf(&back))
		}
		if back.part != o.part || back.snapshotKeys != o.snapshotKeys {
			t.Errorf("offset %+v: part or snapshot keys lost: %+v", o, back)
		}
		if back.paused != (o.paused && o.incremental) {
			t.Errorf("offset %+v: paused lost: %+v", o, back)
		}
	}
}
