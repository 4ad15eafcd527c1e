package tracing

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/internal/step"
)

// TestRecord_NoAllocs guards the hot path: recording a built-in kind, with
// or without a cause or a trace in the context, allocates nothing. AllocsPerRun counts
// every allocation of the process, and the consumer allocates per batch
// (each export has its own deadline), so the batch size and timeout keep
// the consumer parked until the final Flush: the count is the producers'.
func TestRecord_NoAllocs(t *testing.T) {
	sink := &discardSink{}
	c := newTestClient(t, sink, func(c *TracingConfig) {
		c.QueueSize = 1 << 15
		c.BatchSize = 1 << 14
		c.BatchTimeout = time.Hour
	})
	bg := context.Background()
	withCause := ContextWithEvent(ContextWithEvent(bg, NewEventID()), NewEventID())
	inTrace, _, terr := c.StartTrace(bg, "f", FlowVersion{})
	if terr != nil {
		t.Fatal(terr)
	}
	withTraceAndCause := ContextWithEvent(inTrace, NewEventID())
	diff := StateDiff{After: []byte("x")}
	err := errSink
	tests := []struct {
		name string
		f    func(ctx context.Context)
	}{
		{"Record", func(ctx context.Context) { c.Record(ctx, dataFlow("a", "out", "b", "in", "T", 1)) }},
		{"ActorCreated", func(ctx context.Context) { c.ActorCreated(ctx, "a") }},
		{"ActorStarted", func(ctx context.Context) { c.ActorStarted(ctx, "a") }},
		{"ActorCompleted", func(ctx context.Context) { c.ActorCompleted(ctx, "a") }},
		{"ActorFailed", func(ctx context.Context) { c.ActorFailed(ctx, "a", err) }},
		{"MessageSent", func(ctx context.Context) { c.MessageSent(ctx, "a", "out", "T", 1) }},
		{"MessageReceived", func(ctx context.Context) { c.MessageReceived(ctx, "a", "in", "T", 1) }},
		{"StateChanged", func(ctx context.Context) { c.StateChanged(ctx, "a", diff) }},
		{"PortConnected", func(ctx context.Context) { c.PortConnected(ctx, "a", "out") }},
		{"PortDisconnected", func(ctx context.Context) { c.PortDisconnected(ctx, "a", "out") }},
		{"DataFlow", func(ctx context.Context) { c.DataFlow(ctx, "a", "out", "b", "in", "T", 1) }},
		{"NetworkEvent", func(ctx context.Context) { c.NetworkEvent(ctx, "a", attr.String("k", "v"), attr.Int("n", 1)) }},
		{"Custom", func(ctx context.Context) { c.Custom(ctx, "a", "tick", attr.Uint64("n", 1)) }},
		{"step DataFlow", func(ctx context.Context) {
			step.DataFlow(c, ctx, step.Begin(), "a", "out", "b", "in", "T", 1, step.Ended(1, err))
		}},
		{"step RunStarted", func(ctx context.Context) { step.RunStarted(c, ctx, "a", step.Begin()) }},
		{"step RunEnded", func(ctx context.Context) { step.RunEnded(c, ctx, "a", step.Begin(), step.Ended(1, err)) }},
	}
	for _, tt := range tests {
		for name, ctx := range map[string]context.Context{
			"background": bg, "with cause": withCause, "in trace": inTrace, "in trace with cause": withTraceAndCause,
		} {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				if got := testing.AllocsPerRun(200, func() { tt.f(ctx) }); got != 0 {
					t.Fatalf("%s allocates %v times per call, want 0", tt.name, got)
				}
			})
		}
	}
	if m := c.Metrics(); m.Dropped.QueueFull != 0 {
		t.Fatalf("%d events dropped: the test did not run the full path", m.Dropped.QueueFull)
	}
	if err := c.Flush(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	if sink.n.Load() == 0 {
		t.Fatal("nothing delivered")
	}
}

func TestRecord_DisabledNoAllocs(t *testing.T) {
	c := NewNop()
	ctx := context.Background()
	if got := testing.AllocsPerRun(100, func() { c.DataFlow(ctx, "a", "out", "b", "in", "T", 1) }); got != 0 {
		t.Fatalf("disabled DataFlow allocates %v times", got)
	}
}

