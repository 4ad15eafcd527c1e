package websocket

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/spool"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
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
		sp, err := spool.Open(dir, sink.SyncNever, 0, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		_, recs, _ := sp.Pending()
		return recs
	}
	// drained checks that the Close that reports on done succeeded and
	// replayed the whole spool: the server keeps every event of all, and
	// nothing is left on disk.
	drained := func(t *testing.T, done <-chan error, srv *tracetest.Server, dir string, all []tracing.TraceEvent) {
		t.Helper()
		if err := <-done; err != nil {
			t.Fatalf("Close: %v", err)
		}
		if m := missing(ids(all), srv.Kept()); len(m) > 0 {
			t.Fatalf("server misses %d of %d spooled events after Close", len(m), len(all))
		}
		if n := leftOnDisk(t, dir); n != 0 {
			t.Fatalf("%d records left on disk", n)
		}
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
		drained(t, done, srv, dir, all)
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

	// Closed before it connected, the sink waits for the connection and
	// replays the spool, instead of leaving it all on disk at once.
	t.Run("not connected yet", func(t *testing.T) {
		ctx := testCtx(t)
		srv, dir, all := setup(ctx, t)
		s, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir))
		done := make(chan error, 1)
		go func() { done <- s.Close(ctx) }()
		// Until Close waits for a change, with no frame queued: the
		// spool is all it waits for.
		for waiting := false; !waiting; {
			select {
			case err := <-done:
				t.Fatalf("Close returned before the sink connected: %v", err)
			default:
			}
			s.mu.Lock()
			waiting = s.closed.Load() && s.waiters > 0
			s.mu.Unlock()
			if ctx.Err() != nil {
				t.Fatal(ctx.Err())
			}
			runtime.Gosched()
		}
		srv.SetRefusing(false, tracetest.Refuse503)
		drained(t, done, srv, dir, all)
	})

	// Once a round of reconnection attempts gives up, Close leaves the
	// records on disk without waiting for its deadline.
	t.Run("server unreachable", func(t *testing.T) {
		ctx := testCtx(t)
		srv, dir, _ := setup(ctx, t)
		srv.SetRefusing(true, tracetest.Refuse503)
		s, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir),
			WithRetry(retry.Policy{MaxRetries: 2, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}))
		cctx, cancel := context.WithTimeout(ctx, testTimeout/2)
		defer cancel()
		err := s.Close(cctx)
		if cctx.Err() != nil {
			t.Fatalf("Close waited for its deadline after reconnecting gave up: %v", err)
		}
		if err == nil || !strings.Contains(err.Error(), "50 spooled in "+dir) {
			t.Fatalf("Close = %v", err)
		}
		if n := leftOnDisk(t, dir); n != traces {
			t.Fatalf("%d records left on disk, want %d", n, traces)
		}
	})
}

// TestWebSocketSpoolRemovedBeforeClose: the spool directory is removed
// while the sink holds records in it that it could not replay. Close
// counts their events as dropped (DropSpoolCorrupt) and does not say they
// are spooled: the next sink will not find them.
func TestWebSocketSpoolRemovedBeforeClose(t *testing.T) {
	const traces, perTrace = 10, 5
	ctx := testCtx(t)
	dir := filepath.Join(t.TempDir(), "spool")
	srv := startServer(t)
	var batches [][]tracing.TraceEvent
	for range traces {
		batches = append(batches, makeEvents(perTrace, tracing.NewTraceID()))
	}
	spoolTraces(ctx, t, srv, dir, batches...)
	srv.SetRefusing(true, tracetest.Refuse503)
	s, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir),
		WithRetry(retry.Policy{MaxRetries: 2, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	err := s.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "50 events not acknowledged; 0 spooled in "+dir) || !strings.Contains(err.Error(), "50 lost") {
		t.Errorf("Close = %v, want it to say the 50 events are lost, none spooled", err)
	}
	if got := s.Stats().Dropped[DropSpoolCorrupt]; got != traces*perTrace {
		t.Errorf("Stats().Dropped[%s] = %d, want %d", DropSpoolCorrupt, got, traces*perTrace)
	}
}

// waitKept waits until srv keeps every event of want.
func waitKept(ctx context.Context, t *testing.T, srv *tracetest.Server, want []tracing.EventID) {
	t.Helper()
	if err := srv.WaitFor(ctx, func(v tracetest.View) bool { return len(missing(want, v.Kept())) == 0 }); err != nil {
		t.Fatalf("server keeps %d of %d events: %v", len(want)-len(missing(want, srv.Kept())), len(want), err)
	}
}

