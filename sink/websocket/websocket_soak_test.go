package websocket

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
	"github.com/reflowtrace/reflowtrace-go/tracing/query"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// soakRuns is how many seeded runs TestWebSocketKeepsUnderRandomFaults
// makes for each generation and mode: by default one, with a fixed seed;
// with -soak, that many with seeds from the clock, to look for rare
// losses:
//
//	go test -run KeepsUnderRandomFaults -soak 50 ./sink/websocket
//
// -soakseed replays one run: the seed a failure names. -soakfaults
// narrows the faults down, to find the one a failure needs.
var (
	soakRuns   = flag.Int("soak", 0, "seeded runs per generation and mode of TestWebSocketKeepsUnderRandomFaults, with seeds from the clock (default: one with a fixed seed)")
	soakSeed   = flag.Uint64("soakseed", 0, "run TestWebSocketKeepsUnderRandomFaults with this seed only")
	soakFaults = flag.String("soakfaults", "", "the faults TestWebSocketKeepsUnderRandomFaults injects, as a list of their numbers (default: all)")
)

// TestWebSocketKeepsUnderRandomFaults records concurrent traces through a
// client and the WebSocket sink while the server fails at random (dropped
// connections, lost acknowledgements, retryable errors, slow
// acknowledgements, refusals, stops and restarts), with a random
// compression, frame limit, batch size, store delay, queue policy and
// memory limit, and in some runs a failover server that fails too. Some
// events go to the client's implicit trace, which some runs end every few
// milliseconds. Once the faults stop and the client is closed, it asks
// the servers, through the query client, for every trace: each trace must
// be kept with the status it ended with, and each recorded event kept at
// most once, in the trace it was recorded in. Every recorded event must be
// kept, unless the run lets the client drop (the DropNewest policy, or a
// memory limit small enough to reach); then the server must keep exactly
// what the client counts as delivered, and the client must count every
// other event as dropped. A failure names its seed; -soakseed replays it.
func TestWebSocketKeepsUnderRandomFaults(t *testing.T) {
	seed, runs := uint64(0), 1
	if *soakRuns > 0 {
		seed, runs = uint64(time.Now().UnixNano()), *soakRuns
	}
	for _, gen := range generations {
		for _, mode := range modes {
			if !keeps(gen, mode) {
				continue // generation 1 keeps nothing sent live
			}
			for range runs {
				seed++
				if *soakSeed != 0 {
					seed = *soakSeed
				}
				t.Run(fmt.Sprintf("%s/%s/seed=%d", gen, mode, seed), func(t *testing.T) {
					soak(t, gen, mode, seed)
				})
			}
		}
	}
}

// soakSettings are the random settings of one soak run.
type soakSettings struct {
	compression transport.CompressionAlgorithm
	frameBytes  int // 0: the default
	storeDelay  time.Duration
	batchSize   int
	policy      batch.Policy
	queueSize   int // 0: the default
	outage      int // the sink's memory limit; 0: the default
	spool       bool
	workers     int
	maxEvents   int           // per trace
	pause       int           // a worker pauses after one event in pause, on average
	duration    time.Duration // workers start traces for this long
	// failover adds a second server (WithFailover); the faults hit either.
	// Only where a trace spread over servers reads back unambiguously:
	// every store carries its segment whole, and no server ends a trace on
	// its own (a generation-2 server completes the traces a closed
	// connection streamed).
	failover bool
	rotate   bool // a goroutine ends the implicit trace every few ms
}

func newSoakSettings(rng *rand.Rand) soakSettings {
	algs := []transport.CompressionAlgorithm{
		transport.CompressionNone, transport.CompressionLZ4, transport.CompressionZstd,
		transport.CompressionGzip, transport.CompressionBrotli,
	}
	return soakSettings{
		compression: algs[rng.IntN(len(algs))],
		frameBytes:  []int{0, 64 << 10}[rng.IntN(2)],
		storeDelay:  []time.Duration{time.Millisecond, 20 * time.Millisecond, 250 * time.Millisecond}[rng.IntN(3)],
		batchSize:   []int{1, 16, 256}[rng.IntN(3)],
		policy:      []batch.Policy{batch.Block, batch.Block, batch.DropNewest}[rng.IntN(3)],
		queueSize:   []int{0, 256}[rng.IntN(2)],
		outage:      []int{0, 0, 256 << 10}[rng.IntN(3)],
		spool:       rng.IntN(3) == 0,
		workers:     1 + rng.IntN(4),
		maxEvents:   []int{3, 100, 600}[rng.IntN(3)],
		pause:       []int{5, 50, 500}[rng.IntN(3)],
		duration:    time.Second,
		failover:    rng.IntN(2) == 0,
		rotate:      rng.IntN(2) == 0,
	}
}

