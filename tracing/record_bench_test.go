package tracing

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
	"github.com/reflowtrace/reflowtrace-go/internal/clock"
	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
)

// floorSink keeps the floor's results alive, so that the compiler cannot
// drop the clock read or the id.
var floorSink atomic.Uint64

// runParallel runs body on one goroutine per P, n calls in all split
// between them, and returns the wall time from the start of the first to
// the end of the last, as b.RunParallel measures it. Each goroutine gets
// its index g, from 0 to GOMAXPROCS-1.
func runParallel(n int, body func(g, n int)) time.Duration {
	procs := runtime.GOMAXPROCS(0)
	var start, wg sync.WaitGroup
	start.Add(1)
	wg.Add(procs)
	for i := range procs {
		k := n / procs
		if i < n%procs {
			k++
		}
		go func() {
			defer wg.Done()
			start.Wait()
			body(i, k)
		}()
	}
	t0 := time.Now()
	start.Done()
	wg.Wait()
	return time.Since(t0)
}

// floorRounds is how many times the paired benchmarks alternate between
// the floor and the measured path, so that load from the rest of the
// machine affects both about equally.
const floorRounds = 8

// BenchmarkRecordFloor compares recording a data-flow event with what
// every recorded event costs at least: one clock read and one UUIDv7
// (internal/clock and internal/uuid), the floor. Each sub-benchmark
// measures the floor and the recording in turn, floorRounds times, from
// one goroutine per P (run with -cpu 1,2,8), and reports:
//
//   - floor_ns/op: the clock read and the id;
//   - record_ns/op: the whole recording into a client of the default
//     configuration writing to a discarding sink (at -cpu 1 this includes
//     the consumer's work, which runs on the same P);
//   - x_floor: record_ns/op over floor_ns/op, from the same run;
//   - dropped_%: events the queue refused (must be 0 for record_ns/op to
//     measure the whole path; at -cpu 8 on a 2-core machine the consumer's
//     thread is at times descheduled and some events are dropped).
//
// ns/op is the two together. The sub-benchmarks are api=DataFlow, the
// per-kind method, which builds the event in its queue slot, and
// api=Record, Record(ctx, dataFlow(...)) (what event.DataFlow builds),
// which builds it on the stack and copies it in. Both goroutines' loops
// yield every yieldEvery events, as the other recording benchmarks do.
//
// api=queue16 is what any recording through the client's queue costs at
// least: the floor's clock read and id put as a 16-byte item
// (batch.Queue.PutReuse) into a queue of the client's default
// configuration whose consumer discards its batches; no event, no client.
//
// api=build is what building the event costs without any queue: each
// goroutine builds DataFlow's event in turn in the slots of a ring of its
// own, as the per-kind method builds it in its queue slot (clearing the
// slot's head, then stamp and the kind's setter), with the rings of all
// goroutines together as large as the client's default queue. It hands
// nothing over: no claim, no publish, no consumer, no trace or cause. The
// distance from its x_floor to 1 is what building a 632-byte event adds
// to the floor by itself.
//
// Run: go test -run '^$' -bench RecordFloor -cpu 1,2,8 -count 5 ./tracing
func BenchmarkRecordFloor(b *testing.B) {
	ctx := context.Background()
	b.Run("api=DataFlow", func(b *testing.B) {
		benchFloor(b, func(c *TracingClient) {
			c.DataFlow(ctx, "sensor", "out", "validator", "in", "Reading", 256)
		})
	})
	b.Run("api=Record", func(b *testing.B) {
		benchFloor(b, func(c *TracingClient) {
			c.Record(ctx, dataFlow("sensor", "out", "validator", "in", "Reading", 256))
		})
	})
	b.Run("api=build", func(b *testing.B) {
		procs := runtime.GOMAXPROCS(0)
		rings := make([][]TraceEvent, procs)
		for g := range rings {
			rings[g] = make([]TraceEvent, DefaultConfig().WithDefaults().QueueSize/procs)
		}
		benchFloorEach(b, func(g int) func() {
			slots := rings[g]
			i := 0
			return func() {
				ev := &slots[i]
				if i++; i == len(slots) {
					i = 0
				}
				clearHead(ev)
				stamp(ev, KindDataFlow, "sensor")
				setDataFlow(ev, "out", "validator", "in", "Reading", 256)
			}
		}, func() (uint64, uint64) { return 0, 0 })
	})
	b.Run("api=queue16", func(b *testing.B) {
		type id struct{ hi, lo uint64 }
		cfg := DefaultConfig().WithDefaults()
		q, err := batch.New(queueConfig(&cfg), func([]id) {})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = q.Close(context.Background()) })
		benchFloorOf(b, func() {
			hi, lo := uuid.V7(clock.UnixNano())
			q.PutReuse(func(v *id, _ uint8) uint8 {
				v.hi, v.lo = hi, lo
				return 0
			})
		}, func() (recorded, dropped uint64) {
			s := q.Stats()
			return s.Enqueued + s.DroppedFull, s.DroppedFull
		})
	})
}

