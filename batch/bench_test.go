package batch_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
)

// The benchmarks compare the Queue with two baselines implemented here with
// the same batching behaviour (hand over MaxBatch items, or what is there
// when Timeout passes) and the same capacity:
//
//   - mutexswap: producers append to a slice under a mutex; the consumer
//     swaps it for an empty one per batch.
//   - chan: a buffered channel; the consumer receives item by item into a
//     batch slice.
//
// Run: go test -run '^$' -bench . -cpu 1,2,8 -count 5 ./batch

const (
	benchCapacity = batch.DefaultCapacity
	benchMaxBatch = batch.DefaultMaxBatch
	benchTimeout  = batch.DefaultTimeout
)

// yieldEvery is how many puts a benchmark producer makes between yields.
const yieldEvery = 256

type small struct {
	ID  uint64
	Seq uint64
}

type big struct {
	ID   uint64
	Seq  uint64
	Data [496]byte
}

// batcher is what the benchmarks drive.
type batcher[T any] interface {
	Put(v *T) bool
	Close(ctx context.Context) error
}

// mutexSwap is the mutex-guarded slice baseline.
type mutexSwap[T any] struct {
	mu       sync.Mutex
	room     sync.Cond // signalled when the consumer swaps buf out
	buf      []T
	spare    []T
	capacity int
	maxBatch int
	signal   chan struct{}
	stop     chan struct{}
	done     chan struct{}
	handle   func([]T)
}

func newMutexSwap[T any](handle func([]T)) *mutexSwap[T] {
	m := &mutexSwap[T]{
		buf:      make([]T, 0, benchCapacity),
		spare:    make([]T, 0, benchCapacity),
		capacity: benchCapacity,
		maxBatch: benchMaxBatch,
		signal:   make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		handle:   handle,
	}
	m.room.L = &m.mu
	go m.run()
	return m
}

// PutWait is Put that waits for room instead of failing.
func (m *mutexSwap[T]) PutWait(v *T) {
	m.mu.Lock()
	for len(m.buf) >= m.capacity {
		m.room.Wait()
	}
	n := len(m.buf)
	m.buf = append(m.buf, *v)
	m.mu.Unlock()
	if n+1 == m.maxBatch || n == 0 {
		select {
		case m.signal <- struct{}{}:
		default:
		}
	}
}

func (m *mutexSwap[T]) Put(v *T) bool {
	m.mu.Lock()
	n := len(m.buf)
	if n >= m.capacity {
		m.mu.Unlock()
		return false
	}
	m.buf = append(m.buf, *v)
	m.mu.Unlock()
	if n+1 == m.maxBatch || n == 0 {
		select {
		case m.signal <- struct{}{}:
		default:
		}
	}
	return true
}

func (m *mutexSwap[T]) run() {
	defer close(m.done)
	t := time.NewTimer(benchTimeout)
	defer t.Stop()
	for {
		stopping := false
		select {
		case <-m.signal:
			m.mu.Lock()
			n := len(m.buf)
			m.mu.Unlock()
			if n < m.maxBatch {
				continue // wait for a full batch or the timer
			}
		case <-t.C:
		case <-m.stop:
			stopping = true
		}
		m.mu.Lock()
		full := m.buf
		m.buf = m.spare[:0]
		m.mu.Unlock()
		m.room.Broadcast()
		for b := full; len(b) > 0; {
			n := min(len(b), m.maxBatch)
			m.handle(b[:n])
			b = b[n:]
		}
		clear(full)
		m.spare = full[:0]
		if stopping {
			return
		}
		t.Reset(benchTimeout)
	}
}

func (m *mutexSwap[T]) Close(context.Context) error {
	close(m.stop)
	<-m.done
	return nil
}

// chanBatcher is the buffered channel baseline.
type chanBatcher[T any] struct {
	ch     chan T
	done   chan struct{}
	handle func([]T)
}

func newChanBatcher[T any](handle func([]T)) *chanBatcher[T] {
	c := &chanBatcher[T]{ch: make(chan T, benchCapacity), done: make(chan struct{}), handle: handle}
	go c.run()
	return c
}

func (c *chanBatcher[T]) Put(v *T) bool {
	select {
	case c.ch <- *v:
		return true
	default:
		return false
	}
}

func (c *chanBatcher[T]) run() {
	defer close(c.done)
	buf := make([]T, 0, benchMaxBatch)
	t := time.NewTimer(benchTimeout)
	defer t.Stop()
	for {
		select {
		case v, ok := <-c.ch:
			if !ok {
				if len(buf) > 0 {
					c.handle(buf)
				}
				return
			}
			buf = append(buf, v)
			if len(buf) < benchMaxBatch {
				continue
			}
		case <-t.C:
		}
		if len(buf) > 0 {
			c.handle(buf)
			clear(buf)
			buf = buf[:0]
		}
		t.Reset(benchTimeout)
	}
}

