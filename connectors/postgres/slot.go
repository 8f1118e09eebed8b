package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// slotState is a row of pg_replication_slots.
type slotState struct {
	exists         bool
	active         bool
	confirmedFlush uint64
}

func readSlot(ctx context.Context, conn *pgx.Conn, name string) (slotState, error) {
	var s slotState
	var lsn *string
	err := conn.QueryRow(ctx, `SELECT true, active, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, name).
		Scan(&s.exists, &s.active, &lsn)
	if errors.Is(err, pgx.ErrNoRows) {
		return slotState{}, nil
	}
	if err != nil {
		return s, fmt.Errorf("reading slot %q: %w", name, err)
	}
	if lsn != nil {
		l, err := pglogrepl.ParseLSN(*lsn)
		if err != nil {
			return s, fmt.Errorf("slot %q: %w", name, err)
		}
		s.confirmedFlush = uint64(l)
	}
	return s, nil
}

func dropSlot(ctx context.Context, conn *pgx.Conn, name string) error {
	if _, err := conn.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, name); err != nil {
		return fmt.Errorf("dropping slot %q: %w", name, err)
	}
	return nil
}

// createSlot creates the slot over the replication connection and
// exports its snapshot. The snapshot stays importable only while repl
// runs no other command.
func createSlot(ctx context.Context, repl *pgconn.PgConn, name string) (consistentPoint uint64, snapshot string, err error) {
	res, err := pglogrepl.CreateReplicationSlot(ctx, repl, name, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "EXPORT_SNAPSHOT"})
	if err != nil {
		return 0, "", fmt.Errorf("creating replication slot %q: %w", name, err)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return 0, "", fmt.Errorf("creating replication slot %q: %w", name, err)
	}
	return uint64(lsn), res.SnapshotName, nil
}

// ensurePublication creates or updates the publication as
// publication.autocreate.mode says.
func ensurePublication(ctx context.Context, conn *pgx.Conn, cfg *Config, tables []capturedTable) error {
	var exists, all bool
	err := conn.QueryRow(ctx, `SELECT true, puballtables FROM pg_publication WHERE pubname = $1`, cfg.Publication).Scan(&exists, &all)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("reading publication %q: %w", cfg.Publication, err)
	}
	pub := quoteIdent(cfg.Publication)
	var sql string
	switch cfg.PublicationMode {
	case PublicationDisabled:
		if !exists {
			return fmt.Errorf("publication.name: publication %q does not exist and publication.autocreate.mode=disabled; create it or set publication.autocreate.mode=filtered", cfg.Publication)
		}
		return nil
	case PublicationAllTables:
		if exists {
			return nil
		}
		sql = "CREATE PUBLICATION " + pub + " FOR ALL TABLES"
	case PublicationNoTables:
		if exists {
			return nil
		}
		sql = "CREATE PUBLICATION " + pub
	case PublicationFiltered:
		names := make([]string, len(tables))
		for i, t := range tables {
			names[i] = quoteTable(t.schema, t.name)
		}
		switch {
		case exists && all:
			return nil
		case exists && len(names) > 0:
			sql = "ALTER PUBLICATION " + pub + " SET TABLE " + strings.Join(names, ", ")
		case exists:
			return nil
		case len(names) > 0:
			sql = "CREATE PUBLICATION " + pub + " FOR TABLE " + strings.Join(names, ", ")
		default:
			sql = "CREATE PUBLICATION " + pub
		}
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w; the user needs CREATE on the database (and ownership of the tables for filtered, superuser for all_tables)", sql, err)
	}
	return nil
}

// slotReleaseWait bounds how long Start waits for a slot to be released.
const slotReleaseWait = 10 * time.Second

// waitSlotInactive waits up to d for the slot to have no reader; it
// returns without error when the wait runs out (the pre-flight check then
// names the reader).
func waitSlotInactive(ctx context.Context, conn *pgx.Conn, name string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		s, err := readSlot(ctx, conn, name)
		if err != nil {
			return err
		}
		if !s.active || time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
