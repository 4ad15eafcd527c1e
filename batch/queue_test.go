package batch_test

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/reflowtrace/reflowtrace-go/batch"
)

// item is what the tests queue: which producer put it and its sequence
// number for that producer.
type item struct {
	P, Seq int
}

// recorder copies every batch it is handed.
type recorder struct {
	mu      sync.Mutex
	items   []item
	batches [][]item
}

func (r *recorder) handle(b []item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, b...)
	r.batches = append(r.batches, append([]item(nil), b...))
}

func (r *recorder) snapshot() ([]item, [][]item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]item(nil), r.items...), append([][]item(nil), r.batches...)
}

// gate blocks handle until it is opened, and reports each call.
type gate struct {
	entered chan int // receives len(batch) on each call
	open    chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{entered: make(chan int, 100), open: make(chan struct{})} }

func (g *gate) handle(b []item) {
	g.entered <- len(b)
	<-g.open
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func newQueue(t *testing.T, cfg batch.Config, handle func([]item)) *batch.Queue[item] {
	t.Helper()
	q, err := batch.New(cfg, handle)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return q
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestNew_Config(t *testing.T) {
	nop := func([]item) {}
	tests := []struct {
		name    string
		cfg     batch.Config
		handle  func([]item)
		wantErr string // substring; empty means no error
		want    batch.Config
	}{
		{name: "zero takes defaults", cfg: batch.Config{}, handle: nop, want: batch.Config{
			Capacity: batch.DefaultCapacity, CriticalCapacity: 1024, MaxBatch: batch.DefaultMaxBatch, Timeout: batch.DefaultTimeout,
		}},
		{name: "rounds up to powers of two", cfg: batch.Config{Capacity: 1000, CriticalCapacity: 3, MaxBatch: 7, Timeout: time.Second, Policy: batch.Block}, handle: nop,
			want: batch.Config{Capacity: 1024, CriticalCapacity: 4, MaxBatch: 7, Timeout: time.Second, Policy: batch.Block}},
		{name: "small capacity gets minimum critical lane", cfg: batch.Config{Capacity: 16}, handle: nop,
			want: batch.Config{Capacity: 16, CriticalCapacity: 64, MaxBatch: 64, Timeout: batch.DefaultTimeout}},
		{name: "MaxBatch capped at capacity", cfg: batch.Config{Capacity: 8, CriticalCapacity: 8, MaxBatch: 100}, handle: nop,
			want: batch.Config{Capacity: 8, CriticalCapacity: 8, MaxBatch: 8, Timeout: batch.DefaultTimeout}},
		{name: "capacity one", cfg: batch.Config{Capacity: 1, CriticalCapacity: 1}, handle: nop,
			want: batch.Config{Capacity: 1, CriticalCapacity: 1, MaxBatch: 1, Timeout: batch.DefaultTimeout}},
		{name: "negative Capacity", cfg: batch.Config{Capacity: -1}, handle: nop, wantErr: "batch: Capacity must be > 0, got -1"},
		{name: "huge Capacity", cfg: batch.Config{Capacity: batch.MaxCapacity + 1}, handle: nop, wantErr: "batch: Capacity must be <="},
		{name: "negative CriticalCapacity", cfg: batch.Config{CriticalCapacity: -5}, handle: nop, wantErr: "batch: CriticalCapacity must be > 0, got -5"},
		{name: "negative MaxBatch", cfg: batch.Config{MaxBatch: -2}, handle: nop, wantErr: "batch: MaxBatch must be > 0, got -2"},
		{name: "negative Timeout", cfg: batch.Config{Timeout: -time.Second}, handle: nop, wantErr: "batch: Timeout must be > 0, got -1s"},
		{name: "unknown Policy", cfg: batch.Config{Policy: 9}, handle: nop, wantErr: "batch: Policy must be DropNewest or Block, got Policy(9)"},
		{name: "nil handle", cfg: batch.Config{}, handle: nil, wantErr: "batch: handle must not be nil"},
		// 16-byte items, 4-byte sequence numbers and 1-byte marks:
		// (1<<30 + 1<<27) slots of 21 bytes.
		{name: "Capacity above MaxMemory", cfg: batch.Config{Capacity: 1 << 30}, handle: nop,
			wantErr: "batch: Capacity = 1073741824: the queue would take 23.6 GiB of slots (1073741824 routine and 134217728 priority slots of 21 bytes each), more than MaxMemory (1.0 GiB)"},
		{name: "CriticalCapacity above MaxMemory", cfg: batch.Config{Capacity: 16, CriticalCapacity: 1 << 26}, handle: nop,
			wantErr: "batch: CriticalCapacity = 67108864: the queue would take 1.3 GiB"},
		{name: "all errors reported", cfg: batch.Config{Capacity: -1, MaxBatch: -1}, handle: nop, wantErr: "MaxBatch must be > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := batch.New(tt.cfg, tt.handle)
			if tt.wantErr != "" {
				if err == nil {
					_ = q.Close(t.Context())
					t.Fatalf("New: got no error, want %q", tt.wantErr)
				}
				if !errors.Is(err, batch.ErrInvalidConfig) {
					t.Errorf("New: %v does not wrap ErrInvalidConfig", err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("New: got %q, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer func() { _ = q.Close(t.Context()) }()
			if got := q.Config(); got != tt.want {
				t.Errorf("Config() = %+v, want %+v", got, tt.want)
			}
			if got, want := q.Cap(), tt.want.Capacity+tt.want.CriticalCapacity; got != want {
				t.Errorf("Cap() = %d, want %d", got, want)
			}
		})
	}
}

func TestConfig_MemoryBytes(t *testing.T) {
	tests := []struct {
		name     string
		cfg      batch.Config
		itemSize uintptr
		want     int64
	}{
		{name: "defaults", cfg: batch.Config{}, itemSize: 16, want: (8192 + 1024) * 21},
		{name: "rounded up", cfg: batch.Config{Capacity: 1000, CriticalCapacity: 3}, itemSize: 12, want: (1024 + 4) * 17},
		{name: "empty items cost their sequence number and mark", cfg: batch.Config{Capacity: 64, CriticalCapacity: 64}, itemSize: 0, want: 128 * 5},
		{name: "saturates", cfg: batch.Config{Capacity: batch.MaxCapacity}, itemSize: ^uintptr(0), want: math.MaxInt64},
		{name: "negative Capacity", cfg: batch.Config{Capacity: -1}, itemSize: 8, want: -1},
		{name: "CriticalCapacity above MaxCapacity", cfg: batch.Config{CriticalCapacity: batch.MaxCapacity + 1}, itemSize: 8, want: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.MemoryBytes(tt.itemSize); got != tt.want {
				t.Errorf("MemoryBytes(%d) = %d, want %d", tt.itemSize, got, tt.want)
			}
		})
	}
	// The limit itself is accepted: 1<<30 bytes of 16-byte slots
	// (11-byte items).
	type eleven [11]byte
	cfg := batch.Config{Capacity: 1 << 25, CriticalCapacity: 1 << 25}
	if m := cfg.MemoryBytes(unsafe.Sizeof(eleven{})); m != batch.MaxMemory {
		t.Fatalf("MemoryBytes = %d, want MaxMemory", m)
	}
	if testing.Short() {
		return // allocates 1 GiB
	}
	q, err := batch.New(cfg, func([]eleven) {})
	if err != nil {
		t.Fatalf("New at MaxMemory: %v", err)
	}
	if err := q.Close(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
}

func TestQueue_FIFOPerProducerNoLossNoDup(t *testing.T) {
	tests := []struct {
		name      string
		cfg       batch.Config
		producers int
		perProd   int
		critical  bool
	}{
		{name: "one producer wraps a small ring", cfg: batch.Config{Capacity: 16, MaxBatch: 5, Policy: batch.Block}, producers: 1, perProd: 5000},
		{name: "many producers drop when full", cfg: batch.Config{Capacity: 64, MaxBatch: 16}, producers: 8, perProd: 3000},
		{name: "many producers block when full", cfg: batch.Config{Capacity: 32, MaxBatch: 8, Policy: batch.Block}, producers: 8, perProd: 2000},
		{name: "critical lane with fallback", cfg: batch.Config{Capacity: 64, CriticalCapacity: 8, MaxBatch: 16}, producers: 4, perProd: 3000, critical: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			q := newQueue(t, tt.cfg, rec.handle)
			ctx := ctxTimeout(t)
			accepted := make([][]bool, tt.producers)
			var wg sync.WaitGroup
			for p := range tt.producers {
				accepted[p] = make([]bool, tt.perProd)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range tt.perProd {
						v := item{P: p, Seq: i}
						switch {
						case tt.critical:
							accepted[p][i] = q.PutCritical(&v)
						case tt.cfg.Policy == batch.Block:
							if err := q.PutWait(ctx, &v); err != nil {
								t.Errorf("PutWait: %v", err)
								return
							}
							accepted[p][i] = true
						default:
							accepted[p][i] = q.Put(&v)
						}
					}
				}()
			}
			wg.Wait()
			if err := q.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			items, batches := rec.snapshot()
			nAccepted := 0
			for p := range accepted {
				for _, ok := range accepted[p] {
					if ok {
						nAccepted++
					}
				}
			}
			if !tt.critical {
				// One lane: per-producer order is kept.
				next := make([]int, tt.producers)
				for _, it := range items {
					if it.Seq < next[it.P] {
						t.Fatalf("producer %d: seq %d after %d", it.P, it.Seq, next[it.P]-1)
					}
					next[it.P] = it.Seq + 1
				}
			}
			seen := make(map[item]bool, len(items))
			for _, it := range items {
				if seen[it] {
					t.Fatalf("duplicate %+v", it)
				}
				if !accepted[it.P][it.Seq] {
					t.Fatalf("delivered %+v that Put refused", it)
				}
				seen[it] = true
			}
			if len(items) != nAccepted {
				t.Errorf("delivered %d items, accepted %d", len(items), nAccepted)
			}
			for _, b := range batches {
				if len(b) == 0 || len(b) > q.Config().MaxBatch {
					t.Fatalf("batch of %d items, MaxBatch %d", len(b), q.Config().MaxBatch)
				}
			}
			s := q.Stats()
			attempts := uint64(tt.producers * tt.perProd)
			if s.Enqueued != uint64(nAccepted) || s.Delivered != s.Enqueued || s.Batches != uint64(len(batches)) ||
				s.Enqueued+s.DroppedFull+s.DroppedClosed != attempts || s.Abandoned != 0 {
				t.Errorf("Stats %+v: want Enqueued=Delivered=%d, Batches=%d, Enqueued+Dropped=%d", s, nAccepted, len(batches), attempts)
			}
			if q.Len() != 0 {
				t.Errorf("Len() = %d after Close", q.Len())
			}
		})
	}
}

func TestQueue_FullDropCounted(t *testing.T) {
	g := newGate()
	defer g.release()
	q := newQueue(t, batch.Config{Capacity: 8, MaxBatch: 8, Timeout: time.Hour}, g.handle)
	for i := range 8 {
		if !q.Put(&item{Seq: i}) {
			t.Fatalf("Put %d refused", i)
		}
	}
	if n := <-g.entered; n != 8 {
		t.Fatalf("first batch has %d items, want 8", n)
	}
	// The 8 slots are held until handle returns.
	for i := range 3 {
		if q.Put(&item{Seq: 8 + i}) {
			t.Fatalf("Put into a full queue succeeded")
		}
	}
	if got := q.Len(); got != 8 {
		t.Errorf("Len() = %d, want 8", got)
	}
	if s := q.Stats(); s.DroppedFull != 3 || s.Enqueued != 8 {
		t.Errorf("Stats %+v: want DroppedFull 3, Enqueued 8", s)
	}
	g.release()
	if err := q.Flush(ctxTimeout(t)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if !q.Put(&item{}) {
		t.Errorf("Put refused after the queue drained")
	}
}

func TestQueue_PutWait(t *testing.T) {
	tests := []struct {
		name   string
		policy batch.Policy
		run    func(t *testing.T, q *batch.Queue[item], g *gate)
	}{
		{name: "DropNewest returns ErrFull", policy: batch.DropNewest, run: func(t *testing.T, q *batch.Queue[item], _ *gate) {
			err := q.PutWait(ctxTimeout(t), &item{})
			if !errors.Is(err, batch.ErrFull) {
				t.Errorf("PutWait = %v, want ErrFull", err)
			}
		}},
		{name: "Block honours ctx cancel", policy: batch.Block, run: func(t *testing.T, q *batch.Queue[item], _ *gate) {
			ctx, cancel := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() { errc <- q.PutWait(ctx, &item{}) }()
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Errorf("PutWait = %v, want context.Canceled", err)
			}
		}},
		{name: "Block honours an expired deadline", policy: batch.Block, run: func(t *testing.T, q *batch.Queue[item], _ *gate) {
			ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
			defer cancel()
			if err := q.PutWait(ctx, &item{}); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("PutWait = %v, want context.DeadlineExceeded", err)
			}
		}},
		{name: "Block waits for room", policy: batch.Block, run: func(t *testing.T, q *batch.Queue[item], g *gate) {
			errc := make(chan error, 1)
			go func() { errc <- q.PutWait(ctxTimeout(t), &item{Seq: 99}) }()
			g.release()
			if err := <-errc; err != nil {
				t.Errorf("PutWait = %v, want nil", err)
			}
		}},
		{name: "Block returns ErrClosed on Close", policy: batch.Block, run: func(t *testing.T, q *batch.Queue[item], g *gate) {
			errc := make(chan error, 1)
			go func() { errc <- q.PutWait(ctxTimeout(t), &item{Seq: 99}) }()
			closed := make(chan error, 1)
			go func() { closed <- q.Close(ctxTimeout(t)) }()
			if err := <-errc; !errors.Is(err, batch.ErrClosed) && err != nil {
				t.Errorf("PutWait = %v, want ErrClosed or nil", err)
			}
			g.release()
			if err := <-closed; err != nil {
				t.Errorf("Close = %v", err)
			}
			if err := q.PutWait(ctxTimeout(t), &item{}); !errors.Is(err, batch.ErrClosed) {
				t.Errorf("PutWait after Close = %v, want ErrClosed", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate()
			defer g.release()
			q := newQueue(t, batch.Config{Capacity: 4, MaxBatch: 4, Timeout: time.Hour, Policy: tt.policy}, g.handle)
			for i := range 4 {
				if err := q.PutWait(ctxTimeout(t), &item{Seq: i}); err != nil {
					t.Fatalf("PutWait %d: %v", i, err)
				}
			}
			<-g.entered // the queue is now full until handle returns
			tt.run(t, q, g)
			g.release()
			if err := q.Close(ctxTimeout(t)); err != nil {
				t.Fatalf("Close: %v", err)
			}
			s := q.Stats()
			if s.Enqueued != s.Delivered {
				t.Errorf("Stats %+v: Enqueued != Delivered", s)
			}
		})
	}
}

func TestQueue_CriticalFirstAndKeptWhenFull(t *testing.T) {
	var mu sync.Mutex
	var got []item
	first := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int32
	q := newQueue(t, batch.Config{Capacity: 16, CriticalCapacity: 4, MaxBatch: 8, Timeout: time.Hour}, func(b []item) {
		if calls.Add(1) == 1 {
			close(first)
			<-release
		}
		mu.Lock()
		got = append(got, b...)
		mu.Unlock()
	})
	for i := range 16 { // batch A (0..7) goes to handle and blocks; 8..15 wait
		if !q.Put(&item{P: 0, Seq: i}) {
			t.Fatalf("Put %d refused", i)
		}
	}
	<-first
	if q.Put(&item{P: 0, Seq: 16}) {
		t.Fatalf("Put into a full routine lane succeeded")
	}
	for i := range 6 { // 4 fit the priority lane; the others find the routine lane full
		ok := q.PutCritical(&item{P: 1, Seq: i})
		if ok != (i < 4) {
			t.Fatalf("PutCritical %d = %v, want %v", i, ok, i < 4)
		}
	}
	close(release)
	if err := q.Close(ctxTimeout(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	var want []item
	for i := range 8 {
		want = append(want, item{0, i})
	}
	for i := range 4 {
		want = append(want, item{1, i})
	}
	for i := 8; i < 16; i++ {
		want = append(want, item{0, i})
	}
	if len(got) != len(want) {
		t.Fatalf("got %d items %v, want %v", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("item %d = %+v, want %+v (all: %v)", i, got[i], want[i], got)
		}
	}
	s := q.Stats()
	if s.CriticalEnqueued != 4 || s.DroppedFull != 3 || s.CriticalFallback != 0 {
		t.Errorf("Stats %+v: want CriticalEnqueued 4, DroppedFull 3", s)
	}
}

func TestQueue_CriticalFallback(t *testing.T) {
	g := newGate()
	defer g.release()
	q := newQueue(t, batch.Config{Capacity: 16, CriticalCapacity: 2, MaxBatch: 2, Timeout: time.Hour}, g.handle)
	q.PutCritical(&item{Seq: 0})
	q.PutCritical(&item{Seq: 1})
	<-g.entered // handle holds both priority slots
	if !q.PutCritical(&item{Seq: 2}) {
		t.Fatalf("PutCritical did not fall back to the routine lane")
	}
	g.release()
	if err := q.Close(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	if s := q.Stats(); s.CriticalFallback != 1 || s.CriticalEnqueued != 2 || s.Delivered != 3 {
		t.Errorf("Stats %+v: want CriticalFallback 1, CriticalEnqueued 2, Delivered 3", s)
	}
}

func TestQueue_Flush(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{name: "delivers everything put before it", run: func(t *testing.T) {
			var rec recorder
			q := newQueue(t, batch.Config{MaxBatch: 1000, Timeout: time.Hour}, rec.handle)
			for round := range 5 {
				for i := range 37 {
					q.Put(&item{P: round, Seq: i})
				}
				if round%2 == 0 {
					q.PutCritical(&item{P: -1, Seq: round})
				}
				if err := q.Flush(ctxTimeout(t)); err != nil {
					t.Fatalf("Flush: %v", err)
				}
				items, _ := rec.snapshot()
				want := (round+1)*37 + round/2 + 1
				if len(items) != want {
					t.Fatalf("round %d: %d items delivered when Flush returned, want %d", round, len(items), want)
				}
			}
		}},
		{name: "empty queue", run: func(t *testing.T) {
			q := newQueue(t, batch.Config{}, func([]item) {})
			if err := q.Flush(ctxTimeout(t)); err != nil {
				t.Fatalf("Flush: %v", err)
			}
		}},
		{name: "waits for handle to return", run: func(t *testing.T) {
			g := newGate()
			defer g.release()
			q := newQueue(t, batch.Config{Timeout: time.Hour}, g.handle)
			q.Put(&item{})
			errc := make(chan error, 1)
			go func() { errc <- q.Flush(ctxTimeout(t)) }()
			<-g.entered
			select {
			case err := <-errc:
				t.Fatalf("Flush returned %v while handle was running", err)
			default:
			}
			g.release()
			if err := <-errc; err != nil {
				t.Fatalf("Flush: %v", err)
			}
		}},
		{name: "cancelled ctx", run: func(t *testing.T) {
			q := newQueue(t, batch.Config{}, func([]item) {})
			q.Put(&item{})
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if err := q.Flush(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("Flush = %v, want context.Canceled", err)
			}
		}},
		{name: "deadline expires while handle blocks", run: func(t *testing.T) {
			g := newGate()
			defer g.release()
			q := newQueue(t, batch.Config{Timeout: time.Hour}, g.handle)
			q.Put(&item{})
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
			defer cancel()
			if err := q.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Flush = %v, want context.DeadlineExceeded", err)
			}
			g.release()
		}},
		{name: "after Close", run: func(t *testing.T) {
			q := newQueue(t, batch.Config{}, func([]item) {})
			if err := q.Close(ctxTimeout(t)); err != nil {
				t.Fatal(err)
			}
			if err := q.Flush(ctxTimeout(t)); !errors.Is(err, batch.ErrClosed) {
				t.Fatalf("Flush = %v, want ErrClosed", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

func TestQueue_Close(t *testing.T) {
	t.Run("drains and is idempotent", func(t *testing.T) {
		var rec recorder
		q := newQueue(t, batch.Config{MaxBatch: 100, Timeout: time.Hour}, rec.handle)
		for i := range 250 {
			q.Put(&item{Seq: i})
		}
		q.PutCritical(&item{P: 1})
		if err := q.Close(ctxTimeout(t)); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := q.Close(ctxTimeout(t)); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		select {
		case <-q.Done():
		default:
			t.Fatalf("Done not closed after Close returned")
		}
		items, _ := rec.snapshot()
		if len(items) != 251 {
			t.Fatalf("delivered %d items, want 251", len(items))
		}
		if q.Put(&item{}) || q.PutCritical(&item{}) {
			t.Errorf("Put after Close succeeded")
		}
		if err := q.PutWait(ctxTimeout(t), &item{}); !errors.Is(err, batch.ErrClosed) {
			t.Errorf("PutWait after Close = %v, want ErrClosed", err)
		}
		s := q.Stats()
		if s.DroppedClosed != 3 || s.Enqueued != 251 || s.Delivered != 251 || s.CriticalEnqueued != 1 {
			t.Errorf("Stats %+v: want DroppedClosed 3, Enqueued=Delivered 251", s)
		}
	})
	t.Run("cancelled ctx does not hang", func(t *testing.T) {
		g := newGate()
		q, err := batch.New(batch.Config{Capacity: 64, MaxBatch: 4, Timeout: time.Hour}, g.handle)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			q.Put(&item{Seq: i})
		}
		<-g.entered
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := q.Close(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Close = %v, want context.Canceled", err)
		}
		g.release() // the consumer stops after the handle call in progress
		<-q.Done()
		// The drain was cut short: a later Close must not report success.
		if err := q.Close(ctxTimeout(t)); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "16 items abandoned") {
			t.Fatalf("second Close = %v, want 16 items abandoned, wrapping context.Canceled", err)
		}
		s := q.Stats()
		if s.Delivered != 4 || s.Abandoned != 16 || s.Enqueued != s.Delivered+s.Abandoned {
			t.Errorf("Stats %+v: want Delivered 4, Abandoned 16", s)
		}
		if err := q.Flush(ctxTimeout(t)); !errors.Is(err, batch.ErrClosed) {
			t.Errorf("Flush after Close = %v, want ErrClosed", err)
		}
	})
}

// TestQueue_CloseWaitsForDrain checks that a Close called while another
// Close is draining does not return nil before the drain is over: with an
// ended ctx it returns ctx's error, else it waits and then Stats.Enqueued
// equals Stats.Delivered.
func TestQueue_CloseWaitsForDrain(t *testing.T) {
	g := newGate()
	q, err := batch.New(batch.Config{Capacity: 64, MaxBatch: 4, Timeout: time.Hour}, g.handle)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		q.Put(&item{Seq: i})
	}
	<-g.entered // the consumer holds the first batch: the drain cannot end
	first := make(chan error, 1)
	go func() { first <- q.Close(ctxTimeout(t)) }()
	// Wait until the first Close has stopped intake.
	n := 20
	for {
		err := q.PutWait(ctxTimeout(t), &item{Seq: n})
		if errors.Is(err, batch.ErrClosed) {
			break
		}
		switch {
		case err == nil:
			n++
		case !errors.Is(err, batch.ErrFull): // full before Close got there: try again
			t.Fatal(err)
		}
		runtime.Gosched()
	}

	ended, cancel := context.WithCancel(t.Context())
	cancel()
	if err := q.Close(ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close during the drain with an ended ctx = %v, want context.Canceled", err)
	}

	type result struct {
		err error
		s   batch.Stats
	}
	later := make(chan result, 1)
	go func() {
		err := q.Close(ctxTimeout(t))
		later <- result{err, q.Stats()}
	}()
	g.release()
	r := <-later
	if r.err != nil {
		t.Fatalf("later Close = %v, want nil", r.err)
	}
	if r.s.Enqueued != uint64(n) || r.s.Delivered != r.s.Enqueued {
		t.Errorf("later Close returned nil with Stats %+v: want Enqueued = Delivered = %d", r.s, n)
	}
	if err := <-first; err != nil {
		t.Fatalf("first Close = %v", err)
	}
}

func TestQueue_WrapAround(t *testing.T) {
	var rec recorder
	q := newQueue(t, batch.Config{Capacity: 8, MaxBatch: 3, Timeout: time.Hour}, rec.handle)
	for i := range 100 {
		if !q.Put(&item{Seq: i}) {
			if err := q.Flush(ctxTimeout(t)); err != nil {
				t.Fatal(err)
			}
			if !q.Put(&item{Seq: i}) {
				t.Fatalf("Put %d refused after Flush", i)
			}
		}
		if i%5 == 4 {
			if err := q.Flush(ctxTimeout(t)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := q.Close(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	items, batches := rec.snapshot()
	for i, it := range items {
		if it.Seq != i {
			t.Fatalf("item %d has seq %d", i, it.Seq)
		}
	}
	if len(items) != 100 {
		t.Fatalf("delivered %d items, want 100", len(items))
	}
	// A batch never crosses the end of the 8-slot ring.
	pos := 0
	for _, b := range batches {
		if pos/8 != (pos+len(b)-1)/8 {
			t.Fatalf("batch at position %d of %d items wraps around", pos, len(b))
		}
		pos += len(b)
	}
}

func TestQueue_TimeoutHandsOverPartialBatch(t *testing.T) {
	got := make(chan int, 10)
	q := newQueue(t, batch.Config{MaxBatch: 1000, Timeout: time.Millisecond}, func(b []item) { got <- len(b) })
	q.Put(&item{})
	q.Put(&item{})
	ctx := ctxTimeout(t)
	n := 0
	for n < 2 {
		select {
		case k := <-got:
			n += k
		case <-ctx.Done():
			t.Fatalf("partial batch not handed over after Timeout")
		}
	}
}

func TestQueue_ConcurrentSafe(t *testing.T) {
	var delivered atomic.Uint64
	q, err := batch.New(batch.Config{Capacity: 64, CriticalCapacity: 8, MaxBatch: 16, Timeout: time.Millisecond, Policy: batch.Block},
		func(b []item) { delivered.Add(uint64(len(b))) })
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxTimeout(t)
	const producers, perProd = 4, 300
	var attempts atomic.Uint64
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProd {
				v := item{P: p, Seq: i}
				attempts.Add(1)
				switch i % 5 {
				case 0:
					q.Put(&v)
				case 1:
					q.PutCritical(&v)
				case 2:
					q.PutWith(func(s *item) { *s = v })
				case 3:
					q.PutCriticalWith(func(s *item) { *s = v })
				default:
					err := q.PutWait(ctx, &v)
					if err != nil && !errors.Is(err, batch.ErrClosed) {
						t.Errorf("PutWait: %v", err)
					}
				}
				if i%50 == 0 {
					if err := q.Flush(ctx); err != nil && !errors.Is(err, batch.ErrClosed) {
						t.Errorf("Flush: %v", err)
					}
					_ = q.Stats()
					_ = q.Len()
				}
			}
		}()
	}
	closers := make(chan error, 2)
	for range 2 {
		go func() { closers <- q.Close(ctx) }()
	}
	wg.Wait()
	for range 2 {
		if err := <-closers; err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	s := q.Stats()
	if s.Enqueued+s.DroppedFull+s.DroppedClosed != attempts.Load() {
		t.Errorf("Stats %+v: accepted+dropped != %d attempts", s, attempts.Load())
	}
	if s.Enqueued != s.Delivered || s.Delivered != delivered.Load() || s.Abandoned != 0 {
		t.Errorf("Stats %+v: handle saw %d items", s, delivered.Load())
	}
}

func TestPut_NoAllocs(t *testing.T) {
	type big struct{ B [512]byte }
	q, err := batch.New(batch.Config{Capacity: 1 << 12}, func([]big) {})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Close(t.Context()) }()
	v := big{}
	for name, put := range map[string]func(*big) bool{"Put": q.Put, "PutCritical": q.PutCritical} {
		if n := testing.AllocsPerRun(1000, func() { put(&v) }); n != 0 {
			t.Errorf("%s allocates %.1f times per call", name, n)
		}
	}
	fill := func(b *big) { b.B[0] = 1 }
	for name, put := range map[string]func(func(*big)) bool{"PutWith": q.PutWith, "PutCriticalWith": q.PutCriticalWith} {
		if n := testing.AllocsPerRun(1000, func() { put(fill) }); n != 0 {
			t.Errorf("%s allocates %.1f times per call", name, n)
		}
	}
	reuse := func(b *big, _ uint8) uint8 { b.B[0] = 1; return 1 }
	for name, put := range map[string]func(func(*big, uint8) uint8) bool{"PutReuse": q.PutReuse, "PutCriticalReuse": q.PutCriticalReuse} {
		if n := testing.AllocsPerRun(1000, func() { put(reuse) }); n != 0 {
			t.Errorf("%s allocates %.1f times per call", name, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = q.PutWait(t.Context(), &v) }); n != 0 {
		t.Errorf("PutWait with room allocates %.1f times per call", n)
	}
}

// TestQueue_NilContextNeverEnds checks that PutWait, Flush and Close take
// a nil ctx as one that never ends.
func TestQueue_NilContextNeverEnds(t *testing.T) {
	var mu sync.Mutex
	var got int
	q, err := batch.New(batch.Config{Capacity: 8, MaxBatch: 4, Timeout: time.Hour, Policy: batch.Block}, func(b []item) {
		mu.Lock()
		got += len(b)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	var nilCtx context.Context
	for range 20 { // more than fit: PutWait waits for room
		if err := q.PutWait(nilCtx, &item{}); err != nil {
			t.Fatalf("PutWait(nil): %v", err)
		}
	}
	if err := q.Flush(nilCtx); err != nil {
		t.Fatalf("Flush(nil): %v", err)
	}
	if err := q.Close(nilCtx); err != nil {
		t.Fatalf("Close(nil): %v", err)
	}
	if err := q.Close(nilCtx); err != nil {
		t.Fatalf("second Close(nil): %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got != 20 {
		t.Fatalf("handled %d items, want 20", got)
	}
}
