package websocket

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// The memory runs write one long trace through a sink with a given memory
// limit (WithOutageBuffer) to a test server in another process (see
// memserver_test.go), which misbehaves in one of three ways, and sample
// the test process's heap every few milliseconds: what they measure is the
// sink's heap, beside a constant for the test itself (its one reused
// batch), which the baseline taken before the sink starts removes.

// memScenario is how the server behaves during a memory run.
type memScenario int

const (
	// memSlow: every reply waits memSlowDelay, and the server reads the
	// next message only after replying.
	memSlow memScenario = iota
	// memCut: the server persists the 4th message of every connection
	// and drops the connection instead of replying to it.
	memCut
	// memOutage: the server goes down once a fifth of the events are
	// written and comes back once the sink has held its memory limit for
	// memOutageHold.
	memOutage
)

const (
	memSlowDelay  = 20 * time.Millisecond
	memOutageHold = 200 * time.Millisecond
)

var memScenarios = []memScenario{memSlow, memCut, memOutage}

func (sc memScenario) String() string {
	return [...]string{"slow", "cut3", "outage"}[sc]
}

// memResult is what a memory run measured. Heap figures are peaks above
// the baseline, in bytes.
type memResult struct {
	heapAlloc, heapInuse, heapLive int64
	held                           int64 // the sink's own account (held)
	written                        int
	dropped                        uint64
	kept, dups                     int
	elapsed                        time.Duration
}

// heapSampler records the peaks of the runtime's heap figures.
type heapSampler struct {
	samples []metrics.Sample
	base    [3]int64
	peak    [3]int64
	held    int64
	s       *Sink
}

func newHeapSampler() *heapSampler {
	h := &heapSampler{samples: []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"}, // HeapAlloc
		{Name: "/memory/classes/heap/unused:bytes"},  // HeapInuse - HeapAlloc
		{Name: "/gc/heap/live:bytes"},                // live heap at the last GC
	}}
	runtime.GC()
	runtime.GC()
	h.base = h.read()
	return h
}

// read returns HeapAlloc, HeapInuse and the live heap.
func (h *heapSampler) read() [3]int64 {
	metrics.Read(h.samples)
	alloc := int64(h.samples[0].Value.Uint64())
	return [3]int64{alloc, alloc + int64(h.samples[1].Value.Uint64()), int64(h.samples[2].Value.Uint64())}
}

func (h *heapSampler) sample() {
	v := h.read()
	for i := range v {
		h.peak[i] = max(h.peak[i], v[i]-h.base[i])
	}
	if h.s != nil {
		h.held = max(h.held, h.s.held())
	}
}

// run samples every 2 ms until ctx ends, then once more.
func (h *heapSampler) run(ctx context.Context) {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		h.sample()
		select {
		case <-ctx.Done():
			h.sample()
			return
		case <-t.C:
		}
	}
}

