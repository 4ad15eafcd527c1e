package websocket

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// missingAcross returns how many of want keptAcross(servers) misses, and
// how many it holds more than once.
func missingAcross(want []tracing.EventID, servers ...*tracetest.Server) (lost, dup int) {
	kept, _ := keptAcross(servers...)
	for _, id := range want {
		switch kept[id] {
		case 0:
			lost++
		case 1:
		default:
			dup++
		}
	}
	return lost, dup
}

// moveTrace writes 100 events of a trace in mode to a sink connected to
// a, with b as its failover server, and flushes; then stops a, writes 100
// more (the sink moves to b), calls then (unless nil) and flushes again,
// which must return nil.
func moveTrace(ctx context.Context, t *testing.T, mode Mode, a, b *tracetest.Server, then func(*Sink, tracing.FlowTrace)) (*Sink, tracing.FlowTrace, []tracing.TraceEvent) {
	t.Helper()
	s, _ := newTestSink(t, a.URL(), WithMode(mode), WithFailover(b.URL()))
	hdr := traceHeader(tracing.NewTraceID())
	s.ObserveTrace(hdr)
	evs := makeEvents(200, hdr.TraceID)
	if err := s.Write(ctx, evs[:100]); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	a.Stop()
	if err := s.Write(ctx, evs[100:]); err != nil {
		t.Fatal(err)
	}
	if then != nil {
		then(s, hdr)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush after the move: %v", err)
	}
	return s, hdr, evs
}

// TestWebSocketStreamedGen1ToGen2Flush: a streamed trace (ModeBoth) written
// first to a generation-1 server, which keeps it by StoreTrace, then moved
// to a generation-2 server (failover, or the same URL upgraded). After a
// Flush that returned nil, the copy with the most events, across both
// servers, must hold every event written.
func TestWebSocketStreamedGen1ToGen2Flush(t *testing.T) {
	for _, mode := range []Mode{ModeBoth, ModeLive} {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := testCtx(t)
			a := startServer(t, tracetest.WithGeneration(tracetest.Gen1))
			b := startServer(t, tracetest.WithGeneration(tracetest.Gen2))
			_, hdr, evs := moveTrace(ctx, t, mode, a, b, nil)
			if b.Stats().Connects == 0 {
				t.Fatal("never reached the failover server")
			}
			lost, dup := missingAcross(ids(evs), a, b)
			gb := b.GetTrace(hdr.TraceID)
			nb := 0
			if gb != nil {
				nb = len(gb.Events)
			}
			if lost > 0 || dup > 0 {
				t.Fatalf("after Flush returned nil: %d of %d events in no best copy, %d duplicated; gen2 server's GetTrace has %d events; a %s, b %s",
					lost, len(evs), dup, nb, serverSummary(a), serverSummary(b))
			}
		})
	}
}

// TestWebSocketBothGen2ToGen1InFlight: ModeBoth on a generation-2 server skips
// the segment's stores (the server keeps the streamed events). When the
// connection dies with RecordEvents the server never read, they are resent
// to a generation-1 failover server, which only forwards them. Flush
// returns nil: every event must be kept somewhere.
func TestWebSocketBothGen2ToGen1InFlight(t *testing.T) {
	ctx := testCtx(t)
	a := startServer(t, tracetest.WithGeneration(tracetest.Gen2))
	b := startServer(t, tracetest.WithGeneration(tracetest.Gen1))
	s, _ := newTestSink(t, a.URL(), WithMode(ModeBoth), WithFailover(b.URL()))
	hdr := traceHeader(tracing.NewTraceID())
	s.ObserveTrace(hdr)
	evs := makeEvents(120, hdr.TraceID)
	if err := s.Write(ctx, evs[:100]); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A handles the next message and then holds its reply: it reads nothing
	// more.
	gate := make(chan struct{})
	a.SetAckGate(gate)
	if err := s.Write(ctx, evs[100:]); err != nil {
		t.Fatal(err)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- s.Flush(ctx) }()
	// Let the sender take the Flush's store (skipped on generation 2).
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().QueuedFrames > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	a.Stop()
	a.SetAckGate(nil)
	if err := <-flushed; err != nil {
		t.Fatalf("Flush: %v", err)
	}
	lost, dup := missingAcross(ids(evs), a, b)
	st := s.Stats()
	if lost > 0 || dup > 0 {
		t.Fatalf("after Flush returned nil: %d of %d events in no best copy, %d duplicated (sink dropped %v); a %s; b %s",
			lost, len(evs), dup, st.Dropped, serverSummary(a), serverSummary(b))
	}
	_ = fmt.Sprint()
}

// TestWebSocketLiveGen2ToGen1End: ModeLive, a trace started on a generation-2
// server (which keeps it) moves to a generation-1 failover server and ends
// there. Generation 1 keeps no RecordEvent in ModeLive: the segment is
// recovered there and stored whole, so that every event is kept, and
// none counts as acknowledged that no server keeps.
func TestWebSocketLiveGen2ToGen1End(t *testing.T) {
	ctx := testCtx(t)
	a := startServer(t, tracetest.WithGeneration(tracetest.Gen2))
	b := startServer(t, tracetest.WithGeneration(tracetest.Gen1))
	s, hdr, evs := moveTrace(ctx, t, ModeLive, a, b, func(s *Sink, hdr tracing.FlowTrace) {
		s.ObserveTrace(ended(hdr, tracing.ExecutionStatus{Kind: tracing.StatusFailed, Error: "boom"}))
	})
	lost, _ := missingAcross(ids(evs), a, b)
	ack := s.SinkStats().Acknowledged
	if lost > 0 {
		_, best := keptAcross(a, b)
		t.Fatalf("Flush returned nil, SinkStats.Acknowledged=%d, dropped %v, but %d of %d events kept nowhere (best copy status %+v)",
			ack, s.Stats().Dropped, lost, len(evs), best[hdr.TraceID].Status)
	}
}

// TestWebSocketBothGen1ToGen2Close: as TestWebSocketStreamedGen1ToGen2Flush, then
// Close while connected to the healthy generation-2 server, the trace not
// ended. Close could store the segment; it drops what no frame carries.
func TestWebSocketBothGen1ToGen2Close(t *testing.T) {
	ctx := testCtx(t)
	a := startServer(t, tracetest.WithGeneration(tracetest.Gen1))
	b := startServer(t, tracetest.WithGeneration(tracetest.Gen2))
	s, _, evs := moveTrace(ctx, t, ModeBoth, a, b, nil)
	cerr := s.Close(ctx)
	lost, _ := missingAcross(ids(evs), a, b)
	if cerr != nil || lost > 0 {
		t.Fatalf("Close while connected to a healthy server: %v; %d of %d events in no best copy", cerr, lost, len(evs))
	}
}