// soakTraces bounds the traces of one worker, so that checking what the
// server keeps (a query per trace, each paging through the traces to find
// its segments) stays quick.
const soakTraces = 50

// soakTrace is what one trace of a soak run recorded.
type soakTrace struct {
	id     tracing.TraceID
	status tracing.ExecutionStatus
	events []tracing.EventID
}

// soakRecorded is what one worker of a soak run recorded: its traces, and
// the events it recorded into the client's implicit trace.
type soakRecorded struct {
	traces   []soakTrace
	implicit []tracing.EventID
}

func soak(t *testing.T, gen tracetest.Generation, mode Mode, seed uint64) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(seed, seed>>1|1))
	set := newSoakSettings(rng)
	set.failover = set.failover && (gen == tracetest.Gen1 || mode == ModeStore)
	t.Logf("seed %d: %+v", seed, set)

	srvOpts := []tracetest.Option{tracetest.WithGeneration(gen), tracetest.WithMaxTraces(1 << 20)}
	sinkOpts := []Option{WithMode(mode), WithStoreDelay(set.storeDelay)}
	if set.compression != transport.CompressionNone {
		srvOpts = append(srvOpts, tracetest.WithCompression(set.compression))
		sinkOpts = append(sinkOpts, WithCompression(set.compression))
	}
	if set.frameBytes != 0 {
		sinkOpts = append(sinkOpts, WithMaxFrameBytes(set.frameBytes))
	}
	if set.outage != 0 {
		sinkOpts = append(sinkOpts, WithOutageBuffer(set.outage))
	}
	if set.spool {
		sinkOpts = append(sinkOpts, WithSpoolDir(t.TempDir()))
	}
	servers := []*tracetest.Server{startServer(t, srvOpts...)}
	if set.failover {
		servers = append(servers, startServer(t, srvOpts...))
		sinkOpts = append(sinkOpts, WithFailover(servers[1].URL()))
	}
	s, _ := newTestSink(t, servers[0].URL(), sinkOpts...)

	cfg := tracing.DefaultConfig()
	cfg.FlowID = "soak"
	cfg.QueuePolicy = set.policy
	if set.queueSize != 0 {
		cfg.QueueSize = set.queueSize
	}
	cfg.BatchSize = min(set.batchSize, cfg.QueueSize)
	cfg.BatchTimeout = 5 * time.Millisecond
	c, err := tracing.New(cfg, tracing.WithSink(s))
	if err != nil {
		t.Fatal(err)
	}

	stopFaults := make(chan struct{})
	faultsDone := make(chan struct{})
	frng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
	go func() {
		defer close(faultsDone)
		injectFaults(ctx, t, servers, frng, stopFaults)
	}()
	// The implicit traces, each with the status it ended with.
	var implicit []soakTrace
	rotated := make(chan error, 1)
	go func() {
		if !set.rotate {
			rotated <- nil
			return
		}
		rotated <- rotateImplicit(ctx, c, &implicit, stopFaults)
	}()

	recorded := make([]soakRecorded, set.workers)
	errs := make([]error, set.workers+2)
	var wg sync.WaitGroup
	for w := range set.workers {
		wrng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			recorded[w], errs[w] = soakWorker(ctx, c, wrng, set)
		}()
	}
	wg.Wait()
	close(stopFaults)
	<-faultsDone
	errs[set.workers] = <-rotated
	// One last event, so that the implicit trace that Close ends is used
	// and must be kept (even if the event is dropped).
	last := tracing.NewEventID()
	ev := event.ActorStarted("last")
	ev.EventID = last
	if set.policy == batch.Block {
		errs[set.workers+1] = c.RecordWait(ctx, ev)
	} else {
		c.Record(ctx, ev)
	}
	recorded = append(recorded, soakRecorded{implicit: []tracing.EventID{last}})
	implicit = append(implicit, soakTrace{id: c.CurrentTrace(ctx).ID, status: tracing.ExecutionStatus{Kind: tracing.StatusCompleted}})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("recording: %v", err)
	}
	for _, srv := range servers {
		srv.ErrorEvery(0, "", "")
		srv.SetAckDelay(0)
		srv.SetRefusing(false, tracetest.RefuseClose)
		srv.RefuseNext(0, tracetest.RefuseClose)
		srv.DropAfter(-1)
		srv.DropBeforeAck(0)
	}
	drops := set.policy == batch.DropNewest || set.outage != 0
	if err := c.Close(ctx); err != nil && (!drops || !onlyDrops(err)) {
		// A run that lets the client drop may have Close report the drops,
		// and nothing else.
		t.Fatalf("Close: %v; sink %+v; servers %s", err, s.Stats(), serversSummary(servers))
	}
	m := c.Metrics()
	if m.Recorded != m.Delivered+m.Dropped.Total() {
		t.Fatalf("client recorded %d events, delivered %d and dropped %d: %+v", m.Recorded, m.Delivered, m.Dropped.Total(), m.Dropped)
	}
	if !drops && m.Dropped.Total() != 0 {
		t.Fatalf("client dropped %d events: %+v", m.Dropped.Total(), m.Dropped)
	}
	t.Logf("recorded %d events in %d traces and %d implicit ones, dropped %d: %+v",
		m.Recorded, traceCount(recorded), len(implicit), m.Dropped.Total(), m.Dropped)
	checkSoak(ctx, t, servers, recorded, implicit, drops, m.Delivered)
}

