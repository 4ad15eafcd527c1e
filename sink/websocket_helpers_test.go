package sink

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/internal/testserver"
	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// testTimeout bounds every network test.
const testTimeout = 20 * time.Second

// instantTimer is a retry.Timer that fires at once: retries never sleep.
type instantTimer struct {
	mu sync.Mutex
	ch chan time.Time
	n  int
}

func (t *instantTimer) Start(time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	t.ch = make(chan time.Time, 1)
	t.ch <- time.Time{}
}

func (t *instantTimer) Stop() {}

func (t *instantTimer) C() <-chan time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ch
}

func (t *instantTimer) starts() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// errorLog collects the errors a sink reports.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) handle(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// newTestSink starts a sink with test defaults: instant unlimited retries,
// no keepalive, errors collected.
func newTestSink(t *testing.T, url string, opts ...WebSocketOption) (*WebSocket, *errorLog) {
	t.Helper()
	el := &errorLog{}
	base := []WebSocketOption{
		WithRetry(retry.Policy{MaxRetries: retry.Unlimited, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}),
		WithRetryOptions(retry.WithTimer(&instantTimer{})),
		WithKeepalive(0, time.Second),
		WithErrorHandler(el.handle),
	}
	s, err := NewWebSocket(url, append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewWebSocket: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s, el
}

func startServer(t *testing.T, opts ...testserver.Option) *testserver.Server {
	t.Helper()
	srv, err := testserver.Start(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// makeEvents returns n events of trace id, every tenth one critical.
func makeEvents(n int, trace tracing.TraceID) []tracing.TraceEvent {
	evs := make([]tracing.TraceEvent, n)
	for i := range evs {
		switch {
		case i%10 == 0:
			evs[i] = tracing.ActorStarted(fmt.Sprintf("actor-%d", i%7))
		default:
			evs[i] = tracing.DataFlow("sensor", "out", "validator", "in", "Reading", uint64(100+i))
			evs[i].Data.CustomAttributes.Add(tracing.Int("seq", i), tracing.String("unit", "celsius"))
		}
		evs[i].TraceID = trace
	}
	return evs
}

func ids(evs []tracing.TraceEvent) []tracing.EventID {
	out := make([]tracing.EventID, len(evs))
	for i := range evs {
		out[i] = evs[i].EventID
	}
	return out
}

// missing returns the ids not in got.
func missing(want []tracing.EventID, got map[tracing.EventID]int) []tracing.EventID {
	var out []tracing.EventID
	for _, id := range want {
		if got[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// lz4Server returns the options of a test server that takes lz4 frames
// when on, and none otherwise.
func lz4Server(on bool) []testserver.Option {
	if !on {
		return nil
	}
	return []testserver.Option{testserver.WithCompression(tracing.CompressionLZ4)}
}

// storedEvents returns the events srv keeps, by id.
func storedEvents(srv *testserver.Server) map[tracing.EventID]tracing.TraceEvent {
	out := make(map[tracing.EventID]tracing.TraceEvent)
	for _, tr := range srv.Traces() {
		for _, ev := range tr.Events {
			out[ev.EventID] = ev
		}
	}
	return out
}
