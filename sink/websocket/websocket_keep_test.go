package websocket

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/traces"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/query"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// The tests of this file check what the server keeps after a run, by event
// id, for both server generations and every mode: every recorded event is
// found exactly once, in a trace with its current status.

// modes are the sink modes every delivery test runs in.
var modes = []Mode{ModeStore, ModeLive, ModeBoth}

// keepRun records traces through a sink to a test server and checks what
// the server keeps.
type keepRun struct {
	t    *testing.T
	ctx  context.Context
	gen  tracetest.Generation
	mode Mode
	srv  *tracetest.Server
	s    *Sink
	el   *errorLog
	hdrs []tracing.FlowTrace
	want []tracing.EventID
}

func newKeepRun(t *testing.T, gen tracetest.Generation, mode Mode, srvOpts []tracetest.Option, opts ...Option) *keepRun {
	t.Helper()
	return newKeepRunOn(t, gen, mode, srvOpts, nil, opts...)
}

// newKeepRunWith is newKeepRun with prepare called on the server before
// the sink starts.
func newKeepRunWith(t *testing.T, gen tracetest.Generation, mode Mode, prepare func(*tracetest.Server), opts ...Option) *keepRun {
	t.Helper()
	return newKeepRunOn(t, gen, mode, nil, prepare, opts...)
}

func newKeepRunOn(t *testing.T, gen tracetest.Generation, mode Mode, srvOpts []tracetest.Option, prepare func(*tracetest.Server), opts ...Option) *keepRun {
	t.Helper()
	ctx := testCtx(t)
	srv := startServer(t, append([]tracetest.Option{tracetest.WithGeneration(gen)}, srvOpts...)...)
	if prepare != nil {
		prepare(srv)
	}
	s, el := newTestSink(t, srv.URL(), append([]Option{WithMode(mode)}, opts...)...)
	return &keepRun{t: t, ctx: ctx, gen: gen, mode: mode, srv: srv, s: s, el: el}
}

// connected waits for the sink's first connection.
func (r *keepRun) connected() {
	r.t.Helper()
	waitSink(r.ctx, r.t, r.s, "connection", func(st Stats) bool { return st.Connected })
}

// startTraces tells the sink about n running traces and returns n events
// per trace in batches of size that interleave them.
func (r *keepRun) startTraces(n, events, size int) [][]tracing.TraceEvent {
	ids := make([]tracing.TraceID, n)
	for i := range ids {
		ids[i] = tracing.NewTraceID()
		h := traceHeader(ids[i])
		r.hdrs = append(r.hdrs, h)
		r.s.ObserveTrace(h)
	}
	return interleaved(ids, events, size)
}

// write writes one batch and notes its events as recorded.
func (r *keepRun) write(b []tracing.TraceEvent) {
	r.t.Helper()
	r.want = append(r.want, ids(b)...)
	if err := r.s.Write(r.ctx, b); err != nil {
		r.t.Fatalf("Write: %v", err)
	}
}

// status is the status trace i ends with.
func status(i int) tracing.ExecutionStatus {
	if i%2 == 1 {
		return tracing.FailedStatus(fmt.Sprintf("trace %d failed", i))
	}
	return tracing.ExecutionStatus{Kind: tracing.StatusCompleted}
}

// endTraces ends every trace, through its header.
func (r *keepRun) endTraces() {
	for i := range r.hdrs {
		r.hdrs[i] = ended(r.hdrs[i], status(i))
		r.s.ObserveTrace(r.hdrs[i])
	}
}

// flush flushes the sink and fails on any error.
func (r *keepRun) flush() {
	r.t.Helper()
	if err := r.s.Flush(r.ctx); err != nil {
		r.t.Fatalf("Flush: %v; stats %+v", err, r.s.Stats())
	}
}

// check checks what srv keeps: where the generation keeps what the mode
// sends, every recorded event exactly once and each trace with its
// current header; on generation 1 in live mode, nothing kept and every
// event received live.
func (r *keepRun) check(srv *tracetest.Server) {
	r.t.Helper()
	if !keeps(r.gen, r.mode) {
		if n := len(srv.Kept()); n != 0 {
			r.t.Fatalf("generation 1 keeps %d events sent live", n)
		}
		if m := missing(r.want, srv.Live()); len(m) > 0 {
			r.t.Fatalf("%d of %d events not received live", len(m), len(r.want))
		}
		return
	}
	assertKeptOnce(r.t, srv, r.want)
	r.checkHeaders(srv)
}

// checkHeaders checks that the server keeps each trace under its id with
// its current status (and, unless it was recovered into a store, its flow
// and execution).
func (r *keepRun) checkHeaders(srv *tracetest.Server) {
	r.t.Helper()
	for i, h := range r.hdrs {
		got := srv.GetTrace(h.TraceID)
		if got == nil {
			r.t.Fatalf("trace %d not kept", i)
		}
		if got.Status != h.Status {
			r.t.Fatalf("trace %d kept with status %v, want %v", i, got.Status, h.Status)
		}
		if h.Status.Kind != tracing.StatusRunning && got.EndTime.IsZero() {
			r.t.Fatalf("trace %d ended without an end time", i)
		}
		if got.FlowID != h.FlowID {
			r.t.Fatalf("trace %d kept with flow %q, want %q", i, got.FlowID, h.FlowID)
		}
	}
}

