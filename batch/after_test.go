package batch_test

import (
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
)

// TestAfter_RunsOnceEarlierItemsAreHandled checks that After's function
// runs only once every item put before it (in both lanes) has been handed
// to handle, and before later items' batches are needed; in the order of
// the After calls.
func TestAfter_RunsOnceEarlierItemsAreHandled(t *testing.T) {
	var r recorder
	q := newQueue(t, batch.Config{Capacity: 64, CriticalCapacity: 8, MaxBatch: 4, Timeout: 5 * time.Millisecond}, r.handle)
	var mu sync.Mutex
	var seen []int // items handled when each After function ran
	done := make(chan struct{})
	for round := range 3 {
		for i := range 10 {
			put := q.Put
			if i%3 == 0 {
				put = q.PutCritical
			}
			if !put(&item{P: round, Seq: i}) {
				t.Fatalf("put %d.%d refused", round, i)
			}
		}
		last := round == 2
		if !q.After(func() {
			got, _ := r.snapshot()
			mu.Lock()
			seen = append(seen, len(got))
			mu.Unlock()
			if last {
				close(done)
			}
		}) {
			t.Fatal("After refused on an open queue")
		}
	}
	select {
	case <-done:
	case <-ctxTimeout(t).Done():
		t.Fatal("After's functions did not run")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("%d functions ran, want 3", len(seen))
	}
	for i, n := range seen {
		if want := 10 * (i + 1); n < want {
			t.Fatalf("function %d ran with %d items handled, want at least %d", i, n, want)
		}
	}
}

// TestAfter_RunsAtCloseAndRefusesAfter checks that a pending function runs
// when Close drains the queue, and that After refuses once the consumer has
// returned.
func TestAfter_RunsAtCloseAndRefusesAfter(t *testing.T) {
	var r recorder
	q, err := batch.New(batch.Config{Capacity: 16, CriticalCapacity: 4, MaxBatch: 16, Timeout: time.Hour}, r.handle)
	if err != nil {
		t.Fatal(err)
	}
	q.Put(&item{Seq: 1})
	ran := make(chan int, 1)
	q.After(func() { got, _ := r.snapshot(); ran <- len(got) })
	if err := q.Close(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-ran:
		if n != 1 {
			t.Fatalf("ran with %d items handled, want 1", n)
		}
	default:
		t.Fatal("the pending function did not run by the end of Close")
	}
	if q.After(func() { t.Error("ran after Close") }) {
		t.Fatal("After accepted after Close")
	}
}

// TestAfter_HastensTheItemsItWaitsFor puts a few items into a queue whose
// batches would wait an hour to fill: After's function must not wait for
// that, so the items before it are handed over at once.
func TestAfter_HastensTheItemsItWaitsFor(t *testing.T) {
	var r recorder
	q := newQueue(t, batch.Config{Capacity: 64, MaxBatch: 64, Timeout: time.Hour}, r.handle)
	for i := range 3 {
		if !q.Put(&item{Seq: i}) {
			t.Fatalf("put %d refused", i)
		}
	}
	ran := make(chan int, 1)
	if !q.After(func() { got, _ := r.snapshot(); ran <- len(got) }) {
		t.Fatal("After refused on an open queue")
	}
	select {
	case n := <-ran:
		if n != 3 {
			t.Fatalf("ran with %d items handled, want 3", n)
		}
	case <-ctxTimeout(t).Done():
		t.Fatal("After's function waited for the batch timeout")
	}
}
