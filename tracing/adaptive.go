package tracing

import "time"

// Adaptive batching (TracingConfig.AdaptiveBatching): the consumer sizes
// its batches from the highest acknowledgement latency the sinks report
// (SinkStats.AckLatency), within [MinBatchSize, MaxBatchSize] and with a
// timeout of at most BatchTimeout; see deliver.Pacer.

const (
	// defaultMinBatchSize and defaultMaxBatchSize bound the batch size of
	// adaptive batching when MinBatchSize and MaxBatchSize are zero (and
	// are themselves bounded by BatchSize and QueueSize).
	defaultMinBatchSize = 64
	defaultMaxBatchSize = 4096
	// maxBatchShare is the most of QueueSize the default maximum batch
	// takes: the queue gives each lane room for a whole batch, so a
	// larger one would leave it fewer lanes for concurrent producers.
	maxBatchShare = 8
)

// adaptiveBounds returns the batch size bounds of cfg (defaults applied):
// MinBatchSize and MaxBatchSize, or their defaults widened to include
// BatchSize: the default maximum is an eighth of QueueSize, at most
// defaultMaxBatchSize, and every maximum is at most QueueSize.
func adaptiveBounds(cfg *TracingConfig) (lo, hi int) {
	lo, hi = cfg.MinBatchSize, cfg.MaxBatchSize
	if lo == 0 {
		lo = min(defaultMinBatchSize, cfg.BatchSize)
	}
	if hi == 0 {
		hi = max(min(defaultMaxBatchSize, cfg.QueueSize/maxBatchShare), cfg.BatchSize)
	}
	return lo, min(hi, cfg.QueueSize)
}

// ackLatency is the highest acknowledgement latency the sinks report.
func (c *TracingClient) ackLatency() (lat time.Duration) {
	for _, st := range c.sinkStats() {
		lat = max(lat, st.AckLatency)
	}
	return lat
}

// acknowledging reports whether a sink acknowledges what it is given
// (SinkStats.Acknowledges), and so may measure a latency: without one
// adaptive batching has nothing to follow, and the queue keeps the lanes
// and batches of BatchSize.
func (c *TracingClient) acknowledging() bool {
	for _, st := range c.sinkStats() {
		if st.Acknowledges {
			return true
		}
	}
	return false
}
