package transforms

import (
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
)

// benchChain applies one transform to a typical Debezium update event
// (a 4-column row, with source and transaction blocks) b.N times.
func benchChain(b *testing.B, typ string, opts map[string]string) {
	ch, err := chainOf(b, typ, opts)
	if err != nil {
		b.Fatal(err)
	}
	ev := dbzEvent("u", dbzRow(1, "old"), dbzRow(1, "ann"))
	r := new(connectors.Record) // the runtime's records live in slabs
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		*r = ev
		out, err := ch.Apply(r)
		if err != nil || out == nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExtractNewRecordState(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchChain(b, "ExtractNewRecordState", nil) })
	b.Run("add.fields=op,table,source.ts_ms", func(b *testing.B) {
		benchChain(b, "ExtractNewRecordState", map[string]string{"add.fields": "op,table,source.ts_ms"})
	})
	b.Run("add.headers=op,lsn", func(b *testing.B) {
		benchChain(b, "ExtractNewRecordState", map[string]string{"add.headers": "op,lsn"})
	})
}

func BenchmarkReplaceField(b *testing.B) {
	b.Run("envelope exclude", func(b *testing.B) {
		benchChain(b, "ReplaceField$Value", map[string]string{"exclude": "transaction,ts_ms"})
	})
	b.Run("after unwrap, rename", func(b *testing.B) {
		ch, err := builtin.NewChain(map[string]string{"transforms": "u,r", "transforms.u.type": "ExtractNewRecordState",
			"transforms.r.type": "ReplaceField$Value", "transforms.r.exclude": "region", "transforms.r.renames": "email:mail"})
		if err != nil {
			b.Fatal(err)
		}
		ev := dbzEvent("u", dbzRow(1, "old"), dbzRow(1, "ann"))
		r := new(connectors.Record)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			*r = ev
			if out, err := ch.Apply(r); err != nil || out == nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("schemaless", func(b *testing.B) {
		ch, err := chainOf(b, "ReplaceField$Value", map[string]string{"exclude": "addr", "renames": "age:years"})
		if err != nil {
			b.Fatal(err)
		}
		v := personMap(1, "x")
		r := new(connectors.Record)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			*r = connectors.Record{Topic: "a", Value: v}
			if out, err := ch.Apply(r); err != nil || out == nil {
				b.Fatal(err)
			}
		}
	})
}
