package tracing

import (
	"sync/atomic"
	"testing"
	"time"
)

// slowStartSink is a record sink whose ObserveTrace of a trace start
// blocks until release is closed, once block is set.
type slowStartSink struct {
	*recordSink
	block   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (s *slowStartSink) ObserveTrace(t FlowTrace) {
	if t.EndTime.IsZero() && s.block.CompareAndSwap(true, false) {
		close(s.entered)
		<-s.release
	}
	s.recordSink.ObserveTrace(t)
}

// TestClient_SlowObserveTraceStallsOnlyItsStart checks that a StartTrace
// whose sink takes long to hear of the start holds back no other
// goroutine's StartTrace or EndTrace: only the slow call waits.
func TestClient_SlowObserveTraceStallsOnlyItsStart(t *testing.T) {
	ctx := ctxTimeout(t)
	s := &slowStartSink{recordSink: newRecordSink(), entered: make(chan struct{}), release: make(chan struct{})}
	c := newTestClient(t, s, nil)
	s.block.Store(true)
	slow := make(chan error, 1)
	go func() {
		_, _, err := c.StartTrace(ctx, "slow", FlowVersion{})
		slow <- err
	}()
	<-s.entered
	done := make(chan error, 1)
	go func() {
		tctx, _, err := c.StartTrace(ctx, "fast", FlowVersion{})
		if err == nil {
			err = c.EndTrace(tctx, ExecutionStatus{Kind: StatusCompleted})
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		close(s.release)
		t.Fatal("a StartTrace waited for another one's slow sink")
	}
	close(s.release)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
}
