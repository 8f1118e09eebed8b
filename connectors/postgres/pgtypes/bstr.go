package pgtypes

import "unsafe"

// bstr views b as a string without copying, for parsers that do not
// retain their argument (strconv.ParseFloat and the like).
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
