package tracing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
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

// TestContextWithEvent_KeepsItsParent checks that the context
// ContextWithEvent returns is its parent with a cause: the parent's
// values, deadline and cancellation reach it, and a context derived from
// it is canceled with the parent. It allocates once while the chain fits
// in the context.
func TestContextWithEvent_KeepsItsParent(t *testing.T) {
	type key struct{}
	deadline := time.Now().Add(time.Hour)
	parent, cancel := context.WithDeadline(context.WithValue(context.Background(), key{}, "v"), deadline)
	id := NewEventID()
	ctx := ContextWithEvent(parent, id)
	if got := ctx.Value(key{}); got != "v" {
		t.Errorf("Value of the parent's key = %v, want v", got)
	}
	if d, ok := ctx.Deadline(); !ok || !d.Equal(deadline) {
		t.Errorf("Deadline = %v, %v; want %v", d, ok, deadline)
	}
	if got, ok := eventFromContext(ctx); !ok || got != id {
		t.Errorf("eventFromContext = %v, %v; want %v", got, ok, id)
	}
	if s := fmt.Sprint(ctx); !strings.Contains(s, "WithEvent("+id.String()+")") {
		t.Errorf("String = %q, want it to name the event", s)
	}
	child, stop := context.WithCancel(ctx)
	defer stop()
	cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a context derived from it was not canceled with the parent")
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("Err = %v, want context.Canceled", ctx.Err())
	}
	bg := context.Background()
	short := ContextWithEvent(ContextWithEvent(bg, NewEventID()), NewEventID())
	if n := testing.AllocsPerRun(100, func() { _ = ContextWithEvent(short, id) }); n != 1 {
		t.Errorf("ContextWithEvent allocates %v times with a chain of 3, want 1", n)
	}
}