func TestWebSocketKeepsUnderFaults(t *testing.T) {
	const traces, perTrace, batch = 2, 60, 20 // 6 batches, each with both traces
	tests := []struct {
		name string
		// at is called before batch i is written (i == -1: before the
		// first, once connected; i == len: before the traces end).
		at func(r *keepRun, i int)
	}{
		{name: "no fault"},
		{name: "dropped on arrival 0", at: dropAfterAt(0)},
		{name: "dropped on arrival 1", at: dropAfterAt(1)},
		{name: "dropped on arrival 3", at: dropAfterAt(3)},
		{name: "dropped on arrival 8", at: dropAfterAt(8)},
		{name: "lost ack 1", at: dropBeforeAckAt(1)},
		{name: "lost ack 2", at: dropBeforeAckAt(2)},
		{name: "lost ack 5", at: dropBeforeAckAt(5)},
		{name: "lost acks twice", at: func(r *keepRun, i int) {
			if i == 1 || i == 4 {
				r.srv.DropBeforeAck(2)
			}
		}},
		{name: "slow acks", at: func(r *keepRun, i int) {
			if i == -1 {
				r.srv.SetAckDelay(time.Millisecond)
			}
		}},
		{name: "retryable errors", at: func(r *keepRun, i int) {
			switch i {
			case -1:
				r.srv.ErrorEvery(3, wire.CodeStorageError, "database is locked")
			case 4:
				r.srv.ErrorEvery(0, "", "")
			}
		}},
		{name: "legacy retryable errors", at: func(r *keepRun, i int) {
			switch i {
			case 1:
				r.srv.ErrorEvery(2, "", "storage failed")
			case 3:
				r.srv.ErrorEvery(0, "", "")
			}
		}},
		{name: "refused reconnects", at: func(r *keepRun, i int) {
			if i == 2 {
				r.srv.RefuseNext(3, tracetest.Refuse503)
				r.srv.KillConnections()
			}
		}},
		{name: "refusing for a while", at: func(r *keepRun, i int) {
			switch i {
			case 1:
				r.srv.SetRefusing(true, tracetest.RefuseClose)
				r.srv.KillConnections()
			case 4:
				r.srv.SetRefusing(false, tracetest.RefuseClose)
			}
		}},
		{name: "server stopped and restarted", at: func(r *keepRun, i int) {
			switch i {
			case 2:
				r.srv.Stop()
				waitStopped(r)
			case 4:
				if err := r.srv.Restart(r.ctx); err != nil {
					r.t.Fatal(err)
				}
			}
		}},
		{name: "server stopped before the end", at: func(r *keepRun, i int) {
			switch i {
			case traces * perTrace / batch:
				r.srv.Stop()
				waitStopped(r)
				if err := r.srv.Restart(r.ctx); err != nil {
					r.t.Fatal(err)
				}
			}
		}},
	}
	for _, gen := range generations {
		for _, mode := range modes {
			for _, tt := range tests {
				t.Run(fmt.Sprintf("%s/%s/%s", gen, mode, tt.name), func(t *testing.T) {
					r := newKeepRun(t, gen, mode, nil)
					at := tt.at
					if at == nil {
						at = func(*keepRun, int) {}
					}
					r.connected()
					batches := r.startTraces(traces, perTrace, batch)
					at(r, -1)
					for i, b := range batches {
						at(r, i)
						r.write(b)
					}
					at(r, len(batches))
					r.endTraces()
					r.flush()
					r.check(r.srv)
					if err := r.s.Close(r.ctx); err != nil {
						t.Fatalf("Close: %v", err)
					}
					if st := r.s.SinkStats(); keeps(gen, mode) && st.Acknowledged != uint64(len(r.want)) {
						t.Fatalf("sink acknowledged %d distinct events, the server keeps %d", st.Acknowledged, len(r.want))
					}
				})
			}
		}
	}
}

// waitStopped waits until the sink lost its connection to the stopped
// server. The test server's Stop has been seen to leave a connection open
// now and then under the race detector; the connections are killed again
// while waiting.
func waitStopped(r *keepRun) {
	r.t.Helper()
	kills := 0
	waitSink(r.ctx, r.t, r.s, "disconnect", func(st Stats) bool {
		if st.Connected {
			kills++
			if kills%100 == 0 {
				r.t.Logf("still connected after Stop: killing the connections again")
				r.srv.KillConnections()
			}
		}
		return !st.Connected
	})
}

func dropAfterAt(n int) func(*keepRun, int) {
	return func(r *keepRun, i int) {
		if i == 1 {
			r.srv.DropAfter(n)
		}
	}
}

func dropBeforeAckAt(n int) func(*keepRun, int) {
	return func(r *keepRun, i int) {
		if i == 1 {
			r.srv.DropBeforeAck(n)
		}
	}
}

// TestWebSocketKeepsPermanentRejections checks that events the server
// rejects for good are counted as dropped, and that nothing else is lost
// or kept twice.
func TestWebSocketKeepsPermanentRejections(t *testing.T) {
	for _, gen := range generations {
		for _, mode := range modes {
			t.Run(fmt.Sprintf("%s/%s", gen, mode), func(t *testing.T) {
				r := newKeepRun(t, gen, mode, nil)
				r.connected()
				batches := r.startTraces(2, 60, 20)
				// Each batch is flushed, so that some of its frames meet the
				// errors.
				r.srv.ErrorEvery(2, wire.CodeInvalidRequest, "bad trace")
				var reported uint64
				for i, b := range batches {
					if i == 3 {
						r.srv.ErrorEvery(0, "", "")
					}
					r.write(b)
					if i == len(batches)-1 {
						r.endTraces()
					}
					err := r.s.Flush(r.ctx)
					var de *DroppedError
					switch {
					case errors.As(err, &de) && errors.Is(err, ErrDropped):
						reported += de.Events
					case err != nil:
						t.Fatalf("Flush: %v", err)
					}
				}
				st := r.s.Stats()
				rejected := st.Dropped[DropRejected]
				// On generation 2 the live modes' RecordEvents are backed by
				// the segments' last stores: the server may reject some of
				// them and lose nothing.
				backed := gen == tracetest.Gen2 && mode.live()
				if rejected == 0 && !backed || reported != rejected || st.Rejected[string(wire.CodeInvalidRequest)] != rejected {
					t.Fatalf("Flush reported %d dropped events, stats %+v", reported, st)
				}
				for reason, n := range st.Dropped {
					if reason != DropRejected && n > 0 {
						t.Fatalf("%d events dropped for %s", n, reason)
					}
				}
				var kept map[tracing.EventID]int
				if keeps(gen, mode) {
					kept = r.srv.Kept()
				} else {
					kept = r.srv.Live()
				}
				lost, dup := 0, 0
				for _, id := range r.want {
					switch n := kept[id]; {
					case n == 0:
						lost++
					case n > 1:
						dup++
					}
				}
				// In ModeBoth, and in ModeLive on generation 2, an event
				// goes in a RecordEvent and a store (the last of its
				// segment): it is lost, and counted, only when both are
				// rejected.
				if uint64(lost) != rejected || dup > 0 || len(kept) != len(r.want)-lost {
					t.Fatalf("%d of %d events lost, %d rejected; %d kept twice; %d kept in all", lost, len(r.want), rejected, dup, len(kept))
				}
				if errs := r.el.all(); len(errs) == 0 {
					t.Fatal("no rejection reported")
				}
			})
		}
	}
}

