package registry

import (
	"context"
	"strings"
	"testing"
)

// ok is the expected outcome per level: which of BACKWARD and FORWARD
// accept the change (FULL needs both; NONE accepts everything; with one
// earlier version the transitive forms agree with the plain ones).
type ok struct{ backward, forward bool }

func TestCompatibilityMatrix(t *testing.T) {
	enum := func(symbols string, def string) string {
		s := `{"type":"enum","name":"Color","symbols":[` + symbols + `]`
		if def != "" {
			s += `,"default":"` + def + `"`
		}
		s += "}"
		return record("R", `{"name":"a","type":"int"},{"name":"c","type":`+s+`}`)
	}
	cases := []struct {
		name     string
		old, new string
		want     ok
	}{
		{"field added with default",
			record("R", `{"name":"a","type":"int"}`),
			record("R", `{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}`), ok{true, true}},
		{"optional field added (union with null, default null)",
			record("R", `{"name":"a","type":"int"}`),
			record("R", `{"name":"a","type":"int"},{"name":"b","type":["null","string"],"default":null}`), ok{true, true}},
		{"field added without default",
			record("R", `{"name":"a","type":"int"}`),
			record("R", `{"name":"a","type":"int"},{"name":"b","type":"string"}`), ok{false, true}},
		{"field with default removed",
			record("R", `{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}`),
			record("R", `{"name":"a","type":"int"}`), ok{true, true}},
		{"field without default removed",
			record("R", `{"name":"a","type":"int"},{"name":"b","type":"string"}`),
			record("R", `{"name":"a","type":"int"}`), ok{true, false}},
		{"int promoted to long",
			record("R", `{"name":"a","type":"int"}`), record("R", `{"name":"a","type":"long"}`), ok{true, false}},
		{"long narrowed to int",
			record("R", `{"name":"a","type":"long"}`), record("R", `{"name":"a","type":"int"}`), ok{false, true}},
		{"float promoted to double",
			record("R", `{"name":"a","type":"float"}`), record("R", `{"name":"a","type":"double"}`), ok{true, false}},
		{"string to bytes",
			record("R", `{"name":"a","type":"string"}`), record("R", `{"name":"a","type":"bytes"}`), ok{true, true}},
		{"bytes to string",
			record("R", `{"name":"a","type":"bytes"}`), record("R", `{"name":"a","type":"string"}`), ok{true, true}},
		{"int to string",
			record("R", `{"name":"a","type":"int"}`), record("R", `{"name":"a","type":"string"}`), ok{false, false}},
		{"enum symbol added", enum(`"RED","GREEN"`, ""), enum(`"RED","GREEN","BLUE"`, ""), ok{true, false}},
		{"enum symbol removed", enum(`"RED","GREEN","BLUE"`, ""), enum(`"RED","GREEN"`, ""), ok{false, true}},
		{"enum symbol removed, new enum has a default", enum(`"RED","GREEN","BLUE"`, ""), enum(`"RED","GREEN"`, "RED"), ok{true, true}},
		{"record renamed", record("R", `{"name":"a","type":"int"}`), record("S", `{"name":"a","type":"int"}`), ok{false, false}},
	}
	for _, c := range cases {
		for _, level := range levels {
			want := true
			switch {
			case level == LevelNone:
			case level.backward() && level.forward():
				want = c.want.backward && c.want.forward
			case level.backward():
				want = c.want.backward
			default:
				want = c.want.forward
			}
			t.Run(c.name+"/"+string(level), func(t *testing.T) {
				ctx := context.Background()
				s := openMem(t, &MemTopic{})
				if _, err := s.RegisterVersion(ctx, "sub", c.old); err != nil {
					t.Fatal(err)
				}
				if err := s.SetCompatibility(ctx, "sub", level); err != nil {
					t.Fatal(err)
				}
				reasons, err := s.CheckCompatibility("sub", -1, c.new)
				if err != nil {
					t.Fatal(err)
				}
				if got := len(reasons) == 0; got != want {
					t.Fatalf("compatible = %v, want %v (reasons %q)", got, want, reasons)
				}
				reg, err := s.RegisterVersion(ctx, "sub", c.new)
				if want {
					if err != nil || reg.Version != 2 || reg.ID != 2 {
						t.Fatalf("register = %+v, %v; want version 2, id 2", reg, err)
					}
					return
				}
				var e *Error
				if !asError(err, &e) || e.Code != CodeIncompatibleSchema || len(e.Reasons) == 0 ||
					!strings.Contains(e.Message, e.Reasons[0]) {
					t.Fatalf("register = %+v, %v; want a 409 naming the reasons", reg, err)
				}
			})
		}
	}
}

