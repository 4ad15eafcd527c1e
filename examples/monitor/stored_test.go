package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/examples/demo"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/actors"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// lockedBuffer is the monitor's output, read by the test while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// shownIDs counts the events of the monitor's -json output by id.
func shownIDs(t testing.TB, out string) map[tracing.EventID]int {
	t.Helper()
	ids := map[tracing.EventID]int{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		resp, err := wire.DecodeResponse(sc.Bytes())
		if err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		n, ok := resp.(wire.EventNotification)
		if !ok {
			t.Fatalf("%T: %s", resp, sc.Text())
		}
		ids[n.Event.EventID]++
	}
	return ids
}

// monitor runs the monitor on its goroutine until stop is called; settle
// polls after every id of want was shown (want is read at each poll) it
// reports done.
type monitor struct {
	out     lockedBuffer
	rounds  atomic.Int64
	polled  chan struct{} // a poll came back (buffered, one)
	ready   chan struct{} // the first poll came back
	done    chan struct{} // every wanted event shown, and settle more polls came back
	stopped chan error
	cancel  context.CancelFunc
}

// shownOnceDone waits up to 15 s for the monitor to have shown every
// wanted event, stops it and returns how many times it showed each event.
func (m *monitor) shownOnceDone(t *testing.T) map[tracing.EventID]int {
	t.Helper()
	select {
	case <-m.done:
	case <-time.After(15 * time.Second):
		t.Error("the monitor did not show every event in 15s")
	}
	return shownIDs(t, m.stop(t))
}

func startMonitor(ctx context.Context, t *testing.T, o options, want func() map[tracing.EventID]bool) *monitor {
	t.Helper()
	m := &monitor{ready: make(chan struct{}), done: make(chan struct{}), stopped: make(chan error, 1), polled: make(chan struct{}, 1)}
	const settle = 3
	allAt := 0
	o.afterPoll = func(round int) {
		m.rounds.Store(int64(round))
		select {
		case m.polled <- struct{}{}:
		default:
		}
		if round == 1 {
			close(m.ready)
		}
		if allAt == -1 {
			return
		}
		w := want()
		if allAt == 0 && len(w) > 0 {
			var shown map[tracing.EventID]int
			if o.json {
				shown = shownIDs(t, m.out.String())
			}
			all := true
			for id := range w {
				if shown[id] == 0 {
					all = false
					break
				}
			}
			if all {
				allAt = round
			}
		}
		if allAt > 0 && round >= allAt+settle {
			allAt = -1
			close(m.done)
		}
	}
	mctx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	go func() { m.stopped <- run(mctx, o, &m.out) }()
	t.Cleanup(func() { m.stop(t) })
	select {
	case <-m.ready:
	case err := <-m.stopped:
		m.stopped <- err
		t.Fatalf("monitor stopped before its first poll: %v", err)
	case <-ctx.Done():
		t.Fatal("no poll came back")
	}
	return m
}

// waitRound waits until poll round n came back.
func (m *monitor) waitRound(ctx context.Context, t *testing.T, n int64) {
	t.Helper()
	for m.rounds.Load() < n {
		select {
		case <-m.polled:
		case <-ctx.Done():
			t.Fatalf("poll round %d did not come back", n)
		}
	}
}

// stop ends the monitor and returns its output.
func (m *monitor) stop(t *testing.T) string {
	t.Helper()
	m.cancel()
	if err := <-m.stopped; err != nil {
		t.Errorf("monitor: %v", err)
	}
	m.stopped <- nil
	return m.out.String()
}

var errSend = errors.New("inbox full")

