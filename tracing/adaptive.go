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
)

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

// ackLatency is the highest acknowledgement latency the sinks report.
func (c *TracingClient) ackLatency() (lat time.Duration) {
	for _, st := range c.sinkStats() {
		lat = max(lat, st.AckLatency)
	}
	return lat
}