// memRun writes events events of one trace, in batches of 512, through a
// sink with memory limit limit to a server behaving as sc, compressing
// with alg (transport.CompressionNone: none), flushes and closes it, and returns what it measured,
// failing tb unless every event not counted as dropped is kept exactly
// once.
func memRun(tb testing.TB, limit int, sc memScenario, alg transport.CompressionAlgorithm, events int) memResult {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv := startMemServer(tb, tracetest.Gen1, alg)
	switch sc {
	case memSlow:
		srv.do(tb, "delay "+memSlowDelay.String())
	case memCut:
		srv.do(tb, "cut 3")
	}
	trace := tracing.NewTraceID()
	hdr := traceHeader(trace)
	batch := makeEvents(benchBatch, trace)

	h := newHeapSampler()
	s, err := New(srv.url,
		WithOutageBuffer(limit),
		WithKeepalive(0, time.Second),
		WithCompression(alg),
		WithRetry(retry.Policy{
			MaxRetries: retry.Unlimited, InitialDelay: 5 * time.Millisecond,
			MaxDelay: 50 * time.Millisecond, MaxElapsedTime: 5 * time.Minute,
		}))
	if err != nil {
		tb.Fatal(err)
	}
	h.s = s
	sctx, stopSampling := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.run(sctx)
	}()
	defer func() {
		stopSampling()
		wg.Wait()
	}()

	var outageErr error
	outage := func() {
		// Down until the sink has held its limit, or degraded (kept
		// only critical events, which it may do before the limit, and
		// then holds less), for a while.
		if _, outageErr = srv.send("stop"); outageErr != nil {
			return
		}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for s.held() < int64(limit) && !s.Stats().Degraded && ctx.Err() == nil {
			<-t.C
		}
		tm := time.NewTimer(memOutageHold)
		defer tm.Stop()
		select {
		case <-tm.C:
		case <-ctx.Done():
		}
		_, outageErr = srv.send("restart")
	}

	start := time.Now()
	s.ObserveTrace(hdr)
	written := 0
	for written < events {
		if sc == memOutage && written == events/5/benchBatch*benchBatch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outage()
			}()
		}
		n := min(len(batch), events-written)
		now := time.Now()
		for i := range batch[:n] {
			batch[i].EventID = tracing.NewEventID()
			batch[i].Timestamp = now
		}
		if err := s.Write(ctx, batch[:n]); err != nil {
			tb.Fatal(err)
		}
		written += n
	}
	s.ObserveTrace(ended(hdr, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}))
	flushErr := s.Flush(ctx)
	elapsed := time.Since(start)
	if err := s.Close(ctx); err != nil && !errors.Is(err, ErrDropped) {
		tb.Fatalf("Close: %v", err)
	}
	if flushErr != nil && !errors.Is(flushErr, ErrDropped) {
		tb.Fatalf("Flush: %v; stats %+v", flushErr, s.Stats())
	}
	stopSampling()
	wg.Wait()
	if outageErr != nil {
		tb.Fatal(outageErr)
	}
	r := memResult{
		heapAlloc: h.peak[0], heapInuse: h.peak[1], heapLive: h.peak[2], held: h.held,
		written: written, elapsed: elapsed,
	}
	for _, n := range s.Stats().Dropped {
		r.dropped += n
	}
	r.kept, r.dups = srv.kept(tb)
	if r.dups != 0 || uint64(r.kept)+r.dropped != uint64(written) {
		tb.Fatalf("%d events written, %d kept (%d more than once), %d dropped (%v)",
			written, r.kept, r.dups, r.dropped, s.Stats().Dropped)
	}
	return r
}

const mib = 1 << 20

func (r memResult) String() string {
	return fmt.Sprintf("peak above baseline: HeapAlloc %.1f MiB, HeapInuse %.1f MiB, live %.1f MiB, held %.1f MiB; %d events in %v, %d dropped",
		float64(r.heapAlloc)/mib, float64(r.heapInuse)/mib, float64(r.heapLive)/mib, float64(r.held)/mib,
		r.written, r.elapsed.Round(time.Millisecond), r.dropped)
}

// BenchmarkWebSocketOutageMemory reports the peak heap of a sink writing a
// trace of 200,000 events (about 130 MB of JSON) at memory limits of 16
// and 64 MiB, while the server is slow, cuts every connection after three
// replies, or is down for a while, and at 16 MiB during the outage with
// zstd and lz4 compression. peak_heap_MiB is HeapAlloc (garbage included),
// peak_live_MiB the live heap the collector found, both above the
// baseline before the sink started; held_MiB is the sink's own account of
// what it holds.
func BenchmarkWebSocketOutageMemory(b *testing.B) {
	type memCase struct {
		name  string
		limit int
		sc    memScenario
		alg   transport.CompressionAlgorithm
	}
	var cases []memCase
	for _, limit := range []int{16 * mib, 64 * mib} {
		for _, sc := range memScenarios {
			cases = append(cases, memCase{fmt.Sprintf("limit=%dMiB/%s", limit/mib, sc), limit, sc, transport.CompressionNone})
		}
	}
	for _, alg := range []transport.CompressionAlgorithm{transport.CompressionZstd, transport.CompressionLZ4} {
		cases = append(cases, memCase{fmt.Sprintf("limit=16MiB/outage/%s", alg), 16 * mib, memOutage, alg})
	}
	for _, mc := range cases {
		limit := mc.limit
		b.Run(mc.name, func(b *testing.B) {
			var worst memResult
			events := 0
			var elapsed time.Duration
			for range b.N {
				r := memRun(b, limit, mc.sc, mc.alg, 200_000)
				worst.heapAlloc = max(worst.heapAlloc, r.heapAlloc)
				worst.heapInuse = max(worst.heapInuse, r.heapInuse)
				worst.heapLive = max(worst.heapLive, r.heapLive)
				worst.held = max(worst.held, r.held)
				events += r.written
				elapsed += r.elapsed
			}
			b.ReportMetric(float64(limit)/mib, "limit_MiB")
			b.ReportMetric(float64(worst.heapAlloc)/mib, "peak_heap_MiB")
			b.ReportMetric(float64(worst.heapInuse)/mib, "peak_inuse_MiB")
			b.ReportMetric(float64(worst.heapLive)/mib, "peak_live_MiB")
			b.ReportMetric(float64(worst.held)/mib, "held_MiB")
			b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
		})
	}
}

