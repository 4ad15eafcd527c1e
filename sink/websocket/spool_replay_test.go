package websocket

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// spoolTraces writes one batch per trace with a sink whose server refuses
// it, so that Close spools them, one record per trace in this order.
func spoolTraces(ctx context.Context, t *testing.T, srv *tracetest.Server, dir string, batches ...[]tracing.TraceEvent) {
	t.Helper()
	srv.SetRefusing(true, tracetest.Refuse503)
	s, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir), WithSpoolSync(sink.SyncEvery(1)))
	for _, b := range batches {
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_ = s.Close(cctx) // the server refuses: everything is spooled
	cancel()
	if st := s.Stats(); st.SpoolRecords != int64(len(batches)) {
		t.Fatalf("spooled %d records, want %d", st.SpoolRecords, len(batches))
	}
}

// TestWebSocketSpoolReplayFirst checks that the spool is replayed whole
// before newer frames go out: a trace stored again by a later process
// under the same id (a caller-supplied trace id) keeps the later
// process's events, not those of a spooled record sent after them.
func TestWebSocketSpoolReplayFirst(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	srv := startServer(t)
	trace := tracing.NewTraceID()
	spoolTraces(ctx, t, srv, dir, makeEvents(5, tracing.NewTraceID()), makeEvents(5, trace))

	// The later process writes the trace while the server is still
	// refusing it: its store waits in memory behind the spool.
	s, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir))
	newer := makeEvents(7, trace)
	if err := s.Write(ctx, newer); err != nil {
		t.Fatal(err)
	}
	waitSink(ctx, t, s, "the store queued", func(st Stats) bool { return st.QueuedFrames > 0 })
	srv.SetRefusing(false, tracetest.Refuse503)
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	waitSink(ctx, t, s, "the replay", func(st Stats) bool { return st.SpoolRecords == 0 })
	got := srv.KeptInTrace(trace)
	if len(missing(ids(newer), got)) != 0 || len(got) != len(newer) {
		t.Fatalf("server keeps %d events of the trace, %d of the %d newer ones: a spooled record overtook newer frames",
			len(got), len(newer)-len(missing(ids(newer), got)), len(newer))
	}
}

// TestWebSocketSpoolCloseDrains checks that Close replays what is on disk
// while the server is reachable and its context has time, and that what
// is left stays on disk, counted in Close's error.
func TestWebSocketSpoolCloseDrains(t *testing.T) {
	const traces, perTrace = 10, 5
	setup := func(ctx context.Context, t *testing.T) (*tracetest.Server, string, []tracing.TraceEvent) {
		dir := t.TempDir()
		srv := startServer(t)
		var batches [][]tracing.TraceEvent
		var all []tracing.TraceEvent
		for range traces {
			b := makeEvents(perTrace, tracing.NewTraceID())
			batches = append(batches, b)
			all = append(all, b...)
		}
		spoolTraces(ctx, t, srv, dir, batches...)
		return srv, dir, all
	}
	leftOnDisk := func(t *testing.T, dir string) int64 {
		t.Helper()
		sp, err := openSpool(dir, sink.SyncNever, 0, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		defer sp.close()
		_, recs, _ := sp.pending()
		return recs
	}

	t.Run("server reachable", func(t *testing.T) {
		ctx := testCtx(t)
		srv, dir, all := setup(ctx, t)
		// Nothing is acknowledged before Close is called.
		gate := make(chan struct{})
		srv.SetAckGate(gate)
		srv.SetRefusing(false, tracetest.Refuse503)
		s, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir), WithMaxInFlight(2, 1<<20))
		waitSink(ctx, t, s, "the connection", func(st Stats) bool { return st.Connected })
		done := make(chan error, 1)
		go func() { done <- s.Close(ctx) }()
		for !s.closed.Load() && ctx.Err() == nil {
			runtime.Gosched() // until Close stopped intake
		}
		close(gate)
		if err := <-done; err != nil {
			t.Fatalf("Close: %v", err)
		}
		if m := missing(ids(all), srv.Kept()); len(m) > 0 {
			t.Fatalf("server misses %d of %d spooled events after Close", len(m), len(all))
		}
		if n := leftOnDisk(t, dir); n != 0 {
			t.Fatalf("%d records left on disk", n)
		}
	})

	t.Run("acknowledgements too slow", func(t *testing.T) {
		ctx := testCtx(t)
		srv, dir, _ := setup(ctx, t)
		srv.SetAckGate(make(chan struct{})) // never acknowledges
		srv.SetRefusing(false, tracetest.Refuse503)
		s, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir), WithMaxInFlight(2, 1<<20))
		waitSink(ctx, t, s, "the connection", func(st Stats) bool { return st.Connected })
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		err := s.Close(cctx)
		cancel()
		want := "sink: websocket close: 50 events not acknowledged; 50 spooled in " + dir + " (10 records)"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Close = %v, want it to say %q", err, want)
		}
		if n := leftOnDisk(t, dir); n != traces {
			t.Fatalf("%d records left on disk, want %d", n, traces)
		}
	})

	t.Run("server unreachable", func(t *testing.T) {
		ctx := testCtx(t)
		srv, dir, _ := setup(ctx, t)
		srv.SetRefusing(true, tracetest.Refuse503)
		s, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir))
		cctx, cancel := context.WithTimeout(ctx, testTimeout/2)
		defer cancel()
		err := s.Close(cctx)
		if cctx.Err() != nil {
			t.Fatalf("Close waited for its deadline with the server unreachable: %v", err)
		}
		if err == nil || !strings.Contains(err.Error(), "50 spooled in "+dir) {
			t.Fatalf("Close = %v", err)
		}
		if n := leftOnDisk(t, dir); n != traces {
			t.Fatalf("%d records left on disk, want %d", n, traces)
		}
	})
}
