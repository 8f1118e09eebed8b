package transforms

import (
	"regexp"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

var topicNameMatchesDef = config.NewDef(
	config.Key{Name: "pattern", Type: config.String, Default: config.NoDefault, Validator: validRegex,
		Doc: "Regular expression (Go RE2 syntax) the whole topic name must match."},
)

// TopicNameMatches is true for records whose topic matches a regular
// expression (Kafka's TopicNameMatches).
type TopicNameMatches struct{ re *regexp.Regexp }

func (*TopicNameMatches) Config() *config.Def { return topicNameMatchesDef }

func (p *TopicNameMatches) Configure(props map[string]string) error {
	v, err := topicNameMatchesDef.Parse(props)
	if err != nil {
		return err
	}
	p.re = wholeMatch(v.String("pattern"))
	return nil
}

func (p *TopicNameMatches) Test(r *connectors.Record) bool { return p.re.MatchString(r.Topic) }

var hasHeaderKeyDef = config.NewDef(
	config.Key{Name: "name", Type: config.String, Default: config.NoDefault, Validator: config.NonEmpty, Doc: "Header name."},
)

// HasHeaderKey is true for records with at least one header of a name
// (Kafka's HasHeaderKey).
type HasHeaderKey struct{ name string }

func (*HasHeaderKey) Config() *config.Def { return hasHeaderKeyDef }

func (p *HasHeaderKey) Configure(props map[string]string) error {
	v, err := hasHeaderKeyDef.Parse(props)
	if err != nil {
		return err
	}
	p.name = v.String("name")
	return nil
}

func (p *HasHeaderKey) Test(r *connectors.Record) bool {
	for _, h := range r.Headers {
		if h.Key == p.name {
			return true
		}
	}
	return false
}

// RecordIsTombstone is true for records with a null value (Kafka's
// RecordIsTombstone).
type RecordIsTombstone struct{}

var recordIsTombstoneDef = config.NewDef()

func (RecordIsTombstone) Config() *config.Def               { return recordIsTombstoneDef }
func (RecordIsTombstone) Configure(map[string]string) error { return nil }
func (RecordIsTombstone) Test(r *connectors.Record) bool    { return r.Value == nil }