// TestWebSocketOutageBufferBoundsHeap checks that the memory limit bounds
// the sink's real heap: with the collector running often (GOGC=20, so
// that garbage does not hide what is live) the heap never exceeds one and
// a half times the limit while the server is slow, cuts connections or is
// down, and no event is lost uncounted. (A sink whose stores copied their
// segment took about twice the limit.) Under the race detector the trace
// has half the events, still three times the limit of JSON.
func TestWebSocketOutageBufferBoundsHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100 MB of events")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	const limit = 16 * mib
	events := 150_000
	if raceEnabled {
		events = 75_000
	}
	for _, sc := range memScenarios {
		t.Run(sc.String(), func(t *testing.T) {
			r := memRun(t, limit, sc, transport.CompressionNone, events)
			t.Log(r)
			// The held bytes may reach the limit plus the degraded
			// sink's critical reserve (a quarter); the heap adds the
			// pools' spare buffers, and more under the race detector.
			bound := 1.5
			if raceEnabled {
				bound = 2.5
			}
			if float64(r.heapAlloc) > bound*limit {
				t.Errorf("peak heap %.1f MiB, more than %.1f times the %d MiB limit (%v)", float64(r.heapAlloc)/mib, bound, limit/mib, r)
			}
			if r.held > limit+limit/criticalReserve+mib {
				t.Errorf("held %.1f MiB, more than the %d MiB limit and its critical reserve (%v)", float64(r.held)/mib, limit/mib, r)
			}
		})
	}
}

