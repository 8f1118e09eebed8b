package runtime

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/sluice-cdc/sluice/config"
)

// Topic creation for source connectors (Kafka Connect's KIP-158): a
// connector's topic.creation.* properties say how the topics its tasks
// write are created. Groups, listed in topic.creation.groups, are tried in
// that order; the first whose include matches a topic (and exclude does
// not) creates it; the "default" group creates every topic no group
// matched.
//
// Unlike Kafka Connect, which creates no topics for a connector unless
// topic.creation.default.replication.factor and .partitions are set (and
// otherwise relies on the brokers' auto-creation), Sluice never relies on
// auto-creation: with no topic.creation.* set, topics are created with
// the brokers' defaults (-1 partitions and replication factor).
const (
	propTopicCreationPrefix  = "topic.creation."
	propTopicCreationGroups  = "topic.creation.groups"
	topicCreationDefault     = "default"
	topicGroupInclude        = "include"
	topicGroupExclude        = "exclude"
	topicGroupPartitions     = "partitions"
	topicGroupRF             = "replication.factor"
	topicGroupCleanupPolicy  = "cleanup.policy"
	groupTopicCreation       = "Topic Creation"
	defaultTopicPartitions   = "-1"
	defaultTopicReplicas     = "-1"
	topicCreationDisabledFix = "the worker has topic.creation.enable=false, so it creates no topics; remove the topic.creation.* properties or set topic.creation.enable=true on the worker"
)

// topicGroupProp returns the property of a group's setting.
func topicGroupProp(group, setting string) string {
	return propTopicCreationPrefix + group + "." + setting
}

// validPartitions accepts -1 (the broker's default) or a positive count.
func validPartitions(_ string, v any) error {
	if n, _ := v.(int); n == 0 || n < -1 {
		return fmt.Errorf("must be -1 (the broker's default) or at least 1")
	}
	return nil
}

// validReplicas accepts -1 (the broker's default) or a positive factor
// (a 16-bit number, as Kafka's).
func validReplicas(_ string, v any) error {
	if n, _ := v.(int); n == 0 || n < -1 || n > math.MaxInt16 {
		return fmt.Errorf("must be -1 (the broker's default) or between 1 and %d", math.MaxInt16)
	}
	return nil
}

// validRegexList accepts a list of regular expressions (RE2 syntax).
func validRegexList(_ string, v any) error {
	for _, re := range v.([]string) {
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("%q is not a valid regular expression: %v", re, err)
		}
	}
	return nil
}

// validCleanupPolicy accepts Kafka's cleanup.policy values.
func validCleanupPolicy(_ string, v any) error {
	s, _ := v.(string)
	if s == "" {
		return nil
	}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "compact" && p != "delete" {
			return fmt.Errorf("must be delete, compact, or compact,delete")
		}
	}
	return nil
}

// validGroups refuses duplicate, empty and "default" group names.
func validGroups(_ string, v any) error {
	seen := map[string]bool{}
	for _, g := range v.([]string) {
		switch {
		case g == topicCreationDefault:
			return fmt.Errorf("the default group always exists and matches the topics no other group matches; list only the other groups")
		case seen[g]:
			return fmt.Errorf("group %q is listed twice", g)
		}
		seen[g] = true
	}
	return nil
}

// topicCreationBase is the definition of the topic creation properties
// that do not depend on the groups: topic.creation.groups and the default
// group's settings.
var topicCreationBase = config.NewDef(
	config.Key{Name: propTopicCreationGroups, Type: config.List, Default: "", Importance: config.Low, Group: groupTopicCreation,
		Validator: validGroups,
		Doc: "Groups of topic creation settings, tried in this order; each is configured with topic.creation.<group>.include " +
			"(regular expressions of the topic names it creates), .exclude, .partitions, .replication.factor and any other topic " +
			"config (topic.creation.<group>.compression.type=zstd). A topic no group matches is created by the default group. " +
			"Refused when the worker's topic.creation.enable is false."},
	config.Key{Name: topicGroupProp(topicCreationDefault, topicGroupPartitions), Type: config.Int, Default: defaultTopicPartitions,
		Importance: config.Low, Group: groupTopicCreation, Validator: validPartitions,
		Doc: "Partitions of the topics the connector's tasks write, when the worker creates them; -1 uses the broker's " +
			"default (num.partitions: 1 on the embedded broker and by default on Kafka). Other topic configs of the default " +
			"group are set as topic.creation.default.<topic config>."},
	config.Key{Name: topicGroupProp(topicCreationDefault, topicGroupRF), Type: config.Short, Default: defaultTopicReplicas,
		Importance: config.Low, Group: groupTopicCreation, Validator: validReplicas,
		Doc: "Replication factor of the topics the worker creates for the connector; -1 uses the broker's default."},
	config.Key{Name: topicGroupProp(topicCreationDefault, topicGroupCleanupPolicy), Type: config.String, Default: nil,
		Importance: config.Low, Group: groupTopicCreation, Validator: validCleanupPolicy,
		Doc: "cleanup.policy of the topics the worker creates for the connector (delete, compact or compact,delete); unset uses the broker's default."},
)

