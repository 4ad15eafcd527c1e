package tracing

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// deafSink is a Sink whose Write, Flush or Close (stage) ignores ctx and
// blocks until the test closes release.
type deafSink struct {
	stage   string
	entered chan struct{} // closed when the stage's call starts blocking
	release chan struct{}
	once    sync.Once

	mu     sync.Mutex
	events int
}

func newDeafSink(stage string) *deafSink {
	return &deafSink{stage: stage, entered: make(chan struct{}), release: make(chan struct{})}
}

func (s *deafSink) block(stage string) {
	if stage == s.stage {
		s.once.Do(func() { close(s.entered) })
		<-s.release
	}
}

func (s *deafSink) Write(_ context.Context, batch []TraceEvent) error {
	s.block("write")
	s.mu.Lock()
	s.events += len(batch)
	s.mu.Unlock()
	return nil
}

func (s *deafSink) Flush(context.Context) error { s.block("flush"); return nil }
func (s *deafSink) Close(context.Context) error { s.block("close"); return nil }
func (s *deafSink) String() string              { return "deaf" }

// returnsWithin fails the test unless fn returns within 2s, and not
// before its ctx of 200ms has ended.
func returnsWithin(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatalf("%s still blocked 2s after it was called with a ctx of 200ms", what)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("%s returned after %v, before its ctx of 200ms ended", what, d)
	}
}

// TestClient_CloseReturnsWhenSinkIgnoresCtx checks that Close returns
// soon after its ctx ends though a sink's Write, Flush or Close ignores
// ctx, with one sink or two: with ctx's error, the busy sink named, and
// every event not delivered counted as abandoned, once, also after the
// sink returns and the goroutine left in it finishes.
func TestClient_CloseReturnsWhenSinkIgnoresCtx(t *testing.T) {
	const total = 40
	for _, tt := range []struct {
		name      string
		stage     string
		sinks     int
		abandoned uint64 // events Close gives up on
	}{
		{name: "one sink, write", stage: "write", sinks: 1, abandoned: total},
		{name: "one sink, flush", stage: "flush", sinks: 1},
		{name: "one sink, close", stage: "close", sinks: 1},
		{name: "two sinks, write", stage: "write", sinks: 2, abandoned: total},
		{name: "two sinks, flush", stage: "flush", sinks: 2},
		{name: "two sinks, close", stage: "close", sinks: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			deaf := newDeafSink(tt.stage)
			opts := []Option{WithSink(deaf)}
			if tt.sinks == 2 {
				opts = append(opts, WithSink(newRecordSink()))
			}
			var handled []error
			opts = append(opts, WithErrorHandler(func(err error) { handled = append(handled, err) }))
			c, err := New(testConfig(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			late := make(chan int, 1)
			c.testHookClosedLate = func(i int) { late <- i }
			for range total {
				c.DataFlow(t.Context(), "a", "out", "b", "in", "T", 1)
			}
			if tt.stage == "write" {
				<-deaf.entered
			}

			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			returnsWithin(t, "Close", func() { err = c.Close(ctx) })
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "(deaf)") || !strings.Contains(err.Error(), "left to finish on its own") {
				t.Fatalf("Close = %v, want ctx's error naming the deaf sink", err)
			}
			var u *UndeliveredError
			if tt.abandoned > 0 && (!errors.As(err, &u) || u.Abandoned != tt.abandoned || u.Total() != tt.abandoned) {
				t.Fatalf("Close = %v, want %d events abandoned", err, tt.abandoned)
			}
			m := c.Metrics()
			if m.Recorded != total || m.Dropped.Closed != tt.abandoned || m.Delivered+m.Dropped.Total() != total {
				t.Fatalf("after Close: recorded %d delivered %d dropped %+v, want %d abandoned", m.Recorded, m.Delivered, m.Dropped, tt.abandoned)
			}

			// The sink returns; what was left in it finishes, and the
			// events Close gave up on are not counted again.
			close(deaf.release)
			if tt.stage == "write" && tt.sinks == 1 {
				<-c.queue.Done()
			} else if i := <-late; i != 0 {
				t.Fatalf("sink %d returned late, want 0", i)
			}
			after := c.Metrics()
			if after.Delivered != m.Delivered || after.Dropped.Total() != m.Dropped.Total() {
				t.Fatalf("once the sink returned: delivered %d dropped %+v, was %d %+v", after.Delivered, after.Dropped, m.Delivered, m.Dropped)
			}
			if again := c.Close(ctxTimeout(t)); again == nil || again.Error() != err.Error() {
				t.Fatalf("second Close = %v, want the first's error", again)
			}
			if tt.stage != "write" || tt.sinks != 1 {
				if len(handled) != 0 {
					t.Fatalf("error handler got %v for a sink that returned nil", handled)
				}
			}
		})
	}
}

// TestClient_FlushReturnsWhenSinkIgnoresCtx checks that Flush returns at
// its ctx's end though a sink's Write or Flush ignores ctx, with one sink
// or two, and that the client works on once the sink returns.
func TestClient_FlushReturnsWhenSinkIgnoresCtx(t *testing.T) {
	const total = 10
	for _, tt := range []struct {
		name  string
		stage string
		sinks int
	}{
		{name: "one sink, write", stage: "write", sinks: 1},
		{name: "one sink, flush", stage: "flush", sinks: 1},
		{name: "two sinks, flush", stage: "flush", sinks: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			deaf := newDeafSink(tt.stage)
			var opts []Option
			if tt.sinks == 2 {
				opts = append(opts, WithSink(newRecordSink()))
			}
			c := newTestClient(t, deaf, nil, opts...)
			for range total {
				c.DataFlow(t.Context(), "a", "out", "b", "in", "T", 1)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			var err error
			returnsWithin(t, "Flush", func() { err = c.Flush(ctx) })
			if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "tracing: flush") {
				t.Fatalf("Flush = %v, want ctx's error", err)
			}
			if name := "sink 0 (" + sinkName(deaf) + ")"; !strings.Contains(err.Error(), name) {
				t.Errorf("Flush = %q, want it to name %s, which had not answered", err, name)
			}
			close(deaf.release)
			if err := c.Flush(ctxTimeout(t)); err != nil {
				t.Fatalf("Flush once the sink returned: %v", err)
			}
			if err := c.Close(ctxTimeout(t)); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if m := c.Metrics(); m.Delivered != total {
				t.Fatalf("delivered %d, want %d", m.Delivered, total)
			}
		})
	}
}
