package it

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// TestKafkaSecuritySignalsOverSASL runs a `sluice broker` process that
// takes only SASL (SCRAM-SHA-512) with ACLs, and a worker process that
// authenticates with sasl.jaas.config: the PostgreSQL source streams, and
// its Kafka signal consumer reads an execute-snapshot signal over SASL
// with the worker's settings. A principal without WRITE on a topic gets a
// FAILED task whose trace names the topic and the operation.
func TestKafkaSecuritySignalsOverSASL(t *testing.T) {
	t.Parallel()
	b := harness.StartBrokerWith(t, harness.BrokerOptions{Args: []string{
		"--sasl-user", "SCRAM-SHA-512:admin:admin-secret", "--superuser", "admin",
		"--sasl-user", "SCRAM-SHA-512:alice:alice-secret",
		"--acl", "principal=User:alice,operation=All,topic=it-,pattern=prefixed",
		"--acl", "principal=User:alice,operation=All,topic=ks.,pattern=prefixed",
		"--acl", "principal=User:alice,operation=All,group=*",
		"--acl", "principal=User:alice,operation=All,cluster",
		"--acl", "principal=User:alice,operation=Describe,topic=readonly",
		"--acl", "principal=User:alice,operation=Create,topic=readonly",
	}})
	admin := b.Client(t, kgo.SASL(scram.Auth{User: "admin", Pass: "admin-secret"}.AsSha512Mechanism()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(admin).CreateTopic(ctx, 1, -1, nil, "ks.signal"); err != nil {
		t.Fatal(err)
	}

	props, _ := isolated(t, map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
		"sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";`})
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: b.Bootstrap, Props: props})

	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	db := pg.CreateDB(t, "ks")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t SELECT generate_series(1, 50)")
	cfg := pgSourceConfig(pg, db, "ks", "ks_slot", map[string]string{"snapshot.mode": "no_data",
		"signal.enabled.channels": "kafka", "signal.kafka.topic": "ks.signal", "signal.kafka.bootstrap.servers": b.Bootstrap,
		"signal.kafka.groupId": "ks-signals", "table.include.list": "public.t", "slot.drop.on.stop": "true"})
	w.JSON("PUT", "/connectors/ks/config", cfg, http.StatusCreated, nil)
	waitTaskState(t, w, "ks", "RUNNING")

	// The signal, written as admin, is read by the connector as alice.
	if err := admin.ProduceSync(ctx, &kgo.Record{Topic: "ks.signal", Key: []byte("ks"),
		Value: []byte(`{"type": "execute-snapshot", "data": {"data-collections": ["public\\.t"], "type": "INCREMENTAL"}}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	reader := b.Client(t, kgo.SASL(scram.Auth{User: "admin", Pass: "admin-secret"}.AsSha512Mechanism()),
		kgo.ConsumeTopics("ks.public.t"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := 0
	for seen < 50 {
		fs := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d of 50 rows snapshotted through the Kafka signal; worker log:\n%s", seen, w.Log())
		}
		seen += fs.NumRecords()
	}

	// alice may describe and create topic readonly but not write it.
	w.JSON("PUT", "/connectors/ro/config", map[string]string{"connector.class": "datagen", "kafka.topic": "readonly",
		"sluice.task.restart.enable": "false"}, http.StatusCreated, nil)
	trace := waitTaskState(t, w, "ro", "FAILED")
	mustContain(t, "missing ACL trace", trace, "WRITE on topic readonly denied for principal User:alice",
		"kafka-acls.sh --add --allow-principal User:alice --operation Write --topic readonly")
	if strings.Contains(w.Log(), "alice-secret") {
		t.Error("the worker's log shows alice's password")
	}
}

// waitTaskState waits until the connector's only task is in state and
// returns its trace.
func waitTaskState(t *testing.T, w *harness.Worker, name, state string) string {
	t.Helper()
	var trace string
	harness.WaitFor(t, 60*time.Second, name+" task "+state, func() error {
		var st struct {
			Tasks []struct {
				State string `json:"state"`
				Trace string `json:"trace"`
			} `json:"tasks"`
		}
		w.JSON("GET", "/connectors/"+name+"/status", nil, http.StatusOK, &st)
		if len(st.Tasks) != 1 || st.Tasks[0].State != state {
			return fmt.Errorf("status %+v", st)
		}
		trace = st.Tasks[0].Trace
		return nil
	})
	return trace
}
