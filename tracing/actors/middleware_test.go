package actors

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

type runnerFunc func(ctx context.Context) error

func (f runnerFunc) Run(ctx context.Context) error { return f(ctx) }

func TestMiddleware_DisabledReturnsNext(t *testing.T) {
	register := RegisterFunc(func(context.Context, string, any) error { return nil })
	send := SendFunc(func(context.Context, Send) error { return nil })
	closed := newTestClient(t, &discardSink{}, nil)
	if err := closed.Close(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*tracing.TracingClient{"nop": tracing.NewNop(), "nil": nil, "closed": closed} {
		t.Run(name, func(t *testing.T) {
			if got := RegisterMiddleware(c, register); reflect.ValueOf(got).Pointer() != reflect.ValueOf(register).Pointer() {
				t.Fatal("RegisterMiddleware did not return next itself")
			}
			if got := SendMiddleware(c, send); reflect.ValueOf(got).Pointer() != reflect.ValueOf(send).Pointer() {
				t.Fatal("SendMiddleware did not return next itself")
			}
		})
	}
}

func TestRegisterMiddleware(t *testing.T) {
	errRegister := errors.New("duplicate actor")
	tests := []struct {
		name     string
		err      error
		wantKind tracing.EventKind
	}{
		{name: "success records ActorCreated", wantKind: tracing.KindActorCreated},
		{name: "failure records ActorFailed", err: errRegister, wantKind: tracing.KindActorFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxTimeout(t)
			sink := newRecordSink()
			c := newTestClient(t, sink, nil)
			calls := 0
			var registered any
			reg := RegisterMiddleware(c, func(_ context.Context, name string, actor any) error {
				calls++
				registered = actor
				return tt.err
			})
			actor := struct{ name string }{"plain"}
			if err := reg(ctx, "a", actor); err != tt.err {
				t.Fatalf("register = %v, want next's error %v unchanged", err, tt.err)
			}
			if calls != 1 || registered != actor {
				t.Fatalf("next called %d times with %v, want once with the actor itself", calls, registered)
			}
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			evs := sink.snapshot()
			if len(evs) != 1 || evs[0].Type.Kind != tt.wantKind || evs[0].ActorID != "a" {
				t.Fatalf("recorded %+v, want one %v", evs, tt.wantKind)
			}
			if tt.err != nil && evs[0].Data.Error != tt.err.Error() {
				t.Fatalf("error = %q", evs[0].Data.Error)
			}
		})
	}
}

func TestRegisterMiddleware_WrapsRunner(t *testing.T) {
	errRun := errors.New("run failed")
	tests := []struct {
		name     string
		err      error
		wantKind tracing.EventKind
	}{
		{name: "completed", wantKind: tracing.KindActorCompleted},
		{name: "failed", err: errRun, wantKind: tracing.KindActorFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxTimeout(t)
			sink := newRecordSink()
			c := newTestClient(t, sink, nil)
			send := SendMiddleware(c, func(context.Context, Send) error { return nil })
			runs := 0
			inner := runnerFunc(func(ctx context.Context) error {
				runs++
				// A send made inside the run is the ActorStarted event's child.
				_ = send(ctx, Send{FromActor: "a", FromPort: "out", ToActor: "b", ToPort: "in", MessageType: "T"})
				return tt.err
			})
			var registered any
			reg := RegisterMiddleware(c, func(_ context.Context, _ string, actor any) error {
				registered = actor
				return nil
			})
			if err := reg(ctx, "a", inner); err != nil {
				t.Fatal(err)
			}
			r, ok := registered.(Runner)
			if !ok || registered == any(inner) {
				t.Fatalf("registered %T, want a wrapping Runner", registered)
			}
			if u, ok := registered.(interface{ Unwrap() Runner }); !ok || reflect.ValueOf(u.Unwrap()).Pointer() != reflect.ValueOf(inner).Pointer() {
				t.Fatal("the wrapper does not unwrap to the actor's Runner")
			}
			if err := r.Run(ctx); err != tt.err {
				t.Fatalf("Run = %v, want the actor's error %v unchanged", err, tt.err)
			}
			if runs != 1 {
				t.Fatalf("actor ran %d times", runs)
			}
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			byKind := map[tracing.EventKind]tracing.TraceEvent{}
			for _, ev := range sink.snapshot() {
				byKind[ev.Type.Kind] = ev
			}
			started, flow, end := byKind[tracing.KindActorStarted], byKind[tracing.KindDataFlow], byKind[tt.wantKind]
			if started.EventID.IsZero() || flow.EventID.IsZero() || end.EventID.IsZero() {
				t.Fatalf("recorded %v, want ActorStarted, DataFlow and %v", byKind, tt.wantKind)
			}
			if end.Causality.ParentEventID != started.EventID || flow.Causality.ParentEventID != started.EventID {
				t.Fatal("the end event and the send are not children of ActorStarted")
			}
			// The run's duration is the time between its two events (on the
			// monotonic clock, which the wall clock may drift from a little
			// should the client's clock rebase in between).
			d := end.Timestamp.Sub(started.Timestamp)
			if exec := time.Duration(end.Data.PerformanceMetrics.ExecutionTimeNs); d <= 0 || exec <= 0 || exec < d-time.Millisecond || exec > d+time.Millisecond {
				t.Fatalf("ExecutionTimeNs = %v, want the %v from ActorStarted to the end event", exec, d)
			}
			if tt.err != nil && end.Data.Error != tt.err.Error() {
				t.Fatalf("error = %q", end.Data.Error)
			}
		})
	}
}