func (c *chanBatcher[T]) Close(context.Context) error {
	close(c.ch)
	<-c.done
	return nil
}

type impl[T any] struct {
	name string
	make func(handle func([]T)) batcher[T]
}

func impls[T any]() []impl[T] {
	return []impl[T]{
		{"ring", func(h func([]T)) batcher[T] {
			q, err := batch.New(batch.Config{Capacity: benchCapacity, MaxBatch: benchMaxBatch, Timeout: benchTimeout}, h)
			if err != nil {
				panic(err)
			}
			return q
		}},
		{"mutexswap", func(h func([]T)) batcher[T] { return newMutexSwap(h) }},
		{"chan", func(h func([]T)) batcher[T] { return newChanBatcher(h) }},
	}
}

// discard is a handle that only counts the items.
func discard[T any](sink *atomic.Uint64) func([]T) {
	return func(b []T) { sink.Add(uint64(len(b))) }
}

func benchEnqueue[T any](b *testing.B, size string) {
	for _, im := range impls[T]() {
		b.Run("impl="+im.name+"/size="+size, func(b *testing.B) {
			var got atomic.Uint64
			q := im.make(discard[T](&got))
			var full atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var v T
				var f uint64
				for i := 1; pb.Next(); i++ {
					for !q.Put(&v) {
						// Full: let the consumer catch up rather than
						// measure the cost of dropping.
						f++
						runtime.Gosched()
					}
					if i%yieldEvery == 0 {
						// Give a woken consumer a turn even when there are
						// more producers than cores.
						runtime.Gosched()
					}
				}
				full.Add(f)
			})
			b.StopTimer()
			if err := q.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			if got.Load() != uint64(b.N) {
				b.Fatalf("delivered %d of %d", got.Load(), b.N)
			}
			b.ReportMetric(float64(full.Load())/float64(b.N), "full/op")
		})
	}
}

// BenchmarkEnqueue measures the cost of a successful Put: b.RunParallel
// runs one producer per GOMAXPROCS (-cpu 1,2,8) and one consumer keeps up,
// because a producer that finds the queue full yields and retries instead of
// dropping (full/op counts those retries), and every producer yields every
// yieldEvery puts (about 0.5 ns/op). On a machine with fewer cores
// than producers plus consumer, ns/op includes the consumer's share.
func BenchmarkEnqueue(b *testing.B) {
	benchEnqueue[small](b, "16B")
	benchEnqueue[big](b, "512B")
}

func benchThroughput[T any](b *testing.B, size string) {
	b.Run("impl=ring/size="+size, func(b *testing.B) {
		var got atomic.Uint64
		q, err := batch.New(batch.Config{Capacity: benchCapacity, MaxBatch: benchMaxBatch, Timeout: benchTimeout, Policy: batch.Block}, discard[T](&got))
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		start := time.Now()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var v T
			for pb.Next() {
				if err := q.PutWait(ctx, &v); err != nil {
					b.Error(err)
					return
				}
			}
		})
		if err := q.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		elapsed := time.Since(start)
		if err := q.Close(ctx); err != nil {
			b.Fatal(err)
		}
		if got.Load() != uint64(b.N) {
			b.Fatalf("delivered %d of %d", got.Load(), b.N)
		}
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "items/s")
	})
	b.Run("impl=mutexswap/size="+size, func(b *testing.B) {
		var got atomic.Uint64
		m := newMutexSwap(discard[T](&got))
		b.ReportAllocs()
		start := time.Now()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var v T
			for pb.Next() {
				m.PutWait(&v)
			}
		})
		_ = m.Close(context.Background())
		b.StopTimer()
		elapsed := time.Since(start)
		if got.Load() != uint64(b.N) {
			b.Fatalf("delivered %d of %d", got.Load(), b.N)
		}
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "items/s")
	})
	b.Run("impl=chan/size="+size, func(b *testing.B) {
		var got atomic.Uint64
		c := newChanBatcher(discard[T](&got))
		b.ReportAllocs()
		start := time.Now()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var v T
			for pb.Next() {
				c.ch <- v
			}
		})
		_ = c.Close(context.Background())
		b.StopTimer()
		elapsed := time.Since(start)
		if got.Load() != uint64(b.N) {
			b.Fatalf("delivered %d of %d", got.Load(), b.N)
		}
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "items/s")
	})
}

// BenchmarkThroughput measures items per second end to end, from producers
// that wait for room (Block policy and PutWait; a condition variable for
// mutexswap; a blocking send for the channel) to a discarding handle,
// including the final Flush or Close.
func BenchmarkThroughput(b *testing.B) {
	benchThroughput[small](b, "16B")
	benchThroughput[big](b, "512B")
}
