package tracing

import (
	"context"
	"errors"
	"testing"
	"time"
)

// selBenchSink discards batches; it lets the selection benchmarks build a
// client without depending on the other tests' helpers.
type selBenchSink struct{}

func (selBenchSink) Write(context.Context, []TraceEvent) error { return nil }
func (selBenchSink) Flush(context.Context) error               { return nil }
func (selBenchSink) Close(context.Context) error               { return nil }

func benchAdmit(b *testing.B, cfg TracingConfig, ev TraceEvent, want dropReason, opts ...func(*selector)) {
	s := mustSelector(b, cfg, opts...)
	ev.TraceID = NewTraceID()
	if e := ev; s.admit(&e, 0.5) != want && want != keep {
		b.Fatalf("admit did not give reason %d", want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e := ev
		s.admit(&e, 0.5)
	}
}

// BenchmarkSelectBaseline is the floor of the admit benchmarks: copying
// the event and an admit that has nothing to do.
func BenchmarkSelectBaseline(b *testing.B) {
	benchAdmit(b, DefaultConfig(), messageSent("sensor", "out", "T", 1), keep, func(s *selector) { *s = selector{} })
}

// BenchmarkSelectRejects is the pre-check of the recording methods for an
// excluded actor.
func BenchmarkSelectRejects(b *testing.B) {
	c := DefaultConfig()
	c.Filters = FilterConfig{ActorPatterns: []string{"sensor_*", "processor_*"}, ExcludeActors: []string{"debug_*", "test_*"}}
	s := mustSelector(b, c)
	b.ReportAllocs()
	for b.Loop() {
		if !s.rejects(KindMessageSent, "debug_probe") {
			b.Fatal("not rejected")
		}
	}
}

func BenchmarkSelectFilteredOutByActor(b *testing.B) {
	c := DefaultConfig()
	c.Filters = FilterConfig{ActorPatterns: []string{"sensor_*", "processor_*"}, ExcludeActors: []string{"debug_*", "test_*"}}
	benchAdmit(b, c, messageSent("debug_probe", "out", "T", 1), dropFiltered)
}

func BenchmarkSelectFilteredOutByGlob(b *testing.B) {
	c := DefaultConfig()
	c.Filters = FilterConfig{ExcludeActors: []string{"debug_[0-9]*"}}
	benchAdmit(b, c, messageSent("debug_7_probe", "out", "T", 1), dropFiltered)
}

func BenchmarkSelectFilteredOutByKind(b *testing.B) {
	c := DefaultConfig()
	c.Filters = FilterConfig{EventTypes: []EventKind{KindActorCreated, KindActorFailed}}
	benchAdmit(b, c, dataFlow("sensor", "out", "proc", "in", "T", 1), dropFiltered)
}

func BenchmarkSelectFilteredOutByPredicate(b *testing.B) {
	pred := func(s *selector) {
		s.filter.preds = append(s.filter.preds, func(ev *TraceEvent) bool { return ev.Data.Port != "out" })
	}
	benchAdmit(b, DefaultConfig(), messageSent("sensor", "out", "T", 1), dropFiltered, pred)
}

func BenchmarkSelectSampledOutPercentage(b *testing.B) {
	c := DefaultConfig()
	c.Sampling = SamplingConfig{Strategy: "percentage", Rate: 0}
	benchAdmit(b, c, messageSent("sensor", "out", "T", 1), dropSampled)
}

func BenchmarkSelectSampledOutPerTrace(b *testing.B) {
	c := DefaultConfig()
	c.Sampling = SamplingConfig{Strategy: "percentage", Rate: 0, PerTrace: true}
	benchAdmit(b, c, messageSent("sensor", "out", "T", 1), dropSampled)
}

func BenchmarkSelectSampledOutAdaptive(b *testing.B) {
	c := DefaultConfig()
	c.Sampling = SamplingConfig{Strategy: "adaptive", Rate: 0, MaxRate: 0.5, LoadThreshold: 0.25}
	benchAdmit(b, c, messageSent("sensor", "out", "T", 1), keep) // about 1 in 3 kept at fill 0.5
}

func BenchmarkSelectEveryNth(b *testing.B) {
	c := DefaultConfig()
	c.Sampling = SamplingConfig{Strategy: "every_nth", N: 10}
	benchAdmit(b, c, messageSent("sensor", "out", "T", 1), keep)
}

func BenchmarkSelectKeptContentDropped(b *testing.B) {
	ev := messageSent("sensor", "out", "T", 3)
	ev.Data.Message.SerializedData = []byte{1, 2, 3}
	benchAdmit(b, DefaultConfig(), ev, keep)
}

func BenchmarkSelectKeptAnonymized(b *testing.B) {
	c := DefaultConfig()
	c.Privacy = PrivacyConfig{AnonymizeActors: true, AnonymizeKey: "bench"}
	benchAdmit(b, c, dataFlow("sensor", "out", "proc", "in", "T", 1), keep)
}

// BenchmarkSelectParallel runs a filtered-out and a sampled-out admit from
// parallel goroutines (run with -cpu 1,2): nothing shared is written.
func BenchmarkSelectParallel(b *testing.B) {
	c := DefaultConfig()
	c.Filters = FilterConfig{ExcludeActors: []string{"debug_*"}}
	c.Sampling = SamplingConfig{Strategy: "percentage", Rate: 0}
	s := mustSelector(b, c)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		filtered, sampled := messageSent("debug_1", "out", "T", 1), messageSent("sensor", "out", "T", 1)
		for i := 0; pb.Next(); i++ {
			e := filtered
			if i&1 == 1 {
				e = sampled
			}
			s.admit(&e, 0.5)
		}
	})
}

