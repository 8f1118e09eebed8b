package transforms

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

func validRegex(_ string, v any) error {
	s, _ := v.(string)
	if _, err := regexp.Compile(s); err != nil {
		return fmt.Errorf("not a valid regular expression (Go RE2 syntax): %v", err)
	}
	return nil
}

// wholeMatch compiles re to match a whole string, as Java's
// Matcher.matches does.
func wholeMatch(re string) *regexp.Regexp { return regexp.MustCompile(`^(?:` + re + `)$`) }

// goTemplate translates a Java replacement string ($1, ${name}, \$) to
// regexp.Expand's ($1 followed by a letter stays group 1).
func goTemplate(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(s[i])
			}
		case c == '$' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			b.WriteString("${" + s[i+1:j] + "}")
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// replaceWhole returns the replacement of s if re matches all of it.
func replaceWhole(re *regexp.Regexp, tmpl, s string) (string, bool) {
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return s, false
	}
	return string(re.ExpandString(nil, tmpl, s, m)), true
}

var regexRouterDef = config.NewDef(
	config.Key{Name: "regex", Type: config.String, Default: config.NoDefault, Validator: validRegex, Doc: "Regular expression the whole topic must match."},
	config.Key{Name: "replacement", Type: config.String, Default: config.NoDefault, Doc: "New topic; $1, ${name} refer to groups of regex."},
)

// RegexRouter renames topics matching a regular expression (Kafka's
// RegexRouter).
type RegexRouter struct {
	re   *regexp.Regexp
	tmpl string
}

func (*RegexRouter) Config() *config.Def { return regexRouterDef }

func (t *RegexRouter) Configure(props map[string]string) error {
	v, err := regexRouterDef.Parse(props)
	if err != nil {
		return err
	}
	t.re, t.tmpl = wholeMatch(v.String("regex")), goTemplate(v.String("replacement"))
	return nil
}

func (t *RegexRouter) Apply(r *connectors.Record) (*connectors.Record, error) {
	r.Topic, _ = replaceWhole(t.re, t.tmpl, r.Topic)
	return r, nil
}

func validJavaFormat(_ string, v any) error {
	s, _ := v.(string)
	_, err := javaLayout(s)
	return err
}

var timestampRouterDef = config.NewDef(
	config.Key{Name: "topic.format", Type: config.String, Default: "${topic}-${timestamp}", Doc: "New topic: ${topic} is the topic, ${timestamp} the record's timestamp in timestamp.format."},
	config.Key{Name: "timestamp.format", Type: config.String, Default: "yyyyMMdd", Validator: validJavaFormat, Doc: "java.text.SimpleDateFormat pattern of the timestamp, in UTC."},
)

// TimestampRouter puts the record's timestamp into the topic name
// (Kafka's TimestampRouter).
type TimestampRouter struct {
	format, layout string
}

func (*TimestampRouter) Config() *config.Def { return timestampRouterDef }

func (t *TimestampRouter) Configure(props map[string]string) error {
	v, err := timestampRouterDef.Parse(props)
	if err != nil {
		return err
	}
	t.format = v.String("topic.format")
	t.layout, _ = javaLayout(v.String("timestamp.format"))
	return nil
}

func (t *TimestampRouter) Apply(r *connectors.Record) (*connectors.Record, error) {
	if r.Timestamp.IsZero() {
		return nil, recordErr(r, "TimestampRouter: the record has no timestamp")
	}
	ts := r.Timestamp.UTC().Format(t.layout)
	r.Topic = strings.NewReplacer("${topic}", r.Topic, "${timestamp}", ts).Replace(t.format)
	return r, nil
}
