package memory

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/sink/internal/sinktest"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

func TestMemoryWriteKeepsDeepCopies(t *testing.T) {
	m := newMemory(t)
	batch := []tracing.TraceEvent{sinktest.RichEvent(1), sinktest.RichEvent(2)}
	if err := m.Write(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	// The caller reuses everything it handed over.
	for i := range batch {
		ev := &batch[i]
		ev.Data.Message.SerializedData[0] = 99
		ev.Data.StateDiff.Before[0] = 'X'
		ev.Data.StateDiff.After[0] = 'X'
		ev.Causality.DependencyChain[0] = tracing.EventID{}
		list, _ := ev.Data.CustomAttributes.Get("list")
		list.Array()[0] = attr.IntValue(-1)
		list.Array()[2].Object()[0] = attr.Bool("deep", false)
		obj, _ := ev.Data.CustomAttributes.Get("obj")
		obj.Object()[0] = attr.Float64("x", -1)
		ev.Data.CustomAttributes.Set(attr.Int("k5", 500))
	}
	clear(batch)
	want := []tracing.TraceEvent{sinktest.RichEvent(1), sinktest.RichEvent(2)}
	got := m.Events()
	if err := sinktest.EventsEqual(got, want); err != nil {
		t.Fatal(err)
	}
	// What Events returns is a copy too.
	got[0].Data.Message.SerializedData[0] = 42
	got[0].Causality.DependencyChain[0] = tracing.EventID{}
	if err := sinktest.EventsEqual(m.Events(), want); err != nil {
		t.Fatalf("after changing the result of Events: %v", err)
	}
}

func TestMemoryCapacity(t *testing.T) {
	tests := []struct {
		name        string
		opts        []Option
		write       int
		wantCap     int
		wantHeld    []int
		wantEvicted uint64
	}{
		{name: "default", write: 3, wantCap: DefaultCapacity, wantHeld: sinktest.Seq(0, 3)},
		{name: "nil option ignored", opts: []Option{nil, WithCapacity(4)}, write: 4, wantCap: 4, wantHeld: sinktest.Seq(0, 4)},
		{name: "exactly full", opts: []Option{WithCapacity(5)}, write: 5, wantCap: 5, wantHeld: sinktest.Seq(0, 5)},
		{name: "evicts oldest", opts: []Option{WithCapacity(3)}, write: 5, wantCap: 3, wantHeld: sinktest.Seq(2, 3), wantEvicted: 2},
		{name: "wraps many times", opts: []Option{WithCapacity(4)}, write: 23, wantCap: 4, wantHeld: sinktest.Seq(19, 4), wantEvicted: 19},
		{name: "capacity one", opts: []Option{WithCapacity(1)}, write: 3, wantCap: 1, wantHeld: sinktest.Seq(2, 1), wantEvicted: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemory(t, tt.opts...)
			if m.Capacity() != tt.wantCap {
				t.Fatalf("Capacity = %d, want %d", m.Capacity(), tt.wantCap)
			}
			// Write in batches of 2 so evictions cross batch boundaries.
			for i := 0; i < tt.write; i += 2 {
				if err := m.Write(t.Context(), sinktest.Batch(i, min(2, tt.write-i))); err != nil {
					t.Fatal(err)
				}
			}
			if got := sinktest.EventNumbers(m.Events()); !reflect.DeepEqual(got, tt.wantHeld) {
				t.Fatalf("held %v, want %v", got, tt.wantHeld)
			}
			if m.Len() != len(tt.wantHeld) {
				t.Fatalf("Len = %d, want %d", m.Len(), len(tt.wantHeld))
			}
			want := Stats{Written: uint64(tt.write), Evicted: tt.wantEvicted, Batches: uint64((tt.write + 1) / 2)}
			if got := m.Stats(); got != want {
				t.Fatalf("Stats = %+v, want %+v", got, want)
			}
		})
	}
}

