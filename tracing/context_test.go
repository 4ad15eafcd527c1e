package tracing

import (
	"context"
	"slices"
	"testing"
)

func TestContextWithEvent_Chain(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)

	root := c.ActorStarted(ctx, "a")
	ids := []EventID{root}
	cur := ContextWithEvent(ctx, root)
	for i := range 20 {
		id := c.DataFlow(cur, "a", "out", "b", "in", "T", uint64(i))
		ids = append(ids, id)
		cur = ContextWithEvent(cur, id)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := sink.find(t, root); !ev.Causality.ParentEventID.IsZero() || ev.Causality.RootCauseEventID != root || ev.Causality.DependencyChain != nil {
		t.Fatalf("root event causality = %+v, want no parent, itself as root, no chain", ev.Causality)
	}
	for i := 1; i < len(ids); i++ {
		ev := sink.find(t, ids[i])
		cz := ev.Causality
		if cz.ParentEventID != ids[i-1] {
			t.Fatalf("event %d: parent %v, want %v", i, cz.ParentEventID, ids[i-1])
		}
		if cz.RootCauseEventID != root {
			t.Fatalf("event %d: root %v, want %v", i, cz.RootCauseEventID, root)
		}
		want := ids[max(0, i-MaxDependencyChain):i]
		if !slices.Equal(cz.DependencyChain, want) {
			t.Fatalf("event %d: chain of %d ids, want the last %d ancestors oldest first", i, len(cz.DependencyChain), len(want))
		}
	}
}

func TestContextWithEvent_EdgeCases(t *testing.T) {
	bg := context.Background()
	if got := ContextWithEvent(bg, EventID{}); got != bg {
		t.Fatal("a zero id changed the context")
	}
	var nilCtx context.Context // documented to stand for context.Background()
	if _, ok := EventFromContext(ContextWithEvent(nilCtx, EventID{})); ok {
		t.Fatal("event found in an empty context")
	}
	id := NewEventID()
	got, ok := EventFromContext(ContextWithEvent(nilCtx, id))
	if !ok || got != id {
		t.Fatalf("EventFromContext = %v, %v; want %v", got, ok, id)
	}
	if _, ok := EventFromContext(context.TODO()); ok {
		t.Fatal("event found in context.TODO()")
	}
	// An explicit parent on the event wins over the context.
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	ev := ActorStarted("a")
	parent := NewEventID()
	ev.Causality.ParentEventID = parent
	recorded := c.Record(ContextWithEvent(ctx, id), ev)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sink.find(t, recorded); got.Causality.ParentEventID != parent {
		t.Fatalf("parent = %v, want the event's own %v", got.Causality.ParentEventID, parent)
	}
}

func TestTraces(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, func(c *TracingConfig) {
		c.Environment = "test"
		c.Tags = map[string]string{"team": "flow"}
	})
	implicit := c.CurrentTrace()
	first := c.ActorCreated(ctx, "a")

	version := FlowVersion{Major: 1, Minor: 2}
	started, err := c.StartTrace(ctx, "other-flow", version)
	if err != nil {
		t.Fatal(err)
	}
	if started == implicit || c.CurrentTrace() != started {
		t.Fatal("StartTrace did not replace the current trace")
	}
	second := c.ActorCreated(ctx, "a")
	if err := c.EndTrace(ctx, FailedStatus("boom")); err != nil {
		t.Fatal(err)
	}
	if err := c.EndTrace(ctx, ExecutionStatus{Kind: StatusCompleted}); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if sink.find(t, first).TraceID != implicit || sink.find(t, second).TraceID != started {
		t.Fatal("events do not carry the trace current when they were recorded")
	}

	obs := sink.observed()
	if len(obs) != 3 {
		t.Fatalf("observed %d trace notifications, want 3 (implicit start, start, end)", len(obs))
	}
	imp, st, end := obs[0], obs[1], obs[2]
	if imp.TraceID != implicit || imp.FlowID != "test-flow" || imp.Status.Kind != StatusRunning {
		t.Fatalf("implicit trace = %+v", imp)
	}
	if st.TraceID != started || st.FlowID != "other-flow" || st.Version != version || st.Status.Kind != StatusRunning ||
		st.ExecutionID.IsZero() || st.StartTime.IsZero() || !st.EndTime.IsZero() || st.Events != nil {
		t.Fatalf("started trace = %+v", st)
	}
	md := st.Metadata
	if md.Environment != "test" || md.Tags["team"] != "flow" || md.ProcessID == 0 || md.ThreadID != "" {
		t.Fatalf("metadata = %+v", md)
	}
	if end.TraceID != started || end.Status != FailedStatus("boom") || end.EndTime.IsZero() || end.ExecutionID != st.ExecutionID {
		t.Fatalf("ended trace = %+v", end)
	}

	// Close does not end an explicit trace a second time.
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(sink.observed()); n != 3 {
		t.Fatalf("observed %d notifications after Close, want 3", n)
	}
}

func TestTraces_CloseCompletesImplicitTrace(t *testing.T) {
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	if err := c.Close(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	obs := sink.observed()
	if len(obs) != 2 || obs[1].Status.Kind != StatusCompleted || obs[1].EndTime.IsZero() {
		t.Fatalf("observed %+v, want the implicit trace started then completed", obs)
	}
}

func TestTraces_Disabled(t *testing.T) {
	c := NewNop()
	id, err := c.StartTrace(context.Background(), "f", FlowVersion{})
	if err != nil || id.IsZero() {
		t.Fatalf("StartTrace = %v, %v", id, err)
	}
	if err := c.EndTrace(context.Background(), ExecutionStatus{Kind: StatusCompleted}); err != nil {
		t.Fatal(err)
	}
	if !c.CurrentTrace().IsZero() {
		t.Fatal("disabled client has a current trace")
	}
}

func TestCause_CrossesChannels(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	a := c.ActorStarted(ctx, "a")
	actx := ContextWithEvent(ctx, a)
	b := c.DataFlow(actx, "a", "out", "b", "in", "T", 1)
	ch := make(chan Cause, 1)
	ch <- CauseFromContext(ContextWithEvent(actx, b))
	received := ContextWithCause(context.Background(), <-ch)
	d := c.ActorStarted(received, "b")
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := sink.find(t, d).Causality
	if got.ParentEventID != b || got.RootCauseEventID != a || !slices.Equal(got.DependencyChain, []EventID{a, b}) {
		t.Fatalf("causality across the channel = %+v", got)
	}
	if (Cause{}).EventID() != (EventID{}) || ContextWithCause(ctx, Cause{}) != ctx {
		t.Fatal("the zero Cause must carry nothing")
	}
	if id := CauseFromContext(received).EventID(); id != b {
		t.Fatalf("Cause.EventID = %v, want %v", id, b)
	}
}
