package tracing

import (
	"time"
	"unsafe"
)

// TracingMetrics is a snapshot of what a client did: the fields of Reflow's
// TracingMetrics first, then the detail. Counters count from New. Each field is read
// atomically, but while events are being recorded the fields are not one
// consistent snapshot: events still in the queue, or accepted by a sink
// that has not acknowledged them yet, are Recorded but neither Delivered
// nor Dropped. Once Close has returned, with one sink,
// Recorded == Delivered + Dropped.Total() + Spooled.
type TracingMetrics struct {
	// EventsProcessed is the number of events every sink accepted
	// (Delivered).
	EventsProcessed uint64
	// EventsDropped is the number of events that did not reach the sinks,
	// for any reason (Dropped.Total()).
	EventsDropped uint64
	// ConnectionCount sums what the sinks that implement StatsReporter
	// report; 0 for sinks that don't.
	ConnectionCount uint64
	// StorageLatency is the average duration of a Sink.Write.
	StorageLatency time.Duration
	// MemoryUsage approximates the bytes held by queued events: QueueDepth
	// plus, with several sinks, the events copied for sinks that have not
	// written them yet, times the size of a TraceEvent, not counting what
	// they refer to.
	MemoryUsage uint64
	// ErrorRate is the fraction of Sink.Write calls that failed.
	ErrorRate float64

	// Recorded counts every event handed to the client while it was
	// enabled, including those recorded after Close.
	Recorded uint64
	// Delivered counts events every sink delivered: for a sink that
	// acknowledges (SinkStats.Acknowledges, such as the WebSocket sink,
	// and the File sink once the lines reached its file) the events its
	// destination acknowledged, for the others the events written without
	// error.
	Delivered uint64
	// Spooled counts events a sink keeps on disk for a later sink or
	// process to deliver.
	Spooled uint64
	// Dropped counts events that were not delivered, by reason.
	Dropped DropCounts
	// Batches counts the batches the consumer handed to the sinks.
	Batches uint64
	// WriteErrors counts failed Sink.Write calls, over all sinks.
	WriteErrors uint64
	// Sinks holds one entry per sink, in the order they were given.
	Sinks []SinkStats
	// QueueDepth is the number of events waiting in the queue;
	// QueueCapacity is its size (both lanes).
	QueueDepth    int
	QueueCapacity int
	// BatchSize and BatchTimeout are the batch size and timeout in force:
	// the configured ones, or what adaptive batching set last
	// (TracingConfig.AdaptiveBatching).
	BatchSize    int
	BatchTimeout time.Duration
	// LastError is the message of the most recent error the client
	// reported to the error handler (see WithErrorHandler: a failed sink
	// write, a lost trace notification, a sink failing after Close gave
	// up on it), "" if none, and LastErrorTime when it happened.
	LastError     string
	LastErrorTime time.Time
}

// DropCounts counts dropped events by reason.
type DropCounts struct {
	// QueueFull: the queue had no room (or RecordWait's ctx ended first).
	QueueFull uint64
	// Closed: recorded after Close, or still queued when Close gave up.
	Closed uint64
	// SampledOut: left out by the sampler (by design).
	SampledOut uint64
	// Filtered: rejected by a filter (by design).
	Filtered uint64
	// WriteError: in a batch that a sink failed to write.
	WriteError uint64
	// SinkQueueFull: in a batch that a sink missed because it had fallen
	// too far behind the client's other sinks (see WithSink and
	// SinkStats.QueueFull); always 0 with one sink.
	SinkQueueFull uint64
	// Sink: accepted by a sink that then gave them up, by the sink's
	// reason (for the WebSocket sink: degraded, outage_buffer_full,
	// rejected, too_large, retries_exhausted, closed, …), summed over the
	// sinks.
	Sink map[string]uint64
}

// Total returns the number of dropped events, for every reason.
func (d DropCounts) Total() uint64 { return d.undelivered() + d.SampledOut + d.Filtered }

// undelivered returns the drops that were not by design.
func (d DropCounts) undelivered() uint64 {
	return d.QueueFull + d.Closed + d.WriteError + d.SinkQueueFull + d.inSink()
}

func (d DropCounts) inSink() uint64 {
	var n uint64
	for _, k := range d.Sink {
		n += k
	}
	return n
}

