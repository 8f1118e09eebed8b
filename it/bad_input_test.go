package it

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestBadInputTable is docs/troubleshooting.md as a test: a real worker
// process gets, row by row, the bad configs users hit, and each answer (a
// 400, a FAILED task's trace, a worker that refuses to start) must name
// the property and the fix and show none of the secrets involved (the
// passwords given, a value a config provider resolved, a file outside
// allowed.paths). Rows whose test lives elsewhere are listed in the doc
// with that test's name.
//
// It also checks that nothing already captured is lost: a running
// PostgreSQL connector given a bad config keeps capturing, and one whose
// task FAILED on a changed password delivers every row written meanwhile
// once its config is fixed.
func TestBadInputTable(t *testing.T) {
	t.Parallel()
	const (
		rightPW    = "bi-right-pw-3141"
		wrongPW    = "bi-wrong-pw-2718"
		rotatedPW  = "bi-rotated-pw-1618"
		resolvedPW = "bi-resolved-pw-1414"
		outsidePW  = "bi-outside-pw-1732"
	)
	secrets := []string{rightPW, wrongPW, rotatedPW, resolvedPW, outsidePW}
	noSecret := func(t *testing.T, what, s string) {
		t.Helper()
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				t.Errorf("%s shows the secret %q:\n%s", what, sec, s)
			}
		}
	}

	// A file provider limited to one directory, with a password in it and
	// another one outside.
	dir := harness.TempDir(t, "")
	allowed, outside := filepath.Join(dir, "allowed"), filepath.Join(dir, "outside")
	for _, d := range []string{allowed, outside} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	allowedFile, outsideFile := filepath.Join(allowed, "db.properties"), filepath.Join(outside, "db.properties")
	if err := os.WriteFile(allowedFile, []byte("password="+resolvedPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(outsideFile, []byte("password="+outsidePW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "500", "config.providers": "file",
		"config.providers.file.class":               "org.apache.kafka.common.config.provider.FileConfigProvider",
		"config.providers.file.param.allowed.paths": allowed})

	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	app, rot, norepl, pubUser := "bi_app_"+sfx, "bi_rot_"+sfx, "bi_norepl_"+sfx, "bi_pub_"+sfx
	pg.Exec(t, "postgres",
		"CREATE ROLE "+app+" LOGIN SUPERUSER REPLICATION PASSWORD '"+rightPW+"'",
		"CREATE ROLE "+rot+" LOGIN SUPERUSER REPLICATION PASSWORD '"+rightPW+"'",
		"CREATE ROLE "+norepl+" LOGIN PASSWORD '"+rightPW+"'",
		"CREATE ROLE "+pubUser+" LOGIN REPLICATION PASSWORD '"+rightPW+"'")
	checkPasswords(t, pg, app, rot)
	db := pg.CreateDB(t, "badin")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, v text)", "CREATE TABLE f (id int PRIMARY KEY, v text)",
		"CREATE PUBLICATION bi_owned FOR TABLE t")

	b := harness.StartBroker(t)
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: b.Bootstrap, Props: props})

	// source is a PostgreSQL source config as user with rightPW.
	source := func(user, prefix, slot string, extra map[string]string) map[string]string {
		cfg := pgSourceConfig(pg, db, prefix, slot, map[string]string{"database.user": user, "database.password": rightPW,
			"database.sslmode": "disable", "sluice.task.restart.enable": "false"})
		for k, v := range extra {
			cfg[k] = v
		}
		return cfg
	}
	// refused POSTs a connector and checks the 400 names every one of
	// want, shows no secret, and that nothing was created.
	refused := func(t *testing.T, name string, cfg map[string]string, want ...string) string {
		t.Helper()
		msg := expectError(t, w, "POST", "/connectors", map[string]any{"name": name, "config": cfg}, http.StatusBadRequest)
		t.Logf("400: %s", msg)
		mustContain(t, "400 message", msg, want...)
		noSecret(t, "400 message", msg)
		if st, out := w.Do("GET", "/connectors/"+name, nil); st != http.StatusNotFound {
			t.Errorf("GET /connectors/%s after a refused create: %d %s", name, st, out)
		}
		return msg
	}

	// A connector that captures, for the rows that must not disturb it.
	keepPrefix, keepSlot := "keep"+sfx, "keep_"+sfx
	keepTopic := keepPrefix + ".public.t"
	keepCfg := source(app, keepPrefix, keepSlot, map[string]string{"table.include.list": "public.t"})
	create(t, w, "keep", keepCfg)
	waitState(t, w, "keep", "RUNNING", 1, "RUNNING")
	ids := newCDCIDs(t, b.Bootstrap, keepTopic)
	pg.Exec(t, db, "INSERT INTO t VALUES (1, 'before')")
	ids.waitFor(60*time.Second, keepTopic, 1)

	t.Run("running connector keeps capturing after a bad PUT", func(t *testing.T) {
		bad := source(app, keepPrefix, keepSlot, map[string]string{"table.include.list": "public.t", "database.password": wrongPW})
		msg := expectError(t, w, "PUT", "/connectors/keep/config", bad, http.StatusBadRequest)
		mustContain(t, "400 message", msg, "database.password", "password authentication failed",
			"check database.user and database.password")
		noSecret(t, "400 message", msg)
		st := getStatus(t, w, "keep")
		if st.Connector.State != "RUNNING" || len(st.Tasks) != 1 || st.Tasks[0].State != "RUNNING" {
			t.Errorf("status after the refused PUT: %+v", st)
		}
		pg.Exec(t, db, "INSERT INTO t VALUES (2, 'after the refused PUT')")
		ids.waitFor(60*time.Second, keepTopic, 2)
	})
	t.Run("wrong password", func(t *testing.T) {
		refused(t, "bi-wrong-pw", source(app, "wpw"+sfx, "wpw_"+sfx, map[string]string{"database.password": wrongPW}),
			"database.password", "password authentication failed", "check database.user and database.password")
	})
	t.Run("wrong password from a config provider", func(t *testing.T) {
		// The reference resolves (to a wrong password): the message
		// shows neither the value nor anything but the reference.
		refused(t, "bi-wrong-ref", source(app, "wref"+sfx, "wref_"+sfx,
			map[string]string{"database.password": "${file:" + allowedFile + ":password}"}),
			"database.password", "check database.user and database.password")
	})
	t.Run("provider path outside allowed.paths", func(t *testing.T) {
		ref := "${file:" + outsideFile + ":password}"
		refused(t, "bi-outside", source(app, "out"+sfx, "out_"+sfx, map[string]string{"database.password": ref}),
			"database.password", ref, "config.providers.file.param.allowed.paths", "add its directory there")
	})
	t.Run("unknown host", func(t *testing.T) {
		refused(t, "bi-host", source(app, "host"+sfx, "host_"+sfx, map[string]string{"database.hostname": "no-such-host.invalid"}),
			"database.hostname", "no-such-host.invalid", "check database.hostname and database.port")
	})
	t.Run("nothing listening", func(t *testing.T) {
		port := fmt.Sprint(harness.FreePort(t))
		refused(t, "bi-port", source(app, "port"+sfx, "port_"+sfx, map[string]string{"database.port": port}),
			"database.hostname", ":"+port, "check database.hostname and database.port")
	})
	t.Run("wrong database name", func(t *testing.T) {
		refused(t, "bi-db", source(app, "db"+sfx, "db_"+sfx, map[string]string{"database.dbname": "no_such_db_" + sfx}),
			"database.dbname", "no_such_db_"+sfx, "set database.dbname to a database that exists")
	})
	t.Run("no REPLICATION privilege", func(t *testing.T) {
		refused(t, "bi-norepl", source(norepl, "nr"+sfx, "nr_"+sfx, nil),
			"database.user", norepl, "lacks the REPLICATION attribute", "WITH REPLICATION")
	})
	t.Run("slot in use by another connector", func(t *testing.T) {
		refused(t, "bi-intruder", source(app, "intr"+sfx, keepSlot, nil),
			"slot.name", keepSlot, "is active for PID", "stop that reader, or set slot.name to another slot")
	})
	t.Run("publication missing", func(t *testing.T) {
		refused(t, "bi-nopub", source(app, "np"+sfx, "np_"+sfx, map[string]string{"publication.name": "bi_nopub",
			"publication.autocreate.mode": "disabled"}),
			"publication.name", "bi_nopub", "does not exist", "CREATE PUBLICATION", "publication.autocreate.mode=filtered")
	})
	t.Run("publication owned by another role", func(t *testing.T) {
		refused(t, "bi-pubowner", source(pubUser, "po"+sfx, "po_"+sfx, map[string]string{"publication.name": "bi_owned",
			"publication.autocreate.mode": "filtered"}),
			"publication.name", "bi_owned", `ALTER PUBLICATION "bi_owned" OWNER TO "`+pubUser+`"`, "publication.autocreate.mode=disabled")
	})
	t.Run("all_tables publication without superuser", func(t *testing.T) {
		refused(t, "bi-alltables", source(pubUser, "at"+sfx, "at_"+sfx, map[string]string{"publication.name": "bi_new_pub"}),
			"publication.autocreate.mode", "FOR ALL TABLES needs a superuser", "set publication.autocreate.mode=filtered")
	})
	t.Run("invalid value", func(t *testing.T) {
		refused(t, "bi-mode", source(app, "mode"+sfx, "mode_"+sfx, map[string]string{"snapshot.mode": "sometimes"}),
			"snapshot.mode", "sometimes", "initial", "no_data")
	})
	t.Run("mistyped required property", func(t *testing.T) {
		cfg := source(app, "typo"+sfx, "typo_"+sfx, nil)
		cfg["database.hostnme"] = cfg["database.hostname"]
		delete(cfg, "database.hostname")
		refused(t, "bi-typo", cfg, `missing required configuration "database.hostname"`,
			`"database.hostnme", which is not a property: did you mean database.hostname?`)
	})
	t.Run("mistyped optional property", func(t *testing.T) {
		// Accepted, as Kafka Connect accepts unknown properties, with a
		// warning that names the one it most likely meant.
		create(t, w, "bi-typo-opt", datagen("bi-typo-"+sfx, map[string]string{"iteration": "5"}))
		harness.WaitFor(t, 30*time.Second, "the near-miss warning in the worker's log", func() error {
			if !strings.Contains(w.Log(), "connector property iteration is not a property of datagen and is ignored; did you mean iterations?") {
				return fmt.Errorf("not logged")
			}
			return nil
		})
		w.JSON("DELETE", "/connectors/bi-typo-opt", nil, http.StatusNoContent, nil)
	})
	t.Run("wal_level not logical", func(t *testing.T) {
		replica := harness.StartPostgres(t, harness.PostgresOptions{WalLevel: "replica"})
		if replica.Dir == "" {
			t.Fatalf("this row needs a PostgreSQL the harness starts with wal_level=replica; SLUICE_IT_POSTGRES_URL names an external one (unset it to run this test)")
		}
		cfg := pgSourceConfig(replica, "postgres", "wal"+sfx, "wal_"+sfx, map[string]string{"database.sslmode": "disable"})
		refused(t, "bi-wal", cfg, "wal_level", `"replica"`, "set wal_level=logical in postgresql.conf and restart PostgreSQL")
	})
	t.Run("malformed record in a sink", func(t *testing.T) {
		topic := "bi_garbage_" + sfx
		cl := b.Client(t, freshMetadata)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, nil, topic); err != nil {
			t.Fatal(err)
		}
		good := `{"schema": {"type": "struct", "optional": false, "fields": [{"field": "id", "type": "int32", "optional": false}]}, "payload": {"id": 7}}`
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("not JSON {")},
			&kgo.Record{Topic: topic, Value: []byte(good)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		sink := map[string]string{"connector.class": "jdbc", "connection.url": pg.JDBCURL(db), "connection.username": app,
			"connection.password": rightPW, "topics": topic, "auto.create": "true", "sluice.task.restart.enable": "false"}
		create(t, w, "bi-sink", sink)
		trace := waitTaskState(t, w, "bi-sink", "FAILED")
		t.Logf("trace: %s", trace)
		mustContain(t, "FAILED sink trace", trace, "record "+topic+"-0@0", "converting value", "value.converter",
			"value.converter.schemas.enable", "PATCH /connectors/bi-sink/offsets with kafka_offset 1 for topic "+topic+" partition 0")
		noSecret(t, "FAILED sink trace", trace)

		// The way out the trace gives works: skip the record.
		w.JSON("PUT", "/connectors/bi-sink/stop", nil, http.StatusNoContent, nil)
		waitState(t, w, "bi-sink", "STOPPED", 0, "")
		w.JSON("PATCH", "/connectors/bi-sink/offsets", map[string]any{"offsets": []map[string]any{{
			"partition": map[string]any{"kafka_topic": topic, "kafka_partition": 0},
			"offset":    map[string]any{"kafka_offset": 1}}}}, http.StatusOK, nil)
		w.JSON("PUT", "/connectors/bi-sink/resume", nil, http.StatusAccepted, nil)
		conn := pg.Connect(t, db)
		harness.WaitFor(t, 60*time.Second, "the record after the malformed one in table "+topic, func() error {
			var id int
			err := conn.QueryRow(context.Background(), "SELECT id FROM "+topic).Scan(&id)
			if err != nil {
				return fmt.Errorf("%v (status %+v)", err, getStatus(t, w, "bi-sink"))
			}
			if id != 7 {
				return fmt.Errorf("id %d, want 7", id)
			}
			return nil
		})
	})
	t.Run("415 body without a JSON content type", func(t *testing.T) {
		req, err := http.NewRequest("POST", w.URL+"/connectors", strings.NewReader(`{"name": "x", "config": {}}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		msg := rawError(t, req, http.StatusUnsupportedMediaType)
		mustContain(t, "415 message", msg, "application/x-www-form-urlencoded", "Content-Type: application/json")
	})
	t.Run("421 foreign Host", func(t *testing.T) {
		req, err := http.NewRequest("GET", w.URL+"/connectors", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "rebound.example:8083"
		msg := rawError(t, req, http.StatusMisdirectedRequest)
		mustContain(t, "421 message", msg, "rebound.example", "rest.allowed.hosts")
	})
	t.Run("worker with a wrong SASL password", func(t *testing.T) {
		sb := harness.StartBrokerWith(t, harness.BrokerOptions{Args: []string{
			"--sasl-user", "SCRAM-SHA-512:alice:" + rightPW, "--superuser", "alice"}})
		sw := harness.PrepareWorker(t, harness.WorkerOptions{Bootstrap: sb.Bootstrap, Props: map[string]string{
			"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
			"sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="` + wrongPW + `";`}})
		out, err := sw.Run(t, 60*time.Second)
		if err == nil {
			t.Fatalf("worker with a wrong SASL password exited 0:\n%s", out)
		}
		mustContain(t, "worker output", out, "User:alice", "sasl.jaas.config", sb.Bootstrap)
		noSecret(t, "worker output", out)
	})

	// Last, as it changes a role's password: a task that FAILED on it is
	// fixed by a PUT with the new one and loses nothing written meanwhile
	// (its slot kept it).
	t.Run("task FAILED on a changed password, fixed by PUT", func(t *testing.T) {
		prefix, slot := "fix"+sfx, "fix_"+sfx
		topic := prefix + ".public.f"
		cfg := source(rot, prefix, slot, map[string]string{"table.include.list": "public.f"})
		create(t, w, "bi-fix", cfg)
		waitState(t, w, "bi-fix", "RUNNING", 1, "RUNNING")
		fids := newCDCIDs(t, b.Bootstrap, topic)
		pg.Exec(t, db, "INSERT INTO f VALUES (1, 'captured')")
		fids.waitFor(60*time.Second, topic, 1)

		pg.Exec(t, "postgres", "ALTER ROLE "+rot+" PASSWORD '"+rotatedPW+"'",
			"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sluice bi-fix'")
		trace := waitTaskState(t, w, "bi-fix", "FAILED")
		t.Logf("trace: %s", trace)
		mustContain(t, "FAILED task trace", trace, "password authentication failed", "check database.user and database.password")
		noSecret(t, "FAILED task trace", trace)
		for i := 2; i <= 6; i++ {
			pg.Exec(t, db, fmt.Sprintf("INSERT INTO f VALUES (%d, 'while FAILED')", i))
		}

		cfg["database.password"] = rotatedPW
		w.JSON("PUT", "/connectors/bi-fix/config", cfg, http.StatusOK, nil)
		waitState(t, w, "bi-fix", "RUNNING", 1, "RUNNING")
		for i := 2; i <= 6; i++ {
			fids.waitFor(60*time.Second, topic, i)
		}
		pg.Exec(t, db, "INSERT INTO f VALUES (7, 'after the fix')")
		fids.waitFor(60*time.Second, topic, 7)
	})
	noSecret(t, "the worker's log", w.Log())
}