// benchFloor runs benchFloorOf for record on a client of the default
// configuration writing to a discarding sink.
func benchFloor(b *testing.B, record func(c *TracingClient)) {
	c, _ := newBenchClient(b, nil)
	benchFloorOf(b, func() { record(c) }, func() (uint64, uint64) {
		m := c.Metrics()
		return m.Recorded, m.EventsDropped
	})
}

// benchFloorOf measures the floor and record in turn, floorRounds times,
// and reports them and their ratio (see BenchmarkRecordFloor); counts
// returns how many events were recorded and dropped.
func benchFloorOf(b *testing.B, record func(), counts func() (recorded, dropped uint64)) {
	benchFloorEach(b, func(int) func() { return record }, counts)
}

// benchFloorEach is benchFloorOf with a record of each goroutine's own:
// every goroutine of every round calls newRecord with its index (see
// runParallel) once, before its loop, and then calls what it returned.
func benchFloorEach(b *testing.B, newRecord func(g int) func(), counts func() (recorded, dropped uint64)) {
	floor := func(_, n int) {
		var acc uint64
		for i := range n {
			hi, lo := uuid.V7(clock.UnixNano())
			acc += hi ^ lo
			if i%yieldEvery == yieldEvery-1 {
				runtime.Gosched()
			}
		}
		floorSink.Add(acc)
	}
	rec := func(g, n int) {
		record := newRecord(g)
		for i := range n {
			record()
			if i%yieldEvery == yieldEvery-1 {
				runtime.Gosched()
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var tf, tr time.Duration
	per := max(b.N/floorRounds, 1)
	for range floorRounds {
		tf += runParallel(per, floor)
		tr += runParallel(per, rec)
	}
	b.StopTimer()
	n := float64(per * floorRounds)
	recorded, dropped := counts()
	b.ReportMetric(float64(tf.Nanoseconds())/n, "floor_ns/op")
	b.ReportMetric(float64(tr.Nanoseconds())/n, "record_ns/op")
	b.ReportMetric(float64(tr)/float64(tf), "x_floor")
	b.ReportMetric(100*float64(dropped)/float64(max(recorded, 1)), "dropped_%")
}

// BenchmarkRecordOverload measures a client whose producers record faster
// than its consumer can deliver: N goroutines call DataFlow flat out (no
// yielding) into a client of the default configuration writing to a
// discarding sink. b.N is the number of events recorded by all producers
// together. It reports:
//
//   - delivered/s: events the sink received per second while the
//     producers ran;
//   - drop_%: events the queue refused (queue full);
//   - ns/op: the wall time per event recorded by all producers together.
//
// policy=drop_newest is the default policy, under which DataFlow drops
// what does not fit. policy=block is the reference: the producers call
// RecordWait under the Block policy, so they wait for room and nothing is
// dropped; its delivered/s is what the consumer sustains.
//
// Run: go test -run '^$' -bench RecordOverload -cpu 2 -count 5 ./tracing
func BenchmarkRecordOverload(b *testing.B) {
	ctx := context.Background()
	for _, p := range []int{1, 2, 8} {
		b.Run(fmt.Sprintf("policy=drop_newest/producers=%d", p), func(b *testing.B) {
			benchOverload(b, p, batch.DropNewest, func(c *TracingClient) {
				c.DataFlow(ctx, "sensor", "out", "validator", "in", "Reading", 256)
			})
		})
	}
	for _, p := range []int{1, 2, 8} {
		b.Run(fmt.Sprintf("policy=block/producers=%d", p), func(b *testing.B) {
			benchOverload(b, p, batch.Block, func(c *TracingClient) {
				_ = c.RecordWait(ctx, dataFlow("sensor", "out", "validator", "in", "Reading", 256))
			})
		})
	}
}

func benchOverload(b *testing.B, producers int, policy batch.Policy, record func(c *TracingClient)) {
	c, sink := newBenchClient(b, func(cfg *TracingConfig) { cfg.QueuePolicy = policy })
	per := (b.N + producers - 1) / producers
	var start, wg sync.WaitGroup
	start.Add(1)
	wg.Add(producers)
	for range producers {
		go func() {
			defer wg.Done()
			start.Wait()
			for range per {
				record(c)
			}
		}()
	}
	b.ReportAllocs()
	b.ResetTimer()
	d0 := sink.n.Load()
	t0 := time.Now()
	start.Done()
	wg.Wait()
	elapsed := time.Since(t0)
	delivered := sink.n.Load() - d0
	b.StopTimer()
	if err := c.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	m := c.Metrics()
	recorded := uint64(per * producers)
	if m.Recorded != recorded {
		b.Fatalf("Metrics().Recorded = %d, want %d", m.Recorded, recorded)
	}
	if policy == batch.Block && m.EventsDropped != 0 {
		b.Fatalf("%d events dropped under the Block policy", m.EventsDropped)
	}
	b.ReportMetric(float64(delivered)/elapsed.Seconds(), "delivered/s")
	b.ReportMetric(100*float64(m.EventsDropped)/float64(recorded), "drop_%")
}
