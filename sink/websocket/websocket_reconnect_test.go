package websocket

import (
	"context"
	"errors"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// dropServer accepts every WebSocket connection and drops it at once,
// without a close frame, like a server that accepts and then fails. It
// records when each connection was accepted.
type dropServer struct {
	url      string
	mu       sync.Mutex
	accepted []time.Time
	changed  chan struct{} // receives after every accept, without blocking
}

func startDropServer(t *testing.T) *dropServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dropServer{url: "ws://" + ln.Addr().String(), changed: make(chan struct{}, 1)}
	srv := &http.Server{
		ReadHeaderTimeout: testTimeout,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			at := time.Now()
			c, err := cws.Accept(w, r, nil)
			if err != nil {
				return
			}
			d.mu.Lock()
			d.accepted = append(d.accepted, at)
			d.mu.Unlock()
			select {
			case d.changed <- struct{}{}:
			default:
			}
			_ = c.CloseNow()
		}),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return d
}

// waitAccepted waits until the server accepted n connections and returns
// when each was accepted.
func (d *dropServer) waitAccepted(ctx context.Context, t *testing.T, n int) []time.Time {
	t.Helper()
	for {
		d.mu.Lock()
		got := append([]time.Time(nil), d.accepted...)
		d.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-d.changed:
		case <-ctx.Done():
			t.Fatalf("%d connections accepted before the deadline, want %d", len(got), n)
		}
	}
}

// TestRedialsDroppedConnectionsWithBackoff checks that a server which
// accepts connections and drops them at once is redialed with the retry
// policy's backoff, growing from one dropped connection to the next (only
// an acknowledgement resets it), not in a storm. With jitter off, the
// waits before the 2nd, 3rd, … connection are at least InitialDelay,
// 2·InitialDelay, … up to MaxDelay; timers never fire early, so however
// slow the machine, k connections take at least the sum of the first k-1
// waits. The test only bounds the count from above: a storm (thousands of
// connections per second) or a backoff that restarts on every connection
// breaks the bound, a slow machine never does.
func TestRedialsDroppedConnectionsWithBackoff(t *testing.T) {
	const (
		initial = 5 * time.Millisecond
		maxWait = 40 * time.Millisecond
		conns   = 7
	)
	d := startDropServer(t)
	policy := retry.Policy{
		MaxRetries: retry.Unlimited, InitialDelay: initial, MaxDelay: maxWait,
		BackoffMultiplier: 2, Jitter: retry.NoJitter, MaxElapsedTime: time.Hour,
	}
	s, err := New(d.url, WithRetry(policy), WithKeepalive(0, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = s.Close(ctx) // the events written cannot be delivered
	}()
	ctx := testCtx(t)
	if err := s.Write(ctx, makeEvents(10, tracing.NewTraceID())); err != nil {
		t.Fatal(err)
	}
	at := d.waitAccepted(ctx, t, conns)
	// allowed returns the most connections the backoff lets happen within
	// elapsed after the first one.
	allowed := func(elapsed time.Duration) int {
		n, sum, wait := 1, time.Duration(0), initial
		for {
			if sum += wait; sum > elapsed {
				return n
			}
			n++
			wait = min(2*wait, maxWait)
		}
	}
	t.Logf("accepted at %v", offsets(at))
	for k := 2; k <= len(at); k++ {
		elapsed := at[k-1].Sub(at[0])
		if limit := allowed(elapsed); k > limit {
			t.Fatalf("%d connections within %v of the first: the backoff allows at most %d (accepted at %v)", k, elapsed, limit, offsets(at))
		}
	}
}

func offsets(at []time.Time) []time.Duration {
	out := make([]time.Duration, len(at))
	for i := range at {
		out[i] = at[i].Sub(at[0]).Round(100 * time.Microsecond)
	}
	return out
}

// TestMismatchedCompressionFallsBackToText checks a server configured with
// another algorithm than the sink's: it drops the connection on the
// sink's first compressed frame (the compressed Ping); the sink reports
// that once, through the error handler, naming its algorithm, redials
// (once, not in a storm) and sends text frames from then on, also on
// later connections, and the server keeps every event.
func TestMismatchedCompressionFallsBackToText(t *testing.T) {
	srv := startServer(t, tracetest.WithCompression(transport.CompressionLZ4), tracetest.WithFastScan(true))
	el := &errorLog{}
	policy := retry.Policy{MaxRetries: retry.Unlimited, InitialDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond, MaxElapsedTime: time.Hour}
	s, err := New(srv.URL(), WithCompression(transport.CompressionZstd),
		WithRetry(policy), WithKeepalive(0, time.Second), WithErrorHandler(el.handle))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	ctx := testCtx(t)
	trace := tracing.NewTraceID()
	var want []tracing.EventID
	send := func(n int) {
		t.Helper()
		evs := makeEvents(n, trace)
		want = append(want, ids(evs)...)
		if err := s.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// refusals returns the errors reported so far that the compressed
	// Ping was refused: the report naming the algorithm, and the lost
	// connection it caused.
	refusals := func() (reports, all []error) {
		for _, err := range el.all() {
			if errors.Is(err, errCompressionRefused) {
				all = append(all, err)
				if strings.Contains(err.Error(), `compression algorithm "zstd"`) {
					reports = append(reports, err)
				}
			}
		}
		return reports, all
	}
	send(600) // frames well over the compression threshold
	reports, first := refusals()
	if len(reports) != 1 {
		t.Fatalf("the mismatch was reported %d times, want once naming the algorithm: %v", len(reports), el.all())
	}
	// A later connection neither probes nor reports again.
	srv.KillConnections()
	send(600)
	if _, all := refusals(); len(all) != len(first) {
		t.Fatalf("%d reports of the refused algorithm after a reconnect, %d before: %v", len(all), len(first), el.all())
	}
	st := s.Stats()
	if st.WireBytes != st.RawBytes {
		t.Fatalf("%d bytes on the wire for %d bytes of JSON: frames were compressed", st.WireBytes, st.RawBytes)
	}
	// The probe's connection, the first text one and the one after the
	// kill: a dropped probe is not redialed in a loop.
	if n := srv.Stats().Connects; n > 3 {
		t.Fatalf("%d connections, want at most 3", n)
	}
	if lost := missing(want, srv.Kept()); len(lost) > 0 {
		t.Fatalf("the server lost %d of %d events, e.g. %v", len(lost), len(want), lost[0])
	}
}

// TestWebSocketIdleReconnectsBackOffWithDefaultMaxDelay: a server that accepts
// connections and delivers nothing (here it fails every probe) is redialed
// with the retry policy's backoff across rounds. A policy leaving MaxDelay
// zero means DefaultMaxDelay, so once the idle backoff stops the sink
// waits 30 s, not redial at once in a loop.
func TestWebSocketIdleReconnectsBackOffWithDefaultMaxDelay(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t)
	srv.ErrorNext("GetTrace", 1<<30, wire.ErrorCode("InternalError"), "busy")
	s, err := New(srv.URL(), WithRetry(retry.Policy{MaxRetries: 1, InitialDelay: 10 * time.Millisecond, Jitter: retry.NoJitter}),
		WithKeepalive(0, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = s.Close(cctx)
	}()
	// 10 ms, then the backoff stops and MaxDelay (30 s) applies.
	time.Sleep(2 * time.Second)
	if n := srv.Stats().Connects; n > 10 {
		t.Fatalf("%d connections in 2s to a server that fails every probe: the sink redials without backing off (policy MaxDelay 0 = %v)", n, retry.DefaultMaxDelay)
	}
}
