package tracing

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// An error handler that reads the client's Metrics (safe for concurrent
// use) must not deadlock the client. The handler gives up waiting for
// Metrics after a second, so that a deadlock is reported, not left behind.
func TestErrorHandlerMayReadMetrics(t *testing.T) {
	ctx := ctxTimeout(t)
	s := newRecordSink()
	s.writeErr = func([]TraceEvent) error { return errSink }
	var c *TracingClient
	ready := make(chan struct{})
	var stuck atomic.Bool
	var pending sync.WaitGroup
	handler := func(error) {
		<-ready
		done := make(chan struct{})
		pending.Add(1)
		go func() {
			defer pending.Done()
			defer close(done)
			_ = c.Metrics()
		}()
		select {
		case <-done:
		case <-time.After(time.Second):
			stuck.Store(true)
		}
	}
	var err error
	c, err = New(testConfig(), WithSink(s), WithErrorHandler(handler))
	if err != nil {
		t.Fatal(err)
	}
	close(ready)
	c.DataFlow(ctx, "a", "o", "b", "i", "T", 1)
	if err := c.Flush(ctx); err != nil {
		t.Errorf("Flush = %v", err)
	}
	if err := c.Close(ctx); err == nil {
		t.Errorf("Close = nil, want a write error")
	}
	pending.Wait()
	if stuck.Load() {
		t.Errorf("Metrics() called from the error handler blocked")
	}
}

// lateCloser's Close returns errSink once release is closed.
type lateCloser struct {
	release chan struct{}
	entered chan struct{}
}

func (s *lateCloser) Write(context.Context, []TraceEvent) error { return nil }

func (s *lateCloser) Flush(context.Context) error { return nil }

func (s *lateCloser) Close(context.Context) error {
	s.entered <- struct{}{}
	<-s.release
	return errSink
}

// WithErrorHandler's calls come one at a time, also those of sinks that
// fail after Close stopped waiting for them (two here, at once).
func TestErrorHandlerOneCallAtATime(t *testing.T) {
	ctx := ctxTimeout(t)
	release := make(chan struct{})
	a := &lateCloser{release: release, entered: make(chan struct{}, 1)}
	b := &lateCloser{release: release, entered: make(chan struct{}, 1)}
	var inFlight, maxInFlight, calls atomic.Int32
	late := make(chan struct{}, 2)
	handler := func(error) {
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
		inFlight.Add(-1)
		calls.Add(1)
	}
	c, err := New(testConfig(), WithSink(a), WithSink(b), WithErrorHandler(handler))
	if err != nil {
		t.Fatal(err)
	}
	c.testHookClosedLate = func(int) { late <- struct{}{} }
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_ = c.Close(cctx)
	close(release)
	for i := 0; i < 2; i++ {
		select {
		case <-late:
		case <-ctx.Done():
			t.Fatal("sinks never returned")
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("handler calls %d", calls.Load())
	}
	if maxInFlight.Load() > 1 {
		t.Errorf("error handler ran %d calls at once; WithErrorHandler promises one call at a time", maxInFlight.Load())
	}
}