// soakWorker records traces one after another for set.duration, each with
// up to set.maxEvents events of random kinds, ending each with a random
// status. About one event in ten goes to the client's implicit trace
// instead (recorded with a ctx that carries no trace).
func soakWorker(ctx context.Context, c *tracing.TracingClient, rng *rand.Rand, set soakSettings) (soakRecorded, error) {
	var out soakRecorded
	end := time.Now().Add(set.duration)
	for i := 0; i < soakTraces && time.Now().Before(end); i++ {
		tctx, id, err := c.StartTrace(ctx, "", tracing.FlowVersion{Major: 1, Minor: uint32(i)})
		if err != nil {
			return out, err
		}
		tr := soakTrace{id: id, status: tracing.ExecutionStatus{Kind: tracing.StatusCompleted}}
		if rng.IntN(3) == 0 {
			tr.status = tracing.FailedStatus(fmt.Sprintf("trace %d failed", i))
		}
		for j := range 1 + rng.IntN(set.maxEvents) {
			ev := soakEvent(rng, j)
			ev.EventID = tracing.NewEventID()
			into := tctx
			if rng.IntN(10) == 0 {
				into = ctx
			}
			if set.policy == batch.Block {
				if err := c.RecordWait(into, ev); err != nil {
					return out, fmt.Errorf("event %d of trace %s: %w", j, id, err)
				}
			} else {
				c.Record(into, ev) // the client counts what it drops
			}
			if into == ctx {
				out.implicit = append(out.implicit, ev.EventID)
			} else {
				tr.events = append(tr.events, ev.EventID)
			}
			if rng.IntN(set.pause) == 0 {
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
			}
		}
		if err := c.EndTrace(tctx, tr.status); err != nil {
			return out, err
		}
		out.traces = append(out.traces, tr)
	}
	return out, nil
}

// rotateImplicit ends the client's implicit trace every few milliseconds,
// with a random status, until stop is closed, and appends each trace it
// ended to ended. It is the only caller that ends the implicit trace, so
// the trace it reads before each end is the one that ends.
func rotateImplicit(ctx context.Context, c *tracing.TracingClient, ended *[]soakTrace, stop <-chan struct{}) error {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(5+i%20) * time.Millisecond):
		}
		tr := soakTrace{id: c.CurrentTrace(ctx).ID, status: tracing.ExecutionStatus{Kind: tracing.StatusCompleted}}
		if i%3 == 0 {
			tr.status = tracing.FailedStatus(fmt.Sprintf("implicit trace %d failed", i))
		}
		if err := c.EndTrace(ctx, tr.status); err != nil {
			return fmt.Errorf("ending implicit trace %s: %w", tr.id, err)
		}
		*ended = append(*ended, tr)
	}
}

func traceCount(recorded []soakRecorded) int {
	n := 0
	for _, r := range recorded {
		n += len(r.traces)
	}
	return n
}

func serversSummary(servers []*tracetest.Server) string {
	var b strings.Builder
	for i, srv := range servers {
		fmt.Fprintf(&b, "[%d] %s ", i, serverSummary(srv))
	}
	return b.String()
}

// soakEvent returns an event of a random kind; j numbers it in its trace.
func soakEvent(rng *rand.Rand, j int) tracing.TraceEvent {
	actor := fmt.Sprintf("actor-%d", rng.IntN(8))
	switch rng.IntN(4) {
	case 0:
		return event.ActorStarted(actor)
	case 1:
		return event.MessageSent(actor, "out", "Reading", uint64(rng.IntN(1<<16)))
	case 2:
		return event.ActorFailed(actor, fmt.Sprintf("step %d failed", j))
	}
	return event.DataFlow(actor, "out", "sink", "in", "Reading", uint64(rng.IntN(1<<16)))
}

