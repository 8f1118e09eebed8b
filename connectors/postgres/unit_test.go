package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgtypes"
)

func TestPlaceholderFor(t *testing.T) {
	const ph = "__debezium_unavailable_value"
	bytesOf := func(conv func(byte) any) []any {
		out := make([]any, len(ph))
		for i := range len(ph) {
			out[i] = conv(ph[i])
		}
		return out
	}
	arr := func(items *connectors.Schema, optional bool) *connectors.Schema {
		return &connectors.Schema{Type: connectors.Array, Items: items, Optional: optional}
	}
	dec := connectors.DecimalSchema(4, true)
	vsd := pgtypes.VariableScaleDecimalSchema(true)
	hstoreMap := &connectors.Schema{Type: connectors.Map, Optional: true, Keys: connectors.StringSchema, Values: connectors.OptionalStringSchema}
	uuid := &connectors.Schema{Type: connectors.String, Name: cdc.UUIDName, Optional: true}
	date := &connectors.Schema{Type: connectors.Int32, Name: "io.debezium.time.Date", Optional: true}
	tests := []struct {
		name string
		s    *connectors.Schema
		want any
	}{
		{"text", connectors.OptionalStringSchema, ph},
		{"jsonb", &connectors.Schema{Type: connectors.String, Name: cdc.JSONName, Optional: true}, ph},
		{"bytea", connectors.OptionalBytesSchema, []byte(ph)},
		{"text[]", arr(connectors.OptionalStringSchema, true), []any{ph}},
		{"bytea[]", arr(connectors.OptionalBytesSchema, true), []any{[]byte(ph)}},
		{"uuid[] (Debezium's name-based UUID)", arr(uuid, true), []any{"b68a35a7-17ad-35b3-af2a-ae46edb4545a"}},
		{"int2[]", arr(connectors.Primitive(connectors.Int16, true), true), bytesOf(func(b byte) any { return int16(b) })},
		{"int4[]", arr(connectors.Primitive(connectors.Int32, true), true), bytesOf(func(b byte) any { return int32(b) })},
		{"int8[]", arr(connectors.Primitive(connectors.Int64, true), true), bytesOf(func(b byte) any { return int64(b) })},
		{"float8[]", arr(connectors.Primitive(connectors.Float64, true), true), bytesOf(func(b byte) any { return float64(b) })},
		{"date[]", arr(date, true), bytesOf(func(b byte) any { return int32(b) })},
		{"numeric(12,4)", dec, connectors.Decimal{Unscaled: new(big.Int).SetBytes([]byte(ph)), Scale: 4}},
		{"numeric(12,4)[]", arr(dec, true), []any{connectors.Decimal{Unscaled: new(big.Int).SetBytes([]byte(ph)), Scale: 4}}},
		{"hstore as map", hstoreMap, []connectors.MapEntry{{Key: ph, Value: ph}}},
		{"bool[]", arr(connectors.Primitive(connectors.Boolean, true), true), nil},
		{"bool[] NOT NULL", arr(connectors.Primitive(connectors.Boolean, true), false), []any{}},
		{"float8 NOT NULL (numeric as double)", connectors.Primitive(connectors.Float64, false), float64(0)},
	}
	for _, tc := range tests {
		if got := placeholderFor(tc.s, ph); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %#v, want %#v", tc.name, got, tc.want)
		}
	}
	v, _ := placeholderFor(vsd, ph).(*connectors.StructValue)
	if v == nil || v.Values[0] != int32(0) || string(v.Values[1].([]byte)) != ph {
		t.Errorf("unconstrained numeric: %#v, want {scale 0, value the placeholder's bytes}", v)
	}
}

func TestTransientTellsOutagesFromFailures(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", &ConnectError{Addr: "h:1", Err: refused}, true},
		{"starting up", &ConnectError{Addr: "h:1", Err: &pgconn.PgError{Code: "57P03"}}, true},
		{"wrong password", &ConnectError{Addr: "h:1", Auth: true, Err: &pgconn.PgError{Code: "28P01"}}, false},
		{"missing database", &ConnectError{Addr: "h:1", Err: &pgconn.PgError{Code: "3D000"}}, false},
		{"admin shutdown", fmt.Errorf("replication stream: %w", &pgconn.PgError{Code: "57P01"}), true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"rejected statement", fmt.Errorf("query: %w", &pgconn.PgError{Code: "42P01"}), false},
		{"lost mid-query", fmt.Errorf("reading slot: %w", io.ErrUnexpectedEOF), true},
		{"retriable", connectors.Retry(errors.New("the server ended the replication stream")), true},
		{"offsets store", &notTransient{fmt.Errorf("reading the stored offset: %w", refused)}, false},
		{"canceled", context.Canceled, false},
		{"plain", errors.New("slot.name: replication slot does not exist"), false},
	}
	for _, tc := range tests {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("%s: transient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestBackoffCapsAndGivesUpOnlyWhenTold(t *testing.T) {
	ctx := context.Background()
	lost := connectors.Retry(errors.New("reading the replication stream: EOF"))
	cfg := &Config{ReconnectMax: 40 * time.Millisecond, MaxRetries: -1}
	b := newBackoff(cfg, lost)
	for range 5 {
		if err := b.wait(ctx, "h:1"); err != nil {
			t.Fatalf("errors.max.retries=-1: wait = %v", err)
		}
		b.failed(lost)
	}
	if b.delay != 40*time.Millisecond {
		t.Errorf("delay %v after 5 attempts, want the cap retriable.restart.connector.wait.ms (40ms)", b.delay)
	}
	if p := b.problem("h:1").Error(); !strings.Contains(p, "PostgreSQL at h:1 is unreachable since") || !strings.Contains(p, "EOF") {
		t.Errorf("problem %q does not name the server and the last error", p)
	}

	cfg.MaxRetries = 2
	b = newBackoff(cfg, lost)
	for range 2 {
		if err := b.wait(ctx, "h:1"); err != nil {
			t.Fatal(err)
		}
		b.failed(lost)
	}
	err := b.wait(ctx, "h:1")
	if err == nil || !strings.Contains(err.Error(), "errors.max.retries=2") {
		t.Fatalf("after 2 failed attempts with errors.max.retries=2: %v", err)
	}
	// Giving up fails the task: the runtime must not retry it forever.
	if connectors.Retriable(err) || transient(err) {
		t.Errorf("giving up (%v) is retriable", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := newBackoff(cfg, lost).wait(cctx, "h:1"); !errors.Is(err, context.Canceled) {
		t.Errorf("wait after cancel = %v", err)
	}
}