// TestWebSocketKeepsASegmentWhoseOlderStoreWasRejected has the server
// reject a store of a segment while a newer store of it, which carries
// the same events and more, is already on its way: the server keeps the
// segment whole when it takes the newer one, so nothing is lost, and
// nothing may be counted as dropped.
func TestWebSocketKeepsASegmentWhoseOlderStoreWasRejected(t *testing.T) {
	for _, gen := range generations {
		t.Run(gen.String(), func(t *testing.T) {
			r := newKeepRun(t, gen, ModeStore, nil)
			// Connects counts a connection once the server answered its
			// probe, which the gate would hold.
			waitSink(r.ctx, t, r.s, "a probed connection", func(st Stats) bool { return st.Connects > 0 })
			gate := make(chan struct{})
			r.srv.SetAckGate(gate)
			r.srv.ErrorNext("StoreTrace", 1, wire.CodeInvalidRequest, "bad trace")
			batches := r.startTraces(1, 20, 10)
			sent := r.s.Stats().FramesSent
			sentAtLeast := func(n uint64) {
				waitSink(r.ctx, t, r.s, "stores sent", func(st Stats) bool { return st.FramesSent >= sent+n })
			}
			r.write(batches[0])
			sentAtLeast(1) // the segment's first store, which the server rejects
			r.write(batches[1])
			flushed := make(chan error, 1)
			go func() { flushed <- r.s.Flush(r.ctx) }()
			sentAtLeast(2) // a store with both batches
			close(gate)
			if err := <-flushed; err != nil {
				t.Fatalf("Flush: %v", err)
			}
			st := r.s.Stats()
			if st.Dropped[DropRejected] != 0 || len(st.Rejected) != 0 {
				t.Fatalf("events counted as rejected, stats %+v", st)
			}
			if m := missing(r.want, r.srv.Kept()); len(m) > 0 {
				t.Fatalf("%d of %d events not kept", len(m), len(r.want))
			}
			if errs := r.el.all(); len(errs) == 0 {
				t.Fatal("the rejection was not reported")
			}
		})
	}
}

// TestWebSocketCountsRecordsWhoseStoresAreRejected checks the other half
// of the live modes on generation 2: when the server rejects an event's
// RecordEvent and its segment's last store as well, the event is lost and
// counted once.
func TestWebSocketCountsRecordsWhoseStoresAreRejected(t *testing.T) {
	for _, mode := range []Mode{ModeLive, ModeBoth} {
		t.Run(mode.String(), func(t *testing.T) {
			r := newKeepRun(t, tracetest.Gen2, mode, nil)
			r.connected()
			batches := r.startTraces(2, 30, 10)
			r.srv.ErrorEvery(1, wire.CodeInvalidRequest, "bad trace")
			for _, b := range batches {
				r.write(b)
			}
			r.endTraces()
			var de *DroppedError
			if err := r.s.Flush(r.ctx); !errors.As(err, &de) || de.Events != uint64(len(r.want)) {
				t.Fatalf("Flush = %v, want %d events dropped", err, len(r.want))
			}
			st := r.s.Stats()
			if st.Dropped[DropRejected] != uint64(len(r.want)) || st.Rejected[string(wire.CodeInvalidRequest)] != uint64(len(r.want)) {
				t.Fatalf("%d events written, stats %+v", len(r.want), st)
			}
			if kept := r.srv.Kept(); len(kept) != 0 {
				t.Fatalf("the server keeps %d events", len(kept))
			}
		})
	}
}

// TestWebSocketCountsRejectedRecordsOfOpenTraces checks that events whose
// RecordEvent the server rejected, in a trace that is still open when the
// sink closes (so no store carries them), are counted as rejected by Close.
func TestWebSocketCountsRejectedRecordsOfOpenTraces(t *testing.T) {
	for _, mode := range []Mode{ModeLive, ModeBoth} {
		t.Run(mode.String(), func(t *testing.T) {
			r := newKeepRun(t, tracetest.Gen2, mode, nil)
			r.connected()
			batches := r.startTraces(1, 20, 10)
			r.write(batches[0])
			r.flush()
			r.srv.ErrorEvery(1, wire.CodeInvalidRequest, "bad event")
			r.write(batches[1])
			if err := r.s.Flush(r.ctx); err != nil && mode == ModeLive {
				t.Fatalf("Flush: %v", err)
			}
			err := r.s.Close(r.ctx)
			st := r.s.Stats()
			if mode == ModeLive {
				var de *DroppedError
				if !errors.As(err, &de) {
					t.Fatalf("Close = %v, want the rejected events dropped", err)
				}
				if st.Dropped[DropRejected] != 10 || st.Dropped[DropClosed] != 0 || st.Rejected[string(wire.CodeInvalidRequest)] != 10 {
					t.Fatalf("10 events rejected, stats %+v", st)
				}
			}
			// Whatever the mode, what is counted is what the server misses.
			kept := r.srv.Kept()
			if mode == ModeLive {
				kept = r.srv.Live()
			}
			lost := uint64(len(missing(r.want, kept)))
			var counted uint64
			for _, n := range st.Dropped {
				counted += n
			}
			if lost != counted {
				t.Fatalf("the server misses %d events, the sink counts %d: %+v", lost, counted, st)
			}
		})
	}
}

