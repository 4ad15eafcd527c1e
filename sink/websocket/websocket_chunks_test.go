package websocket

import (
	"testing"

	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/chunks"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// TestWebSocketStoresShareTheirSegment checks that the stores of a
// segment in flight refer to the segment's chunks instead of copying them,
// and that the memory the sink counts is the segment's, once.
func TestWebSocketStoresShareTheirSegment(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t, tracetest.WithFastScan(true))
	s, _ := newTestSink(t, srv.URL())
	waitProbed(ctx, t, s)
	gate := make(chan struct{})
	srv.SetAckGate(gate) // nothing is acknowledged
	t.Cleanup(func() { close(gate) })
	trace := tracing.NewTraceID()
	for range 12 {
		if err := s.Write(ctx, makeEvents(512, trace)); err != nil {
			t.Fatal(err)
		}
	}
	// Each store went out at once, the window being empty: the stores of
	// the segment's doublings are all in flight.
	waitSink(ctx, t, s, "stores in flight", func(st Stats) bool { return st.InFlightFrames >= 3 })

	s.encMu.Lock()
	g := s.segs[trace]
	s.encMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	size, cs := g.data.Len(), g.data.View(nil)
	inflight := s.inflight.items[s.inflight.head:]
	for _, f := range inflight {
		if f.seg != g || f.parts == nil || f.wire != nil {
			t.Fatalf("a store in flight is not the segment's parts: %+v", f)
		}
		// The events are the segment's own chunks, not copies.
		if c := f.parts[1]; &c[0] != &cs[0][0] {
			t.Fatal("a store in flight copied its segment")
		}
	}
	frames := len(inflight)
	for _, f := range s.queue.items[s.queue.head:] {
		if f.seg == g && f.parts != nil {
			frames++
		}
	}
	if g.refs != frames+1 {
		t.Fatalf("segment has %d references, want one per store in flight or queued and its own (%d)", g.refs, frames+1)
	}
	held := s.heldLocked()
	if max := int64(size) + 2*chunks.Max + 16<<10; held > max {
		t.Fatalf("sink counts %d bytes for a segment of %d in %d stores in flight, want at most %d",
			held, size, len(inflight), max)
	}
}

// TestWebSocketSegmentChunksOutliveTheirFrames checks that a segment given
// up keeps its chunks while frames refer to them, and gives them to the
// pool with the last frame.
func TestWebSocketSegmentChunksOutliveTheirFrames(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t, tracetest.WithFastScan(true))
	s, _ := newTestSink(t, srv.URL())
	waitProbed(ctx, t, s)
	gate := make(chan struct{})
	srv.SetAckGate(gate)
	trace := tracing.NewTraceID()
	for range 4 {
		if err := s.Write(ctx, makeEvents(512, trace)); err != nil {
			t.Fatal(err)
		}
	}
	waitSink(ctx, t, s, "a store in flight", func(st Stats) bool { return st.InFlightFrames >= 1 })
	s.encMu.Lock()
	g := s.segs[trace]
	s.encMu.Unlock()

	s.mu.Lock()
	s.loseSegLocked(g, DropClosed)
	if !g.released || g.data.NumChunks() == 0 || s.retained.Load() == 0 {
		s.mu.Unlock()
		t.Fatalf("a segment given up dropped its chunks while frames refer to them (released %v, refs %d)", g.released, g.refs)
	}
	capB := g.data.Cap()
	s.mu.Unlock()

	close(gate) // the frames in flight are acknowledged and released
	waitSink(ctx, t, s, "the frames released", func(Stats) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return g.refs == 0
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.chunks.Kept()
	if g.data.NumChunks() != 0 || kept < capB || s.retained.Load() != 0 {
		t.Fatalf("after the last frame: %d chunks, %d bytes in the pool of %d, %d counted", g.data.NumChunks(), kept, capB, s.retained.Load())
	}
}
