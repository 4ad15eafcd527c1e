package tracing

import (
	"context"
	"runtime"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/batch"
)

// yieldEvery is how many events each benchmark goroutine records between
// two runtime.Gosched calls. A goroutine that records in a tight loop
// never gives up its P, so with -cpu 1 (or as many producers as Ps) the
// consumer would only run when the scheduler preempts a producer, every
// 10 ms, and the queue would overflow; real programs block often. Yielding
// costs well under 1 ns per event.
const yieldEvery = 256

// newBenchClient returns a client with the default configuration writing
// to a discarding sink.
func newBenchClient(b *testing.B, edit func(*TracingConfig)) (*TracingClient, *discardSink) {
	b.Helper()
	sink := &discardSink{}
	cfg := DefaultConfig()
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg, WithSink(sink))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, sink
}

// benchRecord runs record from parallel goroutines (one per -cpu) and
// reports the percentage of events dropped because the queue was full,
// which must be 0 for ns/op to measure the full path.
func benchRecord(b *testing.B, record func(c *TracingClient)) {
	benchRecordOn(b, 0, record)
}

// benchRecordOn is benchRecord with goroutines goroutines in all, however
// many Ps there are (0: one per P).
func benchRecordOn(b *testing.B, goroutines int, record func(c *TracingClient)) {
	c, _ := newBenchClient(b, nil)
	if goroutines > 0 {
		procs := runtime.GOMAXPROCS(0)
		b.SetParallelism(max(goroutines/procs, 1))
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			record(c)
			if n++; n%yieldEvery == 0 {
				runtime.Gosched()
			}
		}
	})
	b.StopTimer()
	m := c.Metrics()
	b.ReportMetric(100*float64(m.EventsDropped)/float64(max(m.Recorded, 1)), "dropped_%")
}

// BenchmarkRecordDataFlow measures recording a data-flow event (run with
// -cpu 1,2,8) into a client whose consumer writes to a discarding sink.
//
// With more Ps than cores (-cpu 8 on a 2-core machine) the operating
// system time-slices 8 busy threads over the cores and at times
// deschedules the thread running the consumer for a whole slice: a
// runtime trace (-trace) shows the consumer "running" for 4 to 16 ms
// without delivering anything, while the producers fill the queue. Then
// dropped_% is well above 0 and ns/op partly measures drops.
func BenchmarkRecordDataFlow(b *testing.B) {
	ctx := context.Background()
	benchRecord(b, func(c *TracingClient) {
		c.DataFlow(ctx, "sensor", "out", "validator", "in", "Reading", 256)
	})
}

// BenchmarkRecordDataFlow8Goroutines is BenchmarkRecordDataFlow with 8
// recording goroutines whatever -cpu says: run with -cpu 2 on a 2-core
// machine it has 8 producers and a consumer that keeps up, which -cpu 8
// (8 busy threads on 2 cores) cannot give.
func BenchmarkRecordDataFlow8Goroutines(b *testing.B) {
	ctx := context.Background()
	benchRecordOn(b, 8, func(c *TracingClient) {
		c.DataFlow(ctx, "sensor", "out", "validator", "in", "Reading", 256)
	})
}

// BenchmarkRecordWithCause is BenchmarkRecordDataFlow with a cause in the
// context, so the causality is filled in.
func BenchmarkRecordWithCause(b *testing.B) {
	ctx := ContextWithEvent(ContextWithEvent(context.Background(), NewEventID()), NewEventID())
	benchRecord(b, func(c *TracingClient) {
		c.DataFlow(ctx, "sensor", "out", "validator", "in", "Reading", 256)
	})
}

// BenchmarkRecordInTrace is BenchmarkRecordWithCause with a trace in the
// context too (as StartTrace gives), so the event's trace comes from it.
func BenchmarkRecordInTrace(b *testing.B) {
	ctx := ContextWithEvent(ContextWithTrace(context.Background(), TraceRef{ID: NewTraceID()}), NewEventID())
	benchRecord(b, func(c *TracingClient) {
		c.DataFlow(ctx, "sensor", "out", "validator", "in", "Reading", 256)
	})
}

// BenchmarkRecordEvent records an event built with a constructor through
// Record, the generic entry point.
func BenchmarkRecordEvent(b *testing.B) {
	ctx := context.Background()
	benchRecord(b, func(c *TracingClient) {
		c.Record(ctx, dataFlow("sensor", "out", "validator", "in", "Reading", 256))
	})
}

// BenchmarkRecordDisabled measures what recording costs when tracing is
// off.
func BenchmarkRecordDisabled(b *testing.B) {
	c := NewNop()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.DataFlow(ctx, "sensor", "out", "validator", "in", "Reading", 256)
		}
	})
}

// BenchmarkThroughput measures the events per second the whole client
// sustains, from recording to a discarding sink, including the final
// Flush. Producers use RecordWait under the Block policy, so they wait when
// the consumer falls behind instead of dropping: events/s is the rate the
// consumer keeps up with, and "dropped" must be 0.
func BenchmarkThroughput(b *testing.B) {
	c, sink := newBenchClient(b, func(c *TracingConfig) { c.QueuePolicy = batch.Block })
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = c.RecordWait(ctx, dataFlow("sensor", "out", "validator", "in", "Reading", 256))
		}
	})
	if err := c.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(sink.n.Load())/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(c.Metrics().EventsDropped), "dropped")
}

// BenchmarkThroughputTwoSinks is BenchmarkThroughput with two discarding
// sinks, each fed by its own goroutine (see WithSink): events/s counts
// the events the slower of the two received, and "dropped" includes the
// batches a sink missed because it fell a queue behind.
func BenchmarkThroughputTwoSinks(b *testing.B) {
	sinks := []*discardSink{{}, {}}
	cfg := DefaultConfig()
	cfg.QueuePolicy = batch.Block
	c, err := New(cfg, WithSink(sinks[0]), WithSink(sinks[1]))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(context.Background()) })
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = c.RecordWait(ctx, dataFlow("sensor", "out", "validator", "in", "Reading", 256))
		}
	})
	if err := c.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(min(sinks[0].n.Load(), sinks[1].n.Load()))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(c.Metrics().EventsDropped), "dropped")
}
