package tracing

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowObserver takes 10 ms to hear of a trace's start while slow is set.
type slowObserver struct {
	discardSink
	slow atomic.Bool
}

func (s *slowObserver) ObserveTrace(t FlowTrace) {
	if s.slow.Load() && t.EndTime.IsZero() {
		time.Sleep(10 * time.Millisecond)
	}
}

// orderSink counts the events written to it of traces it was not told of.
type orderSink struct {
	discardSink
	mu         sync.Mutex
	started    map[TraceID]bool
	violations int
	example    TraceID
}

func (s *orderSink) ObserveTrace(t FlowTrace) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.EndTime.IsZero() {
		s.started[t.TraceID] = true
	}
}

func (s *orderSink) Write(ctx context.Context, b []TraceEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range b {
		if !s.started[ev.TraceID] {
			s.violations++
			s.example = ev.TraceID
		}
	}
	return nil
}

// newOrderClient returns a client with a slow first sink and, second, an
// orderSink.
func newOrderClient(t *testing.T) (*TracingClient, *orderSink) {
	slow := &slowObserver{}
	order := &orderSink{started: map[TraceID]bool{}}
	c := newTestClient(t, slow, nil, WithSink(order))
	slow.slow.Store(true)
	return c, order
}

// check flushes c and fails the test if s was written events of a trace
// before it heard of what.
func (s *orderSink) check(t *testing.T, ctx context.Context, c *TracingClient, what string) {
	t.Helper()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.violations > 0 {
		t.Errorf("sink 1 was written %d events of trace %v before it was told of %s", s.violations, s.example, what)
	}
}

// TraceObserver: the client calls ObserveTrace when a trace starts "before
// any of its events reach the sink". EndTrace on the implicit trace starts
// a new implicit trace.
func TestImplicitTraceAnnouncedBeforeItsEvents(t *testing.T) {
	ctx := ctxTimeout(t)
	c, order := newOrderClient(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			c.DataFlow(context.Background(), "a", "o", "b", "i", "T", 1)
			time.Sleep(50 * time.Microsecond)
		}
	}()
	for i := 0; i < 3; i++ {
		if err := c.EndTrace(ctx, ExecutionStatus{Kind: StatusCompleted}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	order.check(t, ctx, c, "the trace started")
}

// adopt/join: a trace from ContextWithTrace is announced to the sinks as
// joined "before the first event recorded into it is queued".
func TestJoinedTraceAnnouncedBeforeItsEvents(t *testing.T) {
	ctx := ctxTimeout(t)
	c, order := newOrderClient(t)
	for round := 0; round < 3; round++ {
		tctx := ContextWithTrace(ctx, TraceRef{ID: NewTraceID(), FlowID: "remote", ExecutionID: NewExecutionID()})
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					c.DataFlow(tctx, "a", "o", "b", "i", "T", 1)
					time.Sleep(50 * time.Microsecond)
				}
			}()
		}
		wg.Wait()
	}
	order.check(t, ctx, c, "the join")
}

// JoinTrace tells the sinks once of each of the last maxJoined traces.
func TestJoinTraceRemembersTheLast4096(t *testing.T) {
	ctx := ctxTimeout(t)
	s := newRecordSink()
	c := newTestClient(t, s, nil)
	refs := make([]TraceRef, maxJoined+1)
	for i := range refs {
		refs[i] = TraceRef{ID: NewTraceID(), FlowID: "f", ExecutionID: NewExecutionID()}
		c.JoinTrace(ctx, refs[i])
	}
	before := len(s.observed())
	c.JoinTrace(ctx, refs[maxJoined-1]) // the second newest
	c.JoinTrace(ctx, refs[maxJoined])   // the newest
	if after := len(s.observed()); after != before {
		t.Errorf("re-joining two of the last %d traces announced %d more starts", maxJoined, after-before)
	}
}
