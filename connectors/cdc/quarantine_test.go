package cdc

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestQuarantineSkipsAndReports(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	q := Quarantine[uint32]{PositionKey: "pos"}
	if q.Skip(1) || q.Len() != 0 {
		t.Fatal("an empty quarantine skipped a change")
	}
	q.Add(log, 1, "shop.orders", "mysql-bin.000003:154", errors.New("column total: bad decimal"))
	for range 4 {
		if !q.Skip(1) {
			t.Fatal("a quarantined table's change was not skipped")
		}
	}
	if q.Skip(2) || q.Len() != 1 {
		t.Fatal("another table's change was skipped")
	}
	q.Report(log)
	out := buf.String()
	for _, want := range []string{"level=ERROR", "table=shop.orders", "pos=mysql-bin.000003:154", `reason="column total: bad decimal"`,
		"level=WARN", "skipped=5", "since_pos=mysql-bin.000003:154"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	var pg Quarantine[uint32]
	buf.Reset()
	pg.Add(log, 9, "public.t", "0/16B3748", errors.New("x"))
	if !strings.Contains(buf.String(), "lsn=0/16B3748") {
		t.Errorf("default position key: %s", buf.String())
	}
}