// TestWebSocketKeepsAfterMemoryRestart restarts the server without what it
// stored, as Reflow's memory backend does: the server then only has what
// the sink sends after the restart. Every trace still open then is sent
// whole again (each store carries all its events, and a trace streamed on
// generation 2 is recovered into a store), so the new server keeps every
// event of the traces that end after the restart.
func TestWebSocketKeepsAfterMemoryRestart(t *testing.T) {
	for _, gen := range generations {
		for _, mode := range modes {
			t.Run(fmt.Sprintf("%s/%s", gen, mode), func(t *testing.T) {
				r := newKeepRun(t, gen, mode, nil)
				r.connected()
				batches := r.startTraces(2, 60, 20)
				for _, b := range batches[:3] {
					r.write(b)
				}
				r.flush() // acknowledged by the first server
				addr := r.srv.Addr()
				old := r.srv
				old.Close()
				waitSink(r.ctx, t, r.s, "disconnect", func(st Stats) bool { return !st.Connected })
				srv, err := tracetest.Start(r.ctx, tracetest.WithAddr(addr), tracetest.WithGeneration(gen))
				if err != nil {
					t.Fatalf("restart on %s: %v", addr, err)
				}
				t.Cleanup(srv.Close)
				r.srv = srv
				for _, b := range batches[3:] {
					r.write(b)
				}
				r.endTraces()
				r.flush()
				if !keeps(gen, mode) {
					live := old.Live()
					for id, n := range srv.Live() {
						live[id] += n
					}
					if m := missing(r.want, live); len(m) > 0 {
						t.Fatalf("%d events received by neither server", len(m))
					}
					return
				}
				r.check(srv)
			})
		}
	}
}

// TestWebSocketKeepsAcrossClientRestart closes a sink while its server is
// down, then opens a new sink on the same spool directory once the server
// is back: the server keeps every event, once. "cold" never reached the
// server before the outage; "warm" delivered half the events first.
func TestWebSocketKeepsAcrossClientRestart(t *testing.T) {
	for _, gen := range generations {
		for _, mode := range modes {
			for _, warm := range []bool{false, true} {
				name := "cold"
				if warm {
					name = "warm"
				}
				t.Run(fmt.Sprintf("%s/%s/%s", gen, mode, name), func(t *testing.T) {
					dir := t.TempDir()
					var prepare func(*tracetest.Server)
					if !warm {
						// Refused from the first attempt on.
						prepare = func(srv *tracetest.Server) { srv.SetRefusing(true, tracetest.Refuse503) }
					}
					r := newKeepRunWith(t, gen, mode, prepare, WithSpoolDir(dir), WithSpoolSync(sink.SyncEvery(1)))
					batches := r.startTraces(2, 60, 20)
					rest := batches
					if warm {
						r.connected()
						for _, b := range batches[:3] {
							r.write(b)
						}
						r.flush()
						rest = batches[3:]
					}
					r.srv.SetRefusing(true, tracetest.Refuse503)
					r.srv.KillConnections()
					waitSink(r.ctx, t, r.s, "disconnect", func(st Stats) bool { return !st.Connected })
					for _, b := range rest {
						r.write(b)
					}
					r.endTraces()
					cctx, cancel := context.WithTimeout(r.ctx, 50*time.Millisecond)
					err := r.s.Close(cctx)
					cancel()
					if err == nil || !strings.Contains(err.Error(), "spooled in "+dir) || strings.Contains(err.Error(), "lost") {
						t.Fatalf("Close with the server down = %v, want every unacknowledged event spooled", err)
					}
					// A new process: a new sink on the same directory.
					r.srv.SetRefusing(false, tracetest.Refuse503)
					s2, _ := newTestSink(t, r.srv.URL(), WithMode(mode), WithSpoolDir(dir))
					waitSink(r.ctx, t, s2, "the replay", func(st Stats) bool { return st.SpoolRecords == 0 && st.Connected })
					if err := s2.Flush(r.ctx); err != nil {
						t.Fatalf("Flush of the new sink: %v", err)
					}
					if err := s2.Close(r.ctx); err != nil {
						t.Fatalf("Close of the new sink: %v", err)
					}
					if keeps(gen, mode) {
						assertKeptOnce(t, r.srv, r.want)
						for i, h := range r.hdrs {
							if got := r.srv.GetTrace(h.TraceID); got == nil || got.Status != h.Status {
								t.Fatalf("trace %d kept as %+v, want status %v", i, got, h.Status)
							}
						}
					} else {
						// Live mode on generation 1: what went out before the
						// outage was forwarded; what was spooled is replayed
						// as one StoreTrace per trace, and kept.
						seen := r.srv.Live()
						for id, n := range r.srv.Kept() {
							seen[id] += n
						}
						if m := missing(r.want, seen); len(m) > 0 {
							t.Fatalf("%d events neither received live nor kept", len(m))
						}
					}
				})
			}
		}
	}
}

