package sink

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// multiStuckSink blocks every Write until its ctx ends or release is
// closed, and tells entered about each Write that started.
type multiStuckSink struct {
	entered chan struct{}
	release chan struct{}
}

func newMultiStuckSink() *multiStuckSink {
	return &multiStuckSink{entered: make(chan struct{}, 1000), release: make(chan struct{})}
}

func (s *multiStuckSink) Write(ctx context.Context, _ []tracing.TraceEvent) error {
	s.entered <- struct{}{}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.release:
		return nil
	}
}
func (s *multiStuckSink) Flush(context.Context) error { return nil }
func (s *multiStuckSink) Close(context.Context) error { return nil }

// multiFailSink fails every call with its error.
type multiFailSink struct{ err error }

func (s multiFailSink) Write(context.Context, []tracing.TraceEvent) error { return s.err }
func (s multiFailSink) Flush(context.Context) error                       { return s.err }
func (s multiFailSink) Close(context.Context) error                       { return s.err }

var errMultiTest = errors.New("test sink failure")

func TestMultiIsolatesStuckAndFailingSinks(t *testing.T) {
	stuck := newMultiStuckSink()
	healthy := newMemory(t)
	m := NewMulti(healthy, multiFailSink{errMultiTest}, stuck)
	if m.Len() != 3 {
		t.Fatalf("Len = %d", m.Len())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	const batches, size = 10, 5
	batch := make([]tracing.TraceEvent, size)
	for b := range batches {
		for i := range batch {
			batch[i] = localRichEvent(b*size + i)
		}
		if err := m.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		clear(batch) // reused by the caller
	}
	if err := healthy.WaitFor(ctx, batches*size); err != nil {
		t.Fatal(err)
	}
	want := make([]tracing.TraceEvent, batches*size)
	for i := range want {
		want[i] = localRichEvent(i)
	}
	if err := eventsEqual(healthy.Events(), want); err != nil {
		t.Fatal(err)
	}

	// Flush cannot finish for the stuck sink: it returns when its ctx
	// ends (here: once it waits for the stuck sink, the others being
	// done), naming it, and reports the failing sink's errors.
	fctx, fcancel := context.WithCancel(ctx)
	m.testHookFlushWait = func(i int) {
		if i == 2 {
			fcancel()
		}
	}
	err := m.Flush(fctx)
	m.testHookFlushWait = nil
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "flush sink 2 (*sink.multiStuckSink)") {
		t.Fatalf("Flush = %v, want a ctx error naming sink 2", err)
	}
	if !errors.Is(err, errMultiTest) || !strings.Contains(err.Error(), "sink 1") || !strings.Contains(err.Error(), "10 batches failed") {
		t.Fatalf("Flush = %v, want sink 1's failures", err)
	}
	if strings.Contains(err.Error(), "sink 0") {
		t.Fatalf("Flush = %v, blames the healthy sink", err)
	}

	st := m.Stats()
	if st[0].Events != batches*size || st[0].Batches != batches || st[0].FailedBatches != 0 || st[0].DroppedBatches != 0 {
		t.Fatalf("healthy stats %+v", st[0])
	}
	if st[1].FailedBatches != batches || st[1].FailedEvents != batches*size || !errors.Is(st[1].LastError, errMultiTest) {
		t.Fatalf("failing stats %+v", st[1])
	}
	if st[2].Events != 0 || st[2].Queued == 0 {
		t.Fatalf("stuck stats %+v", st[2])
	}

	// Close gives up on the stuck sink at its deadline without leaking its
	// goroutine (TestMain checks), and drops what was queued for it.
	cctx, ccancel := context.WithTimeout(ctx, 20*time.Millisecond)
	err = m.Close(cctx)
	ccancel()
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errMultiTest) {
		t.Fatalf("Close = %v, want the deadline and sink 1's error", err)
	}
	st = m.Stats()
	if st[2].Events != 0 || st[2].DroppedBatches+st[2].FailedBatches != batches {
		t.Fatalf("stuck stats after Close %+v", st[2])
	}
	if !errors.Is(m.Write(ctx, localBatch(0, 1)), tracing.ErrClosed) {
		t.Fatal("Write after Close does not return ErrClosed")
	}
	if err := healthy.Write(ctx, nil); !errors.Is(err, tracing.ErrClosed) {
		t.Fatalf("the healthy sink was not closed: %v", err)
	}
}

