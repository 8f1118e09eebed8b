package cdc

import "testing"

func TestWatermarkContentRoundTrip(t *testing.T) {
	for _, kind := range []string{WatermarkLow, WatermarkHigh} {
		k, id := ParseWatermark([]byte(WatermarkContent(kind, "s1:7")))
		if k != kind || id != "s1:7" {
			t.Errorf("%s: parsed %q %q", kind, k, id)
		}
	}
	if k, id := ParseWatermark([]byte("junk")); k != "junk" || id != "" {
		t.Errorf("junk parsed %q %q", k, id)
	}
}

// TestWindowDropsKeysChangedBetweenWatermarks walks one chunk read
// through its watermarks: changes before the low watermark and after the
// high one do not count, changes in between drop their keys.
func TestWindowDropsKeysChangedBetweenWatermarks(t *testing.T) {
	var w Window
	w.Note("1") // no read yet
	w.Start("r1")
	w.Note("2") // before the low watermark: the chunk read sees it
	if w.IsOpen() || w.Changed("2") || w.ID() != "r1" {
		t.Fatalf("closed window: open %v, changed %v, id %q", w.IsOpen(), w.Changed("2"), w.ID())
	}
	w.Open()
	w.Note("3")
	w.Note("3")
	w.Note("4")
	if !w.Changed("3") || !w.Changed("4") || w.Changed("2") || w.ChangedCount() != 2 {
		t.Fatalf("open window: %v %v %v %d", w.Changed("3"), w.Changed("4"), w.Changed("2"), w.ChangedCount())
	}
	w.Close()
	if w.IsOpen() || w.Changed("3") || w.ChangedCount() != 0 || w.ID() != "r1" {
		t.Fatalf("after the high watermark: open %v, changed %d, id %q", w.IsOpen(), w.ChangedCount(), w.ID())
	}
	w.Open()
	w.Note("5")
	w.Start("r2") // the next read forgets the last one's keys
	if w.Changed("5") || w.IsOpen() || w.ID() != "r2" {
		t.Fatalf("next read: changed %v open %v id %q", w.Changed("5"), w.IsOpen(), w.ID())
	}
}
