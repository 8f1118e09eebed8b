package registry

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/sluice-cdc/sluice/runtime/kafkalog"
)

// Log is the compacted topic a Store keeps its records in: a
// *kafkalog.Log, or a MemTopic's log in tests and single-process use.
// Write must deliver the records to the callback, in order, by the time
// a later ReadToEnd returns.
type Log interface {
	Start(ctx context.Context) error
	Write(ctx context.Context, kvs ...kafkalog.KV) error
	ReadToEnd(ctx context.Context) error
	Close()
}

// DefaultMaxAttempts is how often Register tries again when another
// worker's registration won the version or id it chose.
const DefaultMaxAttempts = 10

// Store is the registry's state: subjects, versions, ids and
// compatibility levels, rebuilt from the schemas topic at Start and kept
// current by following it, so every Store on one topic (every worker of
// a pool) serves the same ids, also after a restart. Reads are answered
// from memory; writes go to the topic and return once read back.
//
// Ids are allocated without a leader; see the package doc for how two
// workers registering at once never hand out one id for two schemas.
//
// A Store is safe for concurrent use. Lock order: writeMu, then mu.
type Store struct {
	log         Log
	logger      *slog.Logger
	maxAttempts int

	// writeMu serializes this Store's writes, so its own registrations
	// never race each other for a version or an id.
	writeMu sync.Mutex

	mu struct {
		sync.Mutex
		subjects map[string]map[int]*versionState
		byID     map[int]*schemaEntry
		byNormal map[string]int
		// maxID is the largest id any record read so far named, also
		// ids since deleted or that lost a race: new ids are above it.
		maxID   int
		global  Level // "" until set: DefaultLevel
		configs map[string]Level
		// stale holds SCHEMA keys whose last record lost to an earlier
		// one (two workers chose one version): compaction would keep
		// the loser, so the winner is written again (repair).
		stale map[string]subjectVersion
	}
}

type versionState struct {
	id      int
	deleted bool
}

type schemaEntry struct {
	normal string
	schema avro.Schema
	refs   int // versions (soft-deleted included) that use the id
}

type subjectVersion struct {
	subject string
	version int
}

// Option configures a Store.
type Option func(*Store)

// WithMaxAttempts sets how often Register tries again after losing a
// race to another worker (default DefaultMaxAttempts); n < 1 keeps the
// default.
func WithMaxAttempts(n int) Option {
	return func(s *Store) {
		if n >= 1 {
			s.maxAttempts = n
		}
	}
}

// Open returns a store whose log newLog creates with the store's
// callback; call Start before use. logger (nil: slog.Default) gets a
// warning for each record of the topic that cannot be read.
func Open(newLog func(callback func(kafkalog.Record)) (Log, error), logger *slog.Logger, opts ...Option) (*Store, error) {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Store{logger: logger, maxAttempts: DefaultMaxAttempts}
	for _, o := range opts {
		o(s)
	}
	s.mu.subjects = map[string]map[int]*versionState{}
	s.mu.byID = map[int]*schemaEntry{}
	s.mu.byNormal = map[string]int{}
	s.mu.configs = map[string]Level{}
	s.mu.stale = map[string]subjectVersion{}
	l, err := newLog(s.apply)
	if err != nil {
		return nil, err
	}
	s.log = l
	return s, nil
}

// Start reads the topic to its end and repairs records that lost a race
// (see the package doc).
func (s *Store) Start(ctx context.Context) error {
	if err := s.log.Start(ctx); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.repair(ctx)
}

// Close stops following the topic. It is idempotent.
func (s *Store) Close() { s.log.Close() }