// TestWebSocketKeepsLongTrace sends one trace of 200,000 events at the
// default settings: it is kept in segments linked by their tags, every
// event once across them, and the bytes sent stay under three times the
// events' JSON. Under the race detector, which makes it ten times slower,
// the trace has 24,000 events in frames of 2 MiB: as many segments (8)
// for an eighth of the events.
func TestWebSocketKeepsLongTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 events")
	}
	events, batch := 200_000, 512
	var opts []Option
	if raceEnabled {
		events = 24_000
		opts = append(opts, WithMaxFrameBytes(2<<20))
	}
	for _, gen := range generations {
		for _, mode := range []Mode{ModeStore, ModeLive} {
			if !keeps(gen, mode) {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s", gen, mode), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
				defer cancel()
				r := newKeepRun(t, gen, mode, nil, opts...)
				r.ctx = ctx
				batches := r.startTraces(1, events, batch)
				var enc wire.Encoder
				jsonBytes := 0
				for _, b := range batches {
					for i := range b {
						jsonBytes += len(enc.AppendEvent(nil, &b[i]))
					}
					r.write(b)
				}
				r.endTraces()
				r.flush()
				assertKeptOnce(t, r.srv, r.want)
				hdr := r.hdrs[0]
				segs := r.srv.Query(wire.TraceQuery{ExecutionID: hdr.ExecutionID})
				if len(segs) < 2 {
					t.Fatalf("%d traces of execution %s, want several segments", len(segs), hdr.ExecutionID)
				}
				seen := map[int]bool{}
				n, last := 0, 0
				var lastStatus tracing.ExecutionStatus
				for _, tr := range segs {
					num := 0
					if tr.TraceID != hdr.TraceID {
						if tr.Metadata.Tags[wire.TagSegmentOf] != hdr.TraceID.String() {
							t.Fatalf("segment %s tagged %v, want %s=%s", tr.TraceID, tr.Metadata.Tags, wire.TagSegmentOf, hdr.TraceID)
						}
						if _, err := fmt.Sscan(tr.Metadata.Tags[wire.TagSegment], &num); err != nil || num < 1 {
							t.Fatalf("segment %s numbered %q", tr.TraceID, tr.Metadata.Tags[wire.TagSegment])
						}
					}
					if seen[num] || tr.FlowID != hdr.FlowID {
						t.Fatalf("segment %d: twice, or flow %q", num, tr.FlowID)
					}
					seen[num] = true
					n += len(tr.Events)
					if num >= last {
						last, lastStatus = num, tr.Status
					}
				}
				if lastStatus != hdr.Status {
					t.Fatalf("last segment kept with status %v, want %v", lastStatus, hdr.Status)
				}
				for i := range len(segs) {
					if !seen[i] {
						t.Fatalf("segments %v: number %d missing", seen, i)
					}
				}
				if n != events {
					t.Fatalf("segments hold %d events, want %d", n, events)
				}
				if st := r.s.Stats(); st.RawBytes > 3*uint64(jsonBytes) {
					t.Fatalf("sent %d bytes for %d bytes of events: over 3x", st.RawBytes, jsonBytes)
				} else {
					t.Logf("%d segments, sent %d bytes for %d bytes of events (%.2fx)", len(segs), st.RawBytes, jsonBytes, float64(st.RawBytes)/float64(jsonBytes))
				}
			})
		}
	}
}

// TestWebSocketKeepsAStoreQueuedAfterANewerOne queues a segment's two
// stores in the order the store loop and Write can queue them when they
// build stores of the same segment at once: the newer one first. The
// older one must not replace the newer one (which carries more events)
// while it waits to be sent: the server must keep every event.
func TestWebSocketKeepsAStoreQueuedAfterANewerOne(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	srv.SetRefusing(true, tracetest.RefuseClose) // the stores wait unsent
	s, _ := newTestSink(t, srv.URL())
	trace := tracing.NewTraceID()
	evs := makeEvents(8, trace)
	older := s.encodeBatch(evs[:4]) // the segment's first events: a store is due
	newer := s.encodeBatch(evs[4:]) // as many new bytes again: due too
	if len(older) != 1 || len(newer) != 1 || older[0].upto != 4 || newer[0].upto != 8 {
		t.Fatalf("built %d and %d stores; want one of 4 events, then one of 8", len(older), len(newer))
	}
	if err := s.admitAll(ctx, newer); err != nil {
		t.Fatal(err)
	}
	if err := s.admitAll(ctx, older); err != nil {
		t.Fatal(err)
	}
	srv.SetRefusing(false, tracetest.RefuseClose)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	assertKeptOnce(t, srv, ids(evs))
}

// TestWebSocketKeepsATraceWhoseSegmentWasForgotten lets the sink forget a
// trace's released segment among many others, and then writes more of
// the trace: a running trace whose segment was sealed for room, which
// then ends, and an ended trace, whose later events come from a goroutine
// still recording into it. The events must go on in the trace's next
// segment: a new segment 0 would store them under the trace's own id and
// replace the earlier ones on the server.
func TestWebSocketKeepsATraceWhoseSegmentWasForgotten(t *testing.T) {
	for _, endFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("ended=%v", endFirst), func(t *testing.T) {
			ctx := testCtx(t)
			srv := startServer(t)
			s, _ := newTestSink(t, srv.URL())
			hdr := traceHeader(tracing.NewTraceID())
			s.ObserveTrace(hdr)
			early, late := makeEvents(4, hdr.TraceID), makeEvents(2, hdr.TraceID)
			if err := s.Write(ctx, early); err != nil {
				t.Fatal(err)
			}
			done := ended(hdr, tracing.ExecutionStatus{Kind: tracing.StatusCompleted})
			if endFirst {
				s.ObserveTrace(done)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			s.sealForRoom(ctx, false) // acknowledged in full: sealed and released
			forgetSegment(t, s, hdr.TraceID)
			if err := s.Write(ctx, late); err != nil {
				t.Fatal(err)
			}
			if !endFirst {
				s.ObserveTrace(done)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			assertKeptOnce(t, srv, ids(append(early, late...)))
			// Segment 0 carries the end it was stored with (of a trace
			// sealed while running, the next segment carries it).
			if got := srv.GetTrace(hdr.TraceID); endFirst && (got == nil || got.Status != done.Status) {
				t.Fatalf("the trace is kept as %+v, want status %v", got, done.Status)
			}
		})
	}
}

