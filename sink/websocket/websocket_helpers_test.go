package websocket

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
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
func newTestSink(t *testing.T, url string, opts ...Option) (*Sink, *errorLog) {
	t.Helper()
	el := &errorLog{}
	base := []Option{
		WithRetry(retry.Policy{MaxRetries: retry.Unlimited, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}),
		WithRetryOptions(retry.WithTimer(&instantTimer{})),
		WithKeepalive(0, time.Second),
		WithErrorHandler(el.handle),
	}
	s, err := New(url, append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s, el
}

func startServer(t *testing.T, opts ...tracetest.Option) *tracetest.Server {
	t.Helper()
	srv, err := tracetest.Start(t.Context(), opts...)
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
			evs[i] = event.ActorStarted(fmt.Sprintf("actor-%d", i%7))
		default:
			evs[i] = event.DataFlow("sensor", "out", "validator", "in", "Reading", uint64(100+i))
			evs[i].Data.CustomAttributes.Add(attr.Int("seq", i), attr.String("unit", "celsius"))
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

// generations are the server generations every delivery test runs against.
var generations = []tracetest.Generation{tracetest.Gen1, tracetest.Gen2}

// keeps reports whether a server of generation gen keeps what a sink in
// mode sends: StoreTrace always, RecordEvent only on generation 2.
func keeps(gen tracetest.Generation, mode Mode) bool {
	return mode.store() || gen == tracetest.Gen2
}

// lz4Server returns the server options of a server with lz4 on (or off).
func lz4Server(on bool) []tracetest.Option {
	if on {
		return []tracetest.Option{tracetest.WithCompression(transport.CompressionLZ4)}
	}
	return nil
}

// keptOnce returns what is wrong with kept (event id → copies the server
// keeps) when every id of want must be kept exactly once and nothing else:
// "" when nothing is.
func keptOnce(want []tracing.EventID, kept map[tracing.EventID]int) string {
	var lost, dup int
	wanted := make(map[tracing.EventID]bool, len(want))
	for _, id := range want {
		wanted[id] = true
		switch n := kept[id]; {
		case n == 0:
			lost++
		case n > 1:
			dup++
		}
	}
	extra := 0
	for id := range kept {
		if !wanted[id] {
			extra++
		}
	}
	if lost == 0 && dup == 0 && extra == 0 {
		return ""
	}
	return fmt.Sprintf("of %d events %d not kept, %d kept more than once; %d unknown events kept", len(want), lost, dup, extra)
}

// assertKeptOnce fails t unless the server keeps every id of want exactly
// once and no other event.
func assertKeptOnce(t *testing.T, srv *tracetest.Server, want []tracing.EventID) {
	t.Helper()
	if msg := keptOnce(want, srv.Kept()); msg != "" {
		t.Fatalf("server keeps: %s; server %s", msg, serverSummary(srv))
	}
}

// traceHeader returns the header of a running trace of flow "orders".
func traceHeader(id tracing.TraceID) tracing.FlowTrace {
	return tracing.FlowTrace{
		TraceID: id, FlowID: "orders", ExecutionID: tracing.NewExecutionID(),
		Version: tracing.FlowVersion{Major: 1, Minor: 4}, StartTime: time.Now().UTC(),
		Status:   tracing.ExecutionStatus{Kind: tracing.StatusRunning},
		Metadata: tracing.TraceMetadata{Environment: "test", Hostname: "h", ProcessID: 7, Tags: map[string]string{}},
	}
}

// ended returns hdr ended with status.
func ended(hdr tracing.FlowTrace, status tracing.ExecutionStatus) tracing.FlowTrace {
	hdr.Status = status
	hdr.EndTime = time.Now().UTC()
	return hdr
}

// interleaved returns batches of size events that alternate between the
// traces, n events per trace in all.
func interleaved(traces []tracing.TraceID, n, size int) [][]tracing.TraceEvent {
	per := make([][]tracing.TraceEvent, len(traces))
	for i, tr := range traces {
		per[i] = makeEvents(n, tr)
	}
	var all []tracing.TraceEvent
	for i := range n {
		for j := range traces {
			all = append(all, per[j][i])
		}
	}
	var out [][]tracing.TraceEvent
	for len(all) > 0 {
		k := min(size, len(all))
		out = append(out, all[:k:k])
		all = all[k:]
	}
	return out
}

// serverSummary describes the server's counters for a failure message.
func serverSummary(srv *tracetest.Server) string {
	st := srv.Stats()
	return fmt.Sprintf("messages %v, connects %d, refused %d, stored %d, in flight %d", st.ByKind, st.Connects, st.Refused, st.Stored, st.InFlight)
}
