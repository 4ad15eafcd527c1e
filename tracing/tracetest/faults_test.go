package tracetest

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

func TestAPIKeyAndRefusal(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx, WithAPIKey("X-API-Key", "k"))
	if _, resp, err := websocket.Dial(ctx, s.URL(), nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial without key: %v", err)
	}
	dial(t, ctx, s, http.Header{"X-Api-Key": {"k"}})
	s.RefuseNext(1, Refuse503)
	if _, resp, err := websocket.Dial(ctx, s.URL(), &websocket.DialOptions{HTTPHeader: http.Header{"X-Api-Key": {"k"}}}); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("refused dial: %v", err)
	}
	s.SetRefusing(true, RefuseClose)
	if _, _, err := websocket.Dial(ctx, s.URL(), nil); err == nil {
		t.Fatal("dial while refusing succeeded")
	}
	s.SetRefusing(false, RefuseClose)
	// Go's HTTP client retries a request whose connection closed unanswered,
	// so a RefuseClose dial may count twice.
	if st := s.Stats(); st.Refused < 2 || st.Connects != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFaultsKeepTheStorageSemantics(t *testing.T) {
	bothGens(t, func(t *testing.T, g Generation) {
		ctx := testCtx(t)
		s := start(t, ctx, WithGeneration(g))
		c := dial(t, ctx, s, nil)
		s.ErrorEvery(2, wire.CodeStorageError, "locked")
		tr := newTrace(1)
		storeTrace(t, c, tr)
		second := tr
		second.Events = events(1, "b")
		if e, ok := c.roundTrip(wire.StoreTrace{Trace: second}).(wire.ErrorResponse); !ok || e.Code != wire.CodeStorageError {
			t.Fatalf("second store: %#v", e)
		}
		// The injected error handled nothing: the first store is kept.
		wantKept(t, s.Kept(), ids(tr.Events)...)
		s.ErrorEvery(0, "", "")
		s.DropBeforeAck(1)
		c.send(wire.StoreTrace{Trace: second})
		if _, _, err := c.c.Read(ctx); err == nil {
			t.Fatal("connection not dropped before the ack")
		}
		// The dropped ack's message was stored (and replaced the trace).
		wantKept(t, s.Kept(), ids(second.Events)...)

		c2 := dial(t, ctx, s, nil)
		s.DropAfter(0)
		c2.send(wire.StoreTrace{Trace: tr})
		if _, _, err := c2.c.Read(ctx); err == nil {
			t.Fatal("connection not dropped")
		}
		wantKept(t, s.Kept(), ids(second.Events)...) // not handled

		s.Stop()
		if _, _, err := websocket.Dial(ctx, "ws://"+s.Addr(), nil); err == nil {
			t.Fatal("dial to a stopped server succeeded")
		}
		if err := s.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		c3 := dial(t, ctx, s, nil)
		if _, ok := c3.roundTrip(wire.Ping{}).(wire.Pong); !ok {
			t.Fatal("no pong after restart")
		}
		wantKept(t, s.Kept(), ids(second.Events)...) // kept across the restart
		if err := s.WaitFor(ctx, func(v View) bool { return v.Connects() == 3 }); err != nil {
			t.Fatal(err)
		}
		errCtx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.WaitFor(errCtx, func(View) bool { return false }); !errors.Is(err, context.Canceled) {
			t.Fatalf("WaitFor with a cancelled context: %v", err)
		}
	})
}

func TestAckGateAndStall(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx)
	c := dial(t, ctx, s, nil)
	gate := make(chan struct{})
	s.SetAckGate(gate)
	tr := newTrace(2)
	c.send(wire.StoreTrace{Trace: tr})
	if err := s.WaitFor(ctx, func(v View) bool { return v.KeptDistinct() == 2 }); err != nil {
		t.Fatal(err)
	}
	gate <- struct{}{}
	if _, ok := c.recv().(wire.TraceStored); !ok {
		t.Fatal("no ack after the gate opened")
	}
	s.SetAckGate(nil)
	s.SetStalled(true)
	c.send(wire.Ping{})
	s.SetStalled(false)
	if _, ok := c.recv().(wire.Pong); !ok {
		t.Fatal("no pong after the stall")
	}
	s.KillConnections()
	if _, _, err := c.c.Read(ctx); err == nil {
		t.Fatal("connection survived KillConnections")
	}
	if err := s.WaitFor(ctx, func(v View) bool { return v.Conns() == 0 }); err != nil {
		t.Fatal(err)
	}
}