// injectFaults makes one of the servers, at random, fail every few
// milliseconds, until stop is closed; it leaves the servers running.
func injectFaults(ctx context.Context, t *testing.T, servers []*tracetest.Server, rng *rand.Rand, stop <-chan struct{}) {
	pause := func(max time.Duration) bool {
		select {
		case <-time.After(time.Duration(rng.Int64N(int64(max)))):
			return true
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		}
	}
	faults := make([]int, 0, 9)
	for i := range 9 {
		if *soakFaults == "" || strings.Contains(","+*soakFaults+",", ","+strconv.Itoa(i)+",") {
			faults = append(faults, i)
		}
	}
	for pause(30 * time.Millisecond) {
		srv := servers[rng.IntN(len(servers))]
		switch faults[rng.IntN(len(faults))] {
		case 0:
			srv.KillConnections()
		case 1:
			srv.DropAfter(rng.IntN(4))
		case 2:
			srv.DropBeforeAck(1 + rng.IntN(3))
		case 3:
			srv.ErrorEvery(1+rng.IntN(3), wire.CodeStorageError, "database is locked")
		case 4:
			srv.ErrorEvery(0, "", "")
		case 5:
			srv.SetAckDelay(time.Duration(rng.IntN(5)) * time.Millisecond)
		case 6:
			srv.RefuseNext(1+rng.IntN(3), tracetest.Refuse503)
			srv.KillConnections()
		case 7:
			srv.SetRefusing(true, tracetest.RefuseClose)
			srv.KillConnections()
			pause(50 * time.Millisecond)
			srv.SetRefusing(false, tracetest.RefuseClose)
		case 8:
			srv.Stop()
			pause(50 * time.Millisecond)
			if err := srv.Restart(ctx); err != nil {
				t.Errorf("Restart: %v", err)
				return
			}
		}
	}
}

// soakReader reads back what the servers of a soak run keep.
type soakReader interface {
	// trace returns the whole trace id (nil if no server keeps it).
	trace(ctx context.Context, id tracing.TraceID) (*tracing.FlowTrace, error)
	// kept counts each event id over the traces a reader finds.
	kept() map[tracing.EventID]int
}

// oneServer reads one server through the query client, as a user does.
type oneServer struct {
	q   *query.Client
	srv *tracetest.Server
}

func (r oneServer) trace(ctx context.Context, id tracing.TraceID) (*tracing.FlowTrace, error) {
	return r.q.Trace(ctx, id)
}

func (r oneServer) kept() map[tracing.EventID]int { return r.srv.Kept() }

// acrossServers reads traces spread over failover servers the way
// WithFailover's doc says: every trace of every server, through the query
// client, keeping for each trace id the copy with the most events (of two
// with as many, one that ended over one still running), and then joining
// each trace's segments in order.
type acrossServers struct {
	best map[tracing.TraceID]tracing.FlowTrace
	segs map[string][]tracing.FlowTrace // by the trace they are segments of
}

func readAcross(ctx context.Context, servers []*tracetest.Server) (*acrossServers, error) {
	r := &acrossServers{best: map[tracing.TraceID]tracing.FlowTrace{}, segs: map[string][]tracing.FlowTrace{}}
	for _, srv := range servers {
		q, err := query.Dial(ctx, srv.URL())
		if err != nil {
			return nil, err
		}
		for tr, err := range q.QueryAll(ctx, wire.TraceQuery{}) {
			if err != nil {
				q.Close()
				return nil, err
			}
			b, ok := r.best[tr.TraceID]
			if !ok || len(tr.Events) > len(b.Events) ||
				len(tr.Events) == len(b.Events) && b.Status.Kind == tracing.StatusRunning {
				r.best[tr.TraceID] = tr
			}
		}
		q.Close()
	}
	for _, tr := range r.best {
		if of, ok := tr.Metadata.Tags[wire.TagSegmentOf]; ok {
			r.segs[of] = append(r.segs[of], tr)
		}
	}
	for _, segs := range r.segs {
		slices.SortFunc(segs, func(a, b tracing.FlowTrace) int {
			return segmentNumber(a) - segmentNumber(b)
		})
	}
	return r, nil
}

