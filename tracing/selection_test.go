package tracing

import (
	"errors"
	"strings"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

func mustSelector(t testing.TB, cfg TracingConfig, opts ...func(*selector)) *selector {
	t.Helper()
	s, err := newSelector(&cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSelectorNilWhenNothingToDo(t *testing.T) {
	c := DefaultConfig()
	c.Privacy.CaptureContent = true
	if s := mustSelector(t, c); s != nil {
		t.Fatalf("selector = %+v, want nil", s)
	}
	var nilSel *selector
	ev := messageSent("a", "out", "T", 1)
	if nilSel.admit(&ev, 1) != keep {
		t.Fatal("nil selector dropped an event")
	}
	var zero selector
	ev.Data.Message.SerializedData = []byte{1}
	if zero.admit(&ev, 1) != keep || ev.Data.Message.SerializedData == nil {
		t.Fatal("zero selector dropped or redacted an event")
	}
	// The default config drops content, so it needs a selector.
	if s := mustSelector(t, DefaultConfig()); s == nil {
		t.Fatal("default config has no selector: content would leave the process")
	}
}

func TestNewSelectorErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*TracingConfig)
		field  string
	}{
		{"actor pattern", func(c *TracingConfig) { c.Filters.ActorPatterns = []string{"["} }, "Filters.ActorPatterns[0]"},
		{"exclude pattern", func(c *TracingConfig) { c.Filters.ExcludeActors = []string{"["} }, "Filters.ExcludeActors[0]"},
		{"event type", func(c *TracingConfig) { c.Filters.EventTypes = []EventKind{99} }, "Filters.EventTypes[0]"},
		{"critical kind", func(c *TracingConfig) { c.CriticalKinds = []EventKind{KindDataFlow, 0} }, "CriticalKinds[1]"},
		{"strategy", func(c *TracingConfig) { c.Sampling.Strategy = "bogus" }, "Sampling.Strategy"},
		{"every nth", func(c *TracingConfig) { c.Sampling.Strategy = "every_nth" }, "Sampling.N"},
		{"drop pattern", func(c *TracingConfig) { c.Privacy.DropAttributes = []string{"["} }, "Privacy.DropAttributes[0]"},
		{"anonymize pattern", func(c *TracingConfig) {
			c.Privacy.AnonymizeAttributes = []string{"["}
			c.Privacy.AnonymizeKey = "k"
		}, "Privacy.AnonymizeAttributes[0]"},
		{"anonymize key", func(c *TracingConfig) { c.Privacy.AnonymizeActors = true }, "Privacy.AnonymizeKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			_, err := newSelector(&c)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("err = %v, want ErrInvalidConfig naming %s", err, tt.field)
			}
		})
	}
}

func TestAdmitFiltersBeforeSamplingAndRedactsOnlyKept(t *testing.T) {
	c := DefaultConfig()
	c.Filters.ExcludeActors = []string{"debug_*"}
	redacted := 0
	s := mustSelector(t, c, func(s *selector) {
		s.sampler = everyNthSampler(2)
		s.redact.user = append(s.redact.user, func(*TraceEvent) { redacted++ })
	})
	var got []dropReason
	for _, actor := range []string{"a", "debug_1", "b", "debug_2", "c", "d"} {
		ev := messageSent(actor, "out", "T", 1)
		got = append(got, s.admit(&ev, 0))
	}
	// Filtered events never reach the sampler, so they do not advance its
	// count: a, b, c, d are sampled 1st, 2nd, 3rd, 4th.
	want := []dropReason{keep, dropFiltered, dropSampled, dropFiltered, keep, dropSampled}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("reasons = %v, want %v", got, want)
		}
	}
	if redacted != 2 {
		t.Fatalf("redactor ran %d times, want 2 (kept events only)", redacted)
	}
}

