package registry

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/sluice-cdc/sluice/runtime/kafkalog"
)

// TestIDsStableAcrossRestart registers, deletes and configures through
// one Store, then opens a new Store on the same Kafka topic, before and
// after compaction: same subjects, versions, ids and levels, and the next
// id is a new one.
func TestIDsStableAcrossRestart(t *testing.T) {
	c := newCluster(t)
	ctx := testCtx(t)
	s1 := openKafka(t, c)
	must(t, s1.SetCompatibility(ctx, "", LevelNone))
	for i := range 5 {
		text := record(fmt.Sprintf("R%d", i), `{"name":"a","type":"int"}`)
		for _, subject := range []string{"a", "b"} {
			if _, err := s1.RegisterVersion(ctx, subject, text); err != nil {
				t.Fatal(err)
			}
		}
	}
	must(t, s1.SetCompatibility(ctx, "a", LevelFull))
	_, err := s1.DeleteVersion(ctx, "a", 2, false)
	must(t, err)
	_, err = s1.DeleteSubject(ctx, "b", false)
	must(t, err)
	_, err = s1.DeleteVersion(ctx, "a", 3, false)
	must(t, err)
	_, err = s1.DeleteVersion(ctx, "a", 3, true)
	must(t, err)
	want := stateOf(s1)
	if len(want.Versions["a"]) != 4 || want.Versions["a"][0].ID != 1 || want.Levels["a"] != LevelFull || want.Global != LevelNone {
		t.Fatalf("state before restart: %+v", want)
	}
	s1.Close()

	s2 := openKafka(t, c)
	if got := stateOf(s2); !reflect.DeepEqual(got, want) {
		t.Fatalf("after restart:\n%+v\nwant\n%+v", got, want)
	}
	s2.Close()
	c.Compact()
	s3 := openKafka(t, c)
	if got := stateOf(s3); !reflect.DeepEqual(got, want) {
		t.Fatalf("after compaction:\n%+v\nwant\n%+v", got, want)
	}
	// Registered again, an old schema keeps its id; a new one gets the
	// next id.
	reg, err := s3.RegisterVersion(ctx, "c", record("R4", `{"name":"a","type":"int"}`))
	if err != nil || reg.ID != 5 {
		t.Fatalf("old schema again: %+v, %v; want id 5", reg, err)
	}
	reg, err = s3.RegisterVersion(ctx, "c", record("New", `{"name":"a","type":"int"}`))
	if err != nil || reg.ID != 6 {
		t.Fatalf("new schema: %+v, %v; want id 6", reg, err)
	}
}