// TestRecord_MatchesConstructors checks that each per-kind method records
// what the matching constructor builds, with the causality from the
// context, on both of its paths: built in the queue slot (nothing after
// the kind and actor checks can drop the event) and built on the stack and
// passed through the selector (here because of a user predicate).
func TestRecord_MatchesConstructors(t *testing.T) {
	modes := []struct {
		name    string
		opts    []Option
		inPlace bool
	}{
		{"in place", nil, true},
		{"through the selector", []Option{WithFilter(func(*TraceEvent) bool { return true })}, false},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			sink := newRecordSink()
			c := newTestClient(t, sink, func(c *TracingConfig) {
				c.Privacy.CaptureContent = true
				c.CriticalKinds = []EventKind{KindActorFailed, KindDataFlow} // both lanes
			}, mode.opts...)
			if c.inPlace != mode.inPlace {
				t.Fatalf("inPlace = %v, want %v", c.inPlace, mode.inPlace)
			}
			testRecordMatchesConstructors(t, c, sink)
		})
	}
}

// perKindCase is one call of a per-kind method and the event its
// constructor builds, without the ids, time and causality the client
// fills.
type perKindCase struct {
	name   string
	record func(ctx context.Context) EventID
	want   TraceEvent
}

// perKindCases calls every per-kind method of c, each kind with fields of
// its own.
func perKindCases(c *TracingClient) []perKindCase {
	diff := StateDiff{After: []byte("x")}
	return []perKindCase{
		{"ActorCreated", func(ctx context.Context) EventID { return c.ActorCreated(ctx, "a") }, actorCreated("a")},
		{"ActorStarted", func(ctx context.Context) EventID { return c.ActorStarted(ctx, "a") }, actorStarted("a")},
		{"ActorCompleted", func(ctx context.Context) EventID { return c.ActorCompleted(ctx, "a") }, actorCompleted("a")},
		{"ActorFailed", func(ctx context.Context) EventID { return c.ActorFailed(ctx, "a", errSink) }, actorFailed("a", errSink.Error())},
		{"ActorFailed nil", func(ctx context.Context) EventID { return c.ActorFailed(ctx, "a", nil) }, actorFailed("a", "")},
		{"MessageSent", func(ctx context.Context) EventID { return c.MessageSent(ctx, "a", "out", "T", 3) }, messageSent("a", "out", "T", 3)},
		{"MessageReceived", func(ctx context.Context) EventID { return c.MessageReceived(ctx, "a", "in", "T", 3) }, messageReceived("a", "in", "T", 3)},
		{"StateChanged", func(ctx context.Context) EventID { return c.StateChanged(ctx, "a", diff) }, stateChanged("a", diff)},
		{"PortConnected", func(ctx context.Context) EventID { return c.PortConnected(ctx, "a", "out") }, portConnected("a", "out")},
		{"PortDisconnected", func(ctx context.Context) EventID { return c.PortDisconnected(ctx, "a", "out") }, portDisconnected("a", "out")},
		{"DataFlow", func(ctx context.Context) EventID { return c.DataFlow(ctx, "a", "out", "b", "in", "T", 3) }, dataFlow("a", "out", "b", "in", "T", 3)},
		{"NetworkEvent", func(ctx context.Context) EventID { return c.NetworkEvent(ctx, "a", attr.Int("n", 1)) }, networkEvent("a", attr.Int("n", 1))},
		{"Custom", func(ctx context.Context) EventID { return c.Custom(ctx, "a", "tick", attr.Int("n", 1)) }, custom("a", "tick", attr.Int("n", 1))},
		// The events of the steps the middleware of package actors wraps.
		{"step DataFlow", func(ctx context.Context) EventID {
			at := step.Begin()
			step.DataFlow(c, ctx, at, "a", "out", "b", "in", "T", 3, step.Ended(7, errSink))
			return at.ID()
		}, withEnd(dataFlow("a", "out", "b", "in", "T", 3), 7, errSink.Error())},
		{"step ActorStarted", func(ctx context.Context) EventID {
			return step.RunStarted(c, ctx, "a", step.Begin())
		}, actorStarted("a")},
		{"step ActorCompleted", func(ctx context.Context) EventID {
			at := step.Begin()
			step.RunEnded(c, ctx, "a", at, step.Ended(8, nil))
			return at.ID()
		}, withEnd(actorCompleted("a"), 8, "")},
		{"step ActorFailed", func(ctx context.Context) EventID {
			at := step.Begin()
			step.RunEnded(c, ctx, "a", at, step.Ended(9, errSink))
			return at.ID()
		}, withEnd(actorFailed("a", ""), 9, errSink.Error())},
	}
}