// newSelectionClient returns an enabled client that filters out actors
// named debug_*.
func newSelectionClient(tb testing.TB) *TracingClient {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.Filters.ExcludeActors = []string{"debug_*"}
	c, err := New(cfg, WithSink(selBenchSink{}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := c.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return c
}

// BenchmarkSelectRecordFilteredOut is the whole cost of recording an event
// that the filter drops: Record, filling ids and causality, admit.
func BenchmarkSelectRecordFilteredOut(b *testing.B) {
	c := newSelectionClient(b)
	ctx := context.Background()
	ev := messageSent("debug_probe", "out", "T", 1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c.Record(ctx, ev)
	}
	b.StopTimer()
	if m := c.Metrics(); m.Dropped.Filtered < uint64(b.N) {
		b.Fatalf("filtered %d of %d", m.Dropped.Filtered, b.N)
	}
}

// BenchmarkSelectRecordFilteredOutByMethod records through a per-kind
// method, which builds the event itself.
func BenchmarkSelectRecordFilteredOutByMethod(b *testing.B) {
	c := newSelectionClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c.DataFlow(ctx, "debug_probe", "out", "proc", "in", "T", 1)
	}
}

func TestSelectRecordFilteredOutDoesNotAllocate(t *testing.T) {
	c := newSelectionClient(t)
	ctx := context.Background()
	ev := messageSent("debug_probe", "out", "T", 1)
	allocs := testing.AllocsPerRun(1000, func() {
		c.Record(ctx, ev)
		c.DataFlow(ctx, "debug_probe", "out", "proc", "in", "T", 1)
	})
	if allocs != 0 {
		t.Fatalf("recording a filtered-out event allocates %v times", allocs)
	}
	if m := c.Metrics(); m.Dropped.Filtered < 2000 {
		t.Fatalf("Filtered = %d, want at least 2000", m.Dropped.Filtered)
	}
}

func TestSelectRecordCountsByReason(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Filters.ExcludeActors = []string{"debug_*"}
	cfg.Sampling = SamplingConfig{Strategy: "every_nth", N: 2}
	redacted := make(chan string, 8)
	c, err := New(cfg, WithSink(selBenchSink{}),
		WithFilter(func(ev *TraceEvent) bool { return ev.Data.Port != "secret" }),
		WithRedactor(func(ev *TraceEvent) { redacted <- ev.ActorID }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c.MessageSent(ctx, "debug_1", "out", "T", 1) // filtered by config
	c.MessageSent(ctx, "a", "secret", "T", 1)    // filtered by WithFilter
	c.MessageSent(ctx, "a", "out", "T", 1)       // 1st sampled: kept
	c.MessageSent(ctx, "b", "out", "T", 1)       // 2nd sampled: dropped
	c.ActorFailed(ctx, "c", errBoomSel)          // critical: kept
	if err := c.Close(ctxTimeoutSel(t)); err != nil {
		t.Fatal(err)
	}
	m := c.Metrics()
	if m.Dropped.Filtered != 2 || m.Dropped.SampledOut != 1 {
		t.Fatalf("dropped %+v, want 2 filtered and 1 sampled out", m.Dropped)
	}
	close(redacted)
	var got []string
	for a := range redacted {
		got = append(got, a)
	}
	if len(got) != 2 || got[0] != "a" || got[1] != "c" {
		t.Fatalf("redactor saw %v, want [a c]", got)
	}
}

func ctxTimeoutSel(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var errBoomSel = errors.New("boom")