func TestMemoryQuery(t *testing.T) {
	m := newMemory(t, WithCapacity(8))
	// Events 0..9, the first two evicted; actors cycle actor-0, -1, -2.
	// Event 5 is a failure in another trace.
	batch := sinktest.Batch(0, 10)
	other := tracing.TraceID{9}
	batch[5].TraceID = other
	batch[5].Type = tracing.TraceEventType{Kind: tracing.KindActorFailed}
	if err := m.Write(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	at := func(i int) time.Time { return sinktest.Base.Add(time.Duration(i) * time.Millisecond) }
	tests := []struct {
		name string
		q    Query
		want []int
	}{
		{name: "zero query matches all held", q: Query{}, want: sinktest.Seq(2, 8)},
		{name: "trace", q: Query{TraceID: other}, want: []int{5}},
		{name: "trace excludes other", q: Query{TraceID: sinktest.Trace}, want: []int{2, 3, 4, 6, 7, 8, 9}},
		{name: "actor", q: Query{ActorID: "actor-1"}, want: []int{4, 7}},
		{name: "unknown actor", q: Query{ActorID: "nobody"}, want: []int{}},
		{name: "kinds", q: Query{Kinds: []tracing.EventKind{tracing.KindActorFailed, tracing.KindActorCreated}}, want: []int{5}},
		{name: "empty kinds is no constraint", q: Query{Kinds: []tracing.EventKind{}}, want: sinktest.Seq(2, 8)},
		{name: "from is inclusive", q: Query{From: at(8)}, want: []int{8, 9}},
		{name: "to is exclusive", q: Query{To: at(4)}, want: []int{2, 3}},
		{name: "window", q: Query{From: at(3), To: at(6)}, want: []int{3, 4, 5}},
		{name: "all constraints", q: Query{TraceID: sinktest.Trace, ActorID: "actor-0", Kinds: []tracing.EventKind{tracing.KindDataFlow}, From: at(3), To: at(9)}, want: []int{3, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := m.Query(tt.q)
			if got == nil {
				t.Fatal("Query returned nil, want a non-nil slice")
			}
			if nums := sinktest.EventNumbers(got); !reflect.DeepEqual(nums, tt.want) {
				t.Fatalf("got %v, want %v", nums, tt.want)
			}
		})
	}
}

func TestMemoryWaitFor(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		before  int  // events written before WaitFor
		after   int  // events written while it waits
		close   bool // close instead of writing enough
		wantErr error
	}{
		{name: "already there", n: 3, before: 3},
		{name: "zero", n: 0},
		{name: "negative", n: -1},
		{name: "arrives later", n: 5, before: 2, after: 3},
		{name: "counts evicted", n: 12, before: 12},
		{name: "timeout", n: 5, before: 4, wantErr: context.DeadlineExceeded},
		{name: "closed", n: 5, before: 1, close: true, wantErr: tracing.ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemory(t, WithCapacity(10))
			if err := m.Write(t.Context(), sinktest.Batch(0, tt.before)); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			if tt.wantErr == context.DeadlineExceeded {
				ctx, cancel = context.WithTimeout(t.Context(), 10*time.Millisecond)
			}
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- m.WaitFor(ctx, tt.n) }()
			for i := range tt.after {
				if err := m.Write(t.Context(), sinktest.Batch(tt.before+i, 1)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.close {
				if err := m.Close(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			err := <-done
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("WaitFor = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestMemoryLifecycle(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name    string
		run     func(m *Sink) error
		wantErr error
		wantLen int
	}{
		{name: "nil batch", run: func(m *Sink) error { return m.Write(t.Context(), nil) }},
		{name: "empty batch", run: func(m *Sink) error { return m.Write(t.Context(), []tracing.TraceEvent{}) }},
		{name: "flush", run: func(m *Sink) error { return m.Flush(t.Context()) }},
		{name: "flush with cancelled ctx has nothing to wait for", run: func(m *Sink) error { return m.Flush(cancelled) }},
		{name: "write with cancelled ctx", run: func(m *Sink) error { return m.Write(cancelled, sinktest.Batch(0, 1)) }, wantErr: context.Canceled},
		{name: "close twice", run: func(m *Sink) error {
			return errors.Join(m.Close(t.Context()), m.Close(t.Context()), m.Close(cancelled))
		}},
		{name: "write after close", run: func(m *Sink) error {
			_ = m.Close(t.Context())
			return m.Write(t.Context(), sinktest.Batch(0, 1))
		}, wantErr: tracing.ErrClosed},
		{name: "flush after close", run: func(m *Sink) error {
			_ = m.Close(t.Context())
			return m.Flush(t.Context())
		}, wantErr: tracing.ErrClosed},
		{name: "events readable after close", run: func(m *Sink) error {
			if err := m.Write(t.Context(), sinktest.Batch(0, 2)); err != nil {
				return err
			}
			return m.Close(t.Context())
		}, wantLen: 2},
		{name: "reset", run: func(m *Sink) error {
			if err := m.Write(t.Context(), sinktest.Batch(0, 2)); err != nil {
				return err
			}
			m.Reset()
			if s := m.Stats(); s != (Stats{}) {
				return fmt.Errorf("stats after Reset: %+v", s)
			}
			return m.Write(t.Context(), sinktest.Batch(7, 1))
		}, wantLen: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemory(t)
			err := tt.run(m)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			if err != nil && err.Error()[:len("sink: memory")] != "sink: memory" {
				t.Fatalf("error %q does not name the sink", err)
			}
			if m.Len() != tt.wantLen {
				t.Fatalf("Len = %d, want %d", m.Len(), tt.wantLen)
			}
		})
	}
}

func TestMemoryConcurrentSafe(t *testing.T) {
	const writers, batches, size = 4, 50, 8
	m := newMemory(t, WithCapacity(100))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]tracing.TraceEvent, size)
			for b := range batches {
				for i := range batch {
					batch[i] = sinktest.RichEvent(w*100000 + b*size + i)
				}
				if err := m.Write(ctx, batch); err != nil {
					t.Error(err)
					return
				}
				clear(batch) // the caller reuses its slice
			}
		}()
	}
	wg.Add(3)
	go func() {
		defer wg.Done()
		for range 50 {
			_ = m.Query(Query{ActorID: "actor-1"})
			_ = m.Len()
			_ = m.Stats()
		}
	}()
	go func() {
		defer wg.Done()
		for range 50 {
			if err := m.Flush(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		if err := m.WaitFor(ctx, writers*batches*size); err != nil {
			t.Error(err)
		}
	}()
	wg.Wait()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s := m.Stats()
	if s.Written != writers*batches*size || s.Batches != writers*batches || s.Evicted != s.Written-100 || m.Len() != 100 {
		t.Fatalf("stats %+v, len %d", s, m.Len())
	}
	// Every held event is intact.
	for _, ev := range m.Events() {
		n := sinktest.EventNumbers([]tracing.TraceEvent{ev})[0]
		want := sinktest.RichEvent(n)
		if !sinktest.EventEqual(&ev, &want) {
			t.Fatalf("event %d corrupted: %+v", n, ev)
		}
	}
}

func TestMemoryCloseConcurrentSafe(t *testing.T) {
	m := newMemory(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				err := m.Write(t.Context(), sinktest.Batch(i, 2))
				if err != nil && !errors.Is(err, tracing.ErrClosed) {
					t.Error(err)
				}
				if err := m.Flush(t.Context()); err != nil && !errors.Is(err, tracing.ErrClosed) {
					t.Error(err)
				}
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Close(t.Context()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got, want := m.Stats().Written, uint64(m.Len()); got != want {
		t.Fatalf("Written %d, held %d", got, want)
	}
}

// newMemory returns New(opts...), failing tb on error.
func newMemory(tb testing.TB, opts ...Option) *Sink {
	tb.Helper()
	m, err := New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// TestNewMemoryRejectsBadCapacity checks that New refuses an
// out-of-range capacity, naming the option and its value, instead of
// silently using the default.
func TestNewMemoryRejectsBadCapacity(t *testing.T) {
	for _, n := range []int{0, -1, -100} {
		m, err := New(WithCapacity(n))
		if !errors.Is(err, sink.ErrInvalidOption) || m != nil {
			t.Fatalf("New(WithCapacity(%d)) = %v, %v; want nil and ErrInvalidOption", n, m, err)
		}
		if want := fmt.Sprintf("sink: memory: WithCapacity(%d): want at least 1", n); !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %q, want it to contain %q", err, want)
		}
	}
	// The last option wins, as everywhere.
	if m, err := New(WithCapacity(0), WithCapacity(2)); err != nil || m.Capacity() != 2 {
		t.Fatalf("New(WithCapacity(0), WithCapacity(2)) = %v, %v", m, err)
	}
}

// TestMemoryNilContextNeverEnds checks that Write and WaitFor take a nil
// ctx as one that never ends.
func TestMemoryNilContextNeverEnds(t *testing.T) {
	m := newMemory(t)
	var nilCtx context.Context
	if err := m.Write(nilCtx, sinktest.Batch(0, 3)); err != nil {
		t.Fatalf("Write(nil): %v", err)
	}
	if err := m.WaitFor(nilCtx, 3); err != nil {
		t.Fatalf("WaitFor(nil): %v", err)
	}
}
