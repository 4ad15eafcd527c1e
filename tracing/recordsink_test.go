package tracing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recordSink is a test Sink that copies every event it is given and can be
// told to fail or to block.
type recordSink struct {
	mu      sync.Mutex
	events  []TraceEvent
	ids     map[EventID]int // times each id was written
	traces  []FlowTrace
	closed  bool
	flushes int
	closes  int
	// notify, if set, receives the number of events after every Write.
	notify chan int
	// atObserve holds, for each observed trace, how many events the sink
	// held when it was observed.
	atObserve []int

	// writeErr, if set, decides the result of each Write (before the
	// events are kept; a failed batch is not kept).
	writeErr func(batch []TraceEvent) error
	// gate, if set, is waited on by Write (honoring ctx); entered is
	// signalled, without blocking, when a Write starts waiting.
	gate     chan struct{}
	entered  chan struct{}
	flushErr error
	closeErr error
	stats    SinkStats
	name     string // String's result when set
}

func newRecordSink() *recordSink { return &recordSink{ids: make(map[EventID]int)} }

func (s *recordSink) Write(ctx context.Context, batch []TraceEvent) error {
	if s.gate != nil {
		if s.entered != nil {
			select {
			case s.entered <- struct{}{}:
			default:
			}
		}
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.writeErr != nil {
		if err := s.writeErr(batch); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("recordSink: write: %w", ErrClosed)
	}
	for _, ev := range batch {
		s.events = append(s.events, ev)
		s.ids[ev.EventID]++
	}
	if s.notify != nil {
		select {
		case s.notify <- len(s.events):
		default:
		}
	}
	return nil
}

func (s *recordSink) Flush(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes++
	if s.closed {
		return fmt.Errorf("recordSink: flush: %w", ErrClosed)
	}
	return s.flushErr
}

func (s *recordSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closes++
	if s.closed {
		return nil
	}
	s.closed = true
	return s.closeErr
}

func (s *recordSink) ObserveTrace(t FlowTrace) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.traces = append(s.traces, t)
	s.atObserve = append(s.atObserve, len(s.events))
}

func (s *recordSink) SinkStats() SinkStats { return s.stats }

// String returns "record", or the sink's name when set.
func (s *recordSink) String() string {
	if s.name != "" {
		return s.name
	}
	return "record"
}

// waitEvents waits until the sink holds at least n events; s.notify must
// be set.
func (s *recordSink) waitEvents(t testing.TB, ctx context.Context, n int) {
	t.Helper()
	for len(s.snapshot()) < n {
		select {
		case <-s.notify:
		case <-ctx.Done():
			t.Fatalf("sink %s holds %d events, want %d: %v", s, len(s.snapshot()), n, ctx.Err())
		}
	}
}

func (s *recordSink) snapshot() []TraceEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TraceEvent(nil), s.events...)
}

func (s *recordSink) observed() []FlowTrace {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]FlowTrace(nil), s.traces...)
}

// find returns the delivered event with id.
func (s *recordSink) find(t *testing.T, id EventID) TraceEvent {
	t.Helper()
	for _, ev := range s.snapshot() {
		if ev.EventID == id {
			return ev
		}
	}
	t.Fatalf("event %v not delivered", id)
	return TraceEvent{}
}

// discardSink counts and drops what it is given.
type discardSink struct{ n atomic.Uint64 }

func (d *discardSink) Write(_ context.Context, b []TraceEvent) error {
	d.n.Add(uint64(len(b)))
	return nil
}
func (d *discardSink) Flush(context.Context) error { return nil }
func (d *discardSink) Close(context.Context) error { return nil }

var errSink = errors.New("sink failure")

// testConfig returns an enabled config with short batches.
func testConfig() TracingConfig {
	cfg := DefaultConfig()
	cfg.BatchSize = 16
	cfg.QueueSize = 256
	cfg.BatchTimeout = time.Millisecond
	cfg.FlowID = "test-flow"
	return cfg
}

// newTestClient returns a client on testConfig (changed by edit) writing to
// sink, closed at the end of the test.
func newTestClient(t testing.TB, sink Sink, edit func(*TracingConfig), opts ...Option) *TracingClient {
	t.Helper()
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg, append([]Option{WithSink(sink)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func ctxTimeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
