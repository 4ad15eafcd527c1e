package websocket

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/adapt"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// routineEvents returns n data flows of trace tr.
func routineEvents(n int, tr tracing.TraceID) []tracing.TraceEvent {
	evs := make([]tracing.TraceEvent, n)
	for i := range evs {
		evs[i] = event.DataFlow("sensor", "out", "validator", "in", "Reading", uint64(100+i))
		evs[i].Data.CustomAttributes.Add(attr.Int("seq", i))
		evs[i].TraceID = tr
	}
	return evs
}

// criticalMix returns one event of every kind a degraded sink keeps, and
// as many routine ones, of trace tr.
func criticalMix(tr tracing.TraceID) (all, kept, shed []tracing.TraceEvent) {
	withErr := event.DataFlow("a", "out", "b", "in", "M", 1)
	withErr.Data.Error = "timeout"
	kept = []tracing.TraceEvent{
		event.ActorCreated("a"), event.ActorStarted("a"), event.ActorCompleted("a"),
		event.ActorFailed("a", "boom"), withErr,
		event.Custom("a", "step", attr.String("status", "Failed")),
	}
	shed = append(routineEvents(5, tr), event.Custom("a", "step", attr.String("status", "ok")))
	for i := range kept {
		kept[i].TraceID = tr
		shed[i].TraceID = tr
		all = append(all, kept[i], shed[i])
	}
	return all, kept, shed
}

// writeLeavesBatch writes b and returns Write's error or, if Write
// changed b, an error saying how: the tracing client hands every sink the
// same events, and a test or a caller reading b afterwards must find what
// it recorded.
func writeLeavesBatch(ctx context.Context, s *Sink, b []tracing.TraceEvent) error {
	want := ids(b)
	err := s.Write(ctx, b)
	for i, id := range ids(b) {
		if id != want[i] {
			return errors.Join(err, fmt.Errorf("Write changed its batch: event %d is %s, was %s", i, id, want[i]))
		}
	}
	return err
}

// In an outage with its buffer past the fill, the sink sheds routine
// events and keeps critical ones, counting what it shed; once the server
// is back it keeps everything again, and the server keeps every critical
// event.
func TestWebSocketDegradeKeepsCriticalEventsInAnOutage(t *testing.T) {
	for _, gen := range generations {
		t.Run(gen.String(), func(t *testing.T) { testDegrade(t, gen) })
	}
}

func testDegrade(t *testing.T, gen tracetest.Generation) {
	ctx := testCtx(t)
	srv := startServer(t, tracetest.WithGeneration(gen))
	const buf = 256 << 10
	s, _ := newTestSink(t, srv.URL(), WithOutageBuffer(buf), WithDegradeAt(0.5))
	waitProbed(ctx, t, s)
	hdr := traceHeader(tracing.NewTraceID())
	s.ObserveTrace(hdr)
	tr := hdr.TraceID
	before := routineEvents(20, tr)
	if err := s.Write(ctx, before); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	srv.SetRefusing(true, tracetest.RefuseClose)
	srv.KillConnections()
	waitSink(ctx, t, s, "disconnection", func(st Stats) bool { return !st.Connected })
	// Fill the buffer with routine events until the sink degrades.
	var held []tracing.TraceEvent // written and not shed
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatalf("not degraded after %d routine events: %+v", len(held), s.Stats())
		}
		b := routineEvents(50, tr)
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.Degraded {
			if st.Dropped[DropDegraded] == 0 {
				held = append(held, b...) // degraded after this batch was taken
			}
			break
		}
		held = append(held, b...)
	}
	if st := s.Stats(); st.QueuedBytes > buf {
		t.Fatalf("degraded past the buffer: %+v", st)
	}
	mixed, critical, shed := criticalMix(tr)
	droppedBefore := s.Stats().Dropped[DropDegraded]
	if err := writeLeavesBatch(ctx, s, mixed); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().Dropped[DropDegraded] - droppedBefore; got != uint64(len(shed)) {
		t.Fatalf("degraded write shed %d events, want the %d routine ones", got, len(shed))
	}
	if st := s.SinkStats(); !st.Degraded || st.Dropped[DropDegraded] == 0 {
		t.Fatalf("SinkStats while degraded: %+v", st)
	}

	srv.SetRefusing(false, tracetest.RefuseClose)
	// The backlog drains, and the shed events are reported once.
	if err := s.Flush(ctx); !errors.Is(err, ErrDropped) {
		t.Fatalf("Flush = %v, want the shed events reported", err)
	}
	// Back: every event is kept again.
	after := routineEvents(20, tr)
	if err := s.Write(ctx, after); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Degraded {
		t.Fatalf("still degraded once connected: %+v", st)
	}
	s.ObserveTrace(ended(hdr, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}))
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush after the outage: %v", err)
	}
	kept := srv.Kept()
	for name, evs := range map[string][]tracing.TraceEvent{
		"before the outage": before, "held in the outage": held,
		"critical, degraded": critical, "after the outage": after,
	} {
		if m := missing(ids(evs), kept); len(m) > 0 {
			t.Fatalf("%d of %d events %s not kept by the server", len(m), len(evs), name)
		}
	}
	for _, id := range ids(shed) {
		if kept[id] != 0 {
			t.Fatalf("shed event %s kept by the server", id)
		}
	}
	for id, n := range kept {
		if n != 1 {
			t.Fatalf("event %s kept %d times", id, n)
		}
	}
}

