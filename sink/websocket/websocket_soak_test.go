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
// memory limit. Once the faults stop and the client is closed, it asks the
// server, through the query client, for every trace: each trace must be
// kept with the status it ended with, and each recorded event kept at
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

func soak(t *testing.T, gen tracetest.Generation, mode Mode, seed uint64) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(seed, seed>>1|1))
	set := newSoakSettings(rng)
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
	srv := startServer(t, srvOpts...)
	s, _ := newTestSink(t, srv.URL(), sinkOpts...)

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
		injectFaults(ctx, t, srv, frng, stopFaults)
	}()

	traces := make([][]soakTrace, set.workers)
	errs := make([]error, set.workers)
	var wg sync.WaitGroup
	for w := range set.workers {
		wrng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			traces[w], errs[w] = soakWorker(ctx, c, wrng, set)
		}()
	}
	wg.Wait()
	close(stopFaults)
	<-faultsDone
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("recording: %v", err)
	}
	srv.ErrorEvery(0, "", "")
	srv.SetAckDelay(0)
	srv.SetRefusing(false, tracetest.RefuseClose)
	srv.RefuseNext(0, tracetest.RefuseClose)
	srv.DropAfter(-1)
	srv.DropBeforeAck(0)
	drops := set.policy == batch.DropNewest || set.outage != 0
	if err := c.Close(ctx); err != nil && (!drops || !onlyDrops(err)) {
		// A run that lets the client drop may have Close report the drops,
		// and nothing else.
		t.Fatalf("Close: %v; sink %+v; server %s", err, s.Stats(), serverSummary(srv))
	}
	m := c.Metrics()
	if m.Recorded != m.Delivered+m.Dropped.Total() {
		t.Fatalf("client recorded %d events, delivered %d and dropped %d: %+v", m.Recorded, m.Delivered, m.Dropped.Total(), m.Dropped)
	}
	if !drops && m.Dropped.Total() != 0 {
		t.Fatalf("client dropped %d events: %+v", m.Dropped.Total(), m.Dropped)
	}
	t.Logf("recorded %d events in %d traces, dropped %d: %+v", m.Recorded, len(slices.Concat(traces...)), m.Dropped.Total(), m.Dropped)
	checkSoak(ctx, t, srv, traces, drops, m.Delivered)
}

// soakWorker records traces one after another for set.duration, each with
// up to set.maxEvents events of random kinds, ending each with a random
// status.
func soakWorker(ctx context.Context, c *tracing.TracingClient, rng *rand.Rand, set soakSettings) ([]soakTrace, error) {
	var out []soakTrace
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
			if set.policy == batch.Block {
				if err := c.RecordWait(tctx, ev); err != nil {
					return out, fmt.Errorf("event %d of trace %s: %w", j, id, err)
				}
			} else {
				c.Record(tctx, ev) // the client counts what it drops
			}
			tr.events = append(tr.events, ev.EventID)
			if rng.IntN(set.pause) == 0 {
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
			}
		}
		if err := c.EndTrace(tctx, tr.status); err != nil {
			return out, err
		}
		out = append(out, tr)
	}
	return out, nil
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

// injectFaults makes the server fail at random, every few milliseconds,
// until stop is closed; it leaves the server running.
func injectFaults(ctx context.Context, t *testing.T, srv *tracetest.Server, rng *rand.Rand, stop <-chan struct{}) {
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

// checkSoak asks the server for every trace of traces and checks that it
// keeps the trace with its status and each recorded event at most once,
// in its trace, and no event that was not recorded; every recorded event
// unless drops is set, else delivered events in all.
func checkSoak(ctx context.Context, t *testing.T, srv *tracetest.Server, traces [][]soakTrace, drops bool, delivered uint64) {
	t.Helper()
	q, err := query.Dial(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var want []tracing.EventID
	for _, ts := range traces {
		for _, tr := range ts {
			want = append(want, tr.events...)
			got, err := q.Trace(ctx, tr.id)
			if err != nil {
				t.Fatalf("trace %s: %v", tr.id, err)
			}
			if got == nil {
				t.Fatalf("trace %s of %d events not kept; server %s", tr.id, len(tr.events), serverSummary(srv))
			}
			if got.Status != tr.status {
				t.Errorf("trace %s kept with status %v, want %v", tr.id, got.Status, tr.status)
			}
			kept := make(map[tracing.EventID]int, len(got.Events))
			for _, ev := range got.Events {
				kept[ev.EventID]++
			}
			if msg := keptAtMostOnce(tr.events, kept, !drops); msg != "" {
				t.Errorf("trace %s: %s; server %s", tr.id, msg, serverSummary(srv))
			}
		}
	}
	all := srv.Kept()
	if msg := keptAtMostOnce(want, all, !drops); msg != "" {
		t.Errorf("server keeps: %s", msg)
	}
	if uint64(len(all)) != delivered {
		t.Errorf("server keeps %d events, the client counts %d delivered", len(all), delivered)
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
