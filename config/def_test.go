package config

import (
	"errors"
	"fmt"
	"testing"
)

// ByKey files each problem under its property, others under "".
func TestByKey(t *testing.T) {
	if ByKey(nil) != nil {
		t.Fatal("ByKey(nil) is not nil")
	}
	got := ByKey(fmt.Errorf("parsing: %w", Errors{{Key: "a", Reason: "bad"}, {Key: "a", Reason: "worse"}, {Key: "b", Reason: "no"}}))
	if fmt.Sprint(got) != "map[a:[bad worse] b:[no]]" {
		t.Errorf("Errors: %v", got)
	}
	if got := ByKey(&Error{Key: "c", Reason: "off"}); fmt.Sprint(got) != "map[c:[off]]" {
		t.Errorf("Error: %v", got)
	}
	if got := ByKey(errors.New("whole")); fmt.Sprint(got) != "map[:[whole]]" {
		t.Errorf("other: %v", got)
	}
}
