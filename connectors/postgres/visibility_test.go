package postgres

import (
	"testing"
	"time"
)

func TestXidSnapshot(t *testing.T) {
	sn, err := parseXidSnapshot("100:105:100,103")
	if err != nil {
		t.Fatal(err)
	}
	for xid, want := range map[uint32]bool{99: true, 100: false, 101: true, 103: false, 104: true, 105: false, 200: false} {
		if got := sn.sees(xid); got != want {
			t.Errorf("sees(%d) = %v, want %v", xid, got, want)
		}
	}
	// Around the 32-bit wrap: the stream carries the low 32 bits of
	// 64-bit xids.
	wrap, err := parseXidSnapshot("4294967290:4294967300:4294967295")
	if err != nil {
		t.Fatal(err)
	}
	for xid, want := range map[uint32]bool{4294967294: true, 4294967295: false, 0: true, 3: true, 4: false} {
		if got := wrap.sees(xid); got != want {
			t.Errorf("around the wrap: sees(%d) = %v, want %v", xid, got, want)
		}
	}
	for _, bad := range []string{"", "1:2", "a:2:", "1:b:", "1:2:x"} {
		if _, err := parseXidSnapshot(bad); err == nil {
			t.Errorf("parseXidSnapshot(%q): no error", bad)
		}
	}
}

// TestCommitLog: a read whose snapshot misses a transaction decoded
// before its low watermark is caught; one decoded after it is the
// window's; pruning forgets what a snapshot sees.
func TestCommitLog(t *testing.T) {
	c := newCommitLog(true)
	c.add(100)
	c.add(102)
	low := c.seq
	c.add(104) // after the low watermark
	sn, _ := parseXidSnapshot("100:104:102")
	if x, ok := c.unseen(&sn, low); !ok || x != 102 {
		t.Errorf("unseen = %d, %v; want 102 (in progress for the snapshot, decoded before the low watermark)", x, ok)
	}
	later, _ := parseXidSnapshot("104:104:")
	if x, ok := c.unseen(&later, low); ok {
		t.Errorf("unseen = %d with a snapshot that sees all before the low watermark", x)
	}
	c.prune(&sn)
	if len(c.xids) != 2 {
		t.Errorf("after pruning %v; want 102 and 104 kept", c.xids)
	}
	c.prune(&later)
	if _, ok := c.xids[104]; !ok || len(c.xids) != 1 {
		t.Errorf("after pruning %v; want 104 kept", c.xids)
	}
}

// TestRereadDelay: a chunk read again for a transaction not visible yet
// waits 100 ms, then twice as long each time, at most 5 s.
func TestRereadDelay(t *testing.T) {
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		if got := rereadDelay(i + 1); got != w {
			t.Errorf("rereadDelay(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := rereadDelay(1000); got != 5*time.Second {
		t.Errorf("rereadDelay(1000) = %v", got)
	}
}