func TestGen2KillConnectionsFinalisesStartedTraces(t *testing.T) {
	s, c := startGen2(t)
	id := tracing.NewTraceID()
	startTrace(t, c, id)
	evs := events(2, "a")
	recordEvents(t, c, id, evs)
	s.KillConnections()
	if err := s.WaitFor(c.ctx, func(v View) bool { return v.Conns() == 0 }); err != nil {
		t.Fatal(err)
	}
	if got := s.GetTrace(id); got == nil || got.Status.Kind != tracing.StatusCompleted {
		t.Fatalf("trace %+v", got)
	}
	wantKept(t, s.Kept(), ids(evs)...)
}

func TestFastScanKeepsTheStorageSemantics(t *testing.T) {
	bothGens(t, func(t *testing.T, g Generation) {
		ctx := testCtx(t)
		s := start(t, ctx, WithGeneration(g), WithFastScan(true))
		c := dial(t, ctx, s, nil)
		tr := newTrace(50)
		storeTrace(t, c, tr)
		wantKept(t, s.Kept(), ids(tr.Events)...) // causality ids do not count
		second := tr
		second.Events = events(3, "b")
		storeTrace(t, c, second)
		wantKept(t, s.Kept(), ids(second.Events)...)
		if got := s.GetTrace(tr.TraceID); got == nil || len(got.Events) != 3 || got.Events[0].EventID != second.Events[0].EventID {
			t.Fatalf("trace %+v", got)
		}
		id := tracing.NewTraceID()
		live := events(2, "c")
		if g == Gen2 {
			startTrace(t, c, id)
		}
		recordEvents(t, c, id, live)
		if l := s.Live(); l[live[0].EventID] != 1 || l[live[1].EventID] != 1 {
			t.Fatalf("live %v", l)
		}
		if g == Gen1 {
			wantKept(t, s.Kept(), ids(second.Events)...)
			return
		}
		wantKept(t, s.KeptInTrace(id), ids(live)...)
		endTrace(t, c, id, tracing.ExecutionStatus{Kind: tracing.StatusCompleted})
		wantKept(t, s.Kept(), append(ids(second.Events), ids(live)...)...)
	})
}

// A reply latency delays the replies, not the handling: the server goes on
// reading and storing the messages behind a pending reply, as behind a
// slow link.
func TestReplyLatencyDelaysRepliesNotHandling(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx)
	c := dial(t, ctx, s, nil)
	s.SetReplyLatency(func() time.Duration { return time.Hour })
	trs := []tracing.FlowTrace{newTrace(1), newTrace(1), newTrace(1)}
	for i := range trs {
		c.send(wire.StoreTrace{Trace: trs[i]})
	}
	// With the first reply an hour away, the others are handled all the
	// same (a delay that held the connection would store only the first).
	if err := s.WaitFor(ctx, func(v View) bool { return v.Stored() == len(trs) }); err != nil {
		t.Fatalf("stored %d of %d traces behind a pending reply: %v", s.Stats().Stored, len(trs), err)
	}
	for i := range trs {
		wantKept(t, s.KeptInTrace(trs[i].TraceID), ids(trs[i].Events)...)
	}
}

// Replies leave in order even when the latency drops: a later reply never
// overtakes an earlier one.
func TestReplyLatencyKeepsRepliesInOrder(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx)
	c := dial(t, ctx, s, nil)
	var mu sync.Mutex
	calls := 0
	s.SetReplyLatency(func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return 50 * time.Millisecond
		}
		return 0
	})
	trs := []tracing.FlowTrace{newTrace(1), newTrace(1), newTrace(1)}
	for i := range trs {
		c.send(wire.StoreTrace{Trace: trs[i]})
	}
	for i := range trs {
		r, ok := c.recv().(wire.TraceStored)
		if !ok || r.TraceID != trs[i].TraceID {
			t.Fatalf("reply %d: %#v, want TraceStored of %s", i, r, trs[i].TraceID)
		}
	}
	s.SetReplyLatency(nil)
	if _, ok := c.roundTrip(wire.Ping{}).(wire.Pong); !ok {
		t.Fatal("no pong once the latency is removed")
	}
}