// TestTwoWorkersRegisterAtOnce runs two Stores on one Kafka topic, as two
// workers of a pool, and registers from both at once: the same schemas
// under shared subjects (racing for versions) and different schemas
// (racing for ids). Every schema must end with one id, no id with two
// schemas, and both Stores, and a third opened after compaction, must
// agree.
func TestTwoWorkersRegisterAtOnce(t *testing.T) {
	c := newCluster(t)
	ctx := testCtx(t)
	w1, w2 := openKafka(t, c), openKafka(t, c)
	must(t, w1.SetCompatibility(ctx, "", LevelNone))
	must(t, w2.log.ReadToEnd(ctx))

	const perWorker = 12
	type result struct {
		text string
		reg  Registered
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
		errs    = make(chan error, 4*perWorker)
	)
	for w, store := range []*Store{w1, w2} {
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWorker {
					// Half the schemas are shared by both workers, half
					// their own; subjects are shared, so versions race.
					name := fmt.Sprintf("W%dG%dN%d", w, g, i)
					if i%2 == 0 {
						name = fmt.Sprintf("SharedG%dN%d", g, i)
					}
					text := record(name, `{"name":"a","type":"int"}`)
					subject := fmt.Sprintf("subject-%d", i%3)
					reg, err := store.RegisterVersion(ctx, subject, text)
					if err != nil {
						errs <- fmt.Errorf("worker %d registering %s: %w", w, name, err)
						return
					}
					mu.Lock()
					results = append(results, result{text: mustNormal(t, text), reg: reg})
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	idOf := map[string]int{}
	schemaOf := map[int]string{}
	for _, r := range results {
		if id, ok := idOf[r.text]; ok && id != r.reg.ID {
			t.Fatalf("schema %s got ids %d and %d", r.text, id, r.reg.ID)
		}
		if s, ok := schemaOf[r.reg.ID]; ok && s != r.text {
			t.Fatalf("id %d handed out for %s and %s", r.reg.ID, s, r.text)
		}
		idOf[r.text], schemaOf[r.reg.ID] = r.reg.ID, r.text
	}
	if len(idOf) != 3*perWorker {
		t.Fatalf("%d distinct schemas registered, want %d", len(idOf), 3*perWorker)
	}
	must(t, w1.log.ReadToEnd(ctx))
	must(t, w2.log.ReadToEnd(ctx))
	want := stateOf(w1)
	if got := stateOf(w2); !reflect.DeepEqual(got, want) {
		t.Fatalf("the workers disagree:\n%+v\n%+v", got, want)
	}
	// What each registration returned is what the topic says.
	for _, r := range results {
		for _, s := range []*Store{w1, w2} {
			text, err := s.SchemaByID(ctx, r.reg.ID)
			if err != nil || text != r.text {
				t.Fatalf("id %d reads %q, %v; registered %s", r.reg.ID, text, err, r.text)
			}
		}
	}
	w1.Close()
	w2.Close()
	c.Compact()
	w3 := openKafka(t, c)
	if got := stateOf(w3); !reflect.DeepEqual(got, want) {
		t.Fatalf("after compaction and restart:\n%+v\nwant\n%+v", got, want)
	}
}

// racingLog runs before once, just before the first Write: another
// worker's registration landing between this Store's read and its write.
type racingLog struct {
	Log
	once   sync.Once
	before func()
}

func (l *racingLog) Write(ctx context.Context, kvs ...kafkalog.KV) error {
	l.once.Do(l.before)
	return l.Log.Write(ctx, kvs...)
}

// TestLostRaceIsRepaired makes one Store lose a version and an id to
// another deterministically: it must register its schema as the next
// version with a new id, put the winner's record back on top of its
// own, and a compacted topic must read back the same.
func TestLostRaceIsRepaired(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		sameSubject bool
	}{{"same subject: version and id taken", true}, {"other subject: id taken", false}} {
		t.Run(tc.name, func(t *testing.T) {
			topic := &MemTopic{}
			winner := openMem(t, topic)
			must(t, winner.SetCompatibility(ctx, "", LevelNone))
			var rl *racingLog
			loser, err := Open(func(cb func(kafkalog.Record)) (Log, error) {
				l, err := topic.NewLog(cb)
				rl = &racingLog{Log: l}
				return rl, err
			}, quietLogger())
			must(t, err)
			must(t, loser.Start(ctx))
			t.Cleanup(loser.Close)
			otherSubject := "s"
			if !tc.sameSubject {
				otherSubject = "t"
			}
			won := record("Winner", `{"name":"a","type":"int"}`)
			rl.before = func() {
				reg, err := winner.RegisterVersion(ctx, otherSubject, won)
				if err != nil || reg.ID != 1 || reg.Version != 1 {
					t.Errorf("winner: %+v, %v", reg, err)
				}
			}
			reg, err := loser.RegisterVersion(ctx, "s", record("Loser", `{"name":"a","type":"int"}`))
			wantVersion := 1
			if tc.sameSubject {
				wantVersion = 2
			}
			if err != nil || reg.ID != 2 || reg.Version != wantVersion {
				t.Fatalf("loser: %+v, %v; want id 2, version %d", reg, err, wantVersion)
			}
			must(t, winner.log.ReadToEnd(ctx))
			want := stateOf(winner)
			if got := stateOf(loser); !reflect.DeepEqual(got, want) {
				t.Fatalf("stores disagree:\n%+v\n%+v", got, want)
			}
			topic.compact()
			if got := stateOf(openMem(t, topic)); !reflect.DeepEqual(got, want) {
				t.Fatalf("after compaction:\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// TestRepairAtStart: a losing record left last for its key (its writer
// died before repairing) is overwritten by the next Store to start.
func TestRepairAtStart(t *testing.T) {
	ctx := context.Background()
	topic := &MemTopic{}
	w := openMem(t, topic)
	_, err := w.RegisterVersion(ctx, "s", `"int"`)
	must(t, err)
	// A dead worker's record for the same version, with another schema.
	l, _ := topic.NewLog(func(kafkalog.Record) {})
	must(t, l.Write(ctx, kafkalog.KV{Key: schemaKey("s", 1), Value: mustJSON(schemaValue{Subject: "s", Version: 1, ID: 2, Schema: `"long"`})}))
	want := stateOf(w)
	must(t, w.log.ReadToEnd(ctx))
	if got := stateOf(w); !reflect.DeepEqual(got, want) {
		t.Fatalf("the later record won:\n%+v\nwant\n%+v", got, want)
	}
	openMem(t, topic) // repairs at Start
	topic.compact()
	if got := stateOf(openMem(t, topic)); !reflect.DeepEqual(got, want) {
		t.Fatalf("after compaction:\n%+v\nwant\n%+v", got, want)
	}
}

// TestDefaultsMakeSchemasDistinct: schemas that differ only in a default
// resolve differently, so they get different ids (Parsing Canonical
// Form would give them one).
func TestDefaultsMakeSchemasDistinct(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, &MemTopic{})
	a, err := s.Register(ctx, "a", record("R", `{"name":"f","type":"int","default":1}`))
	must(t, err)
	b, err := s.Register(ctx, "b", record("R", `{"name":"f","type":"int","default":2}`))
	must(t, err)
	if a == b {
		t.Fatalf("both got id %d", a)
	}
}

// TestNamesDoNotLeakBetweenSchemas: a schema referring to a type another
// schema defines is invalid on its own.
func TestNamesDoNotLeakBetweenSchemas(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, &MemTopic{})
	_, err := s.Register(ctx, "a", record("Defined", `{"name":"f","type":"int"}`))
	must(t, err)
	_, err = s.Register(ctx, "b", record("User", `{"name":"d","type":"Defined"}`))
	if ErrorCode(err) != CodeInvalidSchema {
		t.Fatalf("reference to another schema's type: %v; want 42201", err)
	}
}

// TestUnreadableRecordsAreSkipped: records the Store cannot read (not
// JSON, another schema type, Confluent's NOOP keys) do not stop it.
func TestUnreadableRecordsAreSkipped(t *testing.T) {
	ctx := context.Background()
	topic := &MemTopic{}
	l, _ := topic.NewLog(func(kafkalog.Record) {})
	must(t, l.Write(ctx,
		kafkalog.KV{Key: []byte(`{"keytype":"NOOP","magic":0}`)},
		kafkalog.KV{Key: []byte(`not json`), Value: []byte(`x`)},
		kafkalog.KV{Key: schemaKey("p", 1), Value: mustJSON(schemaValue{Subject: "p", Version: 1, ID: 9, SchemaType: "PROTOBUF", Schema: "x"})},
		kafkalog.KV{Key: schemaKey("q", 1), Value: []byte(`{`)},
		kafkalog.KV{Key: configKey(""), Value: []byte(`{"compatibilityLevel":"SIDEWAYS"}`)},
		kafkalog.KV{Key: schemaKey("ok", 1), Value: mustJSON(schemaValue{Subject: "ok", Version: 1, ID: 3, Schema: ` "int" `})},
	))
	s := openMem(t, topic)
	if got := s.Subjects(true); !reflect.DeepEqual(got, []string{"ok"}) {
		t.Fatalf("subjects %v", got)
	}
	if text, err := s.SchemaByID(ctx, 3); err != nil || text != `"int"` {
		t.Fatalf("id 3: %q, %v", text, err)
	}
	// Ids named by skipped records are still not handed out again.
	id, err := s.Register(ctx, "new", `"long"`)
	if err != nil || id != 10 {
		t.Fatalf("next id %d, %v; want 10", id, err)
	}
}
