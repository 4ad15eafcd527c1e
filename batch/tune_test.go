package batch_test

import (
	"context"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
)

func TestSetBatchingClampsAndRestores(t *testing.T) {
	q := newQueue(t, batch.Config{Capacity: 256, MaxBatch: 64, Timeout: time.Hour}, func([]item) {})
	if n, d := q.Batching(); n != 64 || d != time.Hour {
		t.Fatalf("initial batching %d, %v; want 64, 1h", n, d)
	}
	q.SetBatching(1000, time.Nanosecond)
	if n, d := q.Batching(); n != 64 || d != time.Microsecond {
		t.Fatalf("clamped batching %d, %v; want 64, 1µs", n, d)
	}
	q.SetBatching(8, time.Millisecond)
	if n, d := q.Batching(); n != 8 || d != time.Millisecond {
		t.Fatalf("batching %d, %v; want 8, 1ms", n, d)
	}
	q.SetBatching(0, 0)
	if n, d := q.Batching(); n != 64 || d != time.Hour {
		t.Fatalf("restored batching %d, %v; want 64, 1h", n, d)
	}
	q.SetBatching(8, time.Millisecond)
	q.SetBatching(-5, -time.Second)
	if n, d := q.Batching(); n != 64 || d != time.Hour {
		t.Fatalf("batching %d, %v after negative values; want Config's, 64, 1h", n, d)
	}
}

// A smaller batch size set while the queue runs bounds the batches handed
// over from then on.
func TestSetBatchingBoundsLaterBatches(t *testing.T) {
	g := newGate()
	q := newQueue(t, batch.Config{Capacity: 256, MaxBatch: 64, Timeout: time.Hour}, g.handle)
	defer g.release()
	for i := range 64 {
		q.Put(&item{Seq: i})
	}
	if n := <-g.entered; n != 64 {
		t.Fatalf("first batch %d items, want 64", n)
	}
	q.SetBatching(8, time.Hour)
	for i := range 64 {
		q.Put(&item{Seq: 64 + i})
	}
	g.release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	total := 0
	for total < 64 {
		n := <-g.entered
		if n > 8 {
			t.Fatalf("batch of %d items after SetBatching(8, …)", n)
		}
		total += n
	}
}

// A shorter timeout set while the queue runs hands a partial batch over
// without a Flush, where the configured hour would hold it.
func TestSetBatchingTimeoutHandsOverPartialBatch(t *testing.T) {
	got := make(chan int, 10)
	q := newQueue(t, batch.Config{Capacity: 256, MaxBatch: 64, Timeout: time.Hour}, func(b []item) { got <- len(b) })
	q.SetBatching(64, time.Millisecond)
	q.Put(&item{})
	select {
	case n := <-got:
		if n != 1 {
			t.Fatalf("batch of %d items, want 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("partial batch not handed over: the timeout set by SetBatching was not used")
	}
}
