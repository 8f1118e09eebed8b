package cdc

import "regexp"

// Anchored compiles the patterns of an include or exclude list
// (table.include.list and the like), each matching a whole name as
// Debezium's do. The patterns must have been validated (config.Regex):
// an invalid one panics.
func Anchored(patterns []string) []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, p := range patterns {
		out = append(out, regexp.MustCompile("^(?:"+p+")$"))
	}
	return out
}
