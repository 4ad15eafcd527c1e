package actors

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recordSink keeps a copy of every event written to it and of every trace
// header it is shown.
type recordSink struct {
	mu     sync.Mutex
	events []tracing.TraceEvent
	traces []tracing.FlowTrace
}

func newRecordSink() *recordSink { return &recordSink{} }

func (s *recordSink) Write(_ context.Context, batch []tracing.TraceEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, batch...)
	return nil
}

func (s *recordSink) Flush(context.Context) error { return nil }
func (s *recordSink) Close(context.Context) error { return nil }

// ObserveTrace keeps t (tracing.TraceObserver).
func (s *recordSink) ObserveTrace(t tracing.FlowTrace) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.traces = append(s.traces, t)
}

func (s *recordSink) snapshot() []tracing.TraceEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]tracing.TraceEvent(nil), s.events...)
}

func (s *recordSink) observed() []tracing.FlowTrace {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]tracing.FlowTrace(nil), s.traces...)
}

// find returns the delivered event with id, failing the test if none was.
func (s *recordSink) find(t *testing.T, id tracing.EventID) tracing.TraceEvent {
	t.Helper()
	for _, ev := range s.snapshot() {
		if ev.EventID == id {
			return ev
		}
	}
	t.Fatalf("event %v was not delivered", id)
	return tracing.TraceEvent{}
}

// discardSink drops what it is given.
type discardSink struct{}

func (discardSink) Write(context.Context, []tracing.TraceEvent) error { return nil }
func (discardSink) Flush(context.Context) error                       { return nil }
func (discardSink) Close(context.Context) error                       { return nil }

// newTestClient returns a client with short batches (changed by edit)
// writing to sink, closed at the end of the test.
func newTestClient(t testing.TB, sink tracing.Sink, edit func(*tracing.TracingConfig), opts ...tracing.Option) *tracing.TracingClient {
	t.Helper()
	cfg := tracing.DefaultConfig()
	cfg.BatchSize = 16
	cfg.QueueSize = 256
	cfg.BatchTimeout = time.Millisecond
	cfg.FlowID = "test-flow"
	if edit != nil {
		edit(&cfg)
	}
	c, err := tracing.New(cfg, append([]tracing.Option{tracing.WithSink(sink)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func ctxTimeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
