package query_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
	"github.com/reflowtrace/reflowtrace-go/tracing/query"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// drain reads what sub holds now, without waiting.
func drain(sub *query.Subscription) []wire.EventNotification {
	var out []wire.EventNotification
	for {
		select {
		case n, ok := <-sub.Events():
			if !ok {
				return out
			}
			out = append(out, n)
		default:
			return out
		}
	}
}

// settle returns once c's reader has handled everything the server queued
// for it before now: the server queues a RecordEvent's notifications
// before its acknowledgement, and the reply to a later Ping after them.
func settle(t *testing.T, ctx context.Context, c *query.Client) {
	t.Helper()
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSubscribeFilters(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			ctx := testCtx(t)
			srv := startServer(t, ctx, v.opts()...)
			c := dial(t, ctx, srv.URL())
			byActor, err := c.Subscribe(ctx, wire.SubscriptionFilters{ActorIDs: []string{"parser"}})
			if err != nil {
				t.Fatal(err)
			}
			failed := tracing.TraceEventType{Kind: tracing.KindActorFailed}
			byKind, err := c.Subscribe(ctx, wire.SubscriptionFilters{EventTypes: []tracing.TraceEventType{failed}})
			if err != nil {
				t.Fatal(err)
			}
			p := newPeer(t, ctx, srv.URL())
			trace := tracing.NewTraceID()
			now := time.Now().UTC()
			evs := []tracing.TraceEvent{
				eventAt(event.ActorStarted("parser"), now),
				eventAt(event.ActorStarted("reader"), now),
				eventAt(event.ActorFailed("reader", "disk"), now),
				eventAt(event.ActorFailed("parser", "syntax"), now),
				eventAt(event.ActorCompleted("writer"), now),
			}
			for _, ev := range evs {
				p.record(ctx, trace, ev)
			}
			settle(t, ctx, c)
			got := func(s *query.Subscription) []string {
				var out []string
				for _, n := range drain(s) {
					if n.TraceID != trace {
						t.Errorf("notification of trace %s, want %s", n.TraceID, trace)
					}
					out = append(out, n.Event.EventID.String())
				}
				return out
			}
			if g, w := got(byActor), ids([]tracing.TraceEvent{evs[0], evs[3]}); !slices.Equal(g, w) {
				t.Errorf("actor filter: got %v, want %v", g, w)
			}
			if g, w := got(byKind), ids([]tracing.TraceEvent{evs[2], evs[3]}); !slices.Equal(g, w) {
				t.Errorf("kind filter: got %v, want %v", g, w)
			}
			// After one subscription ends, the other keeps its filter.
			if err := byKind.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if err := byKind.Err(); err != nil {
				t.Errorf("Err after Close: %v", err)
			}
			p.record(ctx, trace, eventAt(event.ActorFailed("reader", "again"), now))
			p.record(ctx, trace, eventAt(event.ActorCompleted("parser"), now))
			settle(t, ctx, c)
			if n := len(drain(byActor)); n != 1 {
				t.Errorf("after the other closed: %d notifications, want 1", n)
			}
			if err := byActor.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if v := srv.Stats(); v.ByKind["Unsubscribe"] != 1 {
				t.Errorf("Unsubscribe sent %d times, want 1", v.ByKind["Unsubscribe"])
			}
		})
	}
}

// TestSubscribeCustomEventType checks that a subscription to a Custom
// event type gets the Custom events of that name: the server receives and
// pushes them as NetworkEvents whose event_subtype attribute is the name.
func TestSubscribeCustomEventType(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			ctx := testCtx(t)
			srv := startServer(t, ctx, v.opts()...)
			c := dial(t, ctx, srv.URL())
			checkpoint := tracing.TraceEventType{Kind: tracing.KindCustom, Name: "checkpoint"}
			byName, err := c.Subscribe(ctx, wire.SubscriptionFilters{EventTypes: []tracing.TraceEventType{checkpoint}})
			if err != nil {
				t.Fatal(err)
			}
			network := tracing.TraceEventType{Kind: tracing.KindNetworkEvent}
			byNetwork, err := c.Subscribe(ctx, wire.SubscriptionFilters{EventTypes: []tracing.TraceEventType{network}})
			if err != nil {
				t.Fatal(err)
			}
			p := newPeer(t, ctx, srv.URL())
			trace := tracing.NewTraceID()
			now := time.Now().UTC()
			evs := []tracing.TraceEvent{
				eventAt(event.Custom("parser", "checkpoint"), now),
				eventAt(event.Custom("parser", "rollback"), now),
				eventAt(event.NetworkEvent("parser"), now),
				eventAt(event.ActorStarted("parser"), now),
				eventAt(event.Custom("reader", "checkpoint"), now),
			}
			for _, ev := range evs {
				p.record(ctx, trace, ev)
			}
			settle(t, ctx, c)
			got := func(s *query.Subscription) []string {
				var out []string
				for _, n := range drain(s) {
					out = append(out, n.Event.EventID.String())
				}
				return out
			}
			if g, w := got(byName), ids([]tracing.TraceEvent{evs[0], evs[4]}); !slices.Equal(g, w) {
				t.Errorf("Custom %q filter: got %v, want %v", checkpoint.Name, g, w)
			}
			// On the wire every Custom event is a NetworkEvent.
			if g, w := got(byNetwork), ids([]tracing.TraceEvent{evs[0], evs[1], evs[2], evs[4]}); !slices.Equal(g, w) {
				t.Errorf("NetworkEvent filter: got %v, want %v", g, w)
			}
		})
	}
}

