package tracing

import (
	"context"
	"testing"
	"time"
)

// newBenchClient returns a client with a queue large enough for the
// consumer to keep up, writing to a discarding sink.
func newBenchClient(b *testing.B) (*TracingClient, *discardSink) {
	b.Helper()
	sink := &discardSink{}
	cfg := DefaultConfig()
	cfg.QueueSize = 1 << 16
	cfg.BatchSize = 1024
	c, err := New(cfg, WithSink(sink))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, sink
}

// BenchmarkRecordDataFlow records data-flow events from parallel
// goroutines (run with -cpu 1,2,8) into a client whose consumer keeps up.
func BenchmarkRecordDataFlow(b *testing.B) {
	c, _ := newBenchClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.DataFlow(ctx, "sensor", "out", "validator", "in", "Reading", 256)
		}
	})
	b.StopTimer()
	reportDrops(b, c)
}

// BenchmarkRecordWithCause is BenchmarkRecordDataFlow with a cause in the
// context, so causality is filled in.
func BenchmarkRecordWithCause(b *testing.B) {
	c, _ := newBenchClient(b)
	ctx := ContextWithEvent(ContextWithEvent(context.Background(), NewEventID()), NewEventID())
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.DataFlow(ctx, "sensor", "out", "validator", "in", "Reading", 256)
		}
	})
	b.StopTimer()
	reportDrops(b, c)
}

// BenchmarkRecordEvent records a prebuilt event with Record, the generic
// entry point.
func BenchmarkRecordEvent(b *testing.B) {
	c, _ := newBenchClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Record(ctx, DataFlow("sensor", "out", "validator", "in", "Reading", 256))
		}
	})
	b.StopTimer()
	reportDrops(b, c)
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

// BenchmarkThroughput measures events per second through the whole client,
// from recording to a discarding sink, including the final Flush; "dropped"
// must be 0.
func BenchmarkThroughput(b *testing.B) {
	c, sink := newBenchClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.DataFlow(ctx, "sensor", "out", "validator", "in", "Reading", 256)
		}
	})
	if err := c.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(sink.n.Load())/elapsed.Seconds(), "events/s")
	reportDrops(b, c)
}

func reportDrops(b *testing.B, c *TracingClient) {
	b.ReportMetric(float64(c.Metrics().EventsDropped), "dropped")
}