// apply folds one record of the topic into the state. It runs on the
// log's goroutine, in topic order, in every Store on the topic, so its
// decisions are the same everywhere: the first record to claim a
// version, an id or a schema's id wins, and later ones that contradict
// it are ignored.
func (s *Store) apply(r kafkalog.Record) {
	k, err := parseKey(r.Key)
	if err != nil {
		s.skip(r, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch k.KeyType {
	case keySchema:
		if k.Subject == nil || k.Version < 1 {
			s.skip(r, errorf(CodeInvalidSubject, "SCHEMA key without a subject or version"))
			return
		}
		s.applySchema(r, *k.Subject, k.Version)
	case keyConfig:
		if r.Value == nil {
			if k.Subject == nil {
				s.mu.global = ""
			} else {
				delete(s.mu.configs, *k.Subject)
			}
			return
		}
		var v configValue
		if err := json.Unmarshal(r.Value, &v); err != nil {
			s.skip(r, err)
			return
		}
		l, err := ParseLevel(v.CompatibilityLevel)
		if err != nil {
			s.skip(r, err)
			return
		}
		if k.Subject == nil {
			s.mu.global = l
		} else {
			s.mu.configs[*k.Subject] = l
		}
	case keyDeleteSubject:
		if r.Value == nil || k.Subject == nil {
			return
		}
		var v deleteSubjectValue
		if err := json.Unmarshal(r.Value, &v); err != nil {
			s.skip(r, err)
			return
		}
		for n, vs := range s.mu.subjects[*k.Subject] {
			if n <= v.Version {
				vs.deleted = true
			}
		}
	}
}

// applySchema applies a SCHEMA record; s.mu is held.
func (s *Store) applySchema(r kafkalog.Record, subject string, version int) {
	key := string(r.Key)
	vers := s.mu.subjects[subject]
	cur := vers[version]
	if r.Value == nil {
		delete(s.mu.stale, key)
		if cur == nil {
			return
		}
		delete(vers, version)
		if len(vers) == 0 {
			delete(s.mu.subjects, subject)
		}
		s.deref(cur.id)
		return
	}
	var v schemaValue
	if err := json.Unmarshal(r.Value, &v); err != nil {
		s.skip(r, err)
		return
	}
	if v.ID > s.mu.maxID {
		s.mu.maxID = v.ID
	}
	if err := checkSchemaType(v.SchemaType); err != nil {
		s.skip(r, err)
		return
	}
	normal := v.Schema
	entry := s.mu.byID[v.ID]
	if entry == nil || entry.normal != v.Schema {
		p, err := parseSchema(v.Schema)
		if err != nil {
			s.skip(r, err)
			return
		}
		normal = p.normal
		if entry == nil {
			entry = &schemaEntry{normal: normal, schema: p.schema}
		}
	}
	if cur != nil {
		if cur.id == v.ID && s.mu.byID[cur.id].normal == normal {
			cur.deleted = v.Deleted // a soft delete, or a repair
			delete(s.mu.stale, key)
			return
		}
		// Another worker chose the same version: the first wins.
		s.mu.stale[key] = subjectVersion{subject, version}
		return
	}
	if entry.normal != normal {
		return // the id is another schema's: the first wins
	}
	if id, ok := s.mu.byNormal[normal]; ok && id != v.ID {
		return // the schema has an id already
	}
	if vers == nil {
		vers = map[int]*versionState{}
		s.mu.subjects[subject] = vers
	}
	vers[version] = &versionState{id: v.ID, deleted: v.Deleted}
	entry.refs++
	s.mu.byID[v.ID] = entry
	s.mu.byNormal[normal] = v.ID
}

// deref drops a version's hold on id; s.mu is held.
func (s *Store) deref(id int) {
	e := s.mu.byID[id]
	if e == nil {
		return
	}
	if e.refs--; e.refs <= 0 {
		delete(s.mu.byID, id)
		delete(s.mu.byNormal, e.normal)
	}
}

func (s *Store) skip(r kafkalog.Record, err error) {
	s.logger.Warn("skipping unreadable record in the schemas topic", "partition", r.Partition, "offset", r.Offset,
		"key", string(r.Key), "error", err)
}

// repair writes again the winning value of every SCHEMA key whose last
// record lost, so that compaction, which keeps the last record of a key,
// keeps the winner. writeMu is held.
func (s *Store) repair(ctx context.Context) error {
	s.mu.Lock()
	var kvs []kafkalog.KV
	for _, sv := range s.mu.stale {
		if v := s.valueLocked(sv.subject, sv.version); v != nil {
			kvs = append(kvs, kafkalog.KV{Key: schemaKey(sv.subject, sv.version), Value: v})
		}
	}
	s.mu.Unlock()
	if len(kvs) == 0 {
		return nil
	}
	s.logger.Info("rewriting schema versions another worker raced for", "records", len(kvs))
	if err := s.log.Write(ctx, kvs...); err != nil {
		return storeError("rewriting schema versions another worker raced for", err)
	}
	return s.log.ReadToEnd(ctx)
}

// valueLocked is the SCHEMA value of a live version, nil when there is
// none; s.mu is held.
func (s *Store) valueLocked(subject string, version int) []byte {
	vs := s.mu.subjects[subject][version]
	if vs == nil {
		return nil
	}
	return mustJSON(schemaValue{Subject: subject, Version: version, ID: vs.id,
		Schema: s.mu.byID[vs.id].normal, Deleted: vs.deleted})
}

// Subjects lists the subjects with a live version, sorted; with deleted,
// also those whose versions are all soft-deleted.
func (s *Store) Subjects(deleted bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []string{}
	for name, vers := range s.mu.subjects {
		for _, v := range vers {
			if deleted || !v.deleted {
				out = append(out, name)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// Version is one version of a subject.
type Version struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Schema  string `json:"schema"`
	Deleted bool   `json:"-"`
}

// versionsLocked returns a subject's versions in order, soft-deleted
// ones only with deleted; s.mu is held.
func (s *Store) versionsLocked(subject string, deleted bool) []Version {
	var out []Version
	for n, vs := range s.mu.subjects[subject] {
		if vs.deleted && !deleted {
			continue
		}
		out = append(out, Version{Subject: subject, Version: n, ID: vs.id, Schema: s.mu.byID[vs.id].normal, Deleted: vs.deleted})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// Versions lists a subject's version numbers; with deleted, soft-deleted
// ones too. A subject with none is CodeSubjectNotFound.
func (s *Store) Versions(subject string, deleted bool) ([]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.versionsLocked(subject, deleted)
	if len(vs) == 0 {
		return nil, subjectNotFound(subject)
	}
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = v.Version
	}
	return out, nil
}

// GetVersion returns a version of a subject; version -1 is the latest
// live one. A soft-deleted version is found only with deleted.
func (s *Store) GetVersion(subject string, version int, deleted bool) (Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.versionsLocked(subject, true)
	if len(all) == 0 || (!deleted && len(s.versionsLocked(subject, false)) == 0) {
		return Version{}, subjectNotFound(subject)
	}
	if version == -1 {
		live := s.versionsLocked(subject, deleted)
		return live[len(live)-1], nil
	}
	for _, v := range all {
		if v.Version == version && (deleted || !v.Deleted) {
			return v, nil
		}
	}
	return Version{}, versionNotFound(subject, version)
}

// SchemaByIDLocal returns the schema of an id from memory.
func (s *Store) schemaByID(id int) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.mu.byID[id]
	if e == nil {
		return "", false
	}
	return e.normal, true
}

// SubjectVersionsOfID lists the subject versions (soft-deleted ones only
// with deleted) that use id.
func (s *Store) SubjectVersionsOfID(id int, deleted bool) ([]Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.byID[id] == nil {
		return nil, schemaIDNotFound(id)
	}
	out := []Version{}
	for name, vers := range s.mu.subjects {
		for n, vs := range vers {
			if vs.id == id && (deleted || !vs.deleted) {
				out = append(out, Version{Subject: name, Version: n})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return strings.Compare(out[i].Subject, out[j].Subject) < 0
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

// Lookup finds text among a subject's versions (soft-deleted ones only
// with deleted): CodeSubjectNotFound when the subject has no version,
// CodeSchemaNotFound when none is text.
func (s *Store) Lookup(subject, text string, deleted bool) (Version, error) {
	p, err := parseSchema(text)
	if err != nil {
		return Version{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.versionsLocked(subject, deleted)
	if len(vs) == 0 {
		return Version{}, subjectNotFound(subject)
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Schema == p.normal {
			return vs[i], nil
		}
	}
	return Version{}, errorf(CodeSchemaNotFound, "schema not found under subject %q; register it with POST /subjects/%s/versions",
		subject, subject)
}

// Compatibility returns a subject's level ("" subject: the global one).
// With fallback, a subject without its own level gets the global one;
// without, that is CodeSubjectCompatibilityNotSet.
func (s *Store) Compatibility(subject string, fallback bool) (Level, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if subject != "" {
		if l, ok := s.mu.configs[subject]; ok {
			return l, nil
		}
		if !fallback {
			return "", errorf(CodeSubjectCompatibilityNotSet,
				"subject %q has no compatibility level of its own; it uses the global one (GET /config, or ?defaultToGlobal=true)", subject)
		}
	}
	return s.globalLocked(), nil
}

func (s *Store) globalLocked() Level {
	if s.mu.global == "" {
		return DefaultLevel
	}
	return s.mu.global
}
