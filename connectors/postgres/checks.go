package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// problems collects what the pre-flight checks found: errors by property
// name (as the Validator interface reports them) and warnings.
type problems struct {
	errs     map[string][]string
	warnings []string
}

func (p *problems) add(key, format string, args ...any) {
	if p.errs == nil {
		p.errs = map[string][]string{}
	}
	p.errs[key] = append(p.errs[key], fmt.Sprintf(format, args...))
}

func (p *problems) err() error {
	var errs []error
	for _, k := range []string{Hostname, User, Password, SlotName, PublicationName, PublicationAutocreate} {
		for _, e := range p.errs[k] {
			errs = append(errs, fmt.Errorf("%s: %s", k, e))
		}
	}
	return errors.Join(errs...)
}

// preflight checks the server before anything starts: version, wal_level,
// privileges, free slots and WAL senders, the slot's owner, the
// publication, and tables whose updates and deletes cannot be keyed.
func preflight(ctx context.Context, conn *pgx.Conn, cfg *Config) (*problems, error) {
	p := &problems{}
	var versionNum, walLevel, maxSlots, maxSenders string
	err := conn.QueryRow(ctx, `SELECT current_setting('server_version_num'), current_setting('wal_level'),
		current_setting('max_replication_slots'), current_setting('max_wal_senders')`).Scan(&versionNum, &walLevel, &maxSlots, &maxSenders)
	if err != nil {
		return nil, fmt.Errorf("reading server settings: %w", err)
	}
	if v, _ := strconv.Atoi(versionNum); v < 100000 {
		p.add(Hostname, "PostgreSQL at %s is version %s; logical replication with pgoutput needs PostgreSQL 10 or later", cfg.Addr(), versionNum)
		return p, nil
	}
	if walLevel != "logical" {
		p.add(Hostname, "wal_level is %q on %s; logical decoding needs it: set wal_level=logical in postgresql.conf and restart PostgreSQL", walLevel, cfg.Addr())
	}
	var replication, super bool
	if err := conn.QueryRow(ctx, `SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&replication, &super); err != nil {
		return nil, fmt.Errorf("reading the privileges of %q: %w", cfg.User, err)
	}
	if !replication && !super {
		p.add(User, "user %q lacks the REPLICATION attribute; run ALTER ROLE %s WITH REPLICATION (or use a superuser)", cfg.User, quoteIdent(cfg.User))
	}
	var exists, active bool
	var activePID *int32
	var plugin, db, reader *string
	err = conn.QueryRow(ctx, `SELECT true, s.active, s.active_pid, s.plugin::text, s.database::text, a.application_name
		FROM pg_replication_slots s LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid WHERE s.slot_name = $1`, cfg.SlotName).
		Scan(&exists, &active, &activePID, &plugin, &db, &reader)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("reading slot %q: %w", cfg.SlotName, err)
	}
	// The connector's own walsender (a running connector whose config is
	// replaced) is no other reader: the task stops before the new one
	// starts, which waits for the slot to be released.
	own := cfg.Name != "" && reader != nil && *reader == appName(cfg.Name)
	if exists {
		if active && activePID != nil && !own {
			p.add(SlotName, "replication slot %q is active for PID %d (another connector or pg_recvlogical is reading it; a slot has one reader); stop that reader, or set slot.name to another slot", cfg.SlotName, *activePID)
		}
		if plugin != nil && *plugin != "pgoutput" {
			p.add(SlotName, "replication slot %q uses plugin %q, not pgoutput; drop it (SELECT pg_drop_replication_slot('%s')) or set slot.name to another slot", cfg.SlotName, *plugin, cfg.SlotName)
		}
		if db != nil && *db != cfg.DBName {
			p.add(SlotName, "replication slot %q belongs to database %q, not %q; set slot.name to another slot", cfg.SlotName, *db, cfg.DBName)
		}
	} else {
		var used int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots`).Scan(&used); err != nil {
			return nil, fmt.Errorf("counting replication slots: %w", err)
		}
		if max, _ := strconv.Atoi(maxSlots); used >= max {
			p.add(SlotName, "all %d replication slots are in use (max_replication_slots=%s), so slot %q cannot be created; drop an unused slot or raise max_replication_slots and restart PostgreSQL", used, maxSlots, cfg.SlotName)
		}
	}
	var senders int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'`).Scan(&senders); err != nil {
		return nil, fmt.Errorf("counting WAL senders: %w", err)
	}
	if max, _ := strconv.Atoi(maxSenders); senders >= max {
		p.add(Hostname, "all %d WAL senders are in use (max_wal_senders=%s); raise max_wal_senders and restart PostgreSQL, or stop another replication client", senders, maxSenders)
	}
	var pubExists, pubAll, pubMine bool
	var pubOwner string
	err = conn.QueryRow(ctx, `SELECT true, puballtables, pg_has_role(pubowner, 'USAGE'), pubowner::regrole::text
		FROM pg_publication WHERE pubname = $1`, cfg.Publication).Scan(&pubExists, &pubAll, &pubMine, &pubOwner)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("reading publication %q: %w", cfg.Publication, err)
	}
	switch {
	case pubExists && !pubAll && !pubMine && cfg.PublicationMode == PublicationFiltered:
		// filtered sets the publication's tables (ALTER PUBLICATION),
		// which only its owner may do.
		p.add(PublicationName, "publication %q is owned by %s, not by %q, and publication.autocreate.mode=filtered sets its tables, which only the owner may do; "+
			"run ALTER PUBLICATION %s OWNER TO %s, set publication.autocreate.mode=disabled to use it as it is, or set publication.name to another publication",
			cfg.Publication, pubOwner, cfg.User, quoteIdent(cfg.Publication), quoteIdent(cfg.User))
	case !pubExists && cfg.PublicationMode == PublicationDisabled:
		p.add(PublicationName, "publication %q does not exist and publication.autocreate.mode=disabled; create it (CREATE PUBLICATION %s FOR TABLE ...) or set publication.autocreate.mode=filtered", cfg.Publication, quoteIdent(cfg.Publication))
	case !pubExists && cfg.PublicationMode == PublicationAllTables && !super:
		p.add(PublicationAutocreate, "creating publication %q FOR ALL TABLES needs a superuser and %q is not one; set publication.autocreate.mode=filtered, or create the publication as a superuser", cfg.Publication, cfg.User)
	case pubExists && !pubAll && cfg.PublicationMode == PublicationAllTables:
		p.warnings = append(p.warnings, fmt.Sprintf("publication %q exists and is not FOR ALL TABLES; only its tables are streamed", cfg.Publication))
	}
	tables, err := listTables(ctx, conn, cfg)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		if !t.hasPK && t.replIdentity != 'f' && t.replIdentity != 'i' {
			p.warnings = append(p.warnings, fmt.Sprintf("table %s.%s has no primary key and REPLICA IDENTITY is not FULL or INDEX: its events have a null key and PostgreSQL rejects its UPDATEs and DELETEs while it is published; add a primary key or ALTER TABLE %s REPLICA IDENTITY FULL", t.schema, t.name, quoteTable(t.schema, t.name)))
		}
	}
	return p, nil
}
