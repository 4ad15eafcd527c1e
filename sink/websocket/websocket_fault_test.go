package websocket

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/spool"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// waitSink waits until cond holds for the sink's stats, looking again at
// every change the sink signals and, for the counters it does not signal,
// every few milliseconds.
func waitSink(ctx context.Context, t *testing.T, s *Sink, what string, cond func(Stats) bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		ch := s.watchLocked()
		s.mu.Unlock()
		ok := cond(s.Stats())
		if !ok {
			select {
			case <-ch:
			case <-tick.C:
			case <-ctx.Done():
			}
		}
		s.mu.Lock()
		s.unwatchLocked()
		s.mu.Unlock()
		if ok {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("waiting for %s: %v; stats %+v", what, ctx.Err(), s.Stats())
		}
	}
}

func waitServer(ctx context.Context, t *testing.T, srv *tracetest.Server, what string, cond func(tracetest.View) bool) {
	t.Helper()
	if err := srv.WaitFor(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v; server %s", what, err, serverSummary(srv))
	}
}

// assertAccounted checks that every event was delivered at least once or
// is in a counted drop.
func assertAccounted(t *testing.T, want []tracing.EventID, got map[tracing.EventID]int, st Stats) {
	t.Helper()
	lost := missing(want, got)
	var dropped uint64
	for _, n := range st.Dropped {
		dropped += n
	}
	if uint64(len(lost)) > dropped {
		t.Fatalf("%d of %d events neither delivered nor counted as dropped (dropped %v)", len(lost), len(want), st.Dropped)
	}
}