func TestNotificationsBetweenReplies(t *testing.T) {
	for _, gen := range []tracetest.Generation{tracetest.Gen1, tracetest.Gen2} {
		t.Run(gen.String(), func(t *testing.T) {
			ctx := testCtx(t)
			srv := startServer(t, ctx, tracetest.WithGeneration(gen), tracetest.WithCompression(transport.CompressionLZ4))
			stored := mkTrace("f", tracing.NewExecutionID(), time.Now().UTC(), tracing.ExecutionStatus{}, slices.Repeat([]string{"x"}, 50)...)
			p := newPeer(t, ctx, srv.URL())
			p.store(ctx, stored)
			c := dial(t, ctx, srv.URL())
			sub, err := c.Subscribe(ctx, wire.SubscriptionFilters{})
			if err != nil {
				t.Fatal(err)
			}
			const events = 300
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range events {
					p.record(ctx, tracing.NewTraceID(), eventAt(event.ActorStarted("x"), time.Now().UTC()))
				}
			}()
			// Concurrent calls, each one matched with its own reply while
			// notifications arrive between them.
			var cwg sync.WaitGroup
			for range 4 {
				cwg.Add(1)
				go func() {
					defer cwg.Done()
					for range 25 {
						tr, err := c.GetTrace(ctx, stored.TraceID)
						if err != nil || tr == nil || len(tr.Events) != 50 {
							t.Errorf("GetTrace: %v, %v", tr, err)
							return
						}
						res, err := c.QueryTraces(ctx, wire.TraceQuery{FlowID: "none"})
						if err != nil || len(res.Traces) != 0 {
							t.Errorf("QueryTraces: %v, %v", res, err)
							return
						}
					}
				}()
			}
			cwg.Wait()
			wg.Wait()
			settle(t, ctx, c)
			if n := len(drain(sub)); n != events || sub.Dropped() != 0 {
				t.Errorf("%d notifications, %d dropped; want %d, 0", n, sub.Dropped(), events)
			}
		})
	}
}

func TestSlowConsumerDropsCounted(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t, ctx)
	c := dial(t, ctx, srv.URL(), query.WithSubscriptionBuffer(4))
	sub, err := c.Subscribe(ctx, wire.SubscriptionFilters{})
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t, ctx, srv.URL())
	for range 50 {
		p.record(ctx, tracing.NewTraceID(), eventAt(event.ActorStarted("x"), time.Now().UTC()))
	}
	// The reader kept going: the client still answers.
	settle(t, ctx, c)
	if sub.Dropped() != 46 || sub.Delivered() != 4 {
		t.Errorf("dropped %d, delivered %d; want 46, 4", sub.Dropped(), sub.Delivered())
	}
	if n := len(drain(sub)); n != 4 {
		t.Errorf("%d in the channel, want 4", n)
	}
}