// TestWebSocketSealsSegmentsAcknowledgedWhileWriteWaits fills the memory
// limit with open segments whose stores are in flight, and writes while
// their acknowledgements are held back. Once they come, the segments are
// acknowledged in full but still open (their traces have not ended: the
// client tells of an end only after the Write under way), so sealing them
// is the only way to free their memory: the waiting Write must do it and
// go on, not wait until its context ends and drop its events.
func TestWebSocketSealsSegmentsAcknowledgedWhileWriteWaits(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	gate := make(chan struct{})
	srv.SetAckGate(gate)
	s, _ := newTestSink(t, srv.URL(), WithOutageBuffer(64<<10), WithDegradeAt(0))
	var first []tracing.TraceEvent
	for range 48 { // 48 segments of 2 events: a 2 KiB chunk each, over the limit
		first = append(first, makeEvents(2, tracing.NewTraceID())...)
	}
	if err := s.Write(ctx, first); err != nil {
		t.Fatal(err)
	}
	if h := s.held(); h < 64<<10 {
		t.Fatalf("the segments hold %d bytes, want the 64 KiB limit reached", h)
	}
	later := makeEvents(2, tracing.NewTraceID())[1:] // a routine event
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	wrote := make(chan error, 1)
	go func() { wrote <- s.Write(wctx, later) }()
	time.Sleep(50 * time.Millisecond) // Write waits for room
	close(gate)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if d := s.SinkStats().Dropped; len(d) > 0 {
		t.Fatalf("dropped %v: Write waited for memory the acknowledged segments held", d)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	assertKeptOnce(t, srv, ids(append(first, later...)))
}

// TestWebSocketSealsStreamedSegmentsForRoom checks that a Write at the
// memory limit seals the open segments of streamed traces whose events
// are all kept, by RecordEvents on a generation-2 server, although their
// stores were skipped: it used to wait for stores that would never be
// sent, until its context ended, and dropped the batch's routine events.
func TestWebSocketSealsStreamedSegmentsForRoom(t *testing.T) {
	r := newKeepRun(t, tracetest.Gen2, ModeBoth, nil, WithOutageBuffer(64<<10), WithStoreDelay(time.Hour))
	r.connected()
	byTrace := map[tracing.TraceID][]tracing.EventID{}
	for _, b := range r.startTraces(8, 20, 20) {
		for _, ev := range b {
			byTrace[ev.TraceID] = append(byTrace[ev.TraceID], ev.EventID)
		}
		r.want = append(r.want, ids(b)...)
		ctx, cancel := context.WithTimeout(r.ctx, 2*time.Second)
		err := r.s.Write(ctx, b)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if d := r.s.SinkStats().Dropped; len(d) != 0 {
			t.Fatalf("Write at the memory limit dropped %v", d)
		}
	}
	r.endTraces()
	r.flush()
	traces := make([]soakTrace, len(r.hdrs))
	for i, h := range r.hdrs {
		traces[i] = soakTrace{id: h.TraceID, status: h.Status, events: byTrace[h.TraceID]}
	}
	checkSoak(r.ctx, t, []*tracetest.Server{r.srv}, []soakRecorded{{traces: traces}}, nil, false, r.s.SinkStats().Acknowledged)
}

// TestWebSocketWriteHonoursCtxWhenSealingForRoom: with the memory limit
// reached while connected to a server that does not acknowledge and the
// send queue full, Write seals the largest segment for room and still
// returns by its ctx's end, as it does waiting for room.
func TestWebSocketWriteHonoursCtxWhenSealingForRoom(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	const limit = 64 << 10
	s, _ := newTestSink(t, srv.URL(), WithMaxInFlight(2, 1<<20), WithAdaptiveWindow(false),
		WithOutageBuffer(limit), WithDegradeAt(0), WithStoreDelay(time.Hour))
	waitProbed(ctx, t, s)
	gate := make(chan struct{})
	srv.SetAckGate(gate)
	released := false
	release := func() {
		if !released {
			released = true
			close(gate)
		}
	}
	t.Cleanup(release)
	// Four traces: A and B in flight (two frames, the window), C and D
	// queued (two frames, as much again), each segment just under a
	// quarter of the limit; A and B the largest.
	trs := []tracing.TraceID{tracing.NewTraceID(), tracing.NewTraceID(), tracing.NewTraceID(), tracing.NewTraceID()}
	write := func(id tracing.TraceID, n int) {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		evs := makeEvents(n+1, id)[1:] // routine events only
		if err := s.Write(wctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []struct{ tr, n int }{{0, 12}, {1, 12}, {2, 22}, {3, 21}, {1, 11}, {0, 2}} {
		write(trs[w.tr], w.n)
		if w.tr == 1 && w.n == 12 {
			waitSink(ctx, t, s, "two frames in flight", func(st Stats) bool { return st.InFlightFrames == 2 })
		}
	}
	if st := s.Stats(); st.InFlightFrames != 2 || st.QueuedFrames != 2 || !st.Connected || s.held() < limit {
		t.Fatalf("setup not reached: held %d of %d; in flight %d, queued %d, connected %v",
			s.held(), limit, st.InFlightFrames, st.QueuedFrames, st.Connected)
	}

	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	b := makeEvents(2, trs[0])[1:]
	start := time.Now()
	go func() { done <- s.Write(wctx, b) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		st := s.Stats()
		release()
		<-done
		t.Fatalf("Write still blocked %v after its ctx (300ms) ended; held %d of %d; in flight %d, queued %d, connected %v",
			time.Since(start), s.held(), limit, st.InFlightFrames, st.QueuedFrames, st.Connected)
	}
}
