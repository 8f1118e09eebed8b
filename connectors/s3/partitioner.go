package s3

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

// recordTime returns the time the sink files r under (timestamp.extractor).
func (c *Config) recordTime(r *connectors.Record, now func() time.Time) (time.Time, error) {
	switch c.Extractor {
	case ExtractorRecord:
		if r.Timestamp.IsZero() {
			return time.Time{}, errors.New("the record has no timestamp (timestamp.extractor=Record); use RecordField or Wallclock")
		}
		return r.Timestamp, nil
	case ExtractorRecordField:
		return timeField(r.Value, c.TimestampField, "timestamp.field")
	default:
		return now(), nil
	}
}

// timeField returns the time in the field at path of value v: epoch
// milliseconds, a Timestamp or an RFC 3339 string. prop names the
// property that named the field, for messages.
func timeField(v any, path, prop string) (time.Time, error) {
	v, err := fieldValue(v, path)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: %w", prop, path, err)
	}
	switch t := v.(type) {
	case time.Time:
		return t, nil
	case int64:
		return time.UnixMilli(t), nil
	case int32:
		return time.UnixMilli(int64(t)), nil
	case int:
		return time.UnixMilli(int64(t)), nil
	case float64:
		return time.UnixMilli(int64(t)), nil
	case string:
		p, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s %q: %q is not an RFC 3339 time", prop, path, t)
		}
		return p, nil
	case nil:
		return time.Time{}, fmt.Errorf("%s %q is null", prop, path)
	default:
		return time.Time{}, fmt.Errorf("%s %q holds a %T; it must be epoch milliseconds, a Timestamp or an RFC 3339 string", prop, path, v)
	}
}

// encodePartition returns the partition path of r (without slashes at
// either end), given its time t (zero when the config uses no time).
func (c *Config) encodePartition(r *connectors.Record, t time.Time) (string, error) {
	switch c.Partitioner {
	case PartitionerField:
		parts := make([]string, 0, len(c.PartitionFields))
		for _, f := range c.PartitionFields {
			v, err := fieldValue(r.Value, f)
			if err != nil {
				return "", fmt.Errorf("partition.field.name %q: %w", f, err)
			}
			var s string
			switch x := v.(type) {
			case string:
				s = x
			case int8, int16, int32, int64, int, bool:
				s = fmt.Sprint(x)
			default:
				return "", fmt.Errorf("partition.field.name %q holds a %T; the Field partitioner takes integer, string and boolean fields", f, v)
			}
			parts = append(parts, lastSegment(f)+"="+s)
		}
		return strings.Join(parts, "/"), nil
	case PartitionerTimeBased, PartitionerDaily, PartitionerHourly:
		return c.path.format(bucketTime(t, c.PartitionDur, c.Location)), nil
	default:
		return "partition=" + strconv.Itoa(int(r.Partition)), nil
	}
}

func lastSegment(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// bucketTime rounds t down to a multiple of d counted in loc's wall-clock
// time, as Confluent's TimeBasedPartitioner does.
func bucketTime(t time.Time, d time.Duration, loc *time.Location) time.Time {
	ms := t.UnixMilli()
	_, off := t.In(loc).Zone()
	local := ms + int64(off)*1000
	g := d.Milliseconds()
	b := local - ((local%g)+g)%g
	return time.UnixMilli(b - int64(off)*1000).In(loc)
}

// fieldValue returns the value of a dotted field path in a struct or map
// value.
func fieldValue(v any, path string) (any, error) {
	cur := v
	for _, name := range strings.Split(path, ".") {
		if lz, ok := cur.(connectors.LazyStruct); ok {
			b, err := lz.Build()
			if err != nil {
				return nil, err
			}
			cur = b
		}
		switch x := cur.(type) {
		case *connectors.StructValue:
			if x == nil {
				return nil, fmt.Errorf("the value has no field %s (it is null)", name)
			}
			if _, ok := x.Schema.Field(name); !ok {
				return nil, fmt.Errorf("the value has no field %s", name)
			}
			cur = x.Get(name)
		case []connectors.MapEntry: // a schemaless JSON object
			found := false
			for _, e := range x {
				if k, ok := e.Key.(string); ok && k == name {
					cur, found = e.Value, true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("the value has no field %s", name)
			}
			continue
		case map[string]any:
			f, ok := x[name]
			if !ok {
				return nil, fmt.Errorf("the value has no field %s", name)
			}
			cur = f
		case nil:
			return nil, fmt.Errorf("the value has no field %s (it is null)", name)
		default:
			return nil, fmt.Errorf("the value is a %T, not a struct with a field %s", cur, name)
		}
	}
	return cur, nil
}

// pathFormat is a parsed Joda-Time pattern (numeric fields and literals).
type pathFormat struct {
	parts []pathPart
}

type pathPart struct {
	lit   string
	field byte // y, Y, M, d, H, m, s, S; 0 for a literal
	width int
}

func parsePathFormat(s string) (*pathFormat, error) {
	pf := &pathFormat{}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated quote; put literal text in single quotes, such as 'year'=YYYY")
			}
			lit := s[i+1 : i+1+j]
			if lit == "" {
				lit = "'"
			}
			pf.parts = append(pf.parts, pathPart{lit: lit})
			i += j + 2
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			j := i
			for j < len(s) && s[j] == c {
				j++
			}
			if !strings.ContainsRune("yYMdHmsS", rune(c)) || (c == 'M' && j-i > 2) {
				return nil, fmt.Errorf("pattern letter %q is not supported; use the numeric fields y, Y, M, MM, d, H, m, s, S and put literal text in single quotes", s[i:j])
			}
			pf.parts = append(pf.parts, pathPart{field: c, width: j - i})
			i = j
		default:
			pf.parts = append(pf.parts, pathPart{lit: string(c)})
			i++
		}
	}
	return pf, nil
}

func (pf *pathFormat) format(t time.Time) string {
	var b strings.Builder
	for _, p := range pf.parts {
		if p.field == 0 {
			b.WriteString(p.lit)
			continue
		}
		var n int
		switch p.field {
		case 'y', 'Y':
			n = t.Year()
			if p.width == 2 {
				n %= 100
			}
		case 'M':
			n = int(t.Month())
		case 'd':
			n = t.Day()
		case 'H':
			n = t.Hour()
		case 'm':
			n = t.Minute()
		case 's':
			n = t.Second()
		case 'S':
			n = t.Nanosecond() / 1e6
		}
		s := strconv.Itoa(n)
		for i := len(s); i < p.width; i++ {
			b.WriteByte('0')
		}
		b.WriteString(s)
	}
	return b.String()
}

func sortedStrings(s []string) []string {
	sort.Strings(s)
	return s
}
