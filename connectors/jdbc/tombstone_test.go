package jdbc

import (
	"errors"
	"testing"
)

// TestTombstoneWithSourceTableName: with a table.name.format naming
// ${source.table} (or schema, db), a tombstone has no source block to
// resolve it from. It is skipped (the delete event before it deleted the
// row) instead of failing the task, which the keyless end-to-end test
// hit on the first delete; with ${topic} it still deletes.
func TestTombstoneWithSourceTableName(t *testing.T) {
	g := newGen("srv.public.items")
	for _, format := range []string{"${source.table}", "${source.schema}.${source.table}", "x_${source.db}_${topic}"} {
		d := testDecoder(t, TableNameFormat, format)
		c, err := d.decode(g.del(1))
		if err != nil || c.e == nil || c.e.op != opDelete || c.table.name == "" {
			t.Fatalf("%s: the delete event decoded as %+v, %v; want a delete", format, c, err)
		}
		if _, err := d.decode(g.tomb(1)); !errors.Is(err, errSkip) {
			t.Errorf("%s: tombstone decoded with error %v, want it skipped", format, err)
		}
	}
	d := testDecoder(t, TableNameFormat, "${topic}")
	c, err := d.decode(g.tomb(1))
	if err != nil || c.e == nil || c.e.op != opDelete || c.table.name != "srv_public_items" {
		t.Errorf("${topic}: tombstone decoded as %+v, %v; want a delete from srv_public_items", c, err)
	}
}