func TestWebSocketFaultSlowAcks(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	const window = 3
	s, _ := newTestSink(t, srv.URL(), WithMaxInFlight(window, 1<<20))
	waitProbed(ctx, t, s)
	gate := make(chan struct{})
	srv.SetAckGate(gate)
	var all []tracing.TraceEvent
	batches := make([][]tracing.TraceEvent, 12)
	for i := range batches {
		batches[i] = makeEvents(10, tracing.NewTraceID())
		all = append(all, batches[i]...)
	}
	writeErr := make(chan error, 1)
	go func() {
		for _, b := range batches {
			if err := s.Write(ctx, b); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}()
	// With acks held back, the window fills, as much again queues and
	// Write waits.
	waitSink(ctx, t, s, "a full window", func(st Stats) bool {
		return st.InFlightFrames == window && st.QueuedFrames == window
	})
	// Release acks one by one: the window slides.
	for range window {
		gate <- struct{}{}
	}
	waitSink(ctx, t, s, "the window to slide", func(st Stats) bool { return st.FramesAcked >= window })
	close(gate)
	if err := <-writeErr; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	assertKeptOnce(t, srv, ids(all))
}

// waitProbed waits until the sink's connection is up and its protocol
// probed, so that the server's next replies answer the sink's frames.
func waitProbed(ctx context.Context, t *testing.T, s *Sink) {
	t.Helper()
	waitSink(ctx, t, s, "connection", func(st Stats) bool { return st.Connected && st.Connects > 0 })
}

func TestWebSocketFaultWriteTimeoutRedials(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	s, _ := newTestSink(t, srv.URL(), WithMaxInFlight(1, 1<<20))
	waitProbed(ctx, t, s)
	gate := make(chan struct{})
	srv.SetAckGate(gate)
	// One frame per batch: b1 in flight, b2 queued.
	b1, b2, b3 := makeEvents(5, tracing.NewTraceID()), makeEvents(5, tracing.NewTraceID()), makeEvents(5, tracing.NewTraceID())
	for _, b := range [][]tracing.TraceEvent{b1, b2} {
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// The window and the queue are full: Write waits, its context ends, the
	// stuck connection is closed and the batch joins the outage buffer.
	wctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Write(wctx, b3); err != nil {
		t.Fatalf("Write with an ended context: %v", err)
	}
	close(gate)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	assertKeptOnce(t, srv, ids(append(append(b1, b2...), b3...)))
	if st := s.Stats(); st.Reconnects == 0 {
		t.Fatalf("the stuck connection was not replaced: %+v", st)
	}
}

func TestWebSocketFaultRefusedAtStartup(t *testing.T) {
	tests := []struct {
		name string
		how  tracetest.RefuseMode
	}{
		{name: "closed", how: tracetest.RefuseClose},
		{name: "503", how: tracetest.Refuse503},
	}
	for _, tt := range tests {
		for _, gen := range generations {
			t.Run(gen.String()+"/"+tt.name, func(t *testing.T) {
				ctx := testCtx(t)
				srv := startServer(t, tracetest.WithGeneration(gen))
				srv.RefuseNext(4, tt.how)
				timer := &instantTimer{}
				s, el := newTestSink(t, srv.URL(), WithRetryOptions(retry.WithTimer(timer)))
				b := makeEvents(30, tracing.NewTraceID())
				if err := s.Write(ctx, b); err != nil {
					t.Fatal(err)
				}
				if err := s.Flush(ctx); err != nil {
					t.Fatalf("Flush: %v", err)
				}
				assertKeptOnce(t, srv, ids(b))
				if st := srv.Stats(); st.Refused != 4 || st.Connects != 1 {
					t.Fatalf("server refused %d and accepted %d connections, want 4 and 1; errors reported: %v", st.Refused, st.Connects, el.all())
				}
				if timer.starts() < 4 {
					t.Fatalf("retry timer started %d times, want a wait before each of the 4 retries", timer.starts())
				}
			})
		}
	}
}

func TestWebSocketFaultRetriesExhausted(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	srv.SetRefusing(true, tracetest.Refuse503)
	s, el := newTestSink(t, srv.URL(), WithRetry(retry.Policy{MaxRetries: 2, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	b := makeEvents(20, tracing.NewTraceID())
	if err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	waitSink(ctx, t, s, "the drop", func(st Stats) bool { return st.Dropped[DropRetriesExhausted] == 20 })
	found := false
	for _, err := range el.all() {
		if errors.Is(err, retry.ErrExhausted) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no retry.ErrExhausted reported: %v", el.all())
	}
	srv.SetRefusing(false, tracetest.Refuse503)
	b2 := makeEvents(5, tracing.NewTraceID())
	if err := s.Write(ctx, b2); err != nil {
		t.Fatal(err)
	}
	// The first Flush reports the drops once; the next has nothing to say.
	err := s.Flush(ctx)
	if !errors.Is(err, ErrDropped) || !strings.Contains(err.Error(), "20 events") {
		t.Fatalf("Flush after the server came back = %v, want the 20 dropped events reported", err)
	}
	// It says why: the server it could not reach, and the last answer.
	if want := "last: sink: websocket: cannot reach " + srv.URL(); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Flush error %q does not say %q and the server's 503", err, want)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("second Flush: %v, want nil: drops are reported once", err)
	}
	assertAccounted(t, ids(append(b, b2...)), srv.Kept(), s.Stats())
	if m := missing(ids(b2), srv.Kept()); len(m) > 0 {
		t.Fatalf("%d events written after the outage lost", len(m))
	}
}

func TestWebSocketFaultOutageBufferFull(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	srv.SetRefusing(true, tracetest.RefuseClose)
	// Not degraded: the buffer fills with routine events first.
	s, _ := newTestSink(t, srv.URL(), WithOutageBuffer(64<<10), WithDegradeAt(0))
	// Write waits for room until its context ends, then drops routine
	// events: an ended context makes it drop at once.
	wctx, cancel := context.WithCancel(ctx)
	cancel()
	var all, critical []tracing.TraceEvent
	for range 40 {
		b := makeEvents(10, tracing.NewTraceID())
		b[0], b[5] = b[5], b[0] // the critical event after a routine one
		all = append(all, b...)
		for _, ev := range b {
			if ev.Type.Kind.Critical() {
				critical = append(critical, ev)
			}
		}
		if err := writeLeavesBatch(wctx, s, b); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	// The events held, and at most as much again in the frames built from
	// them.
	if st.Dropped[DropOutageBufferFull] == 0 || st.QueuedBytes > 2*64<<10 {
		t.Fatalf("outage buffer not bounded: %+v", st)
	}
	srv.SetRefusing(false, tracetest.RefuseClose)
	if err := s.Flush(ctx); !errors.Is(err, ErrDropped) {
		t.Fatalf("Flush = %v, want the outage-buffer drops reported", err)
	}
	got := srv.Kept()
	assertAccounted(t, ids(all), got, s.Stats())
	if m := missing(ids(critical), got); len(m) > 0 {
		t.Fatalf("%d critical events dropped while routine ones were available to drop", len(m))
	}
	if uint64(len(missing(ids(all), got))) != s.Stats().Dropped[DropOutageBufferFull] {
		t.Fatalf("missing %d, counted %d", len(missing(ids(all), got)), s.Stats().Dropped[DropOutageBufferFull])
	}
	for id, n := range got {
		if n != 1 {
			t.Fatalf("event %s kept %d times", id, n)
		}
	}
}

func TestWebSocketFaultSpoolAcrossRestart(t *testing.T) {
	tests := []struct {
		name    string
		corrupt bool
	}{
		{name: "clean"},
		{name: "torn tail", corrupt: true},
	}
	for _, tt := range tests {
		for _, gen := range generations {
			t.Run(gen.String()+"/"+tt.name, func(t *testing.T) {
				ctx := testCtx(t)
				dir := t.TempDir()
				srv := startServer(t, tracetest.WithGeneration(gen))
				srv.SetRefusing(true, tracetest.Refuse503)
				s1, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir), WithSpoolSync(sink.SyncEvery(1)), WithCompression(transport.CompressionLZ4))
				var all []tracing.TraceEvent
				for range 6 {
					b := makeEvents(25, tracing.NewTraceID())
					all = append(all, b...)
					if err := s1.Write(ctx, b); err != nil {
						t.Fatal(err)
					}
				}
				cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
				err := s1.Close(cctx)
				cancel()
				if err == nil || !strings.Contains(err.Error(), "150 events not acknowledged; 150 spooled in "+dir) {
					t.Fatalf("Close = %v", err)
				}
				if tt.corrupt {
					segs, _ := filepath.Glob(filepath.Join(dir, "*"+spool.Suffix))
					f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
					if err != nil {
						t.Fatal(err)
					}
					f.Write([]byte{40, 0, 0, 0, 1, 2, 3}) // a torn record header
					f.Close()
				}
				// A new process: a new sink on the same directory replays it.
				srv.SetRefusing(false, tracetest.Refuse503)
				s2, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir))
				waitServer(ctx, t, srv, "the replay", func(v tracetest.View) bool { return v.KeptDistinct() >= len(all) })
				waitSink(ctx, t, s2, "the acks", func(st Stats) bool { return st.SpoolRecords == 0 })
				assertKeptOnce(t, srv, ids(all))
				if st := s2.Stats(); tt.corrupt != (st.SpoolCorruptRecords > 0) {
					t.Fatalf("corrupt records %d, corrupt tail %v", st.SpoolCorruptRecords, tt.corrupt)
				}
				if err := s2.Close(ctx); err != nil {
					t.Fatalf("Close of the replaying sink: %v", err)
				}
				if left, _ := filepath.Glob(filepath.Join(dir, "*"+spool.Suffix)); len(left) != 0 {
					t.Fatalf("spool not emptied after replay: %v", left)
				}
			})
		}
	}
}

func TestWebSocketFaultSpoolLimits(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := startServer(t)
	srv.SetRefusing(true, tracetest.Refuse503)
	// Frames wait in memory during an outage; when a round of reconnection
	// attempts gives up, they go to the spool, within its limits.
	s, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir), WithSpoolLimits(96<<10, time.Hour), withClock(clock),
		WithRetry(retry.Policy{MaxRetries: 1, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	var all []tracing.TraceEvent
	for range 60 {
		b := makeEvents(10, tracing.NewTraceID())
		all = append(all, b...)
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err == nil {
		t.Fatal("Flush with the server down and a full spool returned nil")
	}
	waitSink(ctx, t, s, "the spool", func(st Stats) bool { return st.SpoolRecords > 0 && st.QueuedFrames == 0 })
	st := s.Stats()
	if st.Dropped[DropSpoolFull] == 0 || st.SpoolBytes > 96<<10 {
		t.Fatalf("spool not bounded: %+v", st)
	}
	// What is spooled ages past the limit before the server is back.
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	srv.SetRefusing(false, tracetest.Refuse503)
	waitSink(ctx, t, s, "the replay", func(st Stats) bool { return st.SpoolRecords == 0 && st.Connected })
	late := makeEvents(10, tracing.NewTraceID())
	if err := s.Write(ctx, late); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); !errors.Is(err, ErrDropped) {
		t.Fatalf("Flush = %v, want the spool's drops reported", err)
	}
	got := srv.Kept()
	st = s.Stats()
	if st.Dropped[DropExpired] == 0 {
		t.Fatalf("no expired drops: %+v", st)
	}
	assertAccounted(t, ids(append(all, late...)), got, st)
	if m := missing(ids(late), got); len(m) > 0 {
		t.Fatalf("%d fresh events lost", len(m))
	}
}

func TestWebSocketFaultDeadPeer(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	s, el := newTestSink(t, srv.URL(), WithKeepalive(20*time.Millisecond, 40*time.Millisecond))
	waitProbed(ctx, t, s)
	srv.SetStalled(true)
	b := makeEvents(10, tracing.NewTraceID())
	if err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	// The sink notices the dead peer and dials again; the new
	// connection's probe waits for the server to read again.
	if err := srv.WaitFor(ctx, func(v tracetest.View) bool { return v.Connects() >= 2 }); err != nil {
		t.Fatalf("waiting for the dead peer to be noticed: %v; stats %+v", err, s.Stats())
	}
	srv.SetStalled(false)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if m := missing(ids(b), srv.Kept()); len(m) > 0 {
		t.Fatalf("%d events lost", len(m))
	}
	found := false
	for _, err := range el.all() {
		if strings.Contains(err.Error(), "keepalive") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no keepalive failure reported: %v", el.all())
	}
}

// TestWebSocketCloseReportsDrops checks that events dropped while no Flush
// ran are reported by Close, so a program that only closes its sink still
// learns that it lost events.
func TestWebSocketCloseReportsDrops(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	srv.SetRefusing(true, tracetest.Refuse503)
	s, _ := newTestSink(t, srv.URL(), WithRetry(retry.Policy{MaxRetries: 1, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if err := s.Write(ctx, makeEvents(7, tracing.NewTraceID())); err != nil {
		t.Fatal(err)
	}
	waitSink(ctx, t, s, "the drop", func(st Stats) bool { return st.Dropped[DropRetriesExhausted] == 7 })
	err := s.Close(ctx)
	if !errors.Is(err, ErrDropped) || !strings.Contains(err.Error(), "7 events") || !strings.Contains(err.Error(), DropRetriesExhausted) {
		t.Fatalf("Close = %v, want the 7 events dropped for %s reported", err, DropRetriesExhausted)
	}
}
