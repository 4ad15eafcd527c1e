package deliver

import "time"

const (
	// paceInterval is how often a Pacer reads the latency.
	paceInterval = 10 * time.Millisecond
	// minPaceTimeout is the shortest batch timeout a Pacer sets.
	minPaceTimeout = time.Millisecond
)

// Batcher is the queue whose batching a Pacer sets (batch.Queue is one):
// Len is the number of items waiting in it, SetBatching sets the size and
// timeout of its next batches.
type Batcher interface {
	Len() int
	SetBatching(size int, timeout time.Duration)
}

// PaceConfig is what NewPacer needs; every field is required.
type PaceConfig struct {
	// Queue is the queue whose batching the Pacer sets.
	Queue Batcher
	// Latency returns the latency to pace by: for the SDK, the highest
	// acknowledgement latency its sinks report.
	Latency func() time.Duration
	// MinBatch and MaxBatch bound the batch size the Pacer sets, and
	// MaxTimeout the batch timeout.
	MinBatch, MaxBatch int
	MaxTimeout         time.Duration
}

// Pacer sizes the batches of a queue from a latency (adaptive batching),
// so that a slow or busy link gets few large batches and an idle, fast one
// small batches that leave at once. Every 10 ms of batches handed over
// (Batch), it sets the queue's batch size to the items that arrive in one
// latency, or half the items waiting in the queue if that is more (the
// consumer is behind), within [MinBatch, MaxBatch]; and its timeout to
// that latency, within [1 ms, MaxTimeout]. The arrival rate is measured
// over the interval, so after an idle period it is low and the first
// batches are small. While the latency is zero (nothing measures one)
// it leaves the queue's batching as it is. A Pacer is used by one
// goroutine, the queue's consumer.
type Pacer struct {
	cfg    PaceConfig
	last   time.Time // last poll
	events uint64    // handed over since the last poll
	rate   float64   // smoothed events per second
}

// NewPacer returns a Pacer for cfg that starts measuring at now. It does
// not set the queue's batching until the first interval is over.
func NewPacer(cfg PaceConfig, now time.Time) *Pacer { return &Pacer{cfg: cfg, last: now} }

// Batch counts a batch of n items handed over at now and, once per
// interval, sets the queue's batching.
func (p *Pacer) Batch(n int, now time.Time) {
	p.events += uint64(n)
	elapsed := now.Sub(p.last)
	if elapsed < paceInterval {
		return
	}
	r := float64(p.events) / elapsed.Seconds()
	if p.rate == 0 || elapsed > 10*paceInterval {
		p.rate = r // after an idle period the old rate says nothing
	} else {
		p.rate = (p.rate + r) / 2
	}
	p.last, p.events = now, 0
	lat := p.cfg.Latency()
	if lat <= 0 {
		return // nothing measured: the batching set last stays
	}
	size := int(p.rate * lat.Seconds())
	size = max(size, p.cfg.Queue.Len()/2)
	size = min(max(size, p.cfg.MinBatch), p.cfg.MaxBatch)
	timeout := min(max(lat, minPaceTimeout), p.cfg.MaxTimeout)
	p.cfg.Queue.SetBatching(size, timeout)
}
