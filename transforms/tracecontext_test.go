package transforms

import (
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/tracectx"
)

func TestTraceContext(t *testing.T) {
	noTx := func() connectors.Record {
		r := dbzEvent("u", dbzRow(1, "old"), dbzRow(1, "ann"))
		r.Value.(*connectors.StructValue).Values[3] = nil // no transaction metadata
		return r
	}
	gtid := rec("db.inventory.customers", nil, nil, nil, []connectors.MapEntry{
		{Key: "source", Value: []connectors.MapEntry{{Key: "name", Value: "mysql1"}, {Key: "gtid", Value: "3E11FA47-71CA-11E1-9E33-C80AA9429562:23"}}},
		{Key: "op", Value: "c"}})
	stamped := func(tp string) connectors.Record {
		r := dbzEvent("c", nil, dbzRow(1, "ann"))
		r.Headers = []connectors.Header{{Key: "a", Value: []byte("1")}, {Key: tracectx.Header, Value: []byte(tp)}, {Key: "b", Value: []byte("2")}}
		return r
	}
	const theirs = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	cases := []struct {
		name string
		opts map[string]string
		in   connectors.Record
		want []string // the record's headers as key=value, in order
	}{
		{name: "transaction metadata", in: dbzEvent("c", nil, dbzRow(1, "ann")),
			want: []string{tracectx.Header + "=" + string(tracectx.Parent("db", "tx:771:2345"))}},
		{name: "PostgreSQL txId and commit time", in: noTx(),
			want: []string{tracectx.Header + "=" + string(tracectx.Parent("db", "pg:771:1700000000000"))}},
		{name: "MySQL GTID, schemaless", in: gtid,
			want: []string{tracectx.Header + "=" + string(tracectx.Parent("mysql1", "gtid:3E11FA47-71CA-11E1-9E33-C80AA9429562:23"))}},
		{name: "an existing traceparent is kept", in: stamped(theirs),
			want: []string{"a=1", tracectx.Header + "=" + theirs, "b=2"}},
		{name: "overwrite replaces it in place", opts: map[string]string{"overwrite": "true"}, in: stamped(theirs),
			want: []string{"a=1", tracectx.Header + "=" + string(tracectx.Parent("db", "tx:771:2345")), "b=2"}},
		{name: "a tombstone has no transaction", in: dbzTombstone(1), want: nil},
		{name: "a schemaless event without source.name", in: dbzMap("c", nil, []connectors.MapEntry{{Key: "id", Value: int64(1)}}), want: nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch, err := chainOf(t, "TraceContext", c.opts)
			if err != nil {
				t.Fatal(err)
			}
			in := c.in
			out, err := ch.Apply(&in)
			if err != nil || out == nil {
				t.Fatalf("Apply: %v, %v", out, err)
			}
			var got []string
			for _, h := range out.Headers {
				got = append(got, h.Key+"="+string(h.Value))
			}
			if len(got) != len(c.want) {
				t.Fatalf("headers %q, want %q", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("headers %q, want %q", got, c.want)
					break
				}
			}
		})
	}
	// Two events of one transaction get the same traceparent.
	ch, err := chainOf(t, "io.sluice.transforms.TraceContext", nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := dbzEvent("c", nil, dbzRow(1, "ann")), dbzEvent("u", dbzRow(2, "x"), dbzRow(2, "y"))
	ra, _ := ch.Apply(&a)
	rb, _ := ch.Apply(&b)
	if string(ra.Headers[0].Value) != string(rb.Headers[0].Value) {
		t.Errorf("one transaction, traceparents %s and %s", ra.Headers[0].Value, rb.Headers[0].Value)
	}
}
