package batch_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
)

// BenchmarkOverload measures the default DropNewest policy when producers
// put faster than the consumer can hand over, in one function so that the
// figures of one run compare with each other:
//
//   - deliver/producers=N: N goroutines call Put flat out (no yielding, no
//     retry) into a queue whose handle discards; b.N is the total number of
//     puts. delivered/s is the rate at which items reach handle while the
//     producers run, drop% the share of puts refused. ns/op is the wall
//     time per put of all producers together.
//   - refuse: a refused put against the baseline, measured in turn
//     refuseRounds times from one goroutine per P: Put into a queue that is
//     full and whose consumer is blocked in handle, so that every put is
//     refused (ring_ns/op), and a select with a default case on a full
//     buffered channel of the same capacity, which counts nothing
//     (chan_ns/op). x_chan is the first over the second, from the same
//     run; ns/op is the two together.
//
// Run: go test -run '^$' -bench Overload -benchtime 20000000x -cpu 1,2,8 -count 5 ./batch
func BenchmarkOverload(b *testing.B) {
	for _, p := range []int{1, 2, 8} {
		b.Run(fmt.Sprintf("deliver/producers=%d", p), func(b *testing.B) { benchOverloadDeliver(b, p) })
	}
	b.Run("refuse", benchRefuse)
}

// refuseRounds is how many times benchRefuse alternates between the queue
// and the channel, so that load from the rest of the machine affects both
// about equally.
const refuseRounds = 16

// runParallel runs body on one goroutine per P, n calls in all split
// between them, and returns the wall time from the start of the first to
// the end of the last, as b.RunParallel measures it.
func runParallel(n int, body func(n int)) time.Duration {
	procs := runtime.GOMAXPROCS(0)
	var start, wg sync.WaitGroup
	start.Add(1)
	wg.Add(procs)
	for i := range procs {
		k := n / procs
		if i < n%procs {
			k++
		}
		go func() {
			defer wg.Done()
			start.Wait()
			body(k)
		}()
	}
	t0 := time.Now()
	start.Done()
	wg.Wait()
	return time.Since(t0)
}

func benchRefuse(b *testing.B) {
	release := make(chan struct{})
	q, err := batch.New(batch.Config{Capacity: benchCapacity, MaxBatch: benchMaxBatch, Timeout: time.Millisecond},
		func([]small) { <-release })
	if err != nil {
		b.Fatal(err)
	}
	var v small
	for q.Put(&v) {
	}
	c := make(chan small, benchCapacity)
	for range benchCapacity {
		c <- small{}
	}
	var accepted atomic.Uint64
	ring := func(n int) {
		var v small
		k := uint64(0)
		for range n {
			if q.Put(&v) {
				k++
			}
		}
		accepted.Add(k)
	}
	channel := func(n int) {
		var v small
		k := uint64(0)
		for range n {
			select {
			case c <- v:
				k++
			default:
			}
		}
		accepted.Add(k)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var tr, tc time.Duration
	per := max(b.N/refuseRounds, 1)
	for range refuseRounds {
		tr += runParallel(per, ring)
		tc += runParallel(per, channel)
	}
	b.StopTimer()
	close(release)
	if err := q.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	if accepted.Load() != 0 {
		b.Fatalf("%d puts accepted into a full queue or channel", accepted.Load())
	}
	n := float64(per * refuseRounds)
	b.ReportMetric(float64(tr.Nanoseconds())/n, "ring_ns/op")
	b.ReportMetric(float64(tc.Nanoseconds())/n, "chan_ns/op")
	b.ReportMetric(float64(tr)/float64(tc), "x_chan")
}

func benchOverloadDeliver(b *testing.B, producers int) {
	var got atomic.Uint64
	q, err := batch.New(batch.Config{Capacity: benchCapacity, MaxBatch: benchMaxBatch, Timeout: benchTimeout}, discard[small](&got))
	if err != nil {
		b.Fatal(err)
	}
	per := (b.N + producers - 1) / producers
	var start, wg sync.WaitGroup
	start.Add(1)
	wg.Add(producers)
	for range producers {
		go func() {
			defer wg.Done()
			var v small
			start.Wait()
			for range per {
				v.Seq++
				q.Put(&v)
			}
		}()
	}
	b.ReportAllocs()
	b.ResetTimer()
	t0 := time.Now()
	start.Done()
	wg.Wait()
	elapsed := time.Since(t0)
	delivered := got.Load()
	b.StopTimer()
	if err := q.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	s := q.Stats()
	puts := uint64(per * producers)
	if s.Enqueued+s.DroppedFull != puts {
		b.Fatalf("Stats %+v do not add up to %d puts", s, puts)
	}
	b.ReportMetric(float64(delivered)/elapsed.Seconds(), "delivered/s")
	b.ReportMetric(100*float64(s.DroppedFull)/float64(puts), "drop%")
}
