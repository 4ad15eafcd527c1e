package websocket

import (
	"context"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// TestWebSocketRecoveryOfLargeTrace: a streamed trace (ModeLive,
// generation 2) whose segment holds about 15 MiB of events, below the
// frame limit, is recovered after a restart of a server whose storage
// persisted. The server answers the recovery's GetTrace with the whole
// trace in its own form, larger than the sink wrote it (every snapshot
// field): the reply must be read, not fail the connection and be asked
// again on the next one, forever.
func TestWebSocketRecoveryOfLargeTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("large")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	srv := startServer(t, tracetest.WithGeneration(tracetest.Gen2))
	s, el := newTestSink(t, srv.URL(), WithMode(ModeLive))
	hdr := traceHeader(tracing.NewTraceID())
	s.ObserveTrace(hdr)
	evs := makeEvents(25001, hdr.TraceID)
	for i := 0; i < 25000; i += 500 {
		if err := s.Write(ctx, evs[i:i+500]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.KeptInTrace(hdr.TraceID)); n != 25000 {
		t.Fatalf("before the restart the server keeps %d events", n)
	}
	srv.Stop()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, evs[25000:]); err != nil {
		t.Fatal(err)
	}
	fctx, fcancel := context.WithTimeout(ctx, 15*time.Second)
	defer fcancel()
	err := s.Flush(fctx)
	st := s.Stats()
	errs := el.all()
	var last error
	if len(errs) > 0 {
		last = errs[len(errs)-1]
	}
	if err != nil {
		t.Fatalf("Flush after the restart: %v; reconnects %d, %d errors reported, last: %v", err, st.Reconnects, len(errs), last)
	}
	if n := len(srv.KeptInTrace(hdr.TraceID)); n != len(evs) {
		t.Fatalf("server keeps %d of %d events", n, len(evs))
	}
}
