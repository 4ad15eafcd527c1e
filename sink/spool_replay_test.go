package sink

import (
	"context"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/internal/testserver"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// spoolTraces writes one batch per trace with a sink whose server refuses
// it, so that Close spools them, one record per trace in this order.
func spoolTraces(ctx context.Context, t *testing.T, srv *testserver.Server, dir string, batches ...[]tracing.TraceEvent) {
	t.Helper()
	srv.SetRefusing(true, testserver.Refuse503)
	s, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir), WithSpoolSync(SyncEveryRecord))
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
	waitSink(ctx, t, s, "the store queued", func(st WebSocketStats) bool { return st.QueuedFrames > 0 })
	srv.SetRefusing(false, testserver.Refuse503)
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	waitSink(ctx, t, s, "the replay", func(st WebSocketStats) bool { return st.SpoolRecords == 0 })
	got := srv.KeptInTrace(trace)
	if len(missing(ids(newer), got)) != 0 || len(got) != len(newer) {
		t.Fatalf("server keeps %d events of the trace, %d of the %d newer ones: a spooled record overtook newer frames",
			len(got), len(newer)-len(missing(ids(newer), got)), len(newer))
	}
}
