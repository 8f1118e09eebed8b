package runtime

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/transforms"
	"github.com/twmb/franz-go/pkg/kgo"
)

// lazyConnector's task returns one record whose value is a LazyStruct,
// whether or not its context offers lazy values, and notes what the
// context offered and how the value was encoded.
type lazyConnector struct{ props map[string]string }

func (c *lazyConnector) Config() *config.Def { return config.NewDef() }
func (c *lazyConnector) Start(_ context.Context, _ connectors.ConnectorContext, props map[string]string) error {
	c.props = props
	return nil
}
func (c *lazyConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{c.props}, nil
}
func (*lazyConnector) Stop(context.Context) error     { return nil }
func (*lazyConnector) NewTask() connectors.SourceTask { return &lazyTask{} }

// lazySeen records, per connector, what its task saw.
var lazySeen struct {
	sync.Mutex
	offered, appended, built map[string]bool
}

func noteLazy(m *map[string]bool, name string) {
	lazySeen.Lock()
	defer lazySeen.Unlock()
	if *m == nil {
		*m = map[string]bool{}
	}
	(*m)[name] = true
}

func seenLazy(m *map[string]bool, name string) bool {
	lazySeen.Lock()
	defer lazySeen.Unlock()
	return (*m)[name]
}

var lazySchema = connectors.NewStruct("lazy.Value", false,
	connectors.Opt("a", connectors.Int32Schema), connectors.Opt("s", connectors.StringSchema))

type lazyTask struct {
	name string
	done bool
}

func (t *lazyTask) Start(_ context.Context, tctx connectors.SourceTaskContext, props map[string]string) error {
	t.name = props["name"]
	if connectors.LazyValues(tctx) {
		noteLazy(&lazySeen.offered, t.name)
	}
	return nil
}

func (t *lazyTask) Poll(ctx context.Context) ([]*connectors.Record, error) {
	if t.done {
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
		return nil, nil
	}
	t.done = true
	return []*connectors.Record{{Topic: "lazy-" + t.name, ValueSchema: lazySchema, Value: &testLazy{name: t.name}}}, nil
}
func (*lazyTask) Stop(context.Context) error { return nil }

type testLazy struct{ name string }

func (l *testLazy) Build() (*connectors.StructValue, error) {
	noteLazy(&lazySeen.built, l.name)
	v := connectors.NewStructValue(lazySchema)
	v.Values[0], v.Values[1] = int32(7), "x\n"
	return v, nil
}

func (l *testLazy) Visit(w connectors.FieldWriter) error {
	noteLazy(&lazySeen.appended, l.name)
	if err := w.Int(7, nil); err != nil {
		return err
	}
	return w.Text([]byte("x\n"))
}

// noopTransform passes records through: a chain that is not empty.
var noopTransform = transforms.Plugin{Name: "noop", NewTransform: func() transforms.Transform { return noop{} }}

type noop struct{}

func (noop) Config() *config.Def                                    { return config.NewDef() }
func (noop) Configure(map[string]string) error                      { return nil }
func (noop) Apply(r *connectors.Record) (*connectors.Record, error) { return r, nil }

// TestLazyValues checks that a task is offered lazy values only when no
// transform runs and the converters encode them, that they are then
// encoded without being built, and that otherwise they are built: the
// same bytes either way.
func TestLazyValues(t *testing.T) {
	w := startWorker(t, nil)
	cases := []struct {
		name   string
		config map[string]string
		lazy   bool
	}{
		{"plain", map[string]string{}, true},
		{"transformed", map[string]string{"transforms": "n", "transforms.n.type": "noop"}, false},
		{"string", map[string]string{"value.converter": "org.apache.kafka.connect.storage.StringConverter"}, false},
	}
	for _, c := range cases {
		cfg := map[string]string{"connector.class": "lazy", "name": c.name}
		for k, v := range c.config {
			cfg[k] = v
		}
		w.do(t, "POST", "/connectors", map[string]any{"name": c.name, "config": cfg}, 201, nil)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.bootstrap), kgo.ConsumeTopics("lazy-plain", "lazy-transformed", "lazy-string"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(got) < len(cases) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("records read: %v", got)
		}
		fs.EachRecord(func(r *kgo.Record) { got[r.Topic] = string(r.Value) })
	}
	for _, c := range cases {
		want := `{"a":7,"s":"x\n"}`
		if c.name == "string" {
			want = `Struct{a=7,s=x` + "\n" + `}`
		}
		if v := got["lazy-"+c.name]; v != want {
			t.Errorf("%s: value %q, want %q", c.name, v, want)
		}
		if o, a, b := seenLazy(&lazySeen.offered, c.name), seenLazy(&lazySeen.appended, c.name), seenLazy(&lazySeen.built, c.name); o != c.lazy || a != c.lazy || b == c.lazy {
			t.Errorf("%s: offered %v, appended %v, built %v; want lazy=%v", c.name, o, a, b, c.lazy)
		}
	}
}
