package websocket

import (
	"context"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// TestSpoolReplayEndsALateClosingCopy: a streamed trace (ModeLive,
// generation 2) is half delivered on a connection the server notices the
// close of late; reconnecting gives up meanwhile, so the trace goes to the
// spool as one StoreTrace of all its events, which is replayed once the
// server is back. The server's late close of the old connection then
// stores its in-flight copy (the first half) over the replayed store,
// unless the sink ends that copy first, as its recovery does.
func TestSpoolReplayEndsALateClosingCopy(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	srv := startServer(t, tracetest.WithGeneration(tracetest.Gen2))
	s, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir), WithMode(ModeLive),
		WithRetry(retry.Policy{MaxRetries: 2, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	hdr := traceHeader(tracing.NewTraceID())
	s.ObserveTrace(hdr)
	evs := makeEvents(20, hdr.TraceID)
	if err := s.Write(ctx, evs[:10]); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	srv.SetCloseDelay(lateCloseDelay)
	srv.SetRefusing(true, tracetest.Refuse503)
	srv.KillConnections()
	waitSink(ctx, t, s, "the disconnect", func(st Stats) bool { return !st.Connected })
	if err := s.Write(ctx, evs[10:]); err != nil {
		t.Fatal(err)
	}
	waitSink(ctx, t, s, "the spool", func(st Stats) bool { return st.SpoolRecords > 0 })
	srv.SetRefusing(false, tracetest.Refuse503)
	waitSink(ctx, t, s, "the replay", func(st Stats) bool { return st.SpoolRecords == 0 })
	// Let the late close happen.
	time.Sleep(2500 * time.Millisecond)
	if msg := keptOnce(ids(evs), srv.KeptInTrace(hdr.TraceID)); msg != "" {
		t.Fatalf("trace keeps: %s; %s; sink %+v", msg, serverSummary(srv), s.Stats())
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = s.Close(cctx)
}

var lateCloseDelay = 1500 * time.Millisecond

// storedTraceID reads the trace id of the StoreTrace the encoder writes,
// and nothing else.
func TestStoredTraceID(t *testing.T) {
	tr := traceHeader(tracing.NewTraceID())
	tr.Events = makeEvents(2, tr.TraceID)
	var enc wire.Encoder
	js := enc.AppendRequest(nil, wire.StoreTrace{Trace: tr})
	if id, ok := storedTraceID(js); !ok || id != tr.TraceID {
		t.Fatalf("storedTraceID(%.80s) = %v, %v; want %v", js, id, ok, tr.TraceID)
	}
	rec := enc.AppendRequest(nil, wire.RecordEvent{TraceID: tr.TraceID, Event: tr.Events[0]})
	if _, ok := storedTraceID(rec); ok {
		t.Fatalf("storedTraceID of a RecordEvent: ok")
	}
	if _, ok := storedTraceID(js[:40]); ok {
		t.Fatalf("storedTraceID of a truncated StoreTrace: ok")
	}
}