// TestRegisterMiddleware_RunWithoutActorStarted checks that a run whose
// ActorStarted is filtered out records its end event as a root: the ctx
// of the run carries no event that was never recorded.
func TestRegisterMiddleware_RunWithoutActorStarted(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, func(cfg *tracing.TracingConfig) {
		cfg.Filters.EventTypes = []tracing.EventKind{tracing.KindActorCompleted}
	})
	var inside tracing.Cause
	var registered any
	reg := RegisterMiddleware(c, func(_ context.Context, _ string, actor any) error {
		registered = actor
		return nil
	})
	if err := reg(ctx, "a", runnerFunc(func(ctx context.Context) error {
		inside = tracing.CauseFromContext(ctx)
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	if err := registered.(Runner).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if !inside.EventID().IsZero() {
		t.Fatalf("the run's ctx carries the event %v, which was filtered out", inside.EventID())
	}
	evs := sink.snapshot()
	if len(evs) != 1 || evs[0].Type.Kind != tracing.KindActorCompleted || !evs[0].Causality.ParentEventID.IsZero() {
		t.Fatalf("recorded %+v, want one ActorCompleted without a parent", evs)
	}
}

// TestSendMiddleware_FilteredOut checks that a send whose DataFlow the
// client's filters drop hands next the ctx it was given, so that what the
// receiver records is a child of the sender's cause, not of an event no
// sink receives, and that it records nothing.
func TestSendMiddleware_FilteredOut(t *testing.T) {
	for _, tt := range []struct {
		name   string
		filter tracing.FilterConfig
	}{
		{"by kind", tracing.FilterConfig{EventTypes: []tracing.EventKind{tracing.KindActorStarted}}},
		{"by actor", tracing.FilterConfig{ExcludeActors: []string{"a"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxTimeout(t)
			sink := newRecordSink()
			c := newTestClient(t, sink, func(cfg *tracing.TracingConfig) { cfg.Filters = tt.filter })
			parent := tracing.NewEventID()
			var inside tracing.EventID
			send := SendMiddleware(c, func(ctx context.Context, s Send) error {
				inside = tracing.CauseFromContext(ctx).EventID()
				return nil
			})
			if err := send(tracing.ContextWithEvent(ctx, parent), Send{FromActor: "a", FromPort: "out", ToActor: "b", ToPort: "in"}); err != nil {
				t.Fatal(err)
			}
			if inside != parent {
				t.Fatalf("next's ctx carries %v, want the sender's cause %v", inside, parent)
			}
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if evs := sink.snapshot(); len(evs) != 0 {
				t.Fatalf("recorded %+v, want nothing", evs)
			}
			if m := c.Metrics(); m.Dropped.Filtered != 1 {
				t.Fatalf("Metrics().Dropped = %+v, want the DataFlow counted as filtered", m.Dropped)
			}
		})
	}
}

func TestSendMiddleware(t *testing.T) {
	errSend := errors.New("connector closed")
	tests := []struct {
		name string
		err  error
	}{
		{name: "success"},
		{name: "failure", err: errSend},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxTimeout(t)
			sink := newRecordSink()
			c := newTestClient(t, sink, nil)
			payload := &struct{ v int }{42}
			msg := Send{FromActor: "a", FromPort: "out", ToActor: "b", ToPort: "in", MessageType: "Reading", Size: 8, Message: payload}
			orig := msg
			calls := 0
			var got Send
			var inside tracing.EventID
			var entered time.Time
			const took = 2 * time.Millisecond
			send := SendMiddleware(c, func(ctx context.Context, s Send) error {
				entered = time.Now()
				calls++
				got = s
				inside = tracing.CauseFromContext(ctx).EventID()
				time.Sleep(took)
				return tt.err
			})
			parent := c.ActorStarted(ctx, "a")
			before := time.Now()
			if err := send(tracing.ContextWithEvent(ctx, parent), msg); err != tt.err {
				t.Fatalf("send = %v, want next's error %v unchanged", err, tt.err)
			}
			if calls != 1 || got != orig || msg != orig || payload.v != 42 {
				t.Fatalf("next called %d times with %+v; the message must pass unchanged", calls, got)
			}
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			ev := sink.find(t, inside)
			if ev.Type.Kind != tracing.KindDataFlow || ev.ActorID != "a" || ev.Data.Port != "out" ||
				ev.Type.ToActor != "b" || ev.Type.ToPort != "in" || ev.Data.Message.MessageType != "Reading" || ev.Data.Message.SizeBytes != 8 {
				t.Fatalf("DataFlow = %+v", ev)
			}
			if ev.Causality.ParentEventID != parent || ev.Causality.RootCauseEventID != parent {
				t.Fatalf("causality = %+v, want parent and root %v", ev.Causality, parent)
			}
			// Timestamped when the send started, with the time next took.
			// The client's clock may differ from time.Now by a little.
			const slack = time.Millisecond
			if ev.Timestamp.Before(before.Add(-slack)) || ev.Timestamp.After(entered.Add(slack)) {
				t.Fatalf("timestamp %v, want between %v and %v, when the send started", ev.Timestamp, before, entered)
			}
			if d := time.Duration(ev.Data.PerformanceMetrics.ExecutionTimeNs); d < took {
				t.Fatalf("ExecutionTimeNs = %v, want at least the %v next took", d, took)
			}
			wantErr := ""
			if tt.err != nil {
				wantErr = tt.err.Error()
			}
			if ev.Data.Error != wantErr {
				t.Fatalf("error = %q, want %q", ev.Data.Error, wantErr)
			}
		})
	}
}

func TestMiddleware_ChainOrder(t *testing.T) {
	ctx := ctxTimeout(t)
	a, b := newRecordSink(), newRecordSink()
	ca := newTestClient(t, a, nil)
	cb := newTestClient(t, b, nil)
	var order []string
	send := SendMiddleware(ca, SendMiddleware(cb, func(ctx context.Context, _ Send) error {
		order = append(order, "next")
		return nil
	}))
	outer := ca.ActorStarted(ctx, "x")
	if err := send(tracing.ContextWithEvent(ctx, outer), Send{FromActor: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := ca.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The first middleware is the outermost: the inner one's event is
	// caused by the outer one's.
	var outerFlow tracing.EventID
	for _, ev := range a.snapshot() {
		if ev.Type.Kind == tracing.KindDataFlow {
			outerFlow = ev.EventID
		}
	}
	inner := b.snapshot()
	if len(order) != 1 || len(inner) != 1 || inner[0].Causality.ParentEventID != outerFlow || outerFlow.IsZero() {
		t.Fatalf("chain order wrong: calls %v, inner event %+v", order, inner)
	}
}

// TestMiddleware_TraceOfContext: the middleware records into the trace
// of the ctx it is given, and two runs at once stay apart.
func TestMiddleware_TraceOfContext(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	send := SendMiddleware(c, func(context.Context, Send) error { return nil })
	var r Runner
	reg := RegisterMiddleware(c, func(_ context.Context, _ string, actor any) error {
		r = actor.(Runner)
		return nil
	})
	inner := runnerFunc(func(ctx context.Context) error {
		return send(ctx, Send{FromActor: "a", FromPort: "out", ToActor: "b", ToPort: "in", MessageType: "T"})
	})
	if err := reg(ctx, "a", inner); err != nil {
		t.Fatal(err)
	}
	ctx1, trace1, _ := c.StartTrace(ctx, "f", tracing.FlowVersion{})
	ctx2, trace2, _ := c.StartTrace(ctx, "f", tracing.FlowVersion{})
	if err := r.Run(ctx1); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx2); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	per := map[tracing.TraceID]map[tracing.EventKind]int{}
	for _, ev := range sink.snapshot() {
		if per[ev.TraceID] == nil {
			per[ev.TraceID] = map[tracing.EventKind]int{}
		}
		per[ev.TraceID][ev.Type.Kind]++
	}
	for _, id := range []tracing.TraceID{trace1, trace2} {
		k := per[id]
		if k[tracing.KindActorStarted] != 1 || k[tracing.KindDataFlow] != 1 || k[tracing.KindActorCompleted] != 1 {
			t.Fatalf("trace %v holds %v, want one run's started, data flow and completed", id, k)
		}
	}
}