// TestWebSocketSpoolDamageReplay spools three traces with a first sink,
// damages the middle record, and checks that a second sink replays the
// other two (the server keeps their events), counts the lost events under
// DropSpoolCorrupt in its stats and in the client's SinkStats, and keeps
// the damaged segment aside.
func TestWebSocketSpoolDamageReplay(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	srv := startServer(t)
	srv.SetRefusing(true, tracetest.Refuse503)
	s1, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir), WithSpoolSync(sink.SyncEvery(1)))
	var batches [][]tracing.TraceEvent
	for range 3 {
		b := makeEvents(20, tracing.NewTraceID())
		batches = append(batches, b)
		if err := s1.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_ = s1.Close(cctx) // the server refuses: everything is spooled
	cancel()
	if n := s1.Stats().SpoolRecords; n != 3 {
		t.Fatalf("%d records spooled, want 3", n)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+spool.Suffix))
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	path := segs[0]
	// The three records are of one size: the middle of the file is the
	// middle of the second.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	srv.SetRefusing(false, tracetest.Refuse503)
	s2, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir))
	want := ids(append(append([]tracing.TraceEvent(nil), batches[0]...), batches[2]...))
	waitKept(ctx, t, srv, want)
	waitSink(ctx, t, s2, "the acks", func(st Stats) bool { return st.SpoolRecords == 0 })
	if got := srv.Kept(); len(got) != len(want) {
		t.Errorf("server keeps %d events, want the %d of the healthy records", len(got), len(want))
	}
	st := s2.Stats()
	if st.Dropped[DropSpoolCorrupt] != 20 || st.SpoolLostEvents != 20 || st.SpoolCorruptRecords != 1 {
		t.Errorf("dropped %v, lost events %d, corrupt records %d; want 20 events of 1 record", st.Dropped, st.SpoolLostEvents, st.SpoolCorruptRecords)
	}
	if ss := s2.SinkStats(); ss.Dropped[DropSpoolCorrupt] != 20 {
		t.Errorf("SinkStats dropped %v, want %s 20", ss.Dropped, DropSpoolCorrupt)
	}
	if err := s2.Close(ctx); err == nil {
		t.Error("Close reported nothing of the events lost to damage")
	}
	if _, err := os.Stat(path + spool.DamagedExt); err != nil {
		t.Errorf("damaged segment not kept aside: %v", err)
	}
}

// TestWebSocketSpoolResume spools twenty traces, lets a second sink
// deliver about half of them before the server dies and the sink closes,
// and checks that a third sink sends only what was left: the server keeps
// every event, and the third sink sends one StoreTrace per record the
// second left on disk, none that the second saw acknowledged. (A record
// the server stored without the second sink reading its acknowledgement
// is left on disk and sent again, as it must be.)
func TestWebSocketSpoolResume(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	srv := startServer(t)
	srv.SetRefusing(true, tracetest.Refuse503)
	s1, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir), WithSpoolSync(sink.SyncEvery(1)))
	var all []tracing.TraceEvent
	for range 20 {
		b := makeEvents(10, tracing.NewTraceID())
		all = append(all, b...)
		if err := s1.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_ = s1.Close(cctx) // the server refuses: everything is spooled
	cancel()
	if st := s1.Stats(); st.SpoolRecords != 20 {
		t.Fatalf("spooled %d records, want 20", st.SpoolRecords)
	}

	// The second sink delivers about half, one acknowledgement at a time.
	gate := make(chan struct{})
	srv.SetAckGate(gate)
	srv.SetRefusing(false, tracetest.Refuse503)
	s2, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir), WithMaxInFlight(2, 1<<20))
	for s2.Stats().SpoolRecords > 10 {
		select {
		case gate <- struct{}{}:
		case <-ctx.Done():
			t.Fatalf("second sink stuck: %+v", s2.Stats())
		}
	}
	srv.Stop()
	srv.SetAckGate(nil)
	cctx, cancel = context.WithTimeout(ctx, 20*time.Millisecond)
	_ = s2.Close(cctx)
	cancel()
	left := s2.Stats().SpoolRecords
	if left == 0 || left >= 20 {
		t.Fatalf("second sink left %d records", left)
	}

	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// Stop returned once the server was done with the second sink's
	// connection: what it counts from here is the third sink's.
	before := srv.Stats().ByKind["StoreTrace"]
	s3, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir))
	waitKept(ctx, t, srv, ids(all))
	waitSink(ctx, t, s3, "the acks", func(st Stats) bool { return st.SpoolRecords == 0 })
	if err := s3.Close(ctx); err != nil {
		t.Fatalf("Close of the third sink: %v", err)
	}
	// The ack file lists the records acknowledged behind one still in
	// flight when the server died: none of them goes out again.
	if sent := srv.Stats().ByKind["StoreTrace"] - before; sent != int(left) {
		t.Fatalf("third sink sent %d StoreTrace messages, want the %d left on disk", sent, left)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*"+spool.Suffix+"*")); len(files) != 0 {
		t.Fatalf("spool files left: %v", files)
	}
}

