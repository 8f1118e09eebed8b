package runtime

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"log/slog"

	"github.com/sluice-cdc/sluice/config"
)

// scrubHandler is a slog.Handler that passes every record on to next with
// the values a connector's provider references resolved to replaced by
// the references as written and the plain values of its sensitive
// properties by [hidden] (res.Scrub, see sensitiveValues), and
// credentials inside URLs hidden (config.RedactText): in the message and
// in every attribute, those given to WithAttrs included, inside groups
// too. Every logger the herder gives a connector or a task goes through
// one, so that neither the runtime's lines about it (a poll error echoing
// a connection URL) nor the connector's own ever show a resolved value, a
// password set in the config or a URL password.
//
// A record with nothing to hide is passed on as it is; one with something
// is copied. Values of kind Any are checked as they render as text (an
// error's Error, a Stringer's String, a TextMarshaler's text, %+v
// otherwise) and replaced by the scrubbed text when it differs. Numbers,
// times and durations are checked only when res has values to hide, as
// they cannot hold URL credentials. Attribute keys and group names are
// code's, not values, and are left alone.
//
// Safe for concurrent use when next is.
type scrubHandler struct {
	next slog.Handler
	res  *config.Resolved
	// hasValues: res has values to hide (else only URL credentials are).
	hasValues bool
}

// scrubbedLogger returns l with its output scrubbed of what res hides
// (resolved and sensitive values) and of URL credentials. res may be nil.
func scrubbedLogger(l *slog.Logger, res *config.Resolved) *slog.Logger {
	next := l.Handler()
	if s, ok := next.(*scrubHandler); ok {
		// Scrubbing twice is harmless but wasteful: scrub what both
		// resolved in one pass.
		next, res = s.next, config.Merge(s.res, res)
	}
	return slog.New(&scrubHandler{next: next, res: res, hasValues: res.HasValues()})
}

// sensitiveValues returns the values of the properties def marks
// sensitive (type PASSWORD or Sensitive) in cfgs, as the connector or
// task was given them. With config.Resolved.Hiding they are scrubbed to
// [hidden] from the lines logged about the connector or task and from its
// status traces: a secret written in the config as it is (not a
// reference) that a connector echoes, in a driver error quoting the DSN
// or a debug line, is not shown. A value a reference resolved to keeps
// showing as the reference.
func sensitiveValues(def *config.Def, cfgs ...map[string]string) []string {
	var out []string
	for _, cfg := range cfgs {
		for k, v := range cfg {
			if key, ok := def.Key(k); ok && key.IsSensitive() {
				out = append(out, v)
			}
		}
	}
	return out
}

func (h *scrubHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i], _ = h.attr(a)
	}
	return &scrubHandler{next: h.next.WithAttrs(out), res: h.res, hasValues: h.hasValues}
}

func (h *scrubHandler) WithGroup(name string) slog.Handler {
	return &scrubHandler{next: h.next.WithGroup(name), res: h.res, hasValues: h.hasValues}
}

func (h *scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	msg := h.text(r.Message)
	changed := msg != r.Message
	var buf [8]slog.Attr
	as := buf[:0]
	r.Attrs(func(a slog.Attr) bool {
		a, c := h.attr(a)
		changed = changed || c
		as = append(as, a)
		return true
	})
	if !changed {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	out.AddAttrs(as...)
	return h.next.Handle(ctx, out)
}

// text scrubs s.
func (h *scrubHandler) text(s string) string {
	if h.hasValues {
		s = h.res.Scrub(s)
	}
	return config.RedactText(s)
}

// attr returns a scrubbed and whether it differs from a.
func (h *scrubHandler) attr(a slog.Attr) (slog.Attr, bool) {
	v, changed := h.value(a.Value)
	if changed {
		a.Value = v
	}
	return a, changed
}

func (h *scrubHandler) value(v slog.Value) (slog.Value, bool) {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindString:
		s := v.String()
		if t := h.text(s); t != s {
			return slog.StringValue(t), true
		}
		return v, false
	case slog.KindGroup:
		g := v.Group()
		var out []slog.Attr
		for i, a := range g {
			sa, c := h.attr(a)
			if c && out == nil {
				out = make([]slog.Attr, len(g))
				copy(out, g[:i])
			}
			if out != nil {
				out[i] = sa
			}
		}
		if out == nil {
			return v, false
		}
		return slog.GroupValue(out...), true
	case slog.KindAny:
		return h.anyValue(v)
	default:
		// Numbers, bools, times, durations: only a resolved value can
		// match them.
		if !h.hasValues {
			return v, false
		}
		s := v.String()
		if t := h.res.Scrub(s); t != s {
			return slog.StringValue(t), true
		}
		return v, false
	}
}

// anyValue scrubs a value of kind Any as slog's handlers render it: as
// text the TextHandler's way (a TextMarshaler's text, a byte slice as a
// string, %+v otherwise, which is an error's Error and a Stringer's
// String) and, for an error, its Error as the JSONHandler writes it. A
// value that needs no change keeps its type, so that handlers render it
// as before; one that does becomes its scrubbed text (an error stays an
// error). A value that panics when rendered (a nil pointer) is left for
// the next handler to report.
func (h *scrubHandler) anyValue(v slog.Value) (out slog.Value, changed bool) {
	defer func() {
		if recover() != nil {
			out, changed = v, false
		}
	}()
	var s string
	switch x := v.Any().(type) {
	case nil:
		return v, false
	case encoding.TextMarshaler:
		b, err := x.MarshalText()
		if err != nil {
			return v, false
		}
		s = string(b)
	case []byte:
		s = string(x)
	case error:
		if _, ok := x.(fmt.Formatter); !ok {
			s = x.Error() // what %+v prints, without formatting it
			break
		}
		s = fmt.Sprintf("%+v", x)
	default:
		s = fmt.Sprintf("%+v", x)
	}
	t := h.text(s)
	if err, ok := v.Any().(error); ok {
		e := err.Error()
		if se := h.text(e); se != e || t != s {
			return slog.AnyValue(errors.New(se)), true
		}
		return v, false
	}
	if t != s {
		return slog.StringValue(t), true
	}
	return v, false
}
