package tracing

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// closePanicSink's Close panics.
type closePanicSink struct{ discardSink }

func (*closePanicSink) Close(context.Context) error { panic("boom in Close") }

// Sink: "A Write, Flush or Close that panics fails with an error that
// names the method and holds the panic's value." A disabled client's Close
// still closes its sinks.
func TestClosePanickingSink(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		cfg := testConfig()
		cfg.Enabled = enabled
		c, err := New(cfg, WithSink(&closePanicSink{}))
		if err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("enabled=%v: Close panicked: %v", enabled, r)
				}
			}()
			err := c.Close(ctxTimeout(t))
			if err == nil || !strings.Contains(err.Error(), "boom in Close") {
				t.Errorf("enabled=%v: Close = %v, want an error holding the panic", enabled, err)
			}
		}()
	}
}

// Close "waits past its context only a short grace (250 ms) for sinks to
// release, then gives up on a sink that ignores its context"; a disabled
// client's Close "still closes" its sinks, and must honour ctx too.
func TestDisabledCloseHonoursCtx(t *testing.T) {
	s := newDeafSink("close")
	cfg := testConfig()
	cfg.Enabled = false
	c, err := New(cfg, WithSink(s))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() { once.Do(func() { close(s.release) }) }
	defer release() // lets the goroutine left in the sink finish
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	go func() { done <- c.Close(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close = %v, want DeadlineExceeded", err)
		}
	case <-time.After(2 * time.Second):
		t.Errorf("disabled client's Close still blocked in a sink's Close 2s after its 100ms ctx ended")
		release()
		<-done
	}
}
