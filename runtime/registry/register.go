package registry

import (
	"context"
	"strings"

	"github.com/sluice-cdc/sluice/runtime/kafkalog"
)

// Registered is what Register returns: the schema's id and the version
// of the subject that holds it.
type Registered struct {
	ID      int
	Version int
	// New is false when the subject held the schema already.
	New bool
}

// RegisterVersion registers text (an Avro schema) under subject and returns its
// id, the same id the schema has under any other subject. A schema the
// subject holds already returns its version; otherwise it is checked
// against the subject's live versions at the subject's level
// (CodeIncompatibleSchema, with the reasons in Error.Reasons) and
// becomes the next version.
//
// Register writes the version to the topic and reads it back: when
// another worker's registration won the version or the id it chose
// (first in the topic wins), it chooses again, up to the store's
// attempts.
func (s *Store) RegisterVersion(ctx context.Context, subject, text string) (Registered, error) {
	if err := checkSubject(subject); err != nil {
		return Registered{}, err
	}
	p, err := parseSchema(text)
	if err != nil {
		return Registered{}, err
	}
	if v, ok := s.liveVersionOf(subject, p.normal); ok {
		return Registered{ID: v.ID, Version: v.Version}, nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.log.ReadToEnd(ctx); err != nil {
		return Registered{}, storeError("reading the schemas topic", err)
	}
	for attempt := 0; attempt < s.maxAttempts; attempt++ {
		if v, ok := s.liveVersionOf(subject, p.normal); ok {
			return Registered{ID: v.ID, Version: v.Version}, nil
		}
		s.mu.Lock()
		level := s.levelLocked(subject)
		var against []checkedVersion
		if level != LevelNone {
			live := s.versionsLocked(subject, false)
			if !level.Transitive() && len(live) > 1 {
				live = live[len(live)-1:]
			}
			for _, v := range live {
				against = append(against, checkedVersion{version: v.Version, schema: s.mu.byID[v.ID].schema})
			}
		}
		id, ok := s.mu.byNormal[p.normal]
		if !ok {
			id = s.mu.maxID + 1
		}
		version := 1
		for n := range s.mu.subjects[subject] {
			version = max(version, n+1)
		}
		s.mu.Unlock()

		if reasons := incompatibilities(level, p.schema, against); len(reasons) > 0 {
			return Registered{}, &Error{Code: CodeIncompatibleSchema, Reasons: reasons, Message: "the schema is incompatible with an earlier version of subject " +
				quote(subject) + " at compatibility level " + string(level) + ": " + strings.Join(reasons, "; ") +
				"; change the schema, or the subject's level with PUT /config/" + subject}
		}
		value := mustJSON(schemaValue{Subject: subject, Version: version, ID: id, Schema: p.normal})
		if err := s.log.Write(ctx, kafkalog.KV{Key: schemaKey(subject, version), Value: value}); err != nil {
			return Registered{}, storeError("writing the schema to the schemas topic", err)
		}
		if err := s.log.ReadToEnd(ctx); err != nil {
			return Registered{}, storeError("reading the schemas topic", err)
		}
		s.mu.Lock()
		vs := s.mu.subjects[subject][version]
		won := vs != nil && vs.id == id && s.mu.byID[id].normal == p.normal
		s.mu.Unlock()
		if won {
			return Registered{ID: id, Version: version, New: true}, nil
		}
		// Another worker's record came first: put its value back on top
		// of ours, and choose again.
		if err := s.repair(ctx); err != nil {
			return Registered{}, err
		}
	}
	return Registered{}, errorf(CodeBackendStore, "registering under subject %q lost to concurrent registrations %d times; try again",
		subject, s.maxAttempts)
}

func quote(s string) string { return "\"" + s + "\"" }

// checkSubject refuses a subject no client can name in a URL.
func checkSubject(subject string) error {
	if strings.TrimSpace(subject) == "" {
		return errorf(CodeInvalidSubject, "the subject name is empty; name the subject, for example <topic>-value")
	}
	for _, r := range subject {
		if r < 0x20 || r == 0x7f {
			return errorf(CodeInvalidSubject, "subject %q contains a control character; rename it", subject)
		}
	}
	return nil
}

// liveVersionOf finds normal among a subject's live versions.
func (s *Store) liveVersionOf(subject, normal string) (Version, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.versionsLocked(subject, false)
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Schema == normal {
			return vs[i], true
		}
	}
	return Version{}, false
}

// levelLocked is subject's effective level; s.mu is held.
func (s *Store) levelLocked(subject string) Level {
	if l, ok := s.mu.configs[subject]; ok {
		return l
	}
	return s.globalLocked()
}

// CheckCompatibility checks text against version (-1: the latest live
// one; 0: every live version the subject's level checks, as Register
// does) at the subject's level and returns the reasons it is not
// compatible; none means compatible.
func (s *Store) CheckCompatibility(subject string, version int, text string) ([]string, error) {
	p, err := parseSchema(text)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	level := s.levelLocked(subject)
	s.mu.Unlock()
	var vs []Version
	switch version {
	case 0:
		s.mu.Lock()
		vs = s.versionsLocked(subject, false)
		s.mu.Unlock()
		if !level.Transitive() && len(vs) > 1 {
			vs = vs[len(vs)-1:]
		}
	default:
		v, err := s.GetVersion(subject, version, false)
		if err != nil {
			return nil, err
		}
		vs = []Version{v}
	}
	if level == LevelNone {
		return nil, nil
	}
	against := make([]checkedVersion, 0, len(vs))
	s.mu.Lock()
	for _, v := range vs {
		against = append(against, checkedVersion{version: v.Version, schema: s.mu.byID[v.ID].schema})
	}
	s.mu.Unlock()
	return incompatibilities(level, p.schema, against), nil
}

