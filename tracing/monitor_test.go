package tracing

import (
	"encoding/json"
	"expvar"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHealthy(t *testing.T) {
	ctx := ctxTimeout(t)
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
	sink := newRecordSink()
	var failing sync.Mutex
	fail := true
	sink.writeErr = func([]TraceEvent) error {
		failing.Lock()
		defer failing.Unlock()
		if fail {
			return errSink
		}
		return nil
	}
	c := newTestClient(t, sink, func(c *TracingConfig) { c.HealthThreshold = time.Minute }, withClock(clock))
	if !c.Healthy() {
		t.Fatal("unhealthy before any write")
	}
	record := func() {
		t.Helper()
		c.ActorCreated(ctx, "a")
		if err := c.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	record()
	if !c.Healthy() {
		t.Fatal("unhealthy right after the first failure")
	}
	advance(30 * time.Second)
	record()
	if !c.Healthy() {
		t.Fatal("unhealthy within the threshold")
	}
	advance(31 * time.Second)
	if c.Healthy() {
		t.Fatal("healthy after failing for longer than the threshold")
	}
	failing.Lock()
	fail = false
	failing.Unlock()
	record()
	if !c.Healthy() {
		t.Fatal("unhealthy after a successful write")
	}
}

// TestHealthy_StalledSink checks that a sink whose Write hangs, rather
// than fails, makes the client unhealthy once the write has run for longer
// than HealthThreshold, and healthy again when it returns.
func TestHealthy_StalledSink(t *testing.T) {
	ctx := ctxTimeout(t)
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	sink := newRecordSink()
	sink.gate = make(chan struct{})
	sink.entered = make(chan struct{}, 1)
	c := newTestClient(t, sink, func(c *TracingConfig) { c.HealthThreshold = time.Minute }, withClock(clock))
	c.ActorCreated(ctx, "a")
	done := make(chan error, 1)
	go func() { done <- c.Flush(ctx) }()
	select {
	case <-sink.entered:
	case <-ctx.Done():
		t.Fatal("the write did not start")
	}
	if !c.Healthy() {
		t.Fatal("unhealthy as soon as a write started")
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if c.Healthy() {
		t.Fatal("healthy while one write has hung for longer than the threshold")
	}
	close(sink.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !c.Healthy() {
		t.Fatal("unhealthy after the hung write returned")
	}

	// A write that hangs until the export timeout and then fails has been
	// failing since it began.
	sink.gate = make(chan struct{}) // Write now waits for its ctx
	timedOut := newTestClient(t, sink, func(c *TracingConfig) { c.HealthThreshold = time.Minute },
		withClock(clock), WithExportTimeout(200*time.Millisecond))
	timedOut.ActorCreated(ctx, "a")
	go func() { done <- timedOut.Flush(ctx) }()
	<-sink.entered
	mu.Lock()
	now = now.Add(2 * time.Minute) // the write ran for 2 minutes, then timed out
	mu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if timedOut.Metrics().Dropped.WriteError == 0 {
		t.Fatal("the hung write did not fail")
	}
	if timedOut.Healthy() {
		t.Fatal("healthy after a write that hung for longer than the threshold failed")
	}
}

var expvarSeq atomic.Int64

func TestPublishExpvar(t *testing.T) {
	ctx := ctxTimeout(t)
	c := newTestClient(t, &discardSink{}, nil)
	c.ActorCreated(ctx, "a")
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("reflowtrace_test_%d", expvarSeq.Add(1)) // expvar cannot unpublish
	if err := c.PublishExpvar(name); err != nil {
		t.Fatalf("PublishExpvar: %v", err)
	}
	if err := c.PublishExpvar(name); err == nil {
		t.Fatal("publishing a taken name succeeded")
	}
	if err := NewNop().PublishExpvar(""); err == nil {
		t.Fatal("publishing an empty name succeeded")
	}
	var m TracingMetrics
	if err := json.Unmarshal([]byte(expvar.Get(name).String()), &m); err != nil {
		t.Fatal(err)
	}
	if m.Recorded != 1 || m.Delivered != 1 {
		t.Fatalf("published metrics = %+v", m)
	}
}

func TestSystemMetrics(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	sink.notify = make(chan int, 1)
	c := newTestClient(t, sink, func(c *TracingConfig) { c.SystemMetricsInterval = time.Millisecond })
	for {
		select {
		case <-sink.notify:
		case <-ctx.Done():
			t.Fatal("no system metric event")
		}
		for _, ev := range sink.snapshot() {
			if v, _ := ev.Data.CustomAttributes.Get("event_subtype"); v.Str() != "system_metric" {
				continue
			}
			if ev.Type.Kind != KindNetworkEvent || ev.ActorID != systemActorID {
				t.Fatalf("system metric event = %+v", ev)
			}
			for _, key := range []string{"events_per_sec", "dropped", "queue_depth"} {
				if _, ok := ev.Data.CustomAttributes.Get(key); !ok {
					t.Fatalf("system metric without %q", key)
				}
			}
			if err := c.Close(ctx); err != nil { // stops the monitor goroutine
				t.Fatal(err)
			}
			return
		}
	}
}

func TestMetrics_SinkStats(t *testing.T) {
	sink := newRecordSink()
	// The sink's own fields are kept; the client's are the client's, even
	// when the sink sets them.
	sink.stats = SinkStats{ConnectionCount: 1, Spooled: 3, Name: "bogus", Events: 99, QueueFull: 7}
	c := newTestClient(t, sink, nil)
	m := c.Metrics()
	if m.ConnectionCount != 1 || len(m.Sinks) != 1 {
		t.Fatalf("Metrics = %+v", m)
	}
	if st := m.Sinks[0]; st.ConnectionCount != 1 || st.Spooled != 3 || st.Name != "record" || st.Events != 0 || st.QueueFull != 0 {
		t.Fatalf("Sinks[0] = %+v, want the sink's connection and spool counts and the client's name and counters", st)
	}
	if m.QueueCapacity < 256 {
		t.Fatalf("QueueCapacity = %d", m.QueueCapacity)
	}
}

// Healthy is false while one sink fails every write, though another
// writes: the events of the failing one are lost.
func TestHealthyFalseWhileOneOfTwoSinksFails(t *testing.T) {
	ctx := ctxTimeout(t)
	bad := newRecordSink()
	bad.writeErr = func([]TraceEvent) error { return errSink }
	good := newRecordSink()
	cfg := testConfig()
	cfg.HealthThreshold = 5 * time.Millisecond
	c, err := New(cfg, WithSink(good), WithSink(bad))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close(ctx) }()
	for i := 0; i < 20; i++ {
		c.DataFlow(ctx, "a", "o", "b", "i", "T", 1)
		_ = c.Flush(ctx)
		time.Sleep(2 * time.Millisecond)
	}
	if c.Healthy() {
		m := c.Metrics()
		t.Errorf("Healthy() = true while sink 1 failed %d writes for longer than HealthThreshold (sink 0 wrote %d events)", m.Sinks[1].WriteErrors, m.Sinks[0].Events)
	}
}
