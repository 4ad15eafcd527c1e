package websocket

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// TestWebSocketSpoolRaceStoreBuiltWhileSpooling: when reconnecting gives
// up, the segment's store waiting to be sent goes to the spool; events
// written while it is on its way to disk must be in that record or in a
// later frame, never counted as spooled while on disk nowhere. After the
// spool is replayed, every event the server does not keep is counted
// dropped.
//
// The interleaving is made deterministic with the sink's clock, which the
// spool calls inside Append (after the record's parts were taken): the
// first call from spool.(*Spool).Append blocks until the test has written
// the second batch (or 300 ms passed, for a Write that waits for the
// spool write to end).
func TestWebSocketSpoolRaceStoreBuiltWhileSpooling(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	dir := t.TempDir()
	srv.Stop()

	inAppend := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	clock := func() time.Time {
		pcs := make([]uintptr, 32)
		n := runtime.Callers(2, pcs)
		frs := runtime.CallersFrames(pcs[:n])
		for {
			fr, more := frs.Next()
			if strings.HasSuffix(fr.Function, "spool.(*Spool).Append") {
				once.Do(func() {
					close(inAppend)
					<-release
				})
				break
			}
			if !more {
				break
			}
		}
		return time.Now()
	}
	pol := retry.Policy{MaxRetries: 1, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}
	s, err := New(srv.URL(),
		WithSpoolDir(dir),
		WithRetry(pol),
		WithKeepalive(0, time.Second),
		withClock(clock),
	)
	if err != nil {
		t.Fatal(err)
	}
	tid := tracing.NewTraceID()
	mk := func(n int) []tracing.TraceEvent {
		evs := makeEvents(n, tid)
		for i := range evs {
			evs[i].EventID = tracing.NewEventID()
		}
		return evs
	}
	const n1, n2 = 20, 40 // n2 ≥ n1: the second batch makes a store due
	b1, b2 := mk(n1), mk(n2)
	// P: the segment's first store, queued while disconnected.
	if err := s.Write(ctx, b1); err != nil {
		t.Fatal(err)
	}
	// A round of reconnection attempts gives up: giveUp spools P and
	// stops inside the spool's Append.
	select {
	case <-inAppend:
	case <-ctx.Done():
		t.Fatal("the sink never spooled")
	}
	// Meanwhile Write builds F2 (all n1+n2 events) and queues it: P is
	// still the segment's pending store.
	// (With the fix, Write waits for the spooling to finish: release it
	// after a while.)
	wrote := make(chan error, 1)
	go func() { wrote <- s.Write(ctx, b2) }()
	select {
	case err := <-wrote:
		close(release)
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(300 * time.Millisecond):
		close(release)
		if err := <-wrote; err != nil {
			t.Fatal(err)
		}
	}

	cctx, cc := context.WithTimeout(ctx, 2*time.Second)
	closeErr := s.Close(cctx)
	cc()
	st1 := s.Stats()
	t.Logf("close: %v; stats %+v", closeErr, st1)

	// The server comes back; the next sink replays the spool.
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	s2, err := New(srv.URL(), WithSpoolDir(dir), WithRetry(pol), WithKeepalive(0, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	rctx, rc := context.WithTimeout(ctx, 5*time.Second)
	err = s2.Close(rctx)
	rc()
	st2 := s2.Stats()
	t.Logf("replay close: %v; stats %+v", err, st2)

	kept := srv.Kept()
	missing := 0
	for _, ev := range append(b1, b2...) {
		if kept[ev.EventID] == 0 {
			missing++
		}
	}
	var dropped uint64
	for _, n := range st1.Dropped {
		dropped += n
	}
	for _, n := range st2.Dropped {
		dropped += n
	}
	if g := srv.GetTrace(tid); g != nil {
		t.Logf("server keeps trace with %d events, status %v", len(g.Events), g.Status.Kind)
	}
	t.Logf("recorded %d, missing %d, dropped %d", n1+n2, missing, dropped)
	if uint64(missing) > dropped {
		t.Errorf("%d of %d events are on the server nowhere, but only %d counted dropped", missing, n1+n2, dropped)
	}
}