func TestMultiDropsForFullQueueOnly(t *testing.T) {
	stuck := newMultiStuckSink()
	healthy := newMemory(t)
	m := NewMulti(stuck, healthy)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	// The stuck sink takes the first batch and blocks; then its queue fills.
	if err := m.Write(ctx, localBatch(0, 1)); err != nil {
		t.Fatal(err)
	}
	<-stuck.entered
	total := 1 + DefaultMultiQueueBatches + 3
	for i := 1; i < total; i++ {
		if err := m.Write(ctx, localBatch(i, 1)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		// Let the healthy sink keep up, so that only the stuck one's
		// queue fills.
		if err := healthy.WaitFor(ctx, i+1); err != nil {
			t.Fatal(err)
		}
	}
	if got := eventNumbers(healthy.Events()); !equalInts(got, seq(0, total)) {
		t.Fatalf("healthy sink got %v", got)
	}
	st := m.Stats()
	if st[0].DroppedBatches != 3 || st[0].DroppedEvents != 3 || st[0].Queued != DefaultMultiQueueBatches {
		t.Fatalf("stuck stats %+v", st[0])
	}
	if st[1].DroppedBatches != 0 {
		t.Fatalf("healthy stats %+v", st[1])
	}
	// Drops are reported by the next Flush once the sink catches up, and
	// only once.
	close(stuck.release)
	err := m.Flush(ctx)
	if !errors.Is(err, ErrQueueFull) || !strings.Contains(err.Error(), "sink 0") || !strings.Contains(err.Error(), "3 events dropped") || strings.Contains(err.Error(), "sink 1") {
		t.Fatalf("Flush = %v, want sink 0's drops", err)
	}
	if err := m.Flush(ctx); err != nil {
		t.Fatalf("second Flush = %v", err)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if st := m.Stats()[0]; st.Batches != 1+DefaultMultiQueueBatches {
		t.Fatalf("stuck sink wrote %d batches after release", st.Batches)
	}
}

func TestMultiWriteWhenEveryQueueIsFull(t *testing.T) {
	stuck := newMultiStuckSink()
	m := NewMulti(stuck)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := m.Write(ctx, localBatch(0, 1)); err != nil {
		t.Fatal(err)
	}
	<-stuck.entered
	for i := range DefaultMultiQueueBatches {
		if err := m.Write(ctx, localBatch(i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Write(ctx, localBatch(0, 1)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Write = %v, want ErrQueueFull", err)
	}
	close(stuck.release)
	if err := m.Close(ctx); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Close = %v, want the drop reported", err)
	}
	if st := m.Stats()[0]; st.Batches != 1+DefaultMultiQueueBatches || st.DroppedBatches != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMultiFlushDeliversAndFlushes(t *testing.T) {
	a, b := &countingSink{}, &countingSink{}
	m := NewMulti(a, b)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i := range 20 {
		if err := m.Write(ctx, localBatch(i*3, 3)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, s := range []*countingSink{a, b} {
		s.mu.Lock()
		if s.events != 60 || s.flushes != 1 || s.eventsAtFlush != 60 {
			t.Errorf("sink %d: %d events, %d flushes, %d events at flush", i, s.events, s.flushes, s.eventsAtFlush)
		}
		s.mu.Unlock()
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i, s := range []*countingSink{a, b} {
		if s.closes != 1 {
			t.Errorf("sink %d closed %d times", i, s.closes)
		}
	}
}

// countingSink counts what it is given.
type countingSink struct {
	mu                                     sync.Mutex
	events, flushes, eventsAtFlush, closes int
}

func (s *countingSink) Write(_ context.Context, b []tracing.TraceEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events += len(b)
	return nil
}

func (s *countingSink) Flush(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes++
	s.eventsAtFlush = s.events
	return nil
}

func (s *countingSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closes++
	return nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMultiLifecycle(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name    string
		sinks   func(stuck tracing.Sink) []tracing.Sink
		run     func(m *Multi) error
		wantErr error
		wantIn  string // substring of the error
	}{
		{name: "no sinks", sinks: func(tracing.Sink) []tracing.Sink { return nil }, run: func(m *Multi) error {
			return errors.Join(m.Write(t.Context(), localBatch(0, 1)), m.Flush(t.Context()), m.Close(t.Context()))
		}},
		{name: "nil sinks ignored", sinks: func(tracing.Sink) []tracing.Sink { return []tracing.Sink{nil, newMemory(t), nil} }, run: func(m *Multi) error {
			if m.Len() != 1 {
				return errors.New("nil sinks counted")
			}
			return errors.Join(m.Write(t.Context(), localBatch(0, 1)), m.Flush(t.Context()), m.Close(t.Context()))
		}},
		{name: "nil and empty batch", sinks: func(tracing.Sink) []tracing.Sink { return []tracing.Sink{newMemory(t)} }, run: func(m *Multi) error {
			return errors.Join(m.Write(t.Context(), nil), m.Write(t.Context(), []tracing.TraceEvent{}), m.Flush(t.Context()))
		}},
		{name: "close twice", sinks: func(tracing.Sink) []tracing.Sink { return []tracing.Sink{newMemory(t)} }, run: func(m *Multi) error {
			return errors.Join(m.Close(t.Context()), m.Close(t.Context()))
		}},
		{name: "close propagates sink errors", sinks: func(tracing.Sink) []tracing.Sink { return []tracing.Sink{newMemory(t), multiFailSink{errMultiTest}} }, run: func(m *Multi) error {
			return m.Close(t.Context())
		}, wantErr: errMultiTest, wantIn: "sink 1"},
		{name: "flush propagates sink errors", sinks: func(tracing.Sink) []tracing.Sink { return []tracing.Sink{multiFailSink{errMultiTest}} }, run: func(m *Multi) error {
			return m.Flush(t.Context())
		}, wantErr: errMultiTest, wantIn: "sink 0"},
		{name: "write after close", sinks: func(tracing.Sink) []tracing.Sink { return []tracing.Sink{newMemory(t)} }, run: func(m *Multi) error {
			_ = m.Close(t.Context())
			return m.Write(t.Context(), localBatch(0, 1))
		}, wantErr: tracing.ErrClosed},
		{name: "flush after close", sinks: func(tracing.Sink) []tracing.Sink { return []tracing.Sink{newMemory(t)} }, run: func(m *Multi) error {
			_ = m.Close(t.Context())
			return m.Flush(t.Context())
		}, wantErr: tracing.ErrClosed},
		{name: "flush with cancelled ctx behind a stuck sink", sinks: func(stuck tracing.Sink) []tracing.Sink { return []tracing.Sink{stuck} }, run: func(m *Multi) error {
			_ = m.Write(t.Context(), localBatch(0, 1))
			return m.Flush(cancelled)
		}, wantErr: context.Canceled, wantIn: "sink 0"},
		{name: "close with cancelled ctx", sinks: func(stuck tracing.Sink) []tracing.Sink { return []tracing.Sink{stuck, newMemory(t)} }, run: func(m *Multi) error {
			_ = m.Write(t.Context(), localBatch(0, 1))
			return m.Close(cancelled)
		}, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stuck := newMultiStuckSink()
			m := NewMulti(tt.sinks(stuck)...)
			defer m.Close(t.Context()) //nolint:errcheck // stops the goroutines of failed cases
			defer close(stuck.release)
			err := tt.run(m)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			if err != nil && (!strings.HasPrefix(err.Error(), "sink: multi") || !strings.Contains(err.Error(), tt.wantIn)) {
				t.Fatalf("error %q does not start with the package or lacks %q", err, tt.wantIn)
			}
		})
	}
}

func TestMultiConcurrentSafe(t *testing.T) {
	mems := []*Memory{newMemory(t), newMemory(t)}
	m := NewMulti(mems[0], mems[1], multiFailSink{errMultiTest})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var accepted, rejected sync.Map
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]tracing.TraceEvent, 4)
			for b := range 40 {
				for i := range batch {
					batch[i] = localEvent(w*10000 + b*4 + i)
				}
				switch err := m.Write(ctx, batch); {
				case err == nil:
					accepted.Store(w*10000+b*4, true)
				case errors.Is(err, ErrQueueFull):
					rejected.Store(w*10000+b*4, true) // counted as dropped by every sink
				case !errors.Is(err, tracing.ErrClosed):
					t.Error(err)
				}
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				err := m.Flush(ctx)
				if err != nil && !errors.Is(err, errMultiTest) && !errors.Is(err, tracing.ErrClosed) && !errors.Is(err, ErrQueueFull) {
					t.Error(err)
				}
				_ = m.Stats()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := m.Close(ctx)
		if err != nil && !errors.Is(err, errMultiTest) && !errors.Is(err, ErrQueueFull) {
			t.Error(err)
		}
	}()
	wg.Wait()
	_ = m.Close(ctx)
	// Every batch that Write accepted reached both memory sinks, unless
	// counted as dropped.
	n := 0
	accepted.Range(func(any, any) bool { n++; return true })
	rejected.Range(func(any, any) bool { n++; return true })
	for i, s := range m.Stats()[:2] {
		if got := int(s.Batches + s.DroppedBatches); got != n {
			t.Errorf("sink %d: %d batches written or dropped, %d accepted", i, got, n)
		}
		if mems[i].Len() != int(s.Events) {
			t.Errorf("sink %d holds %d events, stats say %d", i, mems[i].Len(), s.Events)
		}
	}
}

// observingSink records the traces it observes.
type observingSink struct {
	countingSink
	traces []tracing.TraceID
}

func (s *observingSink) ObserveTrace(tr tracing.FlowTrace) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.traces = append(s.traces, tr.TraceID)
}

func TestMultiObserveTrace(t *testing.T) {
	a, b := &observingSink{}, &observingSink{}
	m := NewMulti(a, newMemory(t), b)
	m.ObserveTrace(tracing.FlowTrace{TraceID: localTrace})
	if err := m.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	m.ObserveTrace(tracing.FlowTrace{TraceID: tracing.TraceID{7}}) // after Close: ignored
	for i, s := range []*observingSink{a, b} {
		if len(s.traces) != 1 || s.traces[0] != localTrace {
			t.Errorf("sink %d observed %v", i, s.traces)
		}
	}
}
