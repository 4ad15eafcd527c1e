package ingest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recordSink keeps a copy of every event written to it.
type recordSink struct {
	mu     sync.Mutex
	events []tracing.TraceEvent
}

func (s *recordSink) Write(_ context.Context, batch []tracing.TraceEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, batch...)
	return nil
}

func (s *recordSink) Flush(context.Context) error { return nil }
func (s *recordSink) Close(context.Context) error { return nil }

func (s *recordSink) snapshot() []tracing.TraceEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]tracing.TraceEvent(nil), s.events...)
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

func ctxTimeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