// checkPasswords makes the server check the passwords of users (a
// server the harness started trusts every local connection), and checks
// that it does.
func checkPasswords(t *testing.T, pg *harness.Postgres, users ...string) {
	t.Helper()
	if pg.Dir != "" {
		hbaPath := filepath.Join(pg.Dir, "pg_hba.conf")
		old, err := os.ReadFile(hbaPath)
		if err != nil {
			t.Fatal(err)
		}
		list := strings.Join(users, ",")
		hba := "host all " + list + " 127.0.0.1/32 scram-sha-256\nhost replication " + list + " 127.0.0.1/32 scram-sha-256\n"
		if err := os.WriteFile(hbaPath, append([]byte(hba), old...), 0o600); err != nil {
			t.Fatal(err)
		}
		pg.Exec(t, "postgres", "SELECT pg_reload_conf()")
	}
	for _, u := range users {
		url := fmt.Sprintf("postgres://%s:nope@%s:%d/postgres?sslmode=disable", u, pg.Host, pg.Port)
		harness.WaitFor(t, 10*time.Second, "PostgreSQL to check "+u+"'s password", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := pgx.Connect(ctx, url)
			if err == nil {
				c.Close(ctx)
				return fmt.Errorf("%s logged in with a wrong password", u)
			}
			return nil
		})
	}
}

// rawError sends req and checks it fails with status in Connect's error
// shape, returning the message.
func rawError(t *testing.T, req *http.Request, status int) string {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e errorBody
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("%s %s: body is not {\"error_code\", \"message\"}: %v", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != status || e.ErrorCode != status || e.Message == "" {
		t.Fatalf("%s %s: %d %+v, want %d with a message", req.Method, req.URL.Path, resp.StatusCode, e, status)
	}
	return e.Message
}