// TopicCreationConfig returns the definition of the topic creation
// properties every source connector takes (per-group properties are
// defined once topic.creation.groups names the groups), for docs.
func TopicCreationConfig() *config.Def { return topicCreationBase }

// topicCreationDef returns the definition of the topic creation
// properties of a source connector config: the base ones and, for each
// group props lists, its include, exclude, partitions, replication.factor
// and cleanup.policy. A group's partitions and replication factor default
// to the default group's.
func topicCreationDef(props map[string]string) *config.Def {
	def := topicCreationBase.Merge(nil)
	groups, err := topicCreationBase.Parse(props)
	if err != nil {
		return def
	}
	defParts := fmt.Sprint(groups.Int(topicGroupProp(topicCreationDefault, topicGroupPartitions)))
	defRF := fmt.Sprint(groups.Int(topicGroupProp(topicCreationDefault, topicGroupRF)))
	for _, g := range groups.List(propTopicCreationGroups) {
		def.Define(config.Key{Name: topicGroupProp(g, topicGroupInclude), Type: config.List, Default: "", Importance: config.Low,
			Group: groupTopicCreation, Validator: validRegexList,
			Doc: "Regular expressions (comma-separated) of the topic names group " + g + " creates."})
		def.Define(config.Key{Name: topicGroupProp(g, topicGroupExclude), Type: config.List, Default: "", Importance: config.Low,
			Group: groupTopicCreation, Validator: validRegexList,
			Doc: "Regular expressions of topic names group " + g + " does not create, even when include matches them."})
		def.Define(config.Key{Name: topicGroupProp(g, topicGroupPartitions), Type: config.Int, Default: defParts, Importance: config.Low,
			Group: groupTopicCreation, Validator: validPartitions,
			Doc: "Partitions of the topics group " + g + " creates; -1 uses the broker's default."})
		def.Define(config.Key{Name: topicGroupProp(g, topicGroupRF), Type: config.Short, Default: defRF, Importance: config.Low,
			Group: groupTopicCreation, Validator: validReplicas,
			Doc: "Replication factor of the topics group " + g + " creates; -1 uses the broker's default."})
		def.Define(config.Key{Name: topicGroupProp(g, topicGroupCleanupPolicy), Type: config.String, Default: nil, Importance: config.Low,
			Group: groupTopicCreation, Validator: validCleanupPolicy,
			Doc: "cleanup.policy of the topics group " + g + " creates; unset uses the broker's default."})
	}
	return def
}

// topicCreationErrors returns, by property, what the definition cannot
// see: topic.creation.* properties of groups topic.creation.groups does
// not list, include/exclude of the default group, and any topic.creation.*
// property when the worker creates no topics (enabled false).
func topicCreationErrors(props map[string]string, enabled bool) map[string][]string {
	out := map[string][]string{}
	groups := map[string]bool{topicCreationDefault: true}
	if v, err := topicCreationBase.Parse(props); err == nil {
		for _, g := range v.List(propTopicCreationGroups) {
			groups[g] = true
		}
	}
	for k := range props {
		rest, ok := strings.CutPrefix(k, propTopicCreationPrefix)
		if !ok {
			continue
		}
		if !enabled {
			out[k] = append(out[k], topicCreationDisabledFix)
			continue
		}
		if k == propTopicCreationGroups {
			continue
		}
		if rest == topicCreationDefault+"."+topicGroupInclude || rest == topicCreationDefault+"."+topicGroupExclude {
			out[k] = append(out[k], "the default group creates every topic no other group matches and takes no include or exclude; "+
				"define a group in topic.creation.groups with its own include and exclude")
			continue
		}
		if !knownGroupProp(rest, groups) {
			out[k] = append(out[k], "names no group of topic.creation.groups (nor default); list the group in topic.creation.groups, "+
				"or remove the property")
		}
	}
	return out
}

