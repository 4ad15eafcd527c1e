package batch_test

import (
	"context"
	"fmt"
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
//   - refuse/impl=ring: Put into a queue that is full and whose consumer is
//     blocked in handle, so every put is refused (b.RunParallel, one
//     producer per GOMAXPROCS); ns/op is the cost of a refusal.
//   - refuse/impl=chan: the same with a full buffered channel of the same
//     capacity and a select with a default case, the baseline (which
//     counts nothing).
//   - refuse/impl=atomicadd: one uncontended atomic add per op, what
//     counting a refusal exactly costs at least.
//
// Run: go test -run '^$' -bench Overload -benchtime 20000000x -count 5 ./batch
func BenchmarkOverload(b *testing.B) {
	for _, p := range []int{1, 2, 8} {
		b.Run(fmt.Sprintf("deliver/producers=%d", p), func(b *testing.B) { benchOverloadDeliver(b, p) })
	}
	b.Run("refuse/impl=ring", benchRefuseRing)
	b.Run("refuse/impl=chan", benchRefuseChan)
	b.Run("refuse/impl=atomicadd", benchAtomicAdd)
}

// benchAtomicAdd is the floor of a counted refusal: one uncontended atomic
// add per op, each goroutine on a cache line of its own.
func benchAtomicAdd(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var c struct {
			n atomic.Uint64
			_ [56]byte
		}
		for pb.Next() {
			c.n.Add(1)
		}
	})
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

func benchRefuseRing(b *testing.B) {
	release := make(chan struct{})
	q, err := batch.New(batch.Config{Capacity: benchCapacity, MaxBatch: benchMaxBatch, Timeout: time.Millisecond},
		func([]small) { <-release })
	if err != nil {
		b.Fatal(err)
	}
	var v small
	for q.Put(&v) {
	}
	b.ReportAllocs()
	b.ResetTimer()
	var accepted atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		var v small
		n := uint64(0)
		for pb.Next() {
			if q.Put(&v) {
				n++
			}
		}
		accepted.Add(n)
	})
	b.StopTimer()
	close(release)
	if err := q.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	if accepted.Load() != 0 {
		b.Fatalf("%d puts accepted into a full queue", accepted.Load())
	}
}

func benchRefuseChan(b *testing.B) {
	c := make(chan small, benchCapacity)
	for range benchCapacity {
		c <- small{}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var accepted atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		var v small
		n := uint64(0)
		for pb.Next() {
			select {
			case c <- v:
				n++
			default:
			}
		}
		accepted.Add(n)
	})
	b.StopTimer()
	if accepted.Load() != 0 {
		b.Fatalf("%d sends accepted by a full channel", accepted.Load())
	}
}
