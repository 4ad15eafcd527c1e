package actors

import (
	"context"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// runFunc is a Runner.
type runFunc func(ctx context.Context) error

func (f runFunc) Run(ctx context.Context) error { return f(ctx) }

// registered returns what RegisterMiddleware hands its next for actor.
func registered(t *testing.T, c *tracing.TracingClient, actor any) any {
	t.Helper()
	var got any
	reg := RegisterMiddleware(c, func(_ context.Context, _ string, a any) error {
		got = a
		return nil
	})
	if err := reg(context.Background(), "m", actor); err != nil {
		t.Fatal(err)
	}
	return got
}

// mustPanic calls f and returns the value it panicked with; it fails the
// test if f returned.
func mustPanic(t *testing.T, f func()) (value any) {
	t.Helper()
	defer func() { value = recover() }()
	f()
	t.Fatal("the panic did not go on")
	return nil
}

// failures returns the error messages of the ActorFailed events of trace
// (of any trace when trace is zero).
func failures(sink *recordSink, trace tracing.TraceID) []string {
	var out []string
	for _, e := range sink.snapshot() {
		if e.Type.Kind == tracing.KindActorFailed && (trace.IsZero() || e.TraceID == trace) {
			out = append(out, e.Data.Error)
		}
	}
	return out
}

// A nil *Envelope is handed to the actor like any message, with no cause.
func TestMessageRunnerNilEnvelopePointer(t *testing.T) {
	c := newTestClient(t, newRecordSink(), nil)
	called := false
	inner := messageRunnerFunc(func(_ context.Context, msg any) error {
		called = true
		return nil
	})
	r := registered(t, c, inner).(MessageRunner)
	if err := r.Run(context.Background(), (*Envelope[int])(nil)); err != nil {
		t.Fatal(err)
	}
	if !called {
		t.Fatal("the actor was not called")
	}
}

// A run that panics is recorded as ActorFailed with the panic's value, and
// the panic goes on.
func TestRunPanicRecordedAsFailure(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	r := registered(t, c, runFunc(func(context.Context) error { panic("kaboom") })).(Runner)
	if v := mustPanic(t, func() { _ = r.Run(ctx) }); v != "kaboom" {
		t.Fatalf("panicked with %v, want the run's own value", v)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := failures(sink, tracing.TraceID{}); len(got) != 1 || got[0] != "panic: kaboom" {
		t.Fatalf("ActorFailed errors %q, want [\"panic: kaboom\"]", got)
	}
}

// Serve whose handle panics records the actor's lifecycle as ActorFailed,
// not ActorCompleted, ends the message's own trace as failed, and lets
// the panic go on.
func TestServePanicRecordedAsFailure(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	lctx, life, err := c.StartTrace(ctx, "life", tracing.FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan Envelope[int], 1)
	in <- Envelope[int]{Msg: 1}
	v := mustPanic(t, func() {
		_ = Serve(lctx, c, "srv", in, func(context.Context, int) error { panic("kaboom") })
	})
	if v != "kaboom" {
		t.Fatalf("panicked with %v, want handle's own value", v)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range sink.snapshot() {
		if e.TraceID == life && e.Type.Kind == tracing.KindActorCompleted {
			t.Fatalf("recorded ActorCompleted for %q in the lifecycle trace", e.ActorID)
		}
	}
	if got := failures(sink, life); len(got) != 1 || got[0] != "panic: kaboom" {
		t.Errorf("lifecycle ActorFailed errors %q, want [\"panic: kaboom\"]", got)
	}
	ended := false
	for _, ft := range sink.observed() {
		if ft.TraceID != life && !ft.EndTime.IsZero() {
			ended = true
			if ft.Status != tracing.FailedStatus("panic: kaboom") {
				t.Errorf("the message's trace ended %v, want Failed(panic: kaboom)", ft.Status)
			}
		}
	}
	if !ended {
		t.Error("the message's own trace was not ended")
	}
}
