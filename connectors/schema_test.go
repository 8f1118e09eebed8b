package connectors

import (
	"fmt"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wideStruct returns a struct schema of n optional string fields f0..fn-1,
// built with NewStruct or, with literal, as a composite literal whose
// Field.Index values are left zero.
func wideStruct(n int, literal bool) *Schema {
	fields := make([]Field, n)
	for i := range fields {
		fields[i] = Opt(fmt.Sprintf("f%d", i), OptionalStringSchema)
	}
	if literal {
		return &Schema{Type: Struct, Name: "wide", Fields: fields}
	}
	return NewStruct("wide", false, fields...)
}

func TestSchemaField(t *testing.T) {
	for _, literal := range []bool{false, true} {
		t.Run(fmt.Sprintf("literal=%v", literal), func(t *testing.T) {
			s := wideStruct(5, literal)
			for i := range 5 {
				f, ok := s.Field(fmt.Sprintf("f%d", i))
				if !ok || f.Index != i || f.Name != fmt.Sprintf("f%d", i) || f.Schema != OptionalStringSchema {
					t.Fatalf("Field(f%d) = %+v, %v", i, f, ok)
				}
			}
			if f, ok := s.Field("nope"); ok {
				t.Fatalf("Field(nope) = %+v, true", f)
			}
			v := NewStructValue(s).Set("f3", "x")
			if got := v.Get("f3"); got != "x" {
				t.Fatalf("Get(f3) = %v after Set", got)
			}
			if got := v.Values[3]; got != "x" {
				t.Fatalf("Set(f3) wrote Values %v", v.Values)
			}
		})
	}
	// Fields appended after NewStruct are still found, with their position.
	s := wideStruct(2, false)
	s.Fields = append(s.Fields, Opt("late", StringSchema))
	if f, ok := s.Field("late"); !ok || f.Index != 2 {
		t.Fatalf("Field(late) = %+v, %v", f, ok)
	}
	var nilSchema *Schema
	if _, ok := nilSchema.Field("x"); ok {
		t.Fatal("nil schema has a field")
	}
	if _, ok := StringSchema.Field("x"); ok {
		t.Fatal("string schema has a field")
	}
}

// TestSchemaFieldShared looks fields up in one schema from many goroutines
// at once, as tasks do with the schemas their records share; run with
// -race. Literal schemas (no index built at construction) are the case
// that used to write the lazily built index from every goroutine.
func TestSchemaFieldShared(t *testing.T) {
	for _, literal := range []bool{false, true} {
		t.Run(fmt.Sprintf("literal=%v", literal), func(t *testing.T) {
			s := wideStruct(20, literal)
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					v := NewStructValue(s)
					for n := range 200 {
						i := (g + n) % 20
						name := fmt.Sprintf("f%d", i)
						f, ok := s.Field(name)
						if !ok || f.Index != i {
							errs <- fmt.Errorf("goroutine %d: Field(%s) = %+v, %v", g, name, f, ok)
							return
						}
						v.Set(name, name)
						if v.Get(name) != name {
							errs <- fmt.Errorf("goroutine %d: Get(%s) after Set = %v", g, name, v.Get(name))
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// BenchmarkSchemaField is the per-record lookup of a field by name (the
// JDBC sink's envelope fields, StructValue.Get and Set).
func BenchmarkSchemaField(b *testing.B) {
	for _, literal := range []bool{false, true} {
		for _, n := range []int{4, 20} {
			b.Run(fmt.Sprintf("literal=%v/fields=%d", literal, n), func(b *testing.B) {
				s := wideStruct(n, literal)
				names := make([]string, n)
				for i := range names {
					names[i] = fmt.Sprintf("f%d", i)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, ok := s.Field(names[i%n]); !ok {
						b.Fatal("missing")
					}
				}
			})
		}
	}
}