// DeleteVersion deletes a version (-1: the latest live one). Soft (not
// permanent) marks it deleted: it no longer counts for compatibility or
// listings but its id still resolves. Permanent removes a version
// soft-deleted before (CodeVersionNotSoftDeleted otherwise).
func (s *Store) DeleteVersion(ctx context.Context, subject string, version int, permanent bool) (int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.log.ReadToEnd(ctx); err != nil {
		return 0, storeError("reading the schemas topic", err)
	}
	s.mu.Lock()
	if len(s.mu.subjects[subject]) == 0 {
		s.mu.Unlock()
		return 0, subjectNotFound(subject)
	}
	if version == -1 {
		live := s.versionsLocked(subject, permanent)
		if len(live) == 0 {
			s.mu.Unlock()
			return 0, subjectNotFound(subject)
		}
		version = live[len(live)-1].Version
	}
	vs := s.mu.subjects[subject][version]
	var kv kafkalog.KV
	switch {
	case vs == nil:
		s.mu.Unlock()
		return 0, versionNotFound(subject, version)
	case permanent && !vs.deleted:
		s.mu.Unlock()
		return 0, errorf(CodeVersionNotSoftDeleted, "version %d of subject %q must be soft-deleted before it is deleted permanently; "+
			"DELETE it without permanent=true first", version, subject)
	case !permanent && vs.deleted:
		s.mu.Unlock()
		return 0, errorf(CodeVersionSoftDeleted, "version %d of subject %q is soft-deleted already; add permanent=true to delete it permanently",
			version, subject)
	case permanent:
		kv = kafkalog.KV{Key: schemaKey(subject, version)}
	default:
		kv = kafkalog.KV{Key: schemaKey(subject, version), Value: mustJSON(schemaValue{Subject: subject, Version: version,
			ID: vs.id, Schema: s.mu.byID[vs.id].normal, Deleted: true})}
	}
	s.mu.Unlock()
	if err := s.write(ctx, kv); err != nil {
		return 0, err
	}
	return version, nil
}

// DeleteSubject deletes every version of a subject and returns their
// numbers. Soft marks them deleted (CodeSubjectSoftDeleted when all are
// already); permanent removes a subject soft-deleted before
// (CodeSubjectNotSoftDeleted otherwise), and its compatibility level.
func (s *Store) DeleteSubject(ctx context.Context, subject string, permanent bool) ([]int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.log.ReadToEnd(ctx); err != nil {
		return nil, storeError("reading the schemas topic", err)
	}
	s.mu.Lock()
	all := s.versionsLocked(subject, true)
	live := s.versionsLocked(subject, false)
	var kvs []kafkalog.KV
	var nums []int
	switch {
	case len(all) == 0:
		s.mu.Unlock()
		return nil, subjectNotFound(subject)
	case permanent && len(live) > 0:
		s.mu.Unlock()
		return nil, errorf(CodeSubjectNotSoftDeleted, "subject %q must be soft-deleted before it is deleted permanently; "+
			"DELETE it without permanent=true first", subject)
	case !permanent && len(live) == 0:
		s.mu.Unlock()
		return nil, errorf(CodeSubjectSoftDeleted, "subject %q is soft-deleted already; add permanent=true to delete it permanently", subject)
	case permanent:
		for _, v := range all {
			nums = append(nums, v.Version)
			kvs = append(kvs, kafkalog.KV{Key: schemaKey(subject, v.Version)})
		}
		kvs = append(kvs, kafkalog.KV{Key: deleteSubjectKey(subject)})
		if _, ok := s.mu.configs[subject]; ok {
			kvs = append(kvs, kafkalog.KV{Key: configKey(subject)})
		}
	default:
		for _, v := range live {
			nums = append(nums, v.Version)
			kvs = append(kvs, kafkalog.KV{Key: schemaKey(subject, v.Version), Value: mustJSON(schemaValue{Subject: subject,
				Version: v.Version, ID: v.ID, Schema: v.Schema, Deleted: true})})
		}
		kvs = append(kvs, kafkalog.KV{Key: deleteSubjectKey(subject),
			Value: mustJSON(deleteSubjectValue{Subject: subject, Version: all[len(all)-1].Version})})
	}
	s.mu.Unlock()
	if err := s.write(ctx, kvs...); err != nil {
		return nil, err
	}
	return nums, nil
}

// SetCompatibility sets a subject's level ("" subject: the global one).
func (s *Store) SetCompatibility(ctx context.Context, subject string, level Level) error {
	if _, err := ParseLevel(string(level)); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.write(ctx, kafkalog.KV{Key: configKey(subject), Value: mustJSON(configValue{CompatibilityLevel: string(level)})})
}

// DeleteCompatibility removes a subject's own level ("" subject: the
// global one goes back to DefaultLevel) and returns the level it had.
func (s *Store) DeleteCompatibility(ctx context.Context, subject string) (Level, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	prev, err := s.Compatibility(subject, subject == "")
	if err != nil {
		return "", err
	}
	return prev, s.write(ctx, kafkalog.KV{Key: configKey(subject)})
}

// write writes kvs and reads them back; writeMu is held.
func (s *Store) write(ctx context.Context, kvs ...kafkalog.KV) error {
	if err := s.log.Write(ctx, kvs...); err != nil {
		return storeError("writing to the schemas topic", err)
	}
	if err := s.log.ReadToEnd(ctx); err != nil {
		return storeError("reading the schemas topic", err)
	}
	return nil
}