func TestCriticalEventsAreNeverSampledOut(t *testing.T) {
	failing := messageSent("a", "out", "T", 1)
	failing.Data.Error = "boom"
	routine := []TraceEvent{
		messageSent("a", "out", "T", 1), messageReceived("a", "in", "T", 1),
		stateChanged("a", StateDiff{}), portConnected("a", "p"), portDisconnected("a", "p"),
		dataFlow("a", "o", "b", "i", "T", 1), networkEvent("a"), custom("a", "c"),
	}
	lifecycle := []TraceEvent{actorCreated("a"), actorStarted("a"), actorCompleted("a"), actorFailed("a", "x"), failing}

	tests := []struct {
		name     string
		critical []EventKind
		keep     []TraceEvent
		drop     []TraceEvent
	}{
		{"default critical kinds", nil, lifecycle, routine},
		{"configured critical kinds", []EventKind{KindDataFlow},
			[]TraceEvent{dataFlow("a", "o", "b", "i", "T", 1), actorFailed("a", "x"), failing},
			[]TraceEvent{actorCreated("a"), actorStarted("a"), messageSent("a", "out", "T", 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.CriticalKinds = tt.critical
			c.Sampling = SamplingConfig{Strategy: "percentage", Rate: 0}
			s := mustSelector(t, c)
			for _, ev := range tt.keep {
				for range 100 {
					if r := s.admit(&ev, 1); r != keep {
						t.Fatalf("%v (error %q) dropped: %v", ev.Type, ev.Data.Error, r)
					}
				}
			}
			for _, ev := range tt.drop {
				if r := s.admit(&ev, 1); r != dropSampled {
					t.Fatalf("%v: reason %v, want sampled out", ev.Type, r)
				}
			}
		})
	}
}

func TestCriticalEventsCanStillBeFiltered(t *testing.T) {
	c := DefaultConfig()
	c.Filters.EventTypes = []EventKind{KindDataFlow}
	s := mustSelector(t, c)
	ev := actorFailed("a", "boom")
	if r := s.admit(&ev, 0); r != dropFiltered {
		t.Fatalf("reason = %v, want filtered: filters are the user's explicit choice", r)
	}
}

func TestAdmitFromConfig(t *testing.T) {
	c := DefaultConfig()
	c.Filters = FilterConfig{ActorPatterns: []string{"sensor_*"}, EventTypes: []EventKind{KindMessageSent, KindActorCreated}}
	c.Sampling = SamplingConfig{Strategy: "every_nth", N: 2}
	c.Privacy = PrivacyConfig{AnonymizeActors: true, AnonymizeKey: testAnonKey}
	s := mustSelector(t, c)
	tests := []struct {
		name string
		ev   TraceEvent
		want dropReason
	}{
		{"other actor", messageSent("proc", "out", "T", 1), dropFiltered},
		{"other kind", messageReceived("sensor_1", "in", "T", 1), dropFiltered},
		{"first kept", messageSent("sensor_1", "out", "T", 1), keep},
		{"second sampled out", messageSent("sensor_1", "out", "T", 1), dropSampled},
		{"critical kept", actorCreated("sensor_1"), keep},
		{"third kept", messageSent("sensor_2", "out", "T", 1), keep},
	}
	for _, tt := range tests { // in order: EveryNth counts
		ev := tt.ev
		ev.Data.Message.SerializedData = []byte("x")
		if got := s.admit(&ev, 0); got != tt.want {
			t.Fatalf("%s: reason = %v, want %v", tt.name, got, tt.want)
		}
		if tt.want == keep && (!anonForm.MatchString(ev.ActorID) || ev.Data.Message.SerializedData != nil) {
			t.Fatalf("%s: kept event not redacted: actor %q", tt.name, ev.ActorID)
		}
	}
}

// applySelectorOptions builds the selector the way New does: newSelector,
// then the options' functions on it or on a zero selector.
func applySelectorOptions(t *testing.T, cfg TracingConfig, opts ...Option) (*selector, error) {
	t.Helper()
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	s, err := newSelector(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil && len(o.selectorOpts) > 0 {
		s = &selector{}
	}
	for _, f := range o.selectorOpts {
		f(s)
	}
	return s, nil
}

func TestSelectionOptions(t *testing.T) {
	capture := DefaultConfig()
	capture.Privacy.CaptureContent = true
	sampled := DefaultConfig()
	sampled.Sampling = SamplingConfig{Strategy: "percentage", Rate: 0}

	withContent := func() TraceEvent {
		ev := messageSent("a", "out", "T", 1)
		ev.Data.Message.SerializedData = []byte("x")
		return ev
	}
	tests := []struct {
		name        string
		cfg         TracingConfig
		opts        []Option
		ev          TraceEvent
		want        dropReason
		wantContent bool
		wantAttr    string
	}{
		{"filter drops", capture, []Option{WithFilter(func(ev *TraceEvent) bool { return ev.ActorID != "a" })}, withContent(), dropFiltered, true, ""},
		{"filter keeps", capture, []Option{WithFilter(func(*TraceEvent) bool { return true })}, withContent(), keep, true, ""},
		{"filters add up", capture, []Option{
			WithFilter(func(*TraceEvent) bool { return true }),
			WithFilter(func(*TraceEvent) bool { return false }),
		}, withContent(), dropFiltered, true, ""},
		{"sampler on zero selector", capture, []Option{WithSampler(percentageSampler(0))}, withContent(), dropSampled, true, ""},
		{"sampler replaces config", sampled, []Option{WithSampler(percentageSampler(1))}, withContent(), keep, false, ""},
		{"nil sampler turns sampling off", sampled, []Option{WithSampler(nil)}, withContent(), keep, false, ""},
		{"nil pointer sampler turns sampling off", sampled, []Option{WithSampler((*pointerSampler)(nil))}, withContent(), keep, false, ""},
		{"redactor on zero selector keeps content", capture, []Option{WithRedactor(func(ev *TraceEvent) {
			ev.Data.CustomAttributes.Set(attr.String("r", "1"))
		})}, withContent(), keep, true, "1"},
		{"redactors run in order", DefaultConfig(), []Option{
			WithRedactor(func(ev *TraceEvent) { ev.Data.CustomAttributes.Set(attr.String("r", "1")) }),
			WithRedactor(func(ev *TraceEvent) {
				v, _ := ev.Data.CustomAttributes.Get("r")
				ev.Data.CustomAttributes.Set(attr.String("r", v.Str()+"2"))
			}),
		}, withContent(), keep, false, "12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := applySelectorOptions(t, tt.cfg, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			ev := tt.ev
			if got := s.admit(&ev, 0); got != tt.want {
				t.Fatalf("reason = %v, want %v", got, tt.want)
			}
			if got := ev.Data.Message.SerializedData != nil; got != tt.wantContent {
				t.Fatalf("content kept = %v, want %v", got, tt.wantContent)
			}
			if v, _ := ev.Data.CustomAttributes.Get("r"); v.Str() != tt.wantAttr {
				t.Fatalf("attribute r = %q, want %q", v.Str(), tt.wantAttr)
			}
		})
	}
}

func TestSelectionOptionsRejectNil(t *testing.T) {
	tests := []struct {
		name   string
		opt    Option
		option string
	}{
		{"filter", WithFilter(nil), "WithFilter"},
		{"redactor", WithRedactor(nil), "WithRedactor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := applySelectorOptions(t, DefaultConfig(), tt.opt)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.option) {
				t.Fatalf("err = %v, want ErrInvalidConfig naming %s", err, tt.option)
			}
		})
	}
}

