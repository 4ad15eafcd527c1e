package websocket

import (
	"fmt"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// keptAcross reads a trace spread over servers the way WithFailover's doc
// says: every visible trace of every server, and for each trace id the copy
// with the most events. It returns how many times each event id appears in
// those copies, and the copies by trace id.
func keptAcross(servers ...*tracetest.Server) (map[tracing.EventID]int, map[tracing.TraceID]tracing.FlowTrace) {
	best := map[tracing.TraceID]tracing.FlowTrace{}
	for _, srv := range servers {
		for _, tr := range srv.Traces() {
			if b, ok := best[tr.TraceID]; !ok || len(tr.Events) > len(b.Events) {
				best[tr.TraceID] = tr
			}
		}
	}
	kept := map[tracing.EventID]int{}
	for _, tr := range best {
		for _, ev := range tr.Events {
			kept[ev.EventID]++
		}
	}
	return kept, best
}

// TestWebSocketFailover checks that when the server the sink sends to goes
// away, the sink moves to the next one with the frames not acknowledged,
// and that every event is then found exactly once across the two servers,
// with the trace's final status, on both generations and in the modes that
// keep.
func TestWebSocketFailover(t *testing.T) {
	for _, gen := range []tracetest.Generation{tracetest.Gen1, tracetest.Gen2} {
		modes := []Mode{ModeStore, ModeBoth}
		if gen == tracetest.Gen2 {
			modes = append(modes, ModeLive)
		}
		for _, mode := range modes {
			t.Run(fmt.Sprintf("%s/%s", gen, mode), func(t *testing.T) {
				ctx := testCtx(t)
				a := startServer(t, tracetest.WithGeneration(gen))
				b := startServer(t, tracetest.WithGeneration(gen))
				s, _ := newTestSink(t, a.URL(), WithMode(mode), WithFailover(b.URL()))
				hdr := traceHeader(tracing.NewTraceID())
				s.ObserveTrace(hdr)
				evs := makeEvents(600, hdr.TraceID)
				for i := 0; i < 300; i += 50 {
					if err := s.Write(ctx, evs[i:i+50]); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.Flush(ctx); err != nil {
					t.Fatalf("Flush before the failover: %v", err)
				}
				a.Stop() // the first server goes away for good
				for i := 300; i < len(evs); i += 50 {
					if err := s.Write(ctx, evs[i:i+50]); err != nil {
						t.Fatal(err)
					}
				}
				s.ObserveTrace(ended(hdr, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}))
				if err := s.Flush(ctx); err != nil {
					t.Fatalf("Flush after the failover: %v", err)
				}
				if b.Stats().Connects == 0 {
					t.Fatal("the sink never connected to the failover server")
				}
				kept, traces := keptAcross(a, b)
				for _, id := range ids(evs) {
					if kept[id] != 1 {
						t.Fatalf("event %s kept %d times across the servers, want once", id, kept[id])
					}
				}
				if len(kept) != len(evs) {
					t.Fatalf("%d events kept, want %d", len(kept), len(evs))
				}
				if tr, ok := traces[hdr.TraceID]; !ok || tr.Status.Kind != tracing.StatusCompleted {
					t.Fatalf("trace kept as %+v, want it Completed", tr.Status)
				}
			})
		}
	}
}
