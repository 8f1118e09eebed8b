package registry

import "context"

// Client is what a converter needs from a schema registry: the built-in
// one (a *Store, no HTTP) or an external one (an *HTTPClient). Both
// return *Error with Confluent's codes. Implementations are safe for
// concurrent use and answer a repeated call from memory.
type Client interface {
	// Register registers schema (Avro JSON) under subject and returns
	// its id; one the subject holds already just returns its id.
	Register(ctx context.Context, subject, schema string) (int, error)
	// SchemaByID returns the schema with id.
	SchemaByID(ctx context.Context, id int) (string, error)
	// Latest returns the latest live version of subject.
	Latest(ctx context.Context, subject string) (id, version int, schema string, err error)
	// LookupID returns the id of schema under subject, without
	// registering it.
	LookupID(ctx context.Context, subject, schema string) (int, error)
}

var (
	_ Client = (*Store)(nil)
	_ Client = (*HTTPClient)(nil)
)

// SchemaByID returns the schema with id. An id not known yet (one
// another worker registered a moment ago) is looked for again after
// reading the topic to its end.
func (s *Store) SchemaByID(ctx context.Context, id int) (string, error) {
	if text, ok := s.schemaByID(id); ok {
		return text, nil
	}
	if err := s.log.ReadToEnd(ctx); err != nil {
		return "", storeError("reading the schemas topic", err)
	}
	if text, ok := s.schemaByID(id); ok {
		return text, nil
	}
	return "", schemaIDNotFound(id)
}

// Latest returns the latest live version of subject.
func (s *Store) Latest(ctx context.Context, subject string) (id, version int, schema string, err error) {
	v, err := s.GetVersion(subject, -1, false)
	if ErrorCode(err) == CodeSubjectNotFound {
		if rerr := s.log.ReadToEnd(ctx); rerr != nil {
			return 0, 0, "", storeError("reading the schemas topic", rerr)
		}
		v, err = s.GetVersion(subject, -1, false)
	}
	if err != nil {
		return 0, 0, "", err
	}
	return v.ID, v.Version, v.Schema, nil
}

// LookupID returns the id of schema among subject's live versions.
func (s *Store) LookupID(ctx context.Context, subject, schema string) (int, error) {
	v, err := s.Lookup(subject, schema, false)
	if c := ErrorCode(err); c == CodeSubjectNotFound || c == CodeSchemaNotFound {
		if rerr := s.log.ReadToEnd(ctx); rerr != nil {
			return 0, storeError("reading the schemas topic", rerr)
		}
		v, err = s.Lookup(subject, schema, false)
	}
	if err != nil {
		return 0, err
	}
	return v.ID, nil
}

// Register registers schema under subject and returns its id (see
// RegisterVersion).
func (s *Store) Register(ctx context.Context, subject, schema string) (int, error) {
	r, err := s.RegisterVersion(ctx, subject, schema)
	return r.ID, err
}
