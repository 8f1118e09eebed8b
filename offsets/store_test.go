package offsets

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestKeyFormatMatchesKafkaConnect(t *testing.T) {
	k, err := Key("pg", map[string]any{"server": "inventory"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(k), `["pg",{"server":"inventory"}]`; got != want {
		t.Fatalf("key = %s, want %s", got, want)
	}
	c, p, err := ParseKey(k)
	if err != nil || c != "pg" || p["server"] != "inventory" {
		t.Fatalf("ParseKey = %q %v %v", c, p, err)
	}
	k, _ = Key("c", map[string]any{"f": 1.0, "i": int64(1), "s": "x"})
	if got, want := string(k), `["c",{"f":1.0,"i":1,"s":"x"}]`; got != want {
		t.Fatalf("key = %s, want %s (floats keep their fraction, as Jackson writes them)", got, want)
	}
	if _, p, _ := ParseKey(k); p["f"] != 1.0 || p["i"] != int64(1) {
		t.Fatalf("types not kept: %#v", p)
	}
	for _, bad := range []string{`{}`, `["a"]`, `[1,{}]`, `not json`} {
		if _, _, err := ParseKey([]byte(bad)); err == nil {
			t.Errorf("ParseKey(%s) succeeded", bad)
		}
	}
}

func TestValidateRejectsNonPrimitives(t *testing.T) {
	if err := Validate("source offset", map[string]any{"lsn": int64(5), "snap": "x", "b": true, "n": nil}); err != nil {
		t.Fatal(err)
	}
	if err := Validate("source offset", map[string]any{"chunks": []int{1}}); err == nil {
		t.Fatal("a list was accepted")
	}
}

// TestTableKeepsTheLaterRecord checks both orders in which Put and the
// topic reader can apply records of one source partition.
func TestTableKeepsTheLaterRecord(t *testing.T) {
	var tb Table
	k := []byte(`["c",{"p":1}]`)
	part := map[string]any{"p": int64(1)}
	at := func(p int32, o int64) Position { return Position{Known: true, Partition: p, Offset: o} }
	seq := func() any { return tb.Get("c", k)["seq"] }

	tb.Set("c", k, part, map[string]any{"seq": int64(2)}, at(0, 2)) // Put acknowledged at 2
	tb.Set("c", k, part, map[string]any{"seq": int64(1)}, at(0, 1)) // reader lagging at 1
	if seq() != int64(2) {
		t.Fatalf("a lagging reader moved the offset back to %v", seq())
	}
	tb.Set("c", k, part, map[string]any{"seq": int64(2)}, at(0, 2)) // reader reaches 2
	tb.Set("c", k, part, map[string]any{"seq": int64(3)}, at(0, 3)) // another worker's record
	tb.Set("c", k, part, map[string]any{"seq": int64(2)}, at(0, 2)) // a late Put of an older record
	if seq() != int64(3) {
		t.Fatalf("a Put of an older record moved the offset back to %v", seq())
	}
	tb.Set("c", k, part, nil, at(0, 4)) // deleted
	tb.Set("c", k, part, map[string]any{"seq": int64(3)}, at(0, 3))
	if got := tb.Get("c", k); got != nil {
		t.Fatalf("an older record brought a deleted offset back: %v", got)
	}
	if all := tb.All("c"); len(all) != 0 {
		t.Fatalf("All lists a deleted offset: %v", all)
	}
	tb.Set("c", k, part, map[string]any{"seq": int64(5)}, at(0, 5))
	if seq() != int64(5) {
		t.Fatalf("a newer record after a deletion was not applied: %v", seq())
	}
}