// forgetSegment makes s forget the released segment of trace id, among
// many others, as a sink that has seen more traces than it remembers
// does.
func forgetSegment(t *testing.T, s *Sink, id tracing.TraceID) {
	t.Helper()
	s.encMu.Lock()
	defer s.encMu.Unlock()
	for i := 0; ; i++ {
		if _, ok := s.segs[id]; !ok {
			return
		}
		if i == 64 {
			t.Fatal("the sink never forgot the trace's segment")
		}
		for len(s.segs) <= 2*traces.Max {
			done := tracing.ExecutionStatus{Kind: tracing.StatusCompleted}
			s.segs[tracing.NewTraceID()] = &traceSeg{released: true, hdr: tracing.FlowTrace{Status: done}}
		}
		s.pruneSegsLocked()
	}
}

// TestWebSocketStoresAnEndedTraceAtTheNextWrite ends a trace and writes
// another's events, with a store delay long enough that the store loop
// never runs: the ended trace's last store must go with that Write, so
// that a network ending many short traces does not hold them in memory
// until the loop's next turn.
func TestWebSocketStoresAnEndedTraceAtTheNextWrite(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	s, _ := newTestSink(t, srv.URL(), WithStoreDelay(time.Hour))
	hdr := traceHeader(tracing.NewTraceID())
	s.ObserveTrace(hdr)
	if err := s.Write(ctx, makeEvents(4, hdr.TraceID)); err != nil {
		t.Fatal(err)
	}
	s.ObserveTrace(ended(hdr, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}))
	if err := s.Write(ctx, makeEvents(2, tracing.NewTraceID())); err != nil {
		t.Fatal(err)
	}
	for {
		if tr := srv.GetTrace(hdr.TraceID); tr != nil && tr.Status.Kind == tracing.StatusCompleted && len(tr.Events) == 4 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the server does not keep the ended trace completed: %s", serverSummary(srv))
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// endOnALostConnection records one trace of 4 events, has every store
// acknowledged, then ends the trace with the connection set to drop on the
// next message, and checks what the server keeps.
func (r *keepRun) endOnALostConnection() {
	r.t.Helper()
	r.connected()
	r.write(r.startTraces(1, 4, 4)[0])
	r.flush()
	r.srv.DropAfter(0)
	r.endTraces()
	r.flush()
	r.check(r.srv)
}

// TestWebSocketResendsTheEndOfAStoredTrace checks that a trace's last
// store, the only one with its end, is sent again when its connection is
// lost before the server handles it, although an earlier store with the
// same events was acknowledged. The sink used to count that store as
// superseded, and the server kept the trace running.
func TestWebSocketResendsTheEndOfAStoredTrace(t *testing.T) {
	inKeepingModes(t, func(t *testing.T, gen tracetest.Generation, mode Mode) {
		r := newKeepRun(t, gen, mode, nil, WithStoreDelay(time.Hour))
		r.endOnALostConnection()
	})
}

// TestWebSocketReleasesATraceRecoveredAfterItsEnd checks that a streamed
// trace whose EndTrace is lost with its connection is kept ended, through
// the recovery's store, and that its segment is then released: the
// recovery's store takes the place of the last store built at the end. The
// segment used to wait for that superseded store for good, holding its
// memory, so that a sink at its memory limit stopped taking events.
func TestWebSocketReleasesATraceRecoveredAfterItsEnd(t *testing.T) {
	for _, mode := range []Mode{ModeLive, ModeBoth} {
		t.Run(mode.String(), func(t *testing.T) {
			// One frame in flight: after the reconnect, the recovery's
			// store is built before the last store is sent again.
			r := newKeepRun(t, tracetest.Gen2, mode, nil, WithStoreDelay(time.Hour), WithMaxInFlight(1, DefaultMaxInFlightBytes))
			r.endOnALostConnection()
			r.s.encMu.Lock()
			g := r.s.segs[r.hdrs[0].TraceID]
			r.s.encMu.Unlock()
			waitSink(r.ctx, t, r.s, "the segment's release", func(Stats) bool {
				r.s.mu.Lock()
				defer r.s.mu.Unlock()
				return g.released
			})
		})
	}
}

// TestWebSocketKeepsEventsWrittenAfterTheEnd writes events of a trace
// after its end, as a goroutine still recording into it does: they open
// the trace's next segment, which must be kept, linked to the trace, with
// its final status, and released once acknowledged, in every mode that
// keeps. In the live modes it used to stay open on a generation-2 server
// without its tags, so that a reader of the trace never found it, and in
// every mode it held its memory until Close.
func TestWebSocketKeepsEventsWrittenAfterTheEnd(t *testing.T) {
	inKeepingModes(t, func(t *testing.T, gen tracetest.Generation, mode Mode) {
		r := newKeepRun(t, gen, mode, nil, WithStoreDelay(time.Hour))
		r.connected()
		b := r.startTraces(1, 4, 4)
		r.write(b[0])
		r.endTraces()
		r.write(makeEvents(2, r.hdrs[0].TraceID))
		r.flush()
		wctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		defer cancel()
		waitSink(wctx, t, r.s, "the late segment's release", func(Stats) bool { return r.s.held() == 0 })
		q, err := query.Dial(r.ctx, r.srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		got, err := q.Trace(r.ctx, r.hdrs[0].TraceID)
		if err != nil || got == nil {
			t.Fatalf("Trace = %v, %v", got, err)
		}
		if got.Status != r.hdrs[0].Status {
			t.Errorf("trace kept with status %v, want %v", got.Status, r.hdrs[0].Status)
		}
		kept := map[tracing.EventID]int{}
		for _, ev := range got.Events {
			kept[ev.EventID]++
		}
		if msg := keptOnce(r.want, kept); msg != "" {
			t.Errorf("the trace read back: %s", msg)
		}
	})
}

// inKeepingModes runs test for each generation and each mode whose
// events it keeps, as a subtest named after them.
func inKeepingModes(t *testing.T, test func(t *testing.T, gen tracetest.Generation, mode Mode)) {
	for _, gen := range generations {
		for _, mode := range modes {
			if keeps(gen, mode) {
				t.Run(fmt.Sprintf("%s/%s", gen, mode), func(t *testing.T) { test(t, gen, mode) })
			}
		}
	}
}

// TestWebSocketKeepsAcrossAGenerationChange replaces the server, mid-run
// and without what it stored, by one of the other generation on the same
// address (an upgrade, a downgrade, or a failover pair of mixed
// generations): events the sink encoded for the first server's
// generation, and those it encodes after, are all kept by the second.
// The events carry message snapshots without content and metrics not
// measured, the fields the generations write differently.
func TestWebSocketKeepsAcrossAGenerationChange(t *testing.T) {
	for _, from := range generations {
		to := tracetest.Gen1
		if from == tracetest.Gen1 {
			to = tracetest.Gen2
		}
		for _, mode := range []Mode{ModeStore, ModeBoth} {
			t.Run(fmt.Sprintf("%s-to-%s/%s", from, to, mode), func(t *testing.T) {
				r := newKeepRun(t, from, mode, nil)
				r.connected()
				batches := r.startTraces(2, 60, 20)
				for i := range batches {
					for j := range batches[i] {
						ev := &batches[i][j]
						ev.Data.HasMessage = true
						ev.Data.Message = tracing.MessageSnapshot{MessageType: "Row", SizeBytes: 8}
						ev.Data.PerformanceMetrics.Unmeasured = tracing.MetricCPUUsagePercent
					}
				}
				for _, b := range batches[:3] {
					r.write(b)
				}
				r.flush()
				addr := r.srv.Addr()
				r.srv.Close()
				waitSink(r.ctx, t, r.s, "disconnect", func(st Stats) bool { return !st.Connected })
				srv, err := tracetest.Start(r.ctx, tracetest.WithAddr(addr), tracetest.WithGeneration(to))
				if err != nil {
					t.Fatalf("restart on %s: %v", addr, err)
				}
				t.Cleanup(srv.Close)
				r.srv, r.gen = srv, to
				for _, b := range batches[3:] {
					r.write(b)
				}
				r.endTraces()
				r.flush()
				if st := r.s.Stats(); len(st.Dropped) > 0 {
					t.Errorf("the sink dropped %v (%s)", st.Dropped, serverSummary(srv))
				}
				r.check(srv)
			})
		}
	}
}

// TestWebSocketFlushKeepsEverySegmentOfARunningTrace flushes a trace that
// spans several segments while it is still running, and reads it back as a
// reader would, through its execution: every event written before the
// Flush is in the trace or in a segment tagged as one of it. In the live
// modes on generation 2 a segment after the first is otherwise kept only
// as its StartTrace opened it, untagged, until the trace ends.
func TestWebSocketFlushKeepsEverySegmentOfARunningTrace(t *testing.T) {
	inKeepingModes(t, func(t *testing.T, gen tracetest.Generation, mode Mode) {
		r := newKeepRun(t, gen, mode, nil, WithMaxFrameBytes(8<<10))
		r.connected()
		batches := r.startTraces(1, 300, 30)
		for _, b := range batches[:5] {
			r.write(b)
		}
		r.flush()
		hdr := r.hdrs[0]
		read := func() map[tracing.EventID]int {
			kept := map[tracing.EventID]int{}
			for _, tr := range r.srv.Query(wire.TraceQuery{ExecutionID: hdr.ExecutionID}) {
				if tr.TraceID != hdr.TraceID && tr.Metadata.Tags[wire.TagSegmentOf] != hdr.TraceID.String() {
					continue
				}
				for _, ev := range tr.Events {
					kept[ev.EventID]++
				}
			}
			return kept
		}
		if m := missing(r.want, read()); len(m) > 0 {
			t.Fatalf("after Flush, %d of %d events are in no segment of the trace (%s)", len(m), len(r.want), serverSummary(r.srv))
		}
		for _, b := range batches[5:] {
			r.write(b)
		}
		r.endTraces()
		r.flush()
		if m := missing(r.want, read()); len(m) > 0 {
			t.Fatalf("after the end, %d of %d events are in no segment of the trace", len(m), len(r.want))
		}
		assertKeptOnce(t, r.srv, r.want)
	})
}

// TestWebSocketKeepsATraceWhoseStartTraceFailed answers a generation-2
// server's StartTrace with a retryable error. The RecordEvents sent
// behind it open the trace lazily on the server, where it hides what is
// stored under its id until an EndTrace finalises it: the sink starts the
// trace again on its next connection (a StartTrace replaces the lazily
// opened trace) rather than recovering it as if it had been open, so that
// the trace read back holds every event. The server is up and answering,
// so the sink redials without the dial backoff, here an hour, which would
// outlast the test.
func TestWebSocketKeepsATraceWhoseStartTraceFailed(t *testing.T) {
	slowDials := WithRetry(retry.Policy{MaxRetries: retry.Unlimited, InitialDelay: time.Hour, MaxDelay: time.Hour, MaxElapsedTime: 2 * time.Hour})
	for _, mode := range []Mode{ModeLive, ModeBoth} {
		t.Run(mode.String(), func(t *testing.T) {
			r := newKeepRun(t, tracetest.Gen2, mode, nil, slowDials)
			r.connected()
			r.srv.ErrorNext("StartTrace", 1, wire.CodeInternalError, "busy")
			batches := r.startTraces(1, 60, 20)
			for _, b := range batches {
				r.write(b)
			}
			r.endTraces()
			r.flush()
			r.check(r.srv)
			if got := r.srv.KeptInTrace(r.hdrs[0].TraceID); len(got) != len(r.want) {
				t.Fatalf("GetTrace reads %d of %d events (%s)", len(got), len(r.want), serverSummary(r.srv))
			}
		})
	}
}

// TestWebSocketFlushDoesNotSplitTracesOnGeneration1 flushes after every
// batch of a trace that spans several segments, in the live modes on a
// generation-1 server: that server keeps nothing streamed and every store
// carries the segment's tags, so Flush has no segment to seal, and the
// trace is kept in as many segments as when it is flushed once.
func TestWebSocketFlushDoesNotSplitTracesOnGeneration1(t *testing.T) {
	for _, mode := range []Mode{ModeLive, ModeBoth} {
		t.Run(mode.String(), func(t *testing.T) {
			segments := func(flushEach bool) int {
				r := newKeepRun(t, tracetest.Gen1, mode, nil, WithMaxFrameBytes(64<<10))
				r.connected()
				batches := r.startTraces(1, 300, 30)
				for _, b := range batches {
					r.write(b)
					if flushEach {
						r.flush()
					}
				}
				r.s.encMu.Lock()
				n := r.s.segs[r.hdrs[0].TraceID].number + 1
				r.s.encMu.Unlock()
				r.endTraces()
				r.flush()
				return n
			}
			once, each := segments(false), segments(true)
			if once < 2 {
				t.Fatalf("the trace took %d segment: it must take several", once)
			}
			if each != once {
				t.Fatalf("flushed after each batch, the trace took %d segments; flushed once, %d", each, once)
			}
		})
	}
}

// reconnectMidTrace streams half of one 20-event trace to a
// generation-2 server, kills the connection with the server noticing the
// close closeDelay later, streams the rest on the new connection, ends the
// trace as Failed (a status the server's own finalisation never gives)
// and flushes. It returns the run and the time of the kill.
func reconnectMidTrace(t *testing.T, mode Mode, closeDelay time.Duration) (*keepRun, time.Time) {
	t.Helper()
	r := newKeepRun(t, tracetest.Gen2, mode, nil, WithStoreDelay(time.Hour))
	r.connected()
	b := r.startTraces(1, 20, 10)
	r.write(b[0])
	waitSink(r.ctx, t, r.s, "the first events' acks", func(st Stats) bool { return st.EventsDelivered >= uint64(len(b[0])) })
	r.srv.SetCloseDelay(closeDelay)
	killed := time.Now()
	r.srv.KillConnections()
	waitSink(r.ctx, t, r.s, "the reconnect", func(st Stats) bool { return st.Reconnects > 0 && st.Connected })
	r.write(b[1])
	r.hdrs[0] = ended(r.hdrs[0], status(1))
	r.s.ObserveTrace(r.hdrs[0])
	r.flush()
	return r, killed
}

// TestWebSocketKeepsATraceWhoseOldConnectionClosesLate reconnects while
// a streamed trace is open, on a generation-2 server that notices the old
// connection's close only after the recovery stopped waiting for it: the
// recovery stores the trace anyway, and the late close then replaces that
// store with the old connection's copy (the server's header, only the
// events streamed on it). The trace ends and is flushed before that. The
// sink must see the replacement and store the trace again: every event
// kept once, under the trace's own execution and status.
func TestWebSocketKeepsATraceWhoseOldConnectionClosesLate(t *testing.T) {
	const closeDelay = 3 * time.Second // beyond the recovery's wait
	for _, mode := range []Mode{ModeLive, ModeBoth} {
		t.Run(mode.String(), func(t *testing.T) {
			r, killed := reconnectMidTrace(t, mode, closeDelay)
			time.Sleep(time.Until(killed.Add(closeDelay)))
			h := r.hdrs[0]
			var got *tracing.FlowTrace
			msg := "not read"
			for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				if got = r.srv.GetTrace(h.TraceID); got == nil {
					continue
				}
				if msg = keptOnce(r.want, r.srv.Kept()); msg == "" && got.ExecutionID == h.ExecutionID && got.Status == h.Status {
					break
				}
			}
			if got == nil {
				t.Fatal("trace not kept")
			}
			if msg != "" || got.ExecutionID != h.ExecutionID || got.Status != h.Status {
				t.Fatalf("after the old connection's late close the server keeps: %s; the trace's execution %v (want %v), status %v (want %v), environment %q",
					msg, got.ExecutionID, h.ExecutionID, got.Status, h.Status, got.Metadata.Environment)
			}
			// The watch ends with the store it queued, and the segment is
			// released.
			wctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
			defer cancel()
			waitSink(wctx, t, r.s, "the segment's release", func(Stats) bool { return r.s.held() == 0 })
		})
	}
}

// TestWebSocketKeepsATraceWhoseOldConnectionClosesAfterTheWatch checks a
// recovery against a generation-2 server that notices the old
// connection's close later than any wait of the sink (an hour: a
// half-open connection, say), applied here by the server's Stop: the
// sink ends the old connection's in-flight copy itself, on the new
// connection, before it stores the trace, so the late close finds nothing
// left to store over it.
func TestWebSocketKeepsATraceWhoseOldConnectionClosesAfterTheWatch(t *testing.T) {
	for _, mode := range []Mode{ModeLive, ModeBoth} {
		t.Run(mode.String(), func(t *testing.T) {
			r, _ := reconnectMidTrace(t, mode, time.Hour)
			r.srv.Stop() // applies the held-back close
			h := r.hdrs[0]
			got := r.srv.GetTrace(h.TraceID)
			if got == nil {
				t.Fatal("trace not kept")
			}
			if msg := keptOnce(r.want, r.srv.Kept()); msg != "" || got.ExecutionID != h.ExecutionID || got.Status != h.Status {
				t.Fatalf("after the old connection's close the server keeps: %s; the trace's execution %v (want %v), status %v (want %v)",
					msg, got.ExecutionID, h.ExecutionID, got.Status, h.Status)
			}
			if err := r.srv.Restart(r.ctx); err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
			defer cancel()
			waitSink(wctx, t, r.s, "the segment's release", func(Stats) bool { return r.s.held() == 0 })
		})
	}
}
