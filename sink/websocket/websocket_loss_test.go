package websocket

import (
	"context"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// The tests of this file give up a segment (a trace's events under one
// server trace id) while it holds events that no frame carries yet, and
// check that every event written is then acknowledged, kept on disk or
// counted as dropped: none is lost without a count.

// accounted returns the events s acknowledged or counted as dropped.
func accounted(s *Sink) uint64 {
	n := s.SinkStats().Acknowledged
	for _, k := range s.Stats().Dropped {
		n += k
	}
	return n
}

// waitConnected waits until s has connected once.
func waitConnected(t *testing.T, ctx context.Context, s *Sink) {
	t.Helper()
	for s.Stats().Connects == 0 {
		if ctx.Err() != nil {
			t.Fatal("the sink never connected")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWebSocketRejectionCountsUnbuiltEvents: a store the server rejects
// for good loses its segment; the events written to the segment after the
// store was built, which no store carried, are counted as rejected too.
func TestWebSocketRejectionCountsUnbuiltEvents(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	s, _ := newTestSink(t, srv.URL(), WithStoreDelay(time.Hour))
	tr := tracing.NewTraceID()
	waitConnected(t, ctx, s)
	gate := make(chan struct{})
	srv.SetAckGate(gate)
	srv.ErrorNext("StoreTrace", 1, wire.CodeInvalidRequest, "bad")
	if err := s.Write(ctx, makeEvents(10, tr)); err != nil { // the segment's first store goes at once
		t.Fatal(err)
	}
	if err := srv.WaitFor(ctx, func(v tracetest.View) bool { return v.ByKind("StoreTrace") >= 1 }); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, makeEvents(5, tr)); err != nil { // not due: no store carries them yet
		t.Fatal(err)
	}
	close(gate) // the rejection arrives
	srv.SetAckGate(nil)
	for s.Stats().InFlightFrames != 0 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	_ = s.Flush(ctx)
	_ = s.Close(ctx)
	if n := accounted(s); n != 15 {
		t.Fatalf("15 events written, %d acknowledged or counted dropped (%v)", n, s.Stats().Dropped)
	}
	if d := s.Stats().Dropped[DropRejected]; d != 15 {
		t.Fatalf("%d counted rejected, want 15", d)
	}
}

// TestWebSocketGiveUpKeepsUnbuiltEvents: when reconnecting gives up, the
// events of a segment that no store carried yet go with the segment:
// dropped and counted without a spool, spooled (and delivered once the
// server is back) with one.
func TestWebSocketGiveUpKeepsUnbuiltEvents(t *testing.T) {
	for _, spooled := range []bool{false, true} {
		t.Run(map[bool]string{false: "nospool", true: "spool"}[spooled], func(t *testing.T) {
			ctx := testCtx(t)
			srv := startServer(t)
			opts := []Option{
				WithRetry(retry.Policy{MaxRetries: 1, InitialDelay: 200 * time.Millisecond, MaxDelay: 200 * time.Millisecond, Jitter: retry.NoJitter, MaxElapsedTime: time.Hour}),
				WithStoreDelay(time.Hour),
			}
			if spooled {
				opts = append(opts, WithSpoolDir(t.TempDir()))
			}
			s, _ := newTestSink(t, srv.URL(), opts...)
			waitConnected(t, ctx, s)
			srv.Stop()
			tr := tracing.NewTraceID()
			evs := makeEvents(15, tr)
			if err := s.Write(ctx, evs[:10]); err != nil { // a store is built and waits
				t.Fatal(err)
			}
			if err := s.Write(ctx, evs[10:]); err != nil { // not due: in no store yet
				t.Fatal(err)
			}
			for ctx.Err() == nil {
				if st := s.Stats(); st.Dropped[DropRetriesExhausted] > 0 || st.SpoolRecords > 0 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := srv.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			_ = s.Flush(ctx)
			_ = s.Close(ctx)
			if !spooled {
				if n := s.Stats().Dropped[DropRetriesExhausted]; n != 15 {
					t.Fatalf("%d events counted as dropped after the give-up (%v), want 15", n, s.Stats().Dropped)
				}
				return
			}
			kept := srv.KeptInTrace(tr)
			for _, id := range ids(evs) {
				if kept[id] != 1 {
					t.Fatalf("event %s kept %d times, want once (server keeps %d of 15; %s)", id, kept[id], len(kept), serverSummary(srv))
				}
			}
			if n := accounted(s); n != 15 {
				t.Fatalf("15 events written and kept, %d acknowledged or counted dropped (%v)", n, s.Stats().Dropped)
			}
		})
	}
}

// TestWebSocketCloseDuringRecoveryKeepsEvents: a Close whose ctx ends
// while a generation-2 recovery waits for the server keeps the events only
// the recovery's store would have carried: spooled, for a later sink to
// deliver, where there is a spool; counted as dropped at Close otherwise.
func TestWebSocketCloseDuringRecoveryKeepsEvents(t *testing.T) {
	for _, spooled := range []bool{false, true} {
		t.Run(map[bool]string{false: "nospool", true: "spool"}[spooled], func(t *testing.T) {
			ctx := testCtx(t)
			srv := startServer(t, tracetest.WithGeneration(tracetest.Gen2))
			opts := []Option{WithMode(ModeLive), WithProtocol(transport.ProtocolV2)}
			if spooled {
				opts = append(opts, WithSpoolDir(t.TempDir()))
			}
			s, _ := newTestSink(t, srv.URL(), opts...)
			tr := tracing.NewTraceID()
			s.ObserveTrace(traceHeader(tr))
			evs := makeEvents(10, tr)
			if err := s.Write(ctx, evs[:5]); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			srv.Stop() // the server stores the trace's 5 events as Completed
			if err := s.Write(ctx, evs[5:]); err != nil {
				t.Fatal(err)
			}
			gate := make(chan struct{})
			srv.SetAckGate(gate) // nothing is answered on the next connection
			if err := srv.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			if err := srv.WaitFor(ctx, func(v tracetest.View) bool { return v.ByKind("EndTrace") >= 1 }); err != nil {
				t.Fatal(err) // the recovery began
			}
			cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			err := s.Close(cctx)
			cancel()
			close(gate)
			srv.SetAckGate(nil)
			if !spooled {
				if n := accounted(s); n != 10 {
					t.Fatalf("10 events written, %d acknowledged or counted dropped (%v); Close: %v", n, s.Stats().Dropped, err)
				}
				return
			}
			if st := s.Stats(); st.SpoolRecords == 0 {
				t.Fatalf("nothing spooled at Close (%v; dropped %v)", err, st.Dropped)
			}
			// A later sink on the same spool delivers what was spooled, at
			// the latest at its Close.
			s2, _ := newTestSink(t, srv.URL(), opts...)
			if err := s2.Close(ctx); err != nil {
				t.Fatal(err)
			}
			kept := srv.KeptInTrace(tr)
			for _, id := range ids(evs) {
				if kept[id] != 1 {
					t.Fatalf("event %s kept %d times, want once (server keeps %d of 10; %s)", id, kept[id], len(kept), serverSummary(srv))
				}
			}
		})
	}
}

// TestWebSocketRejectedStartTraceCountsOnce: a StartTrace rejected for
// good loses its segment, counted as rejected; the RecordEvents sent
// behind it are not counted as acknowledged as well.
func TestWebSocketRejectedStartTraceCountsOnce(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t, tracetest.WithGeneration(tracetest.Gen2))
	srv.ErrorNext("StartTrace", 1, wire.CodeInvalidRequest, "no")
	s, _ := newTestSink(t, srv.URL(), WithMode(ModeLive), WithProtocol(transport.ProtocolV2))
	tr := tracing.NewTraceID()
	s.ObserveTrace(traceHeader(tr))
	if err := s.Write(ctx, makeEvents(10, tr)); err != nil {
		t.Fatal(err)
	}
	_ = s.Flush(ctx)
	_ = s.Close(ctx)
	if n := accounted(s); n != 10 {
		t.Fatalf("10 events written, %d acknowledged or counted dropped (acknowledged %d, dropped %v)", n, s.SinkStats().Acknowledged, s.Stats().Dropped)
	}
}
