package tracing

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
)

// linkSink discards what it is given, acknowledging it at once, and
// reports the acknowledgement latency the test sets.
type linkSink struct {
	latency atomic.Int64
	events  atomic.Uint64
}

func (s *linkSink) Write(_ context.Context, batch []TraceEvent) error {
	s.events.Add(uint64(len(batch)))
	return nil
}
func (s *linkSink) Flush(context.Context) error { return nil }
func (s *linkSink) Close(context.Context) error { return nil }
func (s *linkSink) SinkStats() SinkStats {
	return SinkStats{Acknowledges: true, Acknowledged: s.events.Load(), AckLatency: time.Duration(s.latency.Load())}
}

// recordUntil records events until cond holds for the client's metrics,
// at most limit events; it reports whether cond held.
func recordUntil(t *testing.T, c *TracingClient, limit int, cond func(TracingMetrics) bool) bool {
	t.Helper()
	ctx := ctxTimeout(t)
	for i := range limit {
		if err := c.RecordWait(ctx, dataFlow("a", "out", "b", "in", "M", 8)); err != nil {
			t.Fatal(err)
		}
		if i%256 == 0 && cond(c.Metrics()) {
			return true
		}
	}
	return cond(c.Metrics())
}

// recordPaced records 256 events every millisecond (at most 256k events/s)
// until cond holds for the client's metrics, for at most d; it reports
// whether cond held, and logs how long it took.
func recordPaced(t *testing.T, c *TracingClient, d time.Duration, cond func(TracingMetrics) bool) bool {
	t.Helper()
	ctx := ctxTimeout(t)
	start := time.Now()
	for time.Since(start) < d {
		for range 256 {
			if err := c.RecordWait(ctx, dataFlow("a", "out", "b", "in", "M", 8)); err != nil {
				t.Fatal(err)
			}
		}
		if cond(c.Metrics()) {
			t.Logf("held after %v", time.Since(start))
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return cond(c.Metrics())
}

func TestAdaptiveBatchingFollowsTheAckLatency(t *testing.T) {
	s := &linkSink{}
	s.latency.Store(int64(50 * time.Millisecond))
	c := newTestClient(t, s, func(cfg *TracingConfig) {
		cfg.AdaptiveBatching = true
		cfg.QueuePolicy = batch.Block
		cfg.BatchSize, cfg.QueueSize = defaultBatchSize, defaultQueueSize
		cfg.BatchTimeout = 200 * time.Millisecond
	})
	if m := c.Metrics(); m.BatchSize != defaultBatchSize || m.BatchTimeout != 200*time.Millisecond {
		t.Fatalf("starts at batch %d, timeout %v; want BatchSize and BatchTimeout", m.BatchSize, m.BatchTimeout)
	}
	// A slow link: the events of one latency make a batch, up to the
	// maximum, and the timeout is the latency.
	_, hi := adaptiveBounds(&c.cfg)
	slow := func(m TracingMetrics) bool {
		return m.BatchSize == hi && m.BatchTimeout == 50*time.Millisecond
	}
	if !recordUntil(t, c, 5_000_000, slow) {
		m := c.Metrics()
		t.Fatalf("with a 50 ms latency: batch %d, timeout %v; want %d, 50ms", m.BatchSize, m.BatchTimeout, hi)
	}
	// The link is fast again and the producer records at a pace the
	// consumer keeps up with: small batches, the shortest timeout. (A
	// producer recording flat out under Block keeps the queue full, and a
	// full queue keeps batches large: the consumer is behind.)
	s.latency.Store(int64(100 * time.Microsecond))
	fast := func(m TracingMetrics) bool {
		return m.BatchSize < defaultBatchSize && m.BatchTimeout == time.Millisecond
	}
	if !recordPaced(t, c, 5*time.Second, fast) {
		m := c.Metrics()
		t.Fatalf("with a 100 µs latency: batch %d, timeout %v; want below %d, 1ms", m.BatchSize, m.BatchTimeout, defaultBatchSize)
	}
	if err := c.Flush(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	if m := c.Metrics(); s.events.Load() != m.Recorded {
		t.Fatalf("sink got %d of %d events", s.events.Load(), m.Recorded)
	}
}

func TestAdaptiveBatchingOffKeepsTheConfiguredBatch(t *testing.T) {
	s := &linkSink{}
	s.latency.Store(int64(50 * time.Millisecond))
	c := newTestClient(t, s, func(cfg *TracingConfig) {
		cfg.AdaptiveBatching = false
		cfg.QueuePolicy = batch.Block
		cfg.BatchSize, cfg.QueueSize = defaultBatchSize, defaultQueueSize
	})
	recordUntil(t, c, 100_000, func(TracingMetrics) bool { return false })
	if m := c.Metrics(); m.BatchSize != defaultBatchSize || m.BatchTimeout != c.Config().BatchTimeout {
		t.Fatalf("batch %d, timeout %v; want the configured %d, %v", m.BatchSize, m.BatchTimeout, defaultBatchSize, c.Config().BatchTimeout)
	}
}

func TestAdaptiveBounds(t *testing.T) {
	for _, tt := range []struct {
		batch, queue, min, max int
		lo, hi                 int
	}{
		{512, 8192, 0, 0, defaultMinBatchSize, 1024},
		{50, 8192, 0, 0, 50, 1024},
		{512, 65536, 0, 0, defaultMinBatchSize, defaultMaxBatchSize},
		{512, 2048, 0, 0, defaultMinBatchSize, 512},
		{10000, 16384, 0, 0, defaultMinBatchSize, 10000},
		{512, 8192, 16, 2048, 16, 2048},
		{512, 1024, 16, 2048, 16, 1024},
	} {
		cfg := TracingConfig{BatchSize: tt.batch, QueueSize: tt.queue, MinBatchSize: tt.min, MaxBatchSize: tt.max}
		if lo, hi := adaptiveBounds(&cfg); lo != tt.lo || hi != tt.hi {
			t.Errorf("%+v: bounds %d, %d; want %d, %d", tt, lo, hi, tt.lo, tt.hi)
		}
	}
}

// TestAdaptiveBatchingNeedsAnAcknowledgingSink gives the client a sink that
// acknowledges nothing (and so measures no latency): the queue keeps
// batches of BatchSize and its timeout, and lanes sized for them.
func TestAdaptiveBatchingNeedsAnAcknowledgingSink(t *testing.T) {
	c := newTestClient(t, &discardSink{}, func(cfg *TracingConfig) {
		cfg.AdaptiveBatching = true
		cfg.BatchSize, cfg.QueueSize = defaultBatchSize, defaultQueueSize
	})
	if c.pace != nil {
		t.Fatal("a Pacer follows a sink that measures no latency")
	}
	if got := c.queue.Config().MaxBatch; got != defaultBatchSize {
		t.Fatalf("queue sized for batches of %d, want BatchSize %d", got, defaultBatchSize)
	}
}
