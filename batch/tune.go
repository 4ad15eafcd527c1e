package batch

import (
	"sync/atomic"
	"time"
)

// tuning holds the batch size and timeout set while the queue runs (see
// SetBatching); zero means Config's.
type tuning struct {
	maxBatch atomic.Uint64
	timeout  atomic.Int64 // ns
}

// SetBatching changes, while the queue runs, the most items per handle
// call and how long the oldest item of a batch may wait, as
// Config.MaxBatch and Config.Timeout do at New. maxBatch is clamped to
// [1, Config().MaxBatch]: the MaxBatch given to New is the largest it can
// set, since it also sized the lanes. timeout is clamped to at least a
// microsecond. Zero or less restores Config's. The consumer reads them once
// per cycle, so a change applies from the next batch it assembles, and a
// new timeout from the next time the batch timer is armed. It takes no
// lock and does not allocate; safe for concurrent use.
func (q *Queue[T]) SetBatching(maxBatch int, timeout time.Duration) {
	switch {
	case maxBatch <= 0:
		maxBatch = 0
	case maxBatch > q.cfg.MaxBatch:
		maxBatch = q.cfg.MaxBatch
	}
	q.tune.maxBatch.Store(uint64(maxBatch))
	switch {
	case timeout <= 0:
		timeout = 0
	case timeout < time.Microsecond:
		timeout = time.Microsecond
	}
	q.tune.timeout.Store(int64(timeout))
}

// Batching returns the batch size and timeout in force: those of the last
// SetBatching, or Config's. Safe for concurrent use.
func (q *Queue[T]) Batching() (maxBatch int, timeout time.Duration) {
	return int(q.batchLimit()), q.batchTimeout()
}

// batchLimit is the most items per handle call now.
func (q *Queue[T]) batchLimit() uint64 {
	if n := q.tune.maxBatch.Load(); n != 0 {
		return n
	}
	return uint64(q.cfg.MaxBatch)
}

// batchTimeout is how long the oldest item of a batch may wait now.
func (q *Queue[T]) batchTimeout() time.Duration {
	if d := q.tune.timeout.Load(); d != 0 {
		return time.Duration(d)
	}
	return q.cfg.Timeout
}