func TestSubscriptionEndsWithCtx(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t, ctx)
	c := dial(t, ctx, srv.URL())
	sctx, cancel := context.WithCancel(ctx)
	sub, err := c.Subscribe(sctx, wire.SubscriptionFilters{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	for range sub.Events() {
	}
	if !errors.Is(sub.Err(), context.Canceled) {
		t.Errorf("Err = %v, want context.Canceled", sub.Err())
	}
	// The client carries on.
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestReconnectResubscribes(t *testing.T) {
	for _, gen := range []tracetest.Generation{tracetest.Gen1, tracetest.Gen2} {
		t.Run(gen.String(), func(t *testing.T) {
			ctx := testCtx(t)
			srv := startServer(t, ctx, tracetest.WithGeneration(gen))
			ready := make(chan struct{}, 4)
			c := dial(t, ctx, srv.URL(), query.WithConnectHook(func() { ready <- struct{}{} }))
			<-ready
			sub, err := c.Subscribe(ctx, wire.SubscriptionFilters{ActorIDs: []string{"a"}})
			if err != nil {
				t.Fatal(err)
			}
			srv.KillConnections()
			select {
			case <-ready:
			case <-ctx.Done():
				t.Fatal("no reconnection")
			}
			if sub.Resubscribed() != 1 {
				t.Errorf("Resubscribed = %d, want 1", sub.Resubscribed())
			}
			p := newPeer(t, ctx, srv.URL())
			ev := eventAt(event.ActorStarted("a"), time.Now().UTC())
			p.record(ctx, tracing.NewTraceID(), eventAt(event.ActorStarted("b"), time.Now().UTC()))
			p.record(ctx, tracing.NewTraceID(), ev)
			select {
			case n := <-sub.Events():
				if n.Event.EventID != ev.EventID {
					t.Errorf("got %s, want %s (filter renewed)", n.Event.EventID, ev.EventID)
				}
			case <-ctx.Done():
				t.Fatal("no notification after reconnecting")
			}
			if sub.Err() != nil {
				t.Errorf("Err = %v", sub.Err())
			}
		})
	}
}

func TestCallResentAfterDrop(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t, ctx, tracetest.WithGeneration(tracetest.Gen2))
	tr := mkTrace("f", tracing.NewExecutionID(), time.Now().UTC(), tracing.ExecutionStatus{}, "a")
	newPeer(t, ctx, srv.URL()).store(ctx, tr)
	c := dial(t, ctx, srv.URL())
	// The server handles the next message and drops the connection
	// instead of answering it.
	srv.DropBeforeAck(1)
	got, err := c.GetTrace(ctx, tr.TraceID)
	if err != nil || got == nil || got.TraceID != tr.TraceID {
		t.Fatalf("GetTrace = %v, %v", got, err)
	}
	if v := srv.Stats(); v.ByKind["GetTrace"] < 3 { // two probes, the resend
		t.Errorf("GetTrace handled %d times", v.ByKind["GetTrace"])
	}
}

func TestGiveUpThenRecover(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t, ctx)
	c, err := query.Dial(ctx, srv.URL(), query.WithRetry(retry.Policy{MaxRetries: retry.NoRetries}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx, wire.SubscriptionFilters{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for range sub.Events() {
	}
	if sub.Err() == nil {
		t.Fatal("subscription ended without an error")
	}
	if _, err := c.GetTrace(ctx, tracing.NewTraceID()); err == nil {
		t.Fatal("GetTrace succeeded with the server down")
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// A subscription made while the client is down is first acknowledged
	// on the new connection: it was never renewed.
	next, err := c.Subscribe(ctx, wire.SubscriptionFilters{})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close(ctx)
	if n := next.Resubscribed(); n != 0 {
		t.Errorf("Resubscribed() = %d for a subscription never renewed, want 0", n)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping after the server came back: %v", err)
	}
}

// fakeTimer is a retry.Timer that fires when the test says so.
type fakeTimer struct{ c chan time.Time }

func (f *fakeTimer) Start(time.Duration) {}

func (f *fakeTimer) Stop() {}

func (f *fakeTimer) C() <-chan time.Time { return f.c }

// TestSubscribeDuringAFailingReconnect: a Subscribe made while a
// reconnection round is under way waits for it; when that round gives up,
// the subscription is ended with the round's error, then Subscribe's own
// wait asks for another round, which succeeds. Subscribe returns that
// error, not the ended subscription with none.
func TestSubscribeDuringAFailingReconnect(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t, ctx)
	timer := &fakeTimer{c: make(chan time.Time)}
	waiting := make(chan struct{}, 8)
	c, err := query.Dial(ctx, srv.URL(), query.WithRetry(
		retry.Policy{MaxRetries: 1, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond},
		retry.WithTimer(timer),
		retry.WithNotify(func(error, int, time.Duration) { waiting <- struct{}{} }),
	))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The round's two attempts are refused; the next one gets through.
	srv.RefuseNext(2, tracetest.RefuseClose)
	srv.KillConnections()
	select {
	case <-waiting: // attempt 1 failed, the round waits on the timer
	case <-ctx.Done():
		t.Fatal("no retry")
	}
	type result struct {
		sub *query.Subscription
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := c.Subscribe(ctx, wire.SubscriptionFilters{})
		done <- result{s, err}
	}()
	time.Sleep(100 * time.Millisecond) // Subscribe waits for the connection
	select {
	case timer.c <- time.Now(): // attempt 2, refused: the round gives up
	case <-ctx.Done():
		t.Fatal("timer not waited on")
	}
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatal("Subscribe did not return")
	}
	if r.err != nil {
		return // an error is a fine answer
	}
	defer r.sub.Close(ctx)
	if err := r.sub.Err(); err != nil {
		t.Errorf("Subscribe returned a nil error and a subscription already ended: Err = %v", err)
	}
	select {
	case _, ok := <-r.sub.Events():
		if !ok {
			t.Error("Subscribe returned a nil error and a subscription whose Events channel is closed")
		}
	default:
	}
}
