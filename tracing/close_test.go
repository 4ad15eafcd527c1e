package tracing

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

// TestClient_CloseWaitsForDrain checks that a Close called while another
// Close is still draining does not return nil before the drain is over:
// with an ended ctx it returns ctx's error, else it waits, and once it has
// returned nil every recorded event has been delivered.
func TestClient_CloseWaitsForDrain(t *testing.T) {
	sink := newRecordSink()
	sink.gate = make(chan struct{})
	sink.entered = make(chan struct{}, 1)
	c := newTestClient(t, sink, nil)
	c.ActorCreated(t.Context(), "a")
	<-sink.entered // the consumer holds the event in a blocked Write

	first := make(chan error, 1)
	go func() { first <- c.Close(ctxTimeout(t)) }()
	for c.Enabled() { // until the first Close has stopped intake
		runtime.Gosched()
	}

	ended, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Close(ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close during the drain with an ended ctx = %v, want context.Canceled", err)
	}

	type result struct {
		err error
		m   TracingMetrics
	}
	later := make(chan result, 1)
	go func() {
		err := c.Close(ctxTimeout(t))
		later <- result{err, c.Metrics()}
	}()
	close(sink.gate)
	r := <-later
	if r.err != nil {
		t.Fatalf("later Close = %v, want nil", r.err)
	}
	if r.m.Recorded == 0 || r.m.Delivered != r.m.Recorded {
		t.Errorf("later Close returned nil with recorded %d, delivered %d", r.m.Recorded, r.m.Delivered)
	}
	if err := <-first; err != nil {
		t.Fatalf("first Close = %v", err)
	}
	if sink.closes != 1 {
		t.Errorf("sink closed %d times, want 1", sink.closes)
	}
}

// TestClient_NilContextNeverEnds checks that Flush and Close take a nil
// ctx as one that never ends, as the recording methods do.
func TestClient_NilContextNeverEnds(t *testing.T) {
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	var nilCtx context.Context
	id := c.ActorCreated(nilCtx, "a")
	if err := c.Flush(nilCtx); err != nil {
		t.Fatalf("Flush(nil): %v", err)
	}
	if err := c.Close(nilCtx); err != nil {
		t.Fatalf("Close(nil): %v", err)
	}
	if err := c.Close(nilCtx); err != nil {
		t.Fatalf("second Close(nil): %v", err)
	}
	if got := sink.snapshot(); len(got) != 1 || got[0].EventID != id {
		t.Fatalf("delivered %d events, want the one recorded", len(got))
	}
}