// TestStopSettlesItsConnections checks that what the connections a Stop
// closes had received is applied before Stop returns: a caller reading the
// server's state just after Stop sees it as it stays until Restart, the
// in-flight trace of a closed generation-2 connection stored.
func TestStopSettlesItsConnections(t *testing.T) {
	ctx := testCtx(t)
	s, c := startGen2(t)
	started := tracing.NewTraceID()
	startTrace(t, c, started)
	recordEvents(t, c, started, events(2, "a"))
	// The handler holds a message it has counted and not answered.
	s.SetAckGate(make(chan struct{}))
	c.send(wire.StoreTrace{Trace: newTrace(1)})
	if err := s.WaitFor(ctx, func(v View) bool { return v.ByKind("StoreTrace") == 1 }); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	st := s.Stats()
	if st.Conns != 0 || st.InFlight != 0 || st.Stored != 2 {
		t.Fatalf("after Stop: %d connections, %d traces in flight, %d stored; want 0, 0, 2", st.Conns, st.InFlight, st.Stored)
	}
	if got := s.GetTrace(started); got == nil || got.Status.Kind != tracing.StatusCompleted || len(got.Events) != 2 {
		t.Fatalf("trace of the stopped connection %+v", got)
	}
}

func TestErrorNextAnswersMessagesOfOneKind(t *testing.T) {
	s, c := startGen2(t)
	s.ErrorNext("StartTrace", 2, wire.CodeInternalError, "busy")
	id := tracing.NewTraceID()
	for i := range 3 {
		c.send(wire.Ping{})
		if _, ok := c.recv().(wire.Pong); !ok {
			t.Fatal("a Ping was not answered: ErrorNext is for StartTrace only")
		}
		c.send(wire.StartTrace{TraceID: id, FlowID: "f"})
		got := c.recv()
		if _, isErr := got.(wire.ErrorResponse); isErr != (i < 2) {
			t.Fatalf("StartTrace %d answered %#v", i, got)
		}
	}
	if st := s.Stats(); st.InFlight != 1 {
		t.Fatalf("in flight %d, want the trace the third StartTrace opened", st.InFlight)
	}
}

// TestCloseDelayHoldsBackTheDisconnectRule checks SetCloseDelay: a closed
// generation-2 connection's trace stays in flight for the delay, a store
// made meanwhile is then replaced by the connection's copy, and Stop
// applies a close still held back at once.
func TestCloseDelayHoldsBackTheDisconnectRule(t *testing.T) {
	const delay = 300 * time.Millisecond
	s, c := startGen2(t)
	s.SetCloseDelay(delay)
	id := tracing.NewTraceID()
	startTrace(t, c, id)
	old := events(2, "a")
	recordEvents(t, c, id, old)
	closed := time.Now()
	closeAndWait(t, s, c)
	if got := s.GetTrace(id); got == nil || got.Status.Kind != tracing.StatusRunning || !got.EndTime.IsZero() {
		t.Fatalf("trace of a connection closed within the delay %+v, want in flight", got)
	}
	// A store while the close is held back hides behind the in-flight trace,
	// and the late close replaces it.
	c2 := dial(t, c.ctx, s, nil)
	tr := newTrace(3)
	tr.TraceID = id
	storeTrace(t, c2, tr)
	if err := s.WaitFor(c.ctx, func(v View) bool { return v.InFlight() == 0 }); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(closed); waited < delay {
		t.Fatalf("the close was applied after %v, want at least %v", waited, delay)
	}
	got := s.GetTrace(id)
	if got == nil || got.Status.Kind != tracing.StatusCompleted || got.ExecutionID == tr.ExecutionID {
		t.Fatalf("trace after the late close %+v, want the connection's copy, completed", got)
	}
	wantKept(t, s.Kept(), ids(old)...)

	// Stop applies a held-back close: what the server keeps no longer
	// changes after it returns.
	s.SetCloseDelay(time.Hour)
	c3 := dial(t, c.ctx, s, nil)
	id3 := tracing.NewTraceID()
	startTrace(t, c3, id3)
	recordEvents(t, c3, id3, events(1, "b"))
	s.Stop()
	if got := s.GetTrace(id3); got == nil || got.Status.Kind != tracing.StatusCompleted {
		t.Fatalf("trace of a connection closed by Stop %+v, want completed", got)
	}
	if st := s.Stats(); st.InFlight != 0 {
		t.Fatalf("stats after Stop %+v", st)
	}
}