// TestCompatibilityTransitive registers three versions with NONE and
// checks a fourth change that is compatible with the latest version but
// not with the first, at each level.
func TestCompatibilityTransitive(t *testing.T) {
	cases := []struct {
		name          string
		v1, v2, v3    string
		plain, transi Level
	}{
		{"backward: field gets required, first version lacks it",
			record("R", `{"name":"a","type":"string"}`),
			record("R", `{"name":"a","type":"string"},{"name":"b","type":"string","default":"x"}`),
			record("R", `{"name":"a","type":"string"},{"name":"b","type":"string"}`),
			LevelBackward, LevelBackwardTransitive},
		{"forward: field dropped, first version needs it",
			record("R", `{"name":"a","type":"string"},{"name":"b","type":"string"}`),
			record("R", `{"name":"a","type":"string"},{"name":"b","type":"string","default":"x"}`),
			record("R", `{"name":"a","type":"string"}`),
			LevelForward, LevelForwardTransitive},
		{"full: field gets required, first version lacks it",
			record("R", `{"name":"a","type":"string"}`),
			record("R", `{"name":"a","type":"string"},{"name":"b","type":"string","default":"x"}`),
			record("R", `{"name":"a","type":"string"},{"name":"b","type":"string"}`),
			LevelFull, LevelFullTransitive},
	}
	for _, c := range cases {
		for _, level := range []Level{c.plain, c.transi} {
			t.Run(c.name+"/"+string(level), func(t *testing.T) {
				ctx := context.Background()
				s := openMem(t, &MemTopic{})
				must(t, s.SetCompatibility(ctx, "sub", LevelNone))
				for _, v := range []string{c.v1, c.v2} {
					if _, err := s.RegisterVersion(ctx, "sub", v); err != nil {
						t.Fatal(err)
					}
				}
				must(t, s.SetCompatibility(ctx, "sub", level))
				reasons, err := s.CheckCompatibility("sub", 0, c.v3)
				if err != nil {
					t.Fatal(err)
				}
				// Against version 2 alone it is always compatible.
				if r2, err := s.CheckCompatibility("sub", 2, c.v3); err != nil || len(r2) != 0 {
					t.Fatalf("against version 2: %q, %v", r2, err)
				}
				_, regErr := s.RegisterVersion(ctx, "sub", c.v3)
				if level.Transitive() {
					if len(reasons) == 0 || !strings.Contains(strings.Join(reasons, " "), "version 1") ||
						ErrorCode(regErr) != CodeIncompatibleSchema {
						t.Fatalf("transitive: reasons %q, register %v; want incompatible with version 1", reasons, regErr)
					}
					return
				}
				if len(reasons) != 0 || regErr != nil {
					t.Fatalf("non-transitive: reasons %q, register %v; want compatible", reasons, regErr)
				}
			})
		}
	}
}

// TestCompatibilityIgnoresSoftDeleted: a soft-deleted version is not
// checked, as Confluent's registry does.
func TestCompatibilityIgnoresSoftDeleted(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, &MemTopic{})
	v1 := record("R", `{"name":"a","type":"int"}`)
	if _, err := s.RegisterVersion(ctx, "sub", v1); err != nil {
		t.Fatal(err)
	}
	incompatible := record("R", `{"name":"a","type":"string"}`)
	if _, err := s.RegisterVersion(ctx, "sub", incompatible); ErrorCode(err) != CodeIncompatibleSchema {
		t.Fatalf("before delete: %v", err)
	}
	if _, err := s.DeleteVersion(ctx, "sub", 1, false); err != nil {
		t.Fatal(err)
	}
	reg, err := s.RegisterVersion(ctx, "sub", incompatible)
	if err != nil || reg.Version != 2 {
		t.Fatalf("after soft delete: %+v, %v; want version 2", reg, err)
	}
}

func TestParseLevel(t *testing.T) {
	for _, l := range levels {
		got, err := ParseLevel(strings.ToLower(string(l)))
		if err != nil || got != l {
			t.Fatalf("ParseLevel(%q) = %q, %v", strings.ToLower(string(l)), got, err)
		}
	}
	_, err := ParseLevel("SIDEWAYS")
	if ErrorCode(err) != CodeInvalidCompatibilityLevel || !strings.Contains(err.Error(), "FULL_TRANSITIVE") {
		t.Fatalf("ParseLevel(SIDEWAYS) = %v; want 42203 listing the levels", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func asError(err error, e **Error) bool {
	if err == nil {
		return false
	}
	var x *Error
	ok := errorsAs(err, &x)
	*e = x
	return ok
}