// TestWebSocketSpoolDirInUse: a second sink on a spool directory another
// sink holds is refused with ErrSpoolInUse, naming the directory's lock
// file; once the first is closed the directory is free again.
func TestWebSocketSpoolDirInUse(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	dir := t.TempDir()
	a, _ := newTestSink(t, srv.URL(), WithSpoolDir(dir))
	_, err := New(srv.URL(), WithSpoolDir(dir))
	if !errors.Is(err, ErrSpoolInUse) || !strings.Contains(err.Error(), filepath.Join(dir, "LOCK")) {
		t.Fatalf("New on a spool directory in use: %v, want ErrSpoolInUse naming %s", err, filepath.Join(dir, "LOCK"))
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := New(srv.URL(), WithSpoolDir(dir))
	if err != nil {
		t.Fatalf("New after the first sink closed: %v", err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestWebSocketSpooledCountsRecordsGivenBack: events spooled when
// reconnecting gave up, replayed on the next connection and not
// acknowledged by Close's deadline go back to the spool for a later sink,
// and SinkStats.Spooled counts them again: after Close, Recorded =
// Delivered + Dropped + Spooled.
func TestWebSocketSpooledCountsRecordsGivenBack(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	dir := t.TempDir()
	srv.Stop()
	s, err := New(srv.URL(),
		WithSpoolDir(dir),
		WithProtocol(transport.ProtocolV1), // no probe: the first frame sent is the replay
		WithStoreDelay(time.Millisecond),
		WithKeepalive(0, time.Second),
		WithRetry(retry.Policy{MaxRetries: 1, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}),
		WithRetryOptions(retry.WithTimer(&instantTimer{})),
	)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tracing.DefaultConfig()
	cfg.QueuePolicy = batch.Block
	c, err := tracing.New(cfg, tracing.WithSink(s))
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	tctx, _, err := c.StartTrace(ctx, "", tracing.FlowVersion{Major: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range makeEvents(n, tracing.TraceID{}) {
		ev.TraceID = tracing.TraceID{}
		if err := c.RecordWait(tctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	// The server is down: the round of reconnection attempts gives up and
	// the events go to the spool.
	fctx, fc := context.WithTimeout(ctx, 2*time.Second)
	_ = c.Flush(fctx)
	fc()
	if sp := c.Metrics().Spooled; sp != n {
		t.Fatalf("spooled %d events before the replay, want %d; sink %+v", sp, n, s.Stats())
	}
	// The server comes back but answers nothing: the replayed record is in
	// flight at Close.
	srv.SetAckGate(make(chan struct{}))
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitFor(ctx, func(v tracetest.View) bool { return v.ByKind("StoreTrace") > 0 }); err != nil {
		t.Fatal(err)
	}
	cctx, cc := context.WithTimeout(ctx, 300*time.Millisecond)
	closeErr := c.Close(cctx)
	cc()
	srv.SetAckGate(nil)
	m := c.Metrics()
	t.Logf("Close: %v", closeErr)
	t.Logf("recorded %d, delivered %d, dropped %d, spooled %d; sink stats %+v", m.Recorded, m.Delivered, m.Dropped.Total(), m.Spooled, s.Stats())
	if m.Recorded != m.Delivered+m.Dropped.Total()+m.Spooled {
		t.Errorf("after Close: Recorded %d != Delivered %d + Dropped %d + Spooled %d (the %d events on disk are not counted)",
			m.Recorded, m.Delivered, m.Dropped.Total(), m.Spooled, n)
	}
	if sp := s.SinkStats().Spooled; sp != n {
		t.Errorf("SinkStats.Spooled = %d after Close, want %d (Stats.SpoolRecords %d)", sp, n, s.Stats().SpoolRecords)
	}
}
