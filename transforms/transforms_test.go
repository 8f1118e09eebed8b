package transforms

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

// suffix appends its "suffix" option to the topic; "fail" makes it error.
type suffix struct{ s string }

func (*suffix) Config() *config.Def { return config.NewDef() }
func (t *suffix) Configure(p map[string]string) error {
	if p["suffix"] == "" {
		return errors.New("suffix is required")
	}
	t.s = p["suffix"]
	return nil
}
func (t *suffix) Apply(r *connectors.Record) (*connectors.Record, error) {
	if t.s == "fail" {
		return nil, errors.New("boom")
	}
	r.Topic += t.s
	return r, nil
}

// drop drops every record.
type drop struct{}

func (drop) Config() *config.Def                                  { return config.NewDef() }
func (drop) Configure(map[string]string) error                    { return nil }
func (drop) Apply(*connectors.Record) (*connectors.Record, error) { return nil, nil }

// topicIs tests the record's topic against its "topic" option.
type topicIs struct{ topic string }

func (*topicIs) Config() *config.Def { return config.NewDef() }
func (p *topicIs) Configure(c map[string]string) error {
	p.topic = c["topic"]
	return nil
}
func (p *topicIs) Test(r *connectors.Record) bool { return r.Topic == p.topic }

var reg = NewRegistry(
	Plugin{Name: "suffix", Class: "com.example.Suffix", NewTransform: func() Transform { return &suffix{} }},
	Plugin{Name: "drop", Class: "com.example.Drop", NewTransform: func() Transform { return drop{} }},
	Plugin{Name: "topic-is", Class: "com.example.TopicIs", NewPredicate: func() Predicate { return &topicIs{} }},
)

func TestChain(t *testing.T) {
	tests := []struct {
		name    string
		props   map[string]string
		topic   string
		want    string // "" means dropped
		wantErr string
	}{
		{name: "no transforms", props: map[string]string{}, topic: "a", want: "a"},
		{name: "in order, by class or short name", topic: "a", want: "a-1-2", props: map[string]string{
			"transforms": "one, two", "transforms.one.type": "com.example.Suffix", "transforms.one.suffix": "-1",
			"transforms.two.type": "suffix", "transforms.two.suffix": "-2"}},
		{name: "dropped", topic: "a", want: "", props: map[string]string{
			"transforms": "d,s", "transforms.d.type": "drop", "transforms.s.type": "suffix", "transforms.s.suffix": "-x"}},
		{name: "predicate true applies", topic: "a", want: "a-p", props: map[string]string{
			"transforms": "s", "transforms.s.type": "suffix", "transforms.s.suffix": "-p", "transforms.s.predicate": "isA",
			"predicates": "isA", "predicates.isA.type": "topic-is", "predicates.isA.topic": "a"}},
		{name: "predicate false skips", topic: "b", want: "b", props: map[string]string{
			"transforms": "s", "transforms.s.type": "suffix", "transforms.s.suffix": "-p", "transforms.s.predicate": "isA",
			"predicates": "isA", "predicates.isA.type": "topic-is", "predicates.isA.topic": "a"}},
		{name: "negate", topic: "b", want: "b-n", props: map[string]string{
			"transforms": "s", "transforms.s.type": "suffix", "transforms.s.suffix": "-n", "transforms.s.predicate": "isA",
			"transforms.s.negate": "true", "predicates": "isA", "predicates.isA.type": "topic-is", "predicates.isA.topic": "a"}},
		{name: "apply error names the transform", topic: "a", wantErr: "transform s: boom", props: map[string]string{
			"transforms": "s", "transforms.s.type": "suffix", "transforms.s.suffix": "fail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := reg.NewChain(tt.props)
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.Apply(&connectors.Record{Topic: tt.topic})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if out != nil {
					t.Fatalf("record not dropped: %+v", out)
				}
				return
			}
			if out == nil || out.Topic != tt.want {
				t.Fatalf("topic = %v, want %q", out, tt.want)
			}
		})
	}
}

func TestChainConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
		want  string
	}{
		{"missing type", map[string]string{"transforms": "x"}, "transforms.x.type"},
		{"unknown transform lists installed", map[string]string{"transforms": "x", "transforms.x.type": "Nope"}, "com.example.Drop, com.example.Suffix"},
		{"predicate used as transform", map[string]string{"transforms": "x", "transforms.x.type": "topic-is"}, "not an installed transform"},
		{"configure error", map[string]string{"transforms": "x", "transforms.x.type": "suffix"}, "suffix is required"},
		{"undeclared predicate", map[string]string{"transforms": "x", "transforms.x.type": "drop", "transforms.x.predicate": "p"}, "transforms.x.predicate"},
		{"unknown predicate", map[string]string{"predicates": "p", "predicates.p.type": "Nope"}, "predicates.p.type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := reg.NewChain(tt.props)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestRegistryRejectsDuplicateNames(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a duplicate name")
		}
	}()
	NewRegistry(Plugin{Name: "a", NewTransform: func() Transform { return drop{} }},
		Plugin{Name: "b", Class: "a", NewTransform: func() Transform { return drop{} }})
}