func TestContextWithEvent_EdgeCases(t *testing.T) {
	bg := context.Background()
	if got := ContextWithEvent(bg, EventID{}); got != bg {
		t.Fatal("a zero id changed the context")
	}
	var nilCtx context.Context // documented to stand for context.Background()
	if _, ok := eventFromContext(ContextWithEvent(nilCtx, EventID{})); ok {
		t.Fatal("event found in an empty context")
	}
	id := NewEventID()
	got, ok := eventFromContext(ContextWithEvent(nilCtx, id))
	if !ok || got != id {
		t.Fatalf("eventFromContext = %v, %v; want %v", got, ok, id)
	}
	if _, ok := eventFromContext(context.TODO()); ok {
		t.Fatal("event found in context.TODO()")
	}
	// An explicit parent on the event wins over the context.
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	ev := actorStarted("a")
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
	implicit := c.CurrentTrace(ctx).ID
	first := c.ActorCreated(ctx, "a")

	version := FlowVersion{Major: 1, Minor: 2}
	tctx, started, err := c.StartTrace(ctx, "other-flow", version)
	if err != nil {
		t.Fatal(err)
	}
	if started == implicit || c.CurrentTrace(tctx).ID != started || c.CurrentTrace(ctx).ID != implicit {
		t.Fatal("StartTrace's ctx does not carry the new trace, or the implicit one changed")
	}
	if ref, ok := CauseFromContext(tctx).Trace(); !ok || ref.ID != started || ref.FlowID != "other-flow" || ref.ExecutionID.IsZero() {
		t.Fatalf("CauseFromContext(ctx).Trace() = %+v, %v", ref, ok)
	}
	second := c.ActorCreated(tctx, "a")
	third := c.ActorCreated(ctx, "a") // no trace in ctx: the implicit one
	if err := c.EndTrace(tctx, FailedStatus("boom")); err != nil {
		t.Fatal(err)
	}
	if err := c.EndTrace(tctx, ExecutionStatus{Kind: StatusCompleted}); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if sink.find(t, first).TraceID != implicit || sink.find(t, second).TraceID != started || sink.find(t, third).TraceID != implicit {
		t.Fatal("events do not carry the trace of their ctx")
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
	if _, linked := md.Tags[tagLinkedTrace]; linked {
		t.Fatal("a trace started with a ctx that carried none names a linked trace")
	}
	if end.TraceID != started || end.Status != FailedStatus("boom") || end.EndTime.IsZero() || end.ExecutionID != st.ExecutionID {
		t.Fatalf("ended trace = %+v", end)
	}

	// Close completes the implicit trace, not the explicit one again.
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	obs = sink.observed()
	if len(obs) != 4 || obs[3].TraceID != implicit || obs[3].Status.Kind != StatusCompleted {
		t.Fatalf("observed %+v after Close, want the implicit trace completed last", obs)
	}
}

func TestTraces_EndImplicitStartsAnother(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	before := c.CurrentTrace(ctx)
	if err := c.EndTrace(ctx, ExecutionStatus{Kind: StatusCancelled}); err != nil {
		t.Fatal(err)
	}
	after := c.CurrentTrace(ctx)
	if after.ID == before.ID || after.ExecutionID == before.ExecutionID || after.FlowID != before.FlowID {
		t.Fatalf("implicit trace after EndTrace = %+v, before %+v: want a new one of the same flow", after, before)
	}
	id := c.ActorCreated(ctx, "a")
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sink.find(t, id).TraceID; got != after.ID {
		t.Fatalf("event recorded after the end in trace %v, want the new implicit %v", got, after.ID)
	}
	// The end reaches the sinks after the events recorded before it, so
	// possibly after the next trace's start.
	obs := sink.observed()
	var ended, next bool
	for _, o := range obs[1:] {
		ended = ended || (o.TraceID == before.ID && o.Status.Kind == StatusCancelled && !o.EndTime.IsZero())
		next = next || (o.TraceID == after.ID && o.Status.Kind == StatusRunning)
	}
	if len(obs) != 3 || !ended || !next {
		t.Fatalf("observed %+v, want start, end (cancelled), start of the next", obs)
	}
}

func TestTraces_ForeignTrace(t *testing.T) {
	ctx := ctxTimeout(t)
	c := newTestClient(t, newRecordSink(), nil)
	other := newTestClient(t, newRecordSink(), nil)
	octx, _, err := other.StartTrace(ctx, "o", FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EndTrace(octx, ExecutionStatus{Kind: StatusCompleted}); !errors.Is(err, ErrForeignTrace) {
		t.Fatalf("EndTrace of another client's trace = %v, want ErrForeignTrace", err)
	}
	remote := ContextWithTrace(ctx, TraceRef{ID: NewTraceID(), FlowID: "r"})
	if err := c.EndTrace(remote, ExecutionStatus{Kind: StatusCompleted}); !errors.Is(err, ErrForeignTrace) {
		t.Fatalf("EndTrace of a remote trace = %v, want ErrForeignTrace", err)
	}
	if ContextWithTrace(ctx, TraceRef{}) != ctx {
		t.Fatal("a zero TraceRef changed the context")
	}
}

// TestTraces_RecordingJoinsAForeignTrace checks that a client recording
// into a trace it did not start (one from ContextWithTrace, or one another
// client of the process started) tells its sinks once, before the first
// event, that it only joins the trace, by both recording paths; and that
// its own traces are never announced as joined.
func TestTraces_RecordingJoinsAForeignTrace(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	other := newTestClient(t, newRecordSink(), nil)
	octx, oid, err := other.StartTrace(ctx, "o", FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	remote := TraceRef{ID: NewTraceID(), FlowID: "r", ExecutionID: NewExecutionID()}
	rctx := ContextWithTrace(ctx, remote)
	own, ownID, err := c.StartTrace(ctx, "mine", FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c.ActorStarted(rctx, "a")
		c.Record(ContextWithEvent(rctx, NewEventID()), TraceEvent{Type: TraceEventType{Kind: KindActorCompleted}, ActorID: "a"})
		c.DataFlow(octx, "a", "out", "b", "in", "T", 1)
		c.DataFlow(own, "a", "out", "b", "in", "T", 1)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	joins := map[TraceID]int{}
	for i, h := range sink.traces {
		if h.Metadata.Tags[tagJoined] == "" {
			continue
		}
		joins[h.TraceID]++
		for _, ev := range sink.events[:sink.atObserve[i]] {
			if ev.TraceID == h.TraceID {
				t.Fatalf("trace %s was joined after its event %s was written", h.TraceID, ev.EventID)
			}
		}
		if h.TraceID == remote.ID && (h.FlowID != remote.FlowID || h.ExecutionID != remote.ExecutionID) {
			t.Fatalf("the joined header %+v does not carry the remote trace's flow and execution", h)
		}
	}
	if joins[remote.ID] != 1 || joins[oid] != 1 || joins[ownID] != 0 || len(joins) != 2 {
		t.Fatalf("joined headers by trace %v, want one each for the remote trace %s and the other client's %s, none for the client's own %s", joins, remote.ID, oid, ownID)
	}
}

// TestTraces_LinkedTrace starts a trace with a ctx that carries one: the
// new trace names it in its metadata, and the process's tags are not
// modified.
func TestTraces_LinkedTrace(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, func(c *TracingConfig) { c.Tags = map[string]string{"team": "flow"} })
	lctx, life, err := c.StartTrace(ctx, "actor", FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	parent := c.ActorStarted(lctx, "a")
	mctx, msg, err := c.StartTrace(ContextWithEvent(lctx, parent), "", FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := eventFromContext(mctx); ok {
		t.Fatal("a new trace's ctx carries the cause of the old one")
	}
	obs := sink.observed()
	last := obs[len(obs)-1]
	if last.TraceID != msg || last.Metadata.Tags[tagLinkedTrace] != life.String() || last.Metadata.Tags["team"] != "flow" || last.FlowID != "test-flow" {
		t.Fatalf("linked trace header %+v", last)
	}
	if _, ok := c.Config().Tags[tagLinkedTrace]; ok || len(obs[0].Metadata.Tags) != 1 {
		t.Fatal("linking a trace modified the process's tags")
	}
}

// TestTraces_ConcurrentSafe runs many traces at once on one client: each
// keeps its own events, flow, execution and status.
func TestTraces_ConcurrentSafe(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, func(c *TracingConfig) { c.QueueSize = 1 << 12 })
	const traces, events = 8, 50
	ids := make([]TraceID, traces)
	byTrace := make([][]EventID, traces)
	var wg sync.WaitGroup
	for i := range traces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tctx, id, err := c.StartTrace(ctx, FlowID(fmt.Sprintf("flow-%d", i)), FlowVersion{Major: uint32(i)})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = id
			cur := tctx
			for j := range events {
				ev := c.DataFlow(cur, "a", "out", "b", "in", "T", uint64(j))
				byTrace[i] = append(byTrace[i], ev)
				cur = ContextWithEvent(cur, ev)
			}
			status := ExecutionStatus{Kind: StatusCompleted}
			if i%2 == 1 {
				status = FailedStatus(fmt.Sprint(i))
			}
			if err := c.EndTrace(tctx, status); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range traces {
		for j, id := range byTrace[i] {
			ev := sink.find(t, id)
			if ev.TraceID != ids[i] {
				t.Fatalf("trace %d event %d in trace %v, want %v", i, j, ev.TraceID, ids[i])
			}
			if j > 0 && (ev.Causality.ParentEventID != byTrace[i][j-1] || ev.Causality.RootCauseEventID != byTrace[i][0]) {
				t.Fatalf("trace %d event %d: causality %+v", i, j, ev.Causality)
			}
		}
	}
	ends := map[TraceID]FlowTrace{}
	starts := map[TraceID]FlowTrace{}
	for _, o := range sink.observed() {
		if o.EndTime.IsZero() {
			starts[o.TraceID] = o
		} else {
			ends[o.TraceID] = o
		}
	}
	for i, id := range ids {
		st, end := starts[id], ends[id]
		if st.FlowID != FlowID(fmt.Sprintf("flow-%d", i)) || st.Version.Major != uint32(i) || end.ExecutionID != st.ExecutionID {
			t.Fatalf("trace %d: start %+v end %+v", i, st, end)
		}
		want := ExecutionStatus{Kind: StatusCompleted}
		if i%2 == 1 {
			want = FailedStatus(fmt.Sprint(i))
		}
		if end.Status != want {
			t.Fatalf("trace %d ended %v, want %v", i, end.Status, want)
		}
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
	ctx, id, err := c.StartTrace(context.Background(), "f", FlowVersion{})
	if err != nil || id.IsZero() {
		t.Fatalf("StartTrace = %v, %v", id, err)
	}
	if ref, ok := CauseFromContext(ctx).Trace(); !ok || ref.ID != id {
		t.Fatal("a disabled client's trace is not in the ctx")
	}
	if err := c.EndTrace(ctx, ExecutionStatus{Kind: StatusCompleted}); err != nil {
		t.Fatal(err)
	}
	if !c.CurrentTrace(ctx).IsZero() {
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

// TestCause_CarriesTrace sends a cause recorded in an explicit trace over a
// channel: the receiver's events join that trace. A cause rebuilt with
// NewCause keeps the receiving ctx's trace.
func TestCause_CarriesTrace(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	tctx, trace, err := c.StartTrace(ctx, "f", FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	a := c.ActorStarted(tctx, "a")
	cause := CauseFromContext(ContextWithEvent(tctx, a))
	if ref, ok := cause.Trace(); !ok || ref.ID != trace {
		t.Fatalf("Cause.Trace = %+v, %v", ref, ok)
	}
	b := c.ActorStarted(ContextWithCause(context.Background(), cause), "b")

	// A trace-only cause (no event) restores the trace alone.
	only := CauseFromContext(tctx)
	if only.IsZero() || !only.EventID().IsZero() {
		t.Fatal("a trace-only cause")
	}
	d := c.ActorStarted(ContextWithCause(context.Background(), only), "d")

	rebuilt := NewCause(a, EventID{}, nil)
	if rebuilt.Root() != a || !slices.Equal(rebuilt.Chain(), []EventID{a}) {
		t.Fatalf("NewCause: root %v chain %v", rebuilt.Root(), rebuilt.Chain())
	}
	e := c.ActorStarted(ContextWithCause(tctx, rebuilt), "e")
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []EventID{b, d, e} {
		if ev := sink.find(t, id); ev.TraceID != trace {
			t.Fatalf("event %s in trace %v, want %v", ev.ActorID, ev.TraceID, trace)
		}
	}
	if got := sink.find(t, b).Causality; got.ParentEventID != a || got.RootCauseEventID != a {
		t.Fatalf("causality across the channel = %+v", got)
	}
	if got := sink.find(t, d).Causality; !got.ParentEventID.IsZero() {
		t.Fatalf("a trace-only cause gave a parent: %+v", got)
	}
	if got := sink.find(t, e).Causality; got.ParentEventID != a {
		t.Fatalf("NewCause's event is not the parent: %+v", got)
	}
}

func TestNewCause(t *testing.T) {
	if !NewCause(EventID{}, NewEventID(), nil).IsZero() {
		t.Fatal("a zero id gives a cause")
	}
	var anc []EventID
	for range 40 {
		anc = append(anc, NewEventID())
	}
	id := NewEventID()
	c := NewCause(id, EventID{}, anc)
	if c.Root() != anc[0] || c.EventID() != id {
		t.Fatalf("root %v id %v", c.Root(), c.EventID())
	}
	want := append(slices.Clone(anc[len(anc)-(MaxDependencyChain-1):]), id)
	if !slices.Equal(c.Chain(), want) {
		t.Fatalf("chain of %d, want the last %d ancestors and the event", len(c.Chain()), MaxDependencyChain)
	}
}

// TestTraces_CloseLeavesUnusedImplicitTrace: a client whose events all
// went to explicit traces, its own or joined ones, does not end (and so
// does not store) an empty implicit trace at Close; one that recorded
// into it does.
func TestTraces_CloseLeavesUnusedImplicitTrace(t *testing.T) {
	for _, tt := range []struct {
		name      string
		use, join bool
	}{{"unused", false, false}, {"used", true, false}, {"unused/joined", false, true}, {"used/joined", true, true}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxTimeout(t)
			sink := newRecordSink()
			c := newTestClient(t, sink, nil)
			implicit := c.CurrentTrace(ctx).ID
			var tctx context.Context
			if tt.join {
				tctx = ContextWithTrace(ctx, TraceRef{ID: NewTraceID(), FlowID: "remote"})
			} else {
				var err error
				if tctx, _, err = c.StartTrace(ctx, "f", FlowVersion{}); err != nil {
					t.Fatal(err)
				}
			}
			c.ActorStarted(tctx, "a")
			if tt.use {
				c.ActorStarted(ctx, "b")
			}
			if !tt.join {
				if err := c.EndTrace(tctx, ExecutionStatus{Kind: StatusCompleted}); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Close(ctx); err != nil {
				t.Fatal(err)
			}
			ended := false
			for _, o := range sink.observed() {
				ended = ended || (o.TraceID == implicit && !o.EndTime.IsZero())
			}
			if ended != tt.use {
				t.Fatalf("implicit trace ended at Close: %v, want %v", ended, tt.use)
			}
		})
	}
}