// segmentNumber is the number of segment t ("1" for a trace's second).
func segmentNumber(t tracing.FlowTrace) int {
	n, _ := strconv.Atoi(t.Metadata.Tags[wire.TagSegment])
	return n
}

func (r *acrossServers) trace(_ context.Context, id tracing.TraceID) (*tracing.FlowTrace, error) {
	head, ok := r.best[id]
	if !ok {
		return nil, nil
	}
	head.Events = slices.Clone(head.Events)
	for _, seg := range r.segs[id.String()] {
		head.Events = append(head.Events, seg.Events...)
		if seg.Metadata.Tags[wire.TagJoined] == "" {
			head.Status = seg.Status
		}
	}
	return &head, nil
}

func (r *acrossServers) kept() map[tracing.EventID]int {
	out := map[tracing.EventID]int{}
	for _, tr := range r.best {
		for _, ev := range tr.Events {
			out[ev.EventID]++
		}
	}
	return out
}

// checkSoak reads back every trace of recorded and every implicit trace
// and checks that the servers keep each with its status, each recorded
// event at most once, in its trace (an event recorded into the implicit
// trace in one of the implicit traces), and no event that was not
// recorded; every recorded event unless drops is set, else delivered
// events in all.
func checkSoak(ctx context.Context, t *testing.T, servers []*tracetest.Server, recorded []soakRecorded, implicit []soakTrace, drops bool, delivered uint64) {
	t.Helper()
	var r soakReader
	if len(servers) == 1 {
		q, err := query.Dial(ctx, servers[0].URL())
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		r = oneServer{q: q, srv: servers[0]}
	} else {
		across, err := readAcross(ctx, servers)
		if err != nil {
			t.Fatal(err)
		}
		r = across
	}
	read := func(tr soakTrace) map[tracing.EventID]int {
		got, err := r.trace(ctx, tr.id)
		if err != nil {
			t.Fatalf("trace %s: %v", tr.id, err)
		}
		if got == nil {
			t.Fatalf("trace %s of %d events not kept; servers %s", tr.id, len(tr.events), serversSummary(servers))
		}
		if got.Status != tr.status {
			t.Errorf("trace %s kept with status %v, want %v", tr.id, got.Status, tr.status)
		}
		kept := make(map[tracing.EventID]int, len(got.Events))
		for _, ev := range got.Events {
			kept[ev.EventID]++
		}
		return kept
	}
	var want, wantImplicit []tracing.EventID
	for _, rec := range recorded {
		wantImplicit = append(wantImplicit, rec.implicit...)
		for _, tr := range rec.traces {
			want = append(want, tr.events...)
			if msg := keptAtMostOnce(tr.events, read(tr), !drops); msg != "" {
				t.Errorf("trace %s: %s; servers %s", tr.id, msg, serversSummary(servers))
			}
		}
	}
	inImplicit := map[tracing.EventID]int{}
	for _, tr := range implicit {
		for id, n := range read(tr) {
			inImplicit[id] += n
		}
	}
	if msg := keptAtMostOnce(wantImplicit, inImplicit, !drops); msg != "" {
		t.Errorf("implicit traces: %s; servers %s", msg, serversSummary(servers))
	}
	want = append(want, wantImplicit...)
	all := r.kept()
	if msg := keptAtMostOnce(want, all, !drops); msg != "" {
		t.Errorf("servers keep: %s", msg)
	}
	if uint64(len(all)) != delivered {
		t.Errorf("servers keep %d events, the client counts %d delivered", len(all), delivered)
	}
}

// keptAtMostOnce is keptOnce when every event must be kept (all), and
// otherwise reports only events kept more than once and unknown events.
func keptAtMostOnce(want []tracing.EventID, kept map[tracing.EventID]int, all bool) string {
	if all {
		return keptOnce(want, kept)
	}
	lost := 0
	for _, id := range want {
		if kept[id] == 0 {
			lost++
		}
	}
	if msg := keptOnce(want, kept); msg != "" && !strings.HasPrefix(msg, fmt.Sprintf("of %d events %d not kept, 0 kept more than once; 0 unknown", len(want), lost)) {
		return msg
	}
	return ""
}

// onlyDrops reports whether err, from Close, reports drops and nothing
// else: the client's undelivered events (none abandoned) and the sink's
// ErrDropped.
func onlyDrops(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !onlyDrops(e) {
				return false
			}
		}
		return true
	}
	var ue *tracing.UndeliveredError
	if errors.As(err, &ue) && err.Error() == ue.Error() {
		return ue.Abandoned == 0
	}
	return errors.Is(err, ErrDropped)
}