// SinkStats is one sink's state, an entry of TracingMetrics.Sinks. The
// client fills the first group of fields, for every sink; a sink that
// implements StatsReporter fills the second group from its SinkStats
// method, and the client keeps those as reported (they stay zero for
// other sinks). A StatsReporter leaves the client's fields zero: the
// client overwrites them.
type SinkStats struct {
	// Name is the sink's String() if it has one, else its type. Name and
	// the fields down to QueueFull are the client's.
	Name string
	// Batches and Events count what the sink's Write accepted without
	// error.
	Batches uint64
	Events  uint64
	// WriteErrors counts its failed Write calls.
	WriteErrors uint64
	// Latency is the average duration of its Write calls.
	Latency time.Duration
	// QueueFull counts the events the sink missed because it had fallen
	// too far behind the client's other sinks (see WithSink); always 0
	// for a client with one sink.
	QueueFull uint64

	// ConnectionCount is the number of open connections (0 or 1 for a
	// WebSocket sink). ConnectionCount and the fields after it are the
	// sink's.
	ConnectionCount uint64
	// Acknowledges is set by a sink that finishes its work after Write
	// returns (the WebSocket sink: when the server replied; the File
	// sink: when the lines reached the file, synced by its policy). The client
	// then counts as delivered what the sink acknowledged, not what Write
	// accepted, and the fields below are meaningful.
	Acknowledges bool
	// Acknowledged counts the distinct events the sink's destination
	// acknowledged (an event resent and acknowledged again counts once).
	Acknowledged uint64
	// Dropped counts the events the sink gave up, by the sink's reason.
	Dropped map[string]uint64
	// Spooled counts the events waiting on disk for a later sink (or
	// process) to deliver: neither delivered nor lost.
	Spooled uint64
	// StalledSince is when the sink last made progress while it had work
	// it could not finish, or could not reach its destination at all
	// (zero while it delivers, or is idle and reachable). Healthy turns
	// false once it is older than HealthThreshold.
	StalledSince time.Time
	// AckLatency is the sink's smoothed time from sending to its
	// destination's acknowledgement, 0 when it measures none. It is the
	// signal of adaptive batching (TracingConfig.AdaptiveBatching).
	AckLatency time.Duration
	// Degraded is set while the sink keeps only critical events (the
	// WebSocket sink during an outage, see TracingConfig.DegradeFill); what
	// it sheds is counted in Dropped.
	Degraded bool
}

// Metrics returns a snapshot of the client's counters. It is safe for
// concurrent use, also after Close; a disabled client returns zeros.
func (c *TracingClient) Metrics() TracingMetrics {
	if c == nil || c.queue == nil {
		return TracingMetrics{}
	}
	// Read what the consumer writes before what producers write, so that
	// Delivered + Dropped never exceeds Recorded.
	stats := c.sinkStats()
	writes := c.out.Total()
	m := TracingMetrics{
		Delivered:   c.deliveredCount(stats),
		Batches:     c.batches.Load(),
		WriteErrors: writes.WriteErrors,
	}
	m.Dropped = c.dropCountsWith(stats)
	for _, st := range stats {
		m.Spooled += st.Spooled
	}
	m.Recorded = c.recorded()
	m.QueueDepth = c.queue.Len()
	m.QueueCapacity = c.queue.Cap()
	m.BatchSize, m.BatchTimeout = c.queue.Batching()
	m.Sinks = stats
	for i := range c.sinks {
		w, st := c.out.Sink(i), &m.Sinks[i]
		st.Name = c.sinks[i].name
		st.Batches, st.Events, st.WriteErrors, st.QueueFull = w.Batches, w.Events, w.WriteErrors, w.QueueFull
		st.Latency = 0
		if n := w.Batches + w.WriteErrors; n > 0 {
			st.Latency = w.WriteTime / time.Duration(n)
		}
		m.ConnectionCount += st.ConnectionCount
	}
	c.errMu.Lock()
	m.LastError, m.LastErrorTime = c.lastErr, c.lastErrTime
	c.errMu.Unlock()

	m.EventsProcessed = m.Delivered
	m.EventsDropped = m.Dropped.Total()
	if n := writes.Batches + writes.WriteErrors; n > 0 {
		m.StorageLatency = writes.WriteTime / time.Duration(n)
		m.ErrorRate = float64(m.WriteErrors) / float64(n)
	}
	m.MemoryUsage = uint64(m.QueueDepth+c.out.Held()) * uint64(unsafe.Sizeof(TraceEvent{}))
	return m
}

// sinkStats asks every StatsReporter sink for its stats (zero for the
// others), in the order of c.sinks. Only the sink's own fields are read
// from them.
func (c *TracingClient) sinkStats() []SinkStats {
	out := make([]SinkStats, len(c.sinks))
	for i := range c.sinks {
		if r := c.sinks[i].reporter; r != nil {
			out[i] = r.SinkStats()
		}
	}
	return out
}

// deliveredCount is what every sink delivered: the events written to all
// sinks, but no more than any acknowledging sink acknowledged.
func (c *TracingClient) deliveredCount(stats []SinkStats) uint64 {
	n := c.delivered.Load()
	for _, st := range stats {
		if st.Acknowledges {
			n = min(n, st.Acknowledged)
		}
	}
	return n
}

// dropCounts reads the drop counters. The consumer's are read first.
func (c *TracingClient) dropCounts() DropCounts { return c.dropCountsWith(c.sinkStats()) }

func (c *TracingClient) dropCountsWith(stats []SinkStats) DropCounts {
	d := DropCounts{WriteError: c.dropWrite.Load(), SinkQueueFull: c.dropSinkQueue.Load()}
	for _, st := range stats {
		for r, n := range st.Dropped {
			if n == 0 {
				continue
			}
			if d.Sink == nil {
				d.Sink = make(map[string]uint64)
			}
			d.Sink[r] += n
		}
	}
	abandoned := c.dropAbandon.Load()
	qs := c.queue.Stats()
	d.QueueFull = qs.DroppedFull
	d.Closed = qs.DroppedClosed + c.abandonedInQueue(qs) + abandoned + c.dropClosed.Load()
	d.Filtered = c.dropFiltered.Load()
	d.SampledOut = c.dropSampled.Load()
	return d
}

// recorded derives the number of recorded events from the queue's own
// counters plus the drops before the queue, so that recording adds no
// shared counter of its own.
func (c *TracingClient) recorded() uint64 {
	qs := c.queue.Stats()
	return qs.Enqueued + qs.DroppedFull + qs.DroppedClosed +
		c.dropClosed.Load() + c.dropFiltered.Load() + c.dropSampled.Load()
}