// With degrading off, or with a spool, an outage does not shed events.
func TestWebSocketDegradeOff(t *testing.T) {
	t.Run("off", func(t *testing.T) { testNoDegrade(t, WithDegradeAt(0)) })
	t.Run("spool", func(t *testing.T) { testNoDegrade(t, WithDegradeAt(0.3), WithSpoolDir(t.TempDir())) })
}

func testNoDegrade(t *testing.T, opts ...Option) {
	ctx := testCtx(t)
	srv := startServer(t)
	s, _ := newTestSink(t, srv.URL(), append([]Option{WithOutageBuffer(1 << 20)}, opts...)...)
	waitProbed(ctx, t, s)
	srv.SetRefusing(true, tracetest.RefuseClose)
	srv.KillConnections()
	waitSink(ctx, t, s, "disconnection", func(st Stats) bool { return !st.Connected })
	tr := tracing.NewTraceID()
	var all []tracing.TraceEvent
	// Past a 0.3 fill, short of the buffer.
	for st := s.Stats(); st.QueuedBytes < 400<<10; st = s.Stats() {
		if len(all) > 100_000 {
			t.Fatalf("%d events queue %d bytes", len(all), st.QueuedBytes)
		}
		b := routineEvents(50, tr)
		all = append(all, b...)
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Degraded || st.Dropped[DropDegraded] != 0 {
		t.Fatalf("degraded: %+v", st)
	}
	srv.SetRefusing(false, tracetest.RefuseClose)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if m := missing(ids(all), srv.Kept()); len(m) > 0 {
		t.Fatalf("%d of %d events not kept", len(m), len(all))
	}
}

// A Write waiting for room when the outage starts degrades the sink: its
// routine events are shed at once (as degraded, not as a full buffer), and
// its critical ones go on at once, into the reserve above the limit that
// critical events may use, instead of holding the client's consumer until
// its context ends.
func TestWebSocketDegradeReleasesAWaitingWrite(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	const buf = 256 << 10
	s, _ := newTestSink(t, srv.URL(), WithOutageBuffer(buf), WithDegradeAt(0.5))
	waitProbed(ctx, t, s)
	srv.SetAckGate(make(chan struct{})) // nothing is acknowledged
	tr := tracing.NewTraceID()
	var held []tracing.TraceEvent
	for s.held() < buf {
		if len(held) > 100_000 {
			t.Fatalf("%d events hold %d bytes", len(held), s.held())
		}
		b := routineEvents(50, tr)
		held = append(held, b...)
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	mixed, critical, shed := criticalMix(tr)
	wrote := make(chan error, 1)
	go func() { wrote <- writeLeavesBatch(ctx, s, mixed) }() // waits for room
	srv.SetRefusing(true, tracetest.RefuseClose)
	srv.KillConnections()
	if err := <-wrote; err != nil || ctx.Err() != nil {
		t.Fatalf("Write = %v (ctx %v), want it to return once the outage degrades the sink", err, ctx.Err())
	}
	st := s.Stats()
	if !st.Degraded || st.Dropped[DropDegraded] != uint64(len(shed)) || st.Dropped[DropOutageBufferFull] != 0 {
		t.Fatalf("after the waiting Write: %+v, want degraded with its %d routine events shed", st, len(shed))
	}
	srv.SetAckGate(nil)
	srv.SetRefusing(false, tracetest.RefuseClose)
	if err := s.Flush(ctx); !errors.Is(err, ErrDropped) {
		t.Fatalf("Flush = %v, want the shed events reported", err)
	}
	kept := srv.Kept()
	if m := missing(ids(append(held, critical...)), kept); len(m) > 0 {
		t.Fatalf("%d events not kept by the server", len(m))
	}
	for _, id := range ids(shed) {
		if kept[id] != 0 {
			t.Fatalf("shed event %s kept by the server", id)
		}
	}
}

// TestWebSocketDegradeNotWhileTheServerIsReachable checks that a server
// that accepts every connection and drops it before any reply is not an
// outage, however long the sink backs off between dials: the sink keeps
// every routine event it is given and, once its buffer is full, applies
// back-pressure to Write (which waits for room until its ctx ends) instead
// of shedding.
func TestWebSocketDegradeNotWhileTheServerIsReachable(t *testing.T) {
	ctx := testCtx(t)
	d := startDropServer(t)
	const buf = 64 << 10
	policy := retry.Policy{
		MaxRetries: retry.Unlimited, InitialDelay: 100 * time.Millisecond, MaxDelay: time.Second,
		BackoffMultiplier: 2, Jitter: retry.NoJitter, MaxElapsedTime: time.Hour,
	}
	s, _ := newTestSink(t, d.url, WithOutageBuffer(buf), WithDegradeAt(0.5), WithRetry(policy))
	d.waitAccepted(ctx, t, 1)
	tr := tracing.NewTraceID()
	s.ObserveTrace(traceHeader(tr))
	blocked := false
	deadline := time.Now().Add(4 * adapt.DegradeGrace)
	for i := 0; !blocked || time.Now().Before(deadline); i++ {
		if i == 1000 {
			t.Fatalf("Write never applied back-pressure: %+v", s.Stats())
		}
		const wait = 50 * time.Millisecond
		wctx, cancel := context.WithTimeout(ctx, wait)
		start := time.Now()
		err := s.Write(wctx, routineEvents(50, tr))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) >= wait {
			blocked = true // it waited for room until its ctx ended
		}
		if st := s.Stats(); st.Degraded || st.Dropped[DropDegraded] > 0 {
			t.Fatalf("degraded while the server accepts connections: %+v", st)
		}
	}
	if n := len(d.waitAccepted(ctx, t, 2)); n < 2 {
		t.Fatalf("%d connections", n)
	}
}
