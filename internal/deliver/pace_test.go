package deliver

import (
	"testing"
	"time"
)

// fakeQueue is a Batcher that records what it is set to.
type fakeQueue struct {
	len     int
	size    int
	timeout time.Duration
	sets    int
}

func (q *fakeQueue) Len() int { return q.len }
func (q *fakeQueue) SetBatching(size int, timeout time.Duration) {
	q.size, q.timeout, q.sets = size, timeout, q.sets+1
}

func TestPacer(t *testing.T) {
	q := &fakeQueue{}
	lat := 50 * time.Millisecond
	t0 := time.Unix(1000, 0)
	p := NewPacer(PaceConfig{Queue: q, Latency: func() time.Duration { return lat }, MinBatch: 10, MaxBatch: 1000, MaxTimeout: 200 * time.Millisecond}, t0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	p.Batch(100, at(5*time.Millisecond))
	if q.sets != 0 {
		t.Fatal("set the queue within the first interval")
	}
	// 200 events in 10 ms: 20,000/s, 1,000 in one latency.
	p.Batch(100, at(10*time.Millisecond))
	if q.size != 1000 || q.timeout != lat {
		t.Fatalf("batch %d, timeout %v; want 1000, %v", q.size, q.timeout, lat)
	}
	// Half the rate: the smoothed rate is 15,000/s, 750 in one latency.
	p.Batch(100, at(20*time.Millisecond))
	if q.size != 750 {
		t.Fatalf("batch %d, want 750", q.size)
	}
	// A fast link: the minimum size and timeout.
	lat = 10 * time.Microsecond
	p.Batch(100, at(30*time.Millisecond))
	if q.size != 10 || q.timeout != time.Millisecond {
		t.Fatalf("batch %d, timeout %v; want 10, 1ms", q.size, q.timeout)
	}
	// Nothing measures a latency: the batching stays as it was.
	lat = 0
	sets := q.sets
	p.Batch(100, at(35*time.Millisecond))
	if q.sets != sets || q.size != 10 {
		t.Fatalf("with no latency: set %d times, batch %d; want the batching left alone", q.sets-sets, q.size)
	}
	lat = 10 * time.Microsecond
	// Behind: half the queue's backlog.
	q.len = 600
	p.Batch(100, at(40*time.Millisecond))
	if q.size != 300 {
		t.Fatalf("batch %d, want 300 (half the backlog)", q.size)
	}
	// After an idle second the rate starts afresh: 1 event/s.
	q.len = 0
	lat = time.Second
	p.Batch(1, at(1040*time.Millisecond))
	if q.size != 10 || q.timeout != 200*time.Millisecond {
		t.Fatalf("after idling: batch %d, timeout %v; want 10, 200ms", q.size, q.timeout)
	}
	// A slow, busy link: the maximum size.
	p.Batch(100000, at(1050*time.Millisecond))
	if q.size != 1000 {
		t.Fatalf("batch %d, want 1000", q.size)
	}
}