// withEnd returns ev with the duration and error message of a step.
func withEnd(ev TraceEvent, nanos uint64, msg string) TraceEvent {
	ev.Data.PerformanceMetrics.ExecutionTimeNs = nanos
	ev.Data.Error = msg
	return ev
}

// wantRecorded returns tc's event as got should be: with got's id, time
// and trace, and the causality ctx gives it (a root of its own when ctx
// carries no cause).
func (tc perKindCase) wantRecorded(ctx context.Context, got TraceEvent) TraceEvent {
	want := tc.want
	want.EventID, want.Timestamp, want.TraceID = got.EventID, got.Timestamp, got.TraceID
	want.Causality = CausalityInfo{RootCauseEventID: got.EventID}
	if n := nodeFrom(ctx); n != nil && !n.id.IsZero() {
		want.Causality = CausalityInfo{ParentEventID: n.id, RootCauseEventID: n.root, DependencyChain: n.chain}
	}
	return want
}

func testRecordMatchesConstructors(t *testing.T, c *TracingClient, sink *recordSink) {
	parent, root := NewEventID(), NewEventID()
	ctx := ContextWithEvent(ContextWithEvent(ctxTimeout(t), root), parent)
	for _, tc := range perKindCases(c) {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.record(ctx)
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			got := sink.find(t, id)
			if got.Timestamp.IsZero() || got.TraceID != c.CurrentTrace(ctx).ID {
				t.Fatalf("time and trace not filled: %+v", got)
			}
			want := tc.wantRecorded(ctx, got)
			if !reflect.DeepEqual(want.Causality.DependencyChain, []EventID{root, parent}) {
				t.Fatalf("want causality %+v, not the chain of ctx", want.Causality)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("recorded\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// TestRecord_FilteredPerKindMethodsAreCountedNotQueued checks that the
// per-kind methods apply the configured kind and actor filters before
// building the event: what they reject never reaches the sink and is
// counted as filtered, and what they keep is delivered.
func TestRecord_FilteredPerKindMethodsAreCountedNotQueued(t *testing.T) {
	rs := newRecordSink()
	c := newTestClient(t, rs, func(cfg *TracingConfig) {
		cfg.Filters.ExcludeActors = []string{"debug_*"}
		cfg.Filters.EventTypes = []EventKind{KindActorCreated, KindDataFlow}
	})
	ctx := ctxTimeout(t)
	tests := []struct {
		name string
		call func() EventID
		kept bool
	}{
		{"excluded actor", func() EventID { return c.ActorCreated(ctx, "debug_probe") }, false},
		{"excluded kind", func() EventID { return c.ActorStarted(ctx, "sensor") }, false},
		{"excluded sender", func() EventID { return c.DataFlow(ctx, "debug_tap", "out", "sink", "in", "T", 1) }, false},
		{"kept data flow", func() EventID { return c.DataFlow(ctx, "sensor", "out", "sink", "in", "T", 1) }, true},
		{"kept creation", func() EventID { return c.ActorCreated(ctx, "sensor") }, true},
	}
	var kept []EventID
	for _, tt := range tests {
		id := tt.call()
		if tt.kept != !id.IsZero() {
			t.Fatalf("%s: id = %v, want kept=%v", tt.name, id, tt.kept)
		}
		if tt.kept {
			kept = append(kept, id)
		}
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	m := c.Metrics()
	if m.Dropped.Filtered != 3 {
		t.Fatalf("Dropped.Filtered = %d, want 3", m.Dropped.Filtered)
	}
	if m.Delivered != uint64(len(kept)) {
		t.Fatalf("Delivered = %d, want %d", m.Delivered, len(kept))
	}
}
