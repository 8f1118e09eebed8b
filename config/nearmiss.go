package config

import "strings"

// Mistyped property names.
//
// Kafka Connect ignores properties a definition does not know (they may
// be meant for a transform, a converter or a client override), and so
// does Sluice. A name a typing slip away from a defined one is most
// likely that one mistyped: a required property mistyped is refused with
// the suggestion, an optional one is worth a warning.

// NearMisses returns the properties of props that d does not define but
// that are a slip away from a name it does define (a letter changed,
// added, dropped or two swapped; two such slips for names of 8 or more
// characters; any change of case), each mapped to that name.
func (d *Def) NearMisses(props map[string]string) map[string]string {
	var out map[string]string
	for p := range props {
		if name, ok := d.nearMiss(p); ok {
			if out == nil {
				out = map[string]string{}
			}
			out[p] = name
		}
	}
	return out
}

// mistypedAs returns the undefined property of props that is a near miss
// of name (the first in order, if several), or "".
func (d *Def) mistypedAs(props map[string]string, name string) string {
	for _, p := range SortedKeys(props) {
		if n, ok := d.nearMiss(p); ok && n == name {
			return p
		}
	}
	return ""
}

// nearMiss returns the defined name closest to the undefined property p,
// if it is near enough; ties go to the first defined.
func (d *Def) nearMiss(p string) (string, bool) {
	if _, ok := d.byName[p]; ok {
		return "", false
	}
	lp := strings.ToLower(p)
	best, bestDist := "", -1
	for _, k := range d.keys {
		names := append([]string{k.Name}, k.Aliases...)
		for _, n := range names {
			limit := 1
			if len(n) >= 8 {
				limit = 2
			}
			dist := editDistance(lp, strings.ToLower(n), limit)
			if dist <= limit && (bestDist < 0 || dist < bestDist) {
				best, bestDist = k.Name, dist
			}
		}
	}
	return best, bestDist >= 0
}

// editDistance is the optimal string alignment distance between a and b
// (insertions, deletions, substitutions and swaps of adjacent bytes), or
// limit+1 when it is more than limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	if prev[len(b)] > limit {
		return limit + 1
	}
	return prev[len(b)]
}
