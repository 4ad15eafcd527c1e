package tracing

import "time"

// Adaptive batching (TracingConfig.AdaptiveBatching): the consumer sizes
// its batches from what the sinks measure, so that a slow or busy link gets
// few large batches and an idle, fast one small batches that leave at
// once.
//
// Every controlInterval of batches handed over, the consumer reads the
// sinks' SinkStats and sets the queue's batch size to the events that
// arrive in one acknowledgement latency (the highest the sinks report),
// or half the events waiting in the queue if that is more (the consumer is
// behind), within [MinBatchSize, MaxBatchSize]; and its timeout to that
// latency, within [minAdaptiveTimeout, BatchTimeout]. The arrival rate is
// measured over the interval, so after an idle period it is low and the
// first batches are small.

const (
	// defaultMinBatchSize and defaultMaxBatchSize bound the batch size of
	// adaptive batching when MinBatchSize and MaxBatchSize are zero (and
	// are themselves bounded by BatchSize and QueueSize).
	defaultMinBatchSize = 64
	defaultMaxBatchSize = 4096
	// controlInterval is how often adaptive batching reads the sinks.
	controlInterval = 10 * time.Millisecond
	// minAdaptiveTimeout is the shortest batch timeout adaptive batching
	// sets.
	minAdaptiveTimeout = time.Millisecond
)

// batchControl is the state of adaptive batching, owned by the consumer
// goroutine.
type batchControl struct {
	minBatch, maxBatch int
	maxTimeout         time.Duration
	last               time.Time // last poll
	events             uint64    // handed over since the last poll
	rate               float64   // smoothed events per second
}

// adaptiveBounds returns the batch size bounds of cfg (defaults applied):
// MinBatchSize and MaxBatchSize, or their defaults widened to include
// BatchSize, the maximum at most QueueSize.
func adaptiveBounds(cfg *TracingConfig) (lo, hi int) {
	lo, hi = cfg.MinBatchSize, cfg.MaxBatchSize
	if lo == 0 {
		lo = min(defaultMinBatchSize, cfg.BatchSize)
	}
	if hi == 0 {
		hi = min(max(defaultMaxBatchSize, cfg.BatchSize), cfg.QueueSize)
	}
	return lo, hi
}

// retuneBatching counts a batch of n events handed over at now and, once per
// controlInterval, retunes the queue.
func (c *TracingClient) retuneBatching(n int, now time.Time) {
	b := c.adapt
	b.events += uint64(n)
	elapsed := now.Sub(b.last)
	if elapsed < controlInterval {
		return
	}
	r := float64(b.events) / elapsed.Seconds()
	if b.rate == 0 || elapsed > 10*controlInterval {
		b.rate = r // after an idle period the old rate says nothing
	} else {
		b.rate = (b.rate + r) / 2
	}
	b.last, b.events = now, 0
	var lat time.Duration
	for _, st := range c.sinkStats() {
		lat = max(lat, st.AckLatency)
	}
	size := int(b.rate * lat.Seconds())
	size = max(size, c.queue.Len()/2)
	size = min(max(size, b.minBatch), b.maxBatch)
	timeout := min(max(lat, minAdaptiveTimeout), b.maxTimeout)
	c.queue.SetBatching(size, timeout)
}
