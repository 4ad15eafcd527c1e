package tracing

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
)

// stuckSink returns a record sink whose every Write waits for its ctx (the
// gate is never opened), signalling entered as each one starts.
func stuckSink(name string) *recordSink {
	s := newRecordSink()
	s.name = name
	s.gate = make(chan struct{})
	s.entered = make(chan struct{}, 1)
	return s
}

// TestClient_DeadSinkDoesNotStallOthers checks that a sink whose Write
// hangs (until the export timeout, an hour here) and a sink whose Write
// fails keep no event from the healthy sink, even when the hanging sink
// comes first; that Flush flushes the healthy sink and names the hanging
// one; and that Close gives up on it at its deadline, stopping every
// goroutine (TestMain checks) and closing every sink.
func TestClient_DeadSinkDoesNotStallOthers(t *testing.T) {
	ctx := ctxTimeout(t)
	stuck := stuckSink("stuck")
	failing := newRecordSink()
	failing.name = "failing"
	failing.writeErr = func([]TraceEvent) error { return errSink }
	healthy := newRecordSink()
	healthy.name = "healthy"
	healthy.notify = make(chan int, 1)
	c, err := New(testConfig(), WithSink(stuck), WithSink(failing), WithSink(healthy),
		WithExportTimeout(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	flushedLanes := make(chan int, 10)
	c.testHookLaneFlushed = func(i int) { flushedLanes <- i }

	const total = 100
	for range total {
		c.DataFlow(ctx, "a", "out", "b", "in", "T", 1)
	}
	<-stuck.entered
	healthy.waitEvents(t, ctx, total) // fails at the test's deadline if the stuck sink holds it back

	// Flush returns at ctx's end, here once the other sinks have flushed,
	// naming the stuck sink only: the failing sink's Flush succeeds, its
	// failed writes are drops, not Flush errors.
	fctx, cancel := context.WithCancel(ctx)
	flushed := make(chan error, 1)
	go func() { flushed <- c.Flush(fctx) }()
	for range 2 { // the failing and the healthy sink
		select {
		case i := <-flushedLanes:
			if i == 0 {
				t.Fatal("the stuck sink was flushed")
			}
		case <-ctx.Done():
			t.Fatal("the other sinks were not flushed")
		}
	}
	cancel()
	err = <-flushed
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "flush sink 0 (stuck)") {
		t.Fatalf("Flush = %v, want ctx's error naming sink 0 (stuck)", err)
	}
	if strings.Contains(err.Error(), "healthy") || strings.Contains(err.Error(), "failing") {
		t.Fatalf("Flush = %v, blames another sink", err)
	}

	m := c.Metrics()
	st := m.Sinks
	if len(st) != 3 || st[2].Name != "healthy" || st[2].Events != total || st[2].WriteErrors != 0 {
		t.Fatalf("healthy sink stats %+v", st)
	}
	if st[1].Events != 0 || st[1].WriteErrors == 0 || st[1].Batches != 0 {
		t.Fatalf("failing sink stats %+v", st[1])
	}
	if st[0].Events != 0 || st[0].QueueFull != 0 {
		t.Fatalf("stuck sink stats %+v", st[0])
	}
	if !c.Healthy() {
		t.Fatal("unhealthy before HealthThreshold")
	}

	cctx, ccancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer ccancel()
	err = c.Close(cctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want DeadlineExceeded", err)
	}
	var u *UndeliveredError
	if !errors.As(err, &u) || u.Total() != total {
		t.Fatalf("Close = %v, want %d undelivered (every sink must deliver an event)", err, total)
	}
	for _, s := range []*recordSink{stuck, failing, healthy} {
		if s.closes != 1 {
			t.Errorf("sink %s closed %d times", s, s.closes)
		}
	}
	m = c.Metrics()
	if m.Recorded != total || m.Delivered != 0 || m.Delivered+m.Dropped.Total() != total {
		t.Fatalf("after Close: recorded %d delivered %d dropped %+v", m.Recorded, m.Delivered, m.Dropped)
	}
}

// TestClient_SlowSinkMissesBatches checks that a sink that falls more than
// QueueSize events behind misses the batches beyond that, alone and
// counted, while the other sink gets every event, and that it writes
// everything it was queued once it resumes.
func TestClient_SlowSinkMissesBatches(t *testing.T) {
	ctx := ctxTimeout(t)
	slow := newRecordSink()
	slow.name = "slow"
	slow.gate = make(chan struct{})
	slow.entered = make(chan struct{}, 1)
	healthy := newRecordSink()
	healthy.notify = make(chan int, 1)
	cfg := testConfig()
	cfg.BatchSize, cfg.QueueSize = 1, 16
	c, err := New(cfg, WithSink(slow), WithSink(healthy))
	if err != nil {
		t.Fatal(err)
	}
	// The slow sink takes the first event and blocks; its lane then fills
	// with QueueSize events, and the 3 after them are missed.
	c.DataFlow(ctx, "a", "out", "b", "in", "T", 1)
	<-slow.entered
	const missed = 3
	total := 1 + cfg.QueueSize + missed
	for i := 2; i <= total; i++ {
		c.DataFlow(ctx, "a", "out", "b", "in", "T", 1)
		healthy.waitEvents(t, ctx, i) // one batch at a time
	}
	// The consumer counts a lane's miss before it hands the batch to the
	// next sink.
	m := c.Metrics()
	if m.Sinks[0].QueueFull != missed || m.Sinks[1].QueueFull != 0 {
		t.Fatalf("queue-full drops of the sinks: %d, %d; want %d, 0", m.Sinks[0].QueueFull, m.Sinks[1].QueueFull, missed)
	}
	if m.MemoryUsage == 0 {
		t.Fatal("MemoryUsage does not count the events held for the slow sink")
	}
	close(slow.gate)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if m := c.Metrics(); m.Dropped.SinkQueueFull != missed || m.Delivered != uint64(total-missed) {
		t.Fatalf("client: %d missed by a sink, %d delivered; want %d, %d", m.Dropped.SinkQueueFull, m.Delivered, missed, total-missed)
	}
	err = c.Close(ctx)
	var u *UndeliveredError
	if !errors.As(err, &u) || u.SinkQueueFull != missed || u.Total() != missed ||
		!strings.Contains(err.Error(), "missed by a sink too far behind 3") {
		t.Fatalf("Close = %v, want %d missed by a sink", err, missed)
	}
	if got := len(slow.snapshot()); got != total-missed {
		t.Fatalf("slow sink wrote %d events, want %d", got, total-missed)
	}
	if got := len(healthy.snapshot()); got != total {
		t.Fatalf("healthy sink wrote %d events, want %d", got, total)
	}
	m = c.Metrics()
	if m.Delivered != uint64(total-missed) || m.Recorded != m.Delivered+m.Dropped.Total() || m.MemoryUsage != 0 {
		t.Fatalf("after Close: recorded %d delivered %d dropped %+v memory %d", m.Recorded, m.Delivered, m.Dropped, m.MemoryUsage)
	}
}

// TestClient_SlowSinkUnderBlockPolicy checks that under the Block policy
// a sink that falls QueueSize events behind misses nothing: the consumer
// waits for it, and the other sink gets the rest once it catches up.
func TestClient_SlowSinkUnderBlockPolicy(t *testing.T) {
	ctx := ctxTimeout(t)
	slow := newRecordSink()
	slow.gate = make(chan struct{})
	slow.entered = make(chan struct{}, 1)
	healthy := newRecordSink()
	healthy.notify = make(chan int, 1)
	cfg := testConfig()
	cfg.BatchSize, cfg.QueueSize, cfg.QueuePolicy = 1, 16, batch.Block
	c, err := New(cfg, WithSink(slow), WithSink(healthy))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	c.DataFlow(ctx, "a", "out", "b", "in", "T", 1)
	<-slow.entered
	fill := 1 + cfg.QueueSize // the slow sink's Write and its full lane
	for i := 2; i <= fill; i++ {
		c.DataFlow(ctx, "a", "out", "b", "in", "T", 1)
		healthy.waitEvents(t, ctx, i)
	}
	const more = 3 // the consumer waits with the first, the others wait in the queue
	for range more {
		if err := c.RecordWait(ctx, dataFlow("a", "out", "b", "in", "T", 1)); err != nil {
			t.Fatal(err)
		}
	}
	close(slow.gate)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	m := c.Metrics()
	if len(slow.snapshot()) != fill+more || len(healthy.snapshot()) != fill+more {
		t.Fatalf("sinks hold %d and %d events, want %d each", len(slow.snapshot()), len(healthy.snapshot()), fill+more)
	}
	if m.Sinks[0].QueueFull != 0 || m.Dropped.Total() != 0 || m.Delivered != uint64(fill+more) {
		t.Fatalf("missed %d, dropped %+v, delivered %d", m.Sinks[0].QueueFull, m.Dropped, m.Delivered)
	}
}

// TestClient_TraceEndAfterItsEventsInEverySink checks that with several
// sinks each one observes a trace's end after writing the trace's events,
// also a sink that is behind when the trace ends.
func TestClient_TraceEndAfterItsEventsInEverySink(t *testing.T) {
	ctx := ctxTimeout(t)
	slow := newRecordSink()
	slow.gate = make(chan struct{})
	slow.entered = make(chan struct{}, 1)
	fast := newRecordSink()
	c, err := New(testConfig(), WithSink(slow), WithSink(fast))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	tctx, _, err := c.StartTrace(ctx, "flow", FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	const events = 40
	for range events {
		c.DataFlow(tctx, "a", "out", "b", "in", "T", 1)
	}
	<-slow.entered
	if err := c.EndTrace(tctx, ExecutionStatus{Kind: StatusCompleted}); err != nil {
		t.Fatal(err)
	}
	close(slow.gate)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*recordSink{slow, fast} {
		s.mu.Lock()
		var ended []int
		for i, tr := range s.traces {
			if !tr.EndTime.IsZero() && tr.Status.Kind == StatusCompleted && tr.FlowID == "flow" {
				ended = append(ended, s.atObserve[i])
			}
		}
		s.mu.Unlock()
		if len(ended) != 1 || ended[0] < events {
			t.Errorf("sink observed the trace's end %d times, holding %v events, want once holding %d", len(ended), ended, events)
		}
	}
}

// TestClient_SeveralSinksLifecycle runs the lifecycle checklist on a
// client with several sinks.
func TestClient_SeveralSinksLifecycle(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name    string
		run     func(c *TracingClient, a, b *recordSink) error
		wantErr error
		wantIn  string
	}{
		{name: "flush delivers to every sink and flushes it", run: func(c *TracingClient, a, b *recordSink) error {
			for range 50 {
				c.DataFlow(t.Context(), "a", "out", "b", "in", "T", 1)
			}
			if err := c.Flush(ctxTimeout(t)); err != nil {
				return err
			}
			for _, s := range []*recordSink{a, b} {
				if len(s.snapshot()) != 50 || s.flushes != 1 {
					return errors.New("a sink lacks events or a flush")
				}
			}
			return nil
		}},
		{name: "close twice", run: func(c *TracingClient, a, b *recordSink) error {
			err := errors.Join(c.Close(ctxTimeout(t)), c.Close(ctxTimeout(t)))
			if a.closes != 1 || b.closes != 1 {
				return errors.New("sinks not closed once each")
			}
			return err
		}},
		{name: "flush propagates sink errors", run: func(c *TracingClient, a, b *recordSink) error {
			b.flushErr = errSink
			return c.Flush(ctxTimeout(t))
		}, wantErr: errSink, wantIn: "flush sink 1 (b)"},
		{name: "close propagates sink errors", run: func(c *TracingClient, a, b *recordSink) error {
			a.closeErr = errSink
			return c.Close(ctxTimeout(t))
		}, wantErr: errSink, wantIn: "close: sink 0 (a)"},
		{name: "flush after close", run: func(c *TracingClient, a, b *recordSink) error {
			_ = c.Close(ctxTimeout(t))
			return c.Flush(ctxTimeout(t))
		}, wantErr: ErrClosed},
		{name: "flush with a cancelled ctx", run: func(c *TracingClient, a, b *recordSink) error {
			return c.Flush(cancelled)
		}, wantErr: context.Canceled},
		{name: "close with a cancelled ctx", run: func(c *TracingClient, a, b *recordSink) error {
			c.DataFlow(t.Context(), "a", "out", "b", "in", "T", 1)
			err := c.Close(cancelled)
			if a.closes != 1 || b.closes != 1 {
				return errors.New("sinks not closed")
			}
			return err
		}, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newRecordSink(), newRecordSink()
			a.name, b.name = "a", "b"
			c, err := New(testConfig(), WithSink(a), WithSink(b))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			err = tt.run(c, a, b)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantIn) {
				t.Fatalf("error %q lacks %q", err, tt.wantIn)
			}
		})
	}
}
