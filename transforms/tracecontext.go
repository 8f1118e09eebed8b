package transforms

import (
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/tracectx"
)

var traceContextDef = config.NewDef(
	config.Key{Name: "overwrite", Type: config.Boolean, Default: false,
		Doc: "Replace a traceparent header the record already has (by default it is kept: Sluice's CDC sources stamp their own, see sluice.trace.context.enable)."},
)

// TraceContext gives each Debezium change event a W3C traceparent header
// naming one trace per source transaction (see connectors/tracectx). The
// transaction is read from the envelope: transaction.id when the source
// provides transaction metadata; otherwise source.txId with source.ts_ms
// (PostgreSQL), or source.gtid (MySQL with GTIDs); with source.name. A
// record with none of these (not a change event, or a MySQL event without
// GTIDs or transaction metadata) passes unchanged.
type TraceContext struct{ overwrite bool }

func (*TraceContext) Config() *config.Def { return traceContextDef }

func (t *TraceContext) Configure(props map[string]string) error {
	v, err := traceContextDef.Parse(props)
	if err != nil {
		return err
	}
	t.overwrite = v.Bool("overwrite")
	return nil
}

func (t *TraceContext) Apply(r *connectors.Record) (*connectors.Record, error) {
	at := -1
	for i, h := range r.Headers {
		if h.Key == tracectx.Header {
			if !t.overwrite {
				return r, nil
			}
			at = i
		}
	}
	name, txn := transactionOf(r.Value)
	if name == "" || txn == "" {
		return r, nil
	}
	h := connectors.Header{Key: tracectx.Header, Value: tracectx.Parent(name, txn)}
	hs := make([]connectors.Header, 0, len(r.Headers)+1)
	for i, x := range r.Headers {
		if i == at || x.Key != tracectx.Header {
			if i == at {
				x = h
			}
			hs = append(hs, x)
		}
	}
	if at < 0 {
		hs = append(hs, h)
	}
	r.Headers = hs
	return r, nil
}

// transactionOf returns the source name and transaction key of a change
// event's envelope (a struct or a schemaless map), or "" for either.
func transactionOf(v any) (name, txn string) {
	src := envField(v, "source")
	name, _ = envField(src, "name").(string)
	if name == "" {
		return "", ""
	}
	if id, ok := envField(envField(v, "transaction"), "id").(string); ok && id != "" {
		return name, "tx:" + id
	}
	if xid := envField(src, "txId"); xid != nil {
		ts := envField(src, "ts_ms")
		return name, "pg:" + scalarString(xid) + ":" + scalarString(ts)
	}
	if gtid, ok := envField(src, "gtid").(string); ok && gtid != "" {
		return name, "gtid:" + gtid
	}
	return name, ""
}

// envField returns a field of a struct or schemaless map, or nil.
func envField(v any, field string) any {
	switch x := v.(type) {
	case *connectors.StructValue:
		return x.Get(field) // nil when x is nil or has no such field
	default:
		if m, ok := asMap(v); ok {
			got, _ := mapGet(m, field)
			return got
		}
	}
	return nil
}