// knownGroupProp reports whether rest (a property after
// "topic.creation.") is "<group>.<setting>" for one of groups. Group names
// may contain dots, so every split is tried.
func knownGroupProp(rest string, groups map[string]bool) bool {
	for i := strings.IndexByte(rest, '.'); i >= 0; {
		if groups[rest[:i]] && i+1 < len(rest) {
			return true
		}
		j := strings.IndexByte(rest[i+1:], '.')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return false
}

// topicSpec is how a topic is created.
type topicSpec struct {
	Partitions        int32 // -1: the broker's default
	ReplicationFactor int16 // -1: the broker's default
	Configs           map[string]string
	// Group is the topic creation group that matched, for the log.
	Group string
}

// topicGroup is one topic creation group.
type topicGroup struct {
	name             string
	include, exclude []*regexp.Regexp
	spec             topicSpec
}

// matches reports whether topic is included and not excluded. Each
// expression must match the whole name, as Kafka Connect's do.
func (g *topicGroup) matches(topic string) bool {
	return anyMatch(g.include, topic) && !anyMatch(g.exclude, topic)
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// topicCreation is a source connector's parsed topic creation settings.
type topicCreation struct {
	groups []*topicGroup // in topic.creation.groups order
	def    topicSpec
}

// spec returns how topic is created: by the first group that matches it,
// else by the default group.
func (tc *topicCreation) spec(topic string) topicSpec {
	for _, g := range tc.groups {
		if g.matches(topic) {
			return g.spec
		}
	}
	return tc.def
}

// parseTopicCreation parses and checks a source connector's topic
// creation properties. enabled is the worker's topic.creation.enable.
func parseTopicCreation(props map[string]string, enabled bool) (*topicCreation, error) {
	var errs config.Errors
	bad := topicCreationErrors(props, enabled)
	for _, k := range config.SortedKeys(bad) {
		for _, reason := range bad[k] {
			errs = append(errs, &config.Error{Key: k, Value: props[k], Reason: reason})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	v, err := topicCreationDef(props).Parse(props)
	if err != nil {
		return nil, err
	}
	groups := v.List(propTopicCreationGroups)
	tc := &topicCreation{def: groupSpec(v, props, topicCreationDefault, groups)}
	for _, g := range groups {
		tg := &topicGroup{name: g, spec: groupSpec(v, props, g, groups)}
		for _, re := range v.List(topicGroupProp(g, topicGroupInclude)) {
			tg.include = append(tg.include, regexp.MustCompile("^(?:"+re+")$"))
		}
		for _, re := range v.List(topicGroupProp(g, topicGroupExclude)) {
			tg.exclude = append(tg.exclude, regexp.MustCompile("^(?:"+re+")$"))
		}
		tc.groups = append(tc.groups, tg)
	}
	return tc, nil
}

// groupSpec returns group g's topic spec: its partitions and replication
// factor and every other topic.creation.<g>.<config> as a topic config.
// others are every group, so that a property of group "a.b" is not taken
// for a config "b.<x>" of group "a".
func groupSpec(v *config.Values, props map[string]string, g string, others []string) topicSpec {
	s := topicSpec{Group: g, Configs: map[string]string{},
		Partitions:        int32(v.Int(topicGroupProp(g, topicGroupPartitions))),
		ReplicationFactor: int16(v.Int(topicGroupProp(g, topicGroupRF)))}
	prefix := propTopicCreationPrefix + g + "."
	for k, val := range props {
		name, ok := strings.CutPrefix(k, prefix)
		if !ok || ownedByLongerGroup(k, g, others) {
			continue
		}
		switch name {
		case topicGroupInclude, topicGroupExclude, topicGroupPartitions, topicGroupRF:
			continue
		}
		s.Configs[name] = val
	}
	return s
}

// ownedByLongerGroup reports whether prop belongs to a group whose name
// starts with g + "." (group "a.b" owns topic.creation.a.b.x, not "a").
func ownedByLongerGroup(prop, g string, groups []string) bool {
	for _, o := range groups {
		if len(o) > len(g) && strings.HasPrefix(o, g+".") && strings.HasPrefix(prop, propTopicCreationPrefix+o+".") {
			return true
		}
	}
	return false
}