// program records one run of the demo pipeline, and one send that fails
// through the actors middleware, into a trace of flow at url with the
// WebSocket sink's default settings plus opts, then closes its client.
func program(ctx context.Context, t *testing.T, url string, flow tracing.FlowID, seed uint64, opts ...websocket.Option) {
	t.Helper()
	cfg := tracing.DefaultConfig()
	cfg.ServerURL = url
	cfg.FlowID = flow
	cfg.BatchTimeout = 20 * time.Millisecond
	ws, err := websocket.New(url, append(websocket.OptionsFromConfig(cfg), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	client, err := tracing.New(cfg, tracing.WithSink(ws))
	if err != nil {
		t.Fatal(errors.Join(err, ws.Close(ctx)))
	}
	tctx, _, err := client.StartTrace(ctx, flow, tracing.FlowVersion{Major: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := demo.Pipeline{Messages: 30, FailEvery: 9, Pace: time.Millisecond, Seed: seed}
	p.Run(tctx, func(ev tracing.TraceEvent) {
		if err := client.RecordWait(tctx, ev); err != nil {
			t.Error(err)
		}
	})
	send := actors.SendMiddleware(client, func(context.Context, actors.Send) error { return errSend })
	if err := send(tctx, actors.Send{FromActor: "writer", FromPort: "out", ToActor: "archive", ToPort: "in", MessageType: "Record", Size: 64}); !errors.Is(err, errSend) {
		t.Errorf("send: %v", err)
	}
	if err := errors.Join(client.EndTrace(tctx, tracing.FailedStatus("validator rejected records")), client.Close(ctx)); err != nil {
		t.Fatal(err)
	}
}

// seenBy returns the ids the server keeps or was sent live, without those
// of before.
func seenBy(srv *tracetest.Server, before map[tracing.EventID]int) map[tracing.EventID]bool {
	ids := map[tracing.EventID]bool{}
	for _, m := range []map[tracing.EventID]int{srv.Kept(), srv.Live()} {
		for id := range m {
			if before[id] == 0 {
				ids[id] = true
			}
		}
	}
	return ids
}

// startServer starts a test server of generation gen for the test, and
// returns it with a context that ends with the test or after a minute.
func startServer(t *testing.T, gen tracetest.Generation) (context.Context, *tracetest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	srv, err := tracetest.Start(ctx, tracetest.WithGeneration(gen))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return ctx, srv
}

// TestWatchShowsEveryEventOnce records a program while the monitor runs,
// on both generations and in each mode of the sink: the monitor shows
// every event the program recorded exactly once, whether the server
// stored it (store mode, the default, pushes nothing), pushed it (live
// mode on generation 1 keeps nothing) or both; and nothing the server
// stored before it began.
func TestWatchShowsEveryEventOnce(t *testing.T) {
	for _, gen := range []tracetest.Generation{tracetest.Gen1, tracetest.Gen2} {
		for _, mode := range []websocket.Mode{websocket.ModeStore, websocket.ModeLive, websocket.ModeBoth} {
			t.Run(fmt.Sprintf("gen%d/%s", gen, mode), func(t *testing.T) {
				ctx, srv := startServer(t, gen)
				program(ctx, t, srv.URL(), "orders", 1) // stored before the monitor began
				before := srv.Kept()
				if len(before) == 0 {
					t.Fatal("nothing kept before the monitor began")
				}
				var mu sync.Mutex
				var want map[tracing.EventID]bool
				m := startMonitor(ctx, t, options{server: srv.URL(), json: true, poll: 50 * time.Millisecond}, func() map[tracing.EventID]bool {
					mu.Lock()
					defer mu.Unlock()
					return want
				})
				program(ctx, t, srv.URL(), "orders", 2, websocket.WithMode(mode))
				mu.Lock()
				want = seenBy(srv, before)
				mu.Unlock()
				if len(want) < 30*5 {
					t.Fatalf("the server saw %d events of the program", len(want))
				}
				shown := m.shownOnceDone(t)
				for id := range want {
					if shown[id] != 1 {
						t.Errorf("event %s shown %d times, want once", id, shown[id])
					}
				}
				for id, n := range shown {
					if !want[id] {
						t.Errorf("event %s shown %d times: not the program's (stored before the monitor began: %v)", id, n, before[id] > 0)
					}
				}
			})
		}
	}
}

// TestWatchFlowFilter runs two programs of two flows while the monitor
// shows one: it shows every event of that flow's program, once, and none
// of the other's, on both generations, whether the events were stored or
// pushed; on generation 1 in live mode, where the server keeps nothing and
// the flow of a notification cannot be known, it shows none and says how
// many it left out.
func TestWatchFlowFilter(t *testing.T) {
	for _, tc := range []struct {
		gen     tracetest.Generation
		mode    websocket.Mode
		unknown bool // the flows stay unknown
	}{
		{tracetest.Gen1, websocket.ModeStore, false},
		{tracetest.Gen1, websocket.ModeBoth, false},
		{tracetest.Gen1, websocket.ModeLive, true},
		{tracetest.Gen2, websocket.ModeStore, false},
		{tracetest.Gen2, websocket.ModeLive, false},
	} {
		t.Run(fmt.Sprintf("gen%d/%s", tc.gen, tc.mode), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			srv, err := tracetest.Start(ctx, tracetest.WithGeneration(tc.gen))
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			var mu sync.Mutex
			var want map[tracing.EventID]bool
			// With the flows unknown nothing is shown: the counts at the
			// end say why.
			m := startMonitor(ctx, t, options{server: srv.URL(), json: !tc.unknown, poll: 50 * time.Millisecond, flows: []tracing.FlowID{"orders"}, flowWait: 300 * time.Millisecond},
				func() map[tracing.EventID]bool {
					mu.Lock()
					defer mu.Unlock()
					return want
				})
			program(ctx, t, srv.URL(), "billing", 1, websocket.WithMode(tc.mode))
			other := seenBy(srv, nil)
			program(ctx, t, srv.URL(), "orders", 2, websocket.WithMode(tc.mode))
			orders := seenBy(srv, nil)
			for id := range other {
				delete(orders, id)
			}
			if len(orders) < 30*5 || len(other) < 30*5 {
				t.Fatalf("the server saw %d and %d events", len(orders), len(other))
			}
			if tc.unknown {
				// The notifications wait 300ms for their flows; 10 rounds
				// are at least 450ms.
				m.waitRound(ctx, t, m.rounds.Load()+10)
				out := m.stop(t)
				if strings.Contains(out, " trace …") {
					t.Errorf("events shown of traces whose flow is unknown:\n%s", out)
				}
				note := fmt.Sprintf("%d notifications not shown: -flow could not match them", len(orders)+len(other))
				for _, want := range []string{"note: -flow shows only events of traces the server keeps", note, "\n0 events"} {
					if !strings.Contains(out, want) {
						t.Errorf("output lacks %q:\n%s", want, out)
					}
				}
				return
			}
			mu.Lock()
			want = orders
			mu.Unlock()
			shown := m.shownOnceDone(t)
			for id := range orders {
				if shown[id] != 1 {
					t.Errorf("event %s of flow orders shown %d times, want once", id, shown[id])
				}
			}
			for id := range shown {
				if other[id] {
					t.Errorf("event %s of flow billing shown", id)
				}
			}
		})
	}
}

// TestWatchStoredFilters: -actor and -kind apply to the events read from
// storage as to the pushed ones.
func TestWatchStoredFilters(t *testing.T) {
	for _, gen := range []tracetest.Generation{tracetest.Gen1, tracetest.Gen2} {
		t.Run(fmt.Sprintf("gen%d", gen), func(t *testing.T) {
			ctx, srv := startServer(t, gen)
			var mu sync.Mutex
			var want map[tracing.EventID]bool
			o := options{server: srv.URL(), json: true, poll: 50 * time.Millisecond,
				actors: []string{"validator", "writer"}, kinds: []tracing.EventKind{tracing.KindActorFailed, tracing.KindDataFlow}}
			m := startMonitor(ctx, t, o, func() map[tracing.EventID]bool {
				mu.Lock()
				defer mu.Unlock()
				return want
			})
			program(ctx, t, srv.URL(), "orders", 3)
			match := map[tracing.EventID]bool{}
			kinds := map[tracing.EventKind]int{}
			for _, tr := range srv.Traces() {
				for _, ev := range tr.Events {
					if (ev.ActorID == "validator" || ev.ActorID == "writer") && (ev.Type.Kind == tracing.KindActorFailed || ev.Type.Kind == tracing.KindDataFlow) {
						match[ev.EventID] = true
						kinds[ev.Type.Kind]++
					}
				}
			}
			if kinds[tracing.KindActorFailed] == 0 || kinds[tracing.KindDataFlow] == 0 {
				t.Fatalf("the program's matching events: %v", kinds)
			}
			mu.Lock()
			want = match
			mu.Unlock()
			shown := m.shownOnceDone(t)
			for id := range match {
				if shown[id] != 1 {
					t.Errorf("event %s shown %d times, want once", id, shown[id])
				}
			}
			if len(shown) != len(match) {
				t.Errorf("%d events shown, %d match the filters", len(shown), len(match))
			}
		})
	}
}
