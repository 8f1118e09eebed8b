package mysql

import (
	"regexp"
	"strings"
)

// gtidFilter is gtid.source.includes / gtid.source.excludes: which
// transactions' row changes are emitted, by the source of their GTID
// (MySQL: the server UUID; MariaDB: "domain-server", as Debezium's
// MariaDB connector). Filtered transactions still move the offset and
// its GTID set, which always tracks every transaction read.
type gtidFilter struct {
	include, exclude []*regexp.Regexp
}

// gtidPatterns compiles a list of regular expressions matching a whole
// GTID source, case-insensitively (UUIDs are printed in lower case).
func gtidPatterns(patterns []string) []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, p := range patterns {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, regexp.MustCompile("(?i)^(?:"+p+")$"))
		}
	}
	return out
}

// gtidSource returns the part of a GTID the filters match: the UUID of
// a MySQL GTID (uuid:sequence, or uuid:tag:sequence), the domain and
// server of a MariaDB GTID (domain-server-sequence). ok is false for
// no GTID.
func gtidSource(gtid string, mariaDB bool) (string, bool) {
	if gtid == "" {
		return "", false
	}
	if mariaDB {
		i := strings.LastIndexByte(gtid, '-')
		if i <= 0 {
			return "", false
		}
		return gtid[:i], true
	}
	src, _, ok := strings.Cut(gtid, ":")
	if src == anonymousSID {
		return "", false // an anonymous GTID event: GTIDs are off
	}
	return src, ok
}

// anonymousSID is the server UUID of MySQL's anonymous GTID events.
const anonymousSID = "00000000-0000-0000-0000-000000000000"

// skips reports whether the transaction of gtid is filtered out. A
// transaction without a GTID (GTIDs off) is never filtered.
func (f gtidFilter) skips(gtid string, mariaDB bool) bool {
	if len(f.include) == 0 && len(f.exclude) == 0 {
		return false
	}
	src, ok := gtidSource(gtid, mariaDB)
	if !ok {
		return false
	}
	if len(f.include) > 0 {
		return !anyMatch(f.include, src)
	}
	return anyMatch(f.exclude, src)
}