func TestAdmitDoesNotAllocate(t *testing.T) {
	filtered := DefaultConfig()
	filtered.Filters = FilterConfig{ActorPatterns: []string{"sensor_*"}, ExcludeActors: []string{"debug_*"}, EventTypes: []EventKind{KindMessageSent}}
	sampled := DefaultConfig()
	sampled.Sampling = SamplingConfig{Strategy: "percentage", Rate: 0}
	perTrace := DefaultConfig()
	perTrace.Sampling = SamplingConfig{Strategy: "adaptive", Rate: 0, MaxRate: 0.5, LoadThreshold: 0.5, PerTrace: true}
	anon := DefaultConfig()
	anon.Privacy = PrivacyConfig{AnonymizeActors: true, AnonymizeKey: testAnonKey, DropAttributes: []string{"secret_*"}}
	type foreign struct{ Sampler }
	userFilter := func(s *selector) {
		s.filter.preds = append(s.filter.preds, func(ev *TraceEvent) bool { return ev.ActorID != "drop" })
	}
	userSampler := func(s *selector) { s.sampler = foreign{percentageSampler(0.5)} }
	userRedactor := func(s *selector) {
		s.redact.user = append(s.redact.user, func(ev *TraceEvent) { ev.Data.CustomAttributes.Set(attr.Int("n", 2)) })
	}
	tests := []struct {
		name string
		cfg  TracingConfig
		ev   TraceEvent
		opts []func(*selector)
	}{
		{"excluded actor", filtered, messageSent("debug_x", "out", "T", 1), nil},
		{"not included actor", filtered, messageSent("proc_1", "out", "T", 1), nil},
		{"kind filtered", filtered, dataFlow("sensor_1", "out", "b", "in", "T", 1), nil},
		{"sampled out", sampled, messageSent("sensor_1", "out", "T", 1), nil},
		{"per trace", perTrace, messageSent("sensor_1", "out", "T", 1), nil},
		{"kept, content dropped", DefaultConfig(), messageSent("sensor_1", "out", "T", 1), nil},
		{"kept, cached actor anonymized", anon, dataFlow("sensor_1", "out", "b", "in", "T", 1), nil},
		{"user predicate drops", DefaultConfig(), messageSent("drop", "out", "T", 1), []func(*selector){userFilter}},
		{"user predicate keeps", DefaultConfig(), messageSent("keep", "out", "T", 1), []func(*selector){userFilter}},
		{"user sampler", DefaultConfig(), messageSent("a", "out", "T", 1), []func(*selector){userSampler}},
		{"user redactor", DefaultConfig(), messageSent("a", "out", "T", 1), []func(*selector){userRedactor}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSelector(t, tt.cfg, tt.opts...)
			ev := tt.ev
			ev.TraceID = NewTraceID()
			ev.Data.CustomAttributes.Set(attr.Int("n", 1))
			allocs := testing.AllocsPerRun(1000, func() {
				e := ev
				s.admit(&e, 0.75)
			})
			if allocs != 0 {
				t.Fatalf("admit allocates %v times per event", allocs)
			}
		})
	}
}

