package tracing

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// observePanicSink is a record sink whose ObserveTrace panics.
type observePanicSink struct{ *recordSink }

func (observePanicSink) ObserveTrace(FlowTrace) { panic("observe bug") }

// TestClient_ObserveTracePanic checks that a sink whose ObserveTrace
// panics, at a trace's start (on the goroutine of New and StartTrace) and
// at its end (on the client's), costs only that sink the trace's header:
// StartTrace and EndTrace return, can be called again (no lock is left
// held), every event reaches every sink, the other sink hears of every
// start and end, and the error handler is told of each lost header with
// the sink's name and the panic.
func TestClient_ObserveTracePanic(t *testing.T) {
	for _, others := range []int{0, 1} {
		t.Run(fmt.Sprintf("others=%d", others), func(t *testing.T) {
			ctx := ctxTimeout(t)
			bad := observePanicSink{newRecordSink()}
			bad.name = "bad"
			var mu sync.Mutex
			var reported []string
			opts := []Option{WithSink(bad), WithErrorHandler(func(err error) {
				mu.Lock()
				reported = append(reported, err.Error())
				mu.Unlock()
			})}
			var good *recordSink
			if others > 0 {
				good = newRecordSink()
				opts = append(opts, WithSink(good))
			}
			c, err := New(testConfig(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				done := make(chan struct{})
				go func() {
					defer close(done)
					tctx, _, err := c.StartTrace(ctx, "flow", FlowVersion{})
					if err != nil {
						t.Error(err)
						return
					}
					c.ActorStarted(tctx, "a")
					if err := c.EndTrace(tctx, ExecutionStatus{Kind: StatusCompleted}); err != nil {
						t.Error(err)
					}
				}()
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					t.Fatal("StartTrace or EndTrace did not return")
				}
			}
			if err := c.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if n := len(bad.snapshot()); n != 2 {
				t.Errorf("the panicking sink got %d events, want 2", n)
			}
			// The implicit trace's start (unused, it is not ended at
			// Close) and each explicit trace's start and end.
			const headers = 5
			if good != nil {
				if n := len(good.snapshot()); n != 2 {
					t.Errorf("the other sink got %d events, want 2", n)
				}
				if n := len(good.observed()); n != headers {
					t.Errorf("the other sink heard of %d starts and ends, want %d", n, headers)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(reported) != headers {
				t.Fatalf("error handler called %d times (%q), want %d", len(reported), reported, headers)
			}
			for _, r := range reported {
				if !strings.Contains(r, "sink 0 (bad)") || !strings.Contains(r, "sink ObserveTrace panicked: observe bug") {
					t.Errorf("error handler got %q, want the sink's name and the panic", r)
				}
			}
		})
	}
}