func TestRejectsAgreesWithAdmit(t *testing.T) {
	c := DefaultConfig()
	c.Privacy.CaptureContent = true
	c.Filters = FilterConfig{ActorPatterns: []string{"sensor_*", "proc"}, ExcludeActors: []string{"sensor_debug*"}, EventTypes: []EventKind{KindDataFlow, KindActorFailed}}
	s := mustSelector(t, c, func(s *selector) {
		// Predicates are not part of rejects: admit still applies them.
		s.filter.preds = append(s.filter.preds, func(*TraceEvent) bool { return true })
	})
	for _, actor := range []string{"sensor_1", "sensor_debug_2", "proc", "procx", ""} {
		for k := EventKind(0); k <= KindCustom+1; k++ {
			ev := TraceEvent{ActorID: actor, Type: TraceEventType{Kind: k}}
			want := s.admit(&ev, 0) == dropFiltered
			if got := s.rejects(k, actor); got != want {
				t.Errorf("rejects(%v, %q) = %v, admit filtered = %v", k, actor, got, want)
			}
		}
	}
	var nilSel *selector
	if nilSel.rejects(KindDataFlow, "x") {
		t.Error("nil selector rejects")
	}
}

// pointerSampler is a Sampler with a pointer receiver, which drops every
// event.
type pointerSampler struct{ calls int }

func (p *pointerSampler) Sample(*TraceEvent, float64) bool {
	p.calls++
	return false
}
