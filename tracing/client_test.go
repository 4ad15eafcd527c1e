package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestNew_Validation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(*TracingConfig)
		opts    func(sink Sink) []Option
		wantErr string // "" means no error
	}{
		{name: "valid", opts: sinkOpts()},
		{name: "enabled without sink", wantErr: "WithSink"},
		{name: "disabled without sink", cfg: func(c *TracingConfig) { c.Enabled = false }},
		{name: "nil sink", opts: func(Sink) []Option { return []Option{WithSink(nil)} }, wantErr: "WithSink: nil sink"},
		{name: "nil after a sink", opts: sinkOpts(WithSink(nil)), wantErr: "WithSink: nil sink"},
		{name: "typed nil sink", opts: func(Sink) []Option { return []Option{WithSink((*recordSink)(nil))} }, wantErr: "WithSink: nil *tracing.recordSink"},
		{name: "nil logger", opts: sinkOpts(WithLogger(nil)), wantErr: "WithLogger"},
		{name: "zero export timeout", opts: sinkOpts(WithExportTimeout(0)), wantErr: "WithExportTimeout"},
		{name: "negative export timeout", opts: sinkOpts(WithExportTimeout(-time.Second)), wantErr: "WithExportTimeout"},
		{name: "bad batch size", cfg: func(c *TracingConfig) { c.BatchSize = -1 }, opts: sinkOpts(), wantErr: "BatchSize"},
		{name: "bad queue policy", cfg: func(c *TracingConfig) { c.QueuePolicy = 7 }, opts: sinkOpts(), wantErr: "QueuePolicy"},
		{name: "nil option ignored", opts: sinkOpts(nil)},
		{name: "every option", opts: sinkOpts(WithSink(&discardSink{}), WithLogger(zap.NewNop()),
			WithErrorHandler(func(error) {}), WithExportTimeout(time.Second))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			var opts []Option
			if tt.opts != nil {
				opts = tt.opts(newRecordSink())
			}
			c, err := New(cfg, opts...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if err := c.Close(ctxTimeout(t)); err != nil {
					t.Fatalf("Close: %v", err)
				}
				return
			}
			if err == nil {
				_ = c.Close(ctxTimeout(t))
				t.Fatalf("New: no error, want one mentioning %q", tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New: %v, want ErrInvalidConfig mentioning %q", err, tt.wantErr)
			}
			if c != nil {
				t.Fatal("New returned a client with an error")
			}
		})
	}
}

// sinkOpts returns WithSink(sink) followed by opts.
func sinkOpts(opts ...Option) func(Sink) []Option {
	return func(s Sink) []Option { return append([]Option{WithSink(s)}, opts...) }
}

func TestNew_AppliesDefaults(t *testing.T) {
	c, err := New(TracingConfig{Enabled: true}, WithSink(&discardSink{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctxTimeout(t))
	got := c.Config()
	if got.BatchSize != defaultBatchSize || got.QueueSize != defaultQueueSize || got.FlowID != "default" {
		t.Fatalf("Config() = %+v, want defaults", got)
	}
}

func TestClient_DisabledAndNil(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	disabled, err := New(TracingConfig{}, WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	var nilClient *TracingClient
	for name, c := range map[string]*TracingClient{"disabled": disabled, "nop": NewNop(), "nil": nilClient} {
		t.Run(name, func(t *testing.T) {
			if c.Enabled() {
				t.Fatal("Enabled() = true")
			}
			if id := c.DataFlow(ctx, "a", "out", "b", "in", "T", 1); !id.IsZero() {
				t.Fatalf("DataFlow returned %v, want zero", id)
			}
			if id := c.Record(ctx, actorCreated("a")); !id.IsZero() {
				t.Fatalf("Record returned %v, want zero", id)
			}
			if err := c.RecordWait(ctx, actorCreated("a")); err != nil {
				t.Fatalf("RecordWait: %v", err)
			}
			if err := c.Flush(ctx); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			if m := c.Metrics(); m.Recorded != 0 {
				t.Fatalf("Metrics().Recorded = %d", m.Recorded)
			}
			if !c.Healthy() {
				t.Fatal("Healthy() = false")
			}
			if err := c.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
		})
	}
	if sink.closes != 1 {
		t.Fatalf("disabled client closed its sink %d times, want 1", sink.closes)
	}
	if len(sink.snapshot()) != 0 {
		t.Fatal("disabled client wrote events")
	}
}

func TestClient_FlushDeliversWhatWasQueued(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	// A long batch timeout: only Flush can hand the events over in time.
	c := newTestClient(t, sink, func(c *TracingConfig) { c.BatchTimeout = time.Hour })
	ids := []EventID{
		c.ActorCreated(ctx, "a"),
		c.ActorStarted(ctx, "a"),
		c.ActorCompleted(ctx, "a"),
		c.ActorFailed(ctx, "a", errSink),
		c.MessageSent(ctx, "a", "out", "T", 10),
		c.MessageReceived(ctx, "b", "in", "T", 10),
		c.StateChanged(ctx, "a", StateDiff{After: []byte("x")}),
		c.PortConnected(ctx, "a", "out"),
		c.PortDisconnected(ctx, "a", "out"),
		c.DataFlow(ctx, "a", "out", "b", "in", "T", 10),
		c.NetworkEvent(ctx, "net", attr.String("k", "v")),
		c.Custom(ctx, "a", "tick", attr.Int("n", 1)),
		c.Record(ctx, TraceEvent{Type: TraceEventType{Kind: KindNetworkEvent}, ActorID: "raw"}),
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	got := sink.snapshot()
	if len(got) != len(ids) {
		t.Fatalf("delivered %d events, want %d", len(got), len(ids))
	}
	trace := c.CurrentTrace(ctx).ID
	wantKinds := []EventKind{
		KindActorCreated, KindActorStarted, KindActorCompleted, KindActorFailed,
		KindMessageSent, KindMessageReceived, KindStateChanged, KindPortConnected,
		KindPortDisconnected, KindDataFlow, KindNetworkEvent, KindCustom, KindNetworkEvent,
	}
	for i, id := range ids {
		ev := sink.find(t, id)
		if ev.Type.Kind != wantKinds[i] {
			t.Errorf("event %d: kind %v, want %v", i, ev.Type.Kind, wantKinds[i])
		}
		if ev.TraceID != trace || ev.TraceID.IsZero() {
			t.Errorf("event %d: trace %v, want %v", i, ev.TraceID, trace)
		}
		if ev.Timestamp.IsZero() || ev.Causality.RootCauseEventID != id {
			t.Errorf("event %d: timestamp %v root %v: want filled", i, ev.Timestamp, ev.Causality.RootCauseEventID)
		}
	}
	if f := sink.find(t, ids[3]); f.Data.Error != errSink.Error() {
		t.Errorf("ActorFailed error = %q", f.Data.Error)
	}
	if f := sink.find(t, ids[9]); f.Type.ToActor != "b" || f.Data.Message.SizeBytes != 10 {
		t.Errorf("DataFlow = %+v", f.Type)
	}
	m := c.Metrics()
	if m.Recorded != uint64(len(ids)) || m.Delivered != uint64(len(ids)) || m.EventsDropped != 0 {
		t.Fatalf("Metrics = recorded %d delivered %d dropped %d", m.Recorded, m.Delivered, m.EventsDropped)
	}
	if sink.flushes == 0 {
		t.Fatal("Flush did not flush the sink")
	}
}

func TestClient_CloseIdempotent(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	c.ActorCreated(ctx, "a")
	if err := c.Close(ctx); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if sink.closes != 1 {
		t.Fatalf("sink closed %d times, want 1", sink.closes)
	}
	if n := len(sink.snapshot()); n != 1 {
		t.Fatalf("Close delivered %d events, want 1", n)
	}
}

func TestClient_ClosePropagatesSinkErrors(t *testing.T) {
	errFlush := errors.New("flush failed")
	errClose := errors.New("close failed")
	a, b := newRecordSink(), newRecordSink()
	a.flushErr = errFlush
	b.closeErr = errClose
	c, err := New(testConfig(), WithSink(a), WithSink(b))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Close(ctxTimeout(t))
	if !errors.Is(err, errFlush) || !errors.Is(err, errClose) {
		t.Fatalf("Close = %v, want both sink errors", err)
	}
	if a.closes != 1 || b.closes != 1 {
		t.Fatalf("sinks closed %d and %d times, want 1 each", a.closes, b.closes)
	}
}

func TestClient_AfterClose(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Enabled() {
		t.Fatal("Enabled() after Close")
	}
	if id := c.DataFlow(ctx, "a", "out", "b", "in", "T", 1); !id.IsZero() {
		t.Fatal("DataFlow after Close returned an id")
	}
	if id := c.Record(ctx, actorCreated("a")); !id.IsZero() {
		t.Fatal("Record after Close returned an id")
	}
	if err := c.RecordWait(ctx, actorCreated("a")); !errors.Is(err, ErrClosed) {
		t.Fatalf("RecordWait after Close = %v, want ErrClosed", err)
	}
	if err := c.Flush(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Flush after Close = %v, want ErrClosed", err)
	}
	if _, _, err := c.StartTrace(ctx, "f", FlowVersion{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("StartTrace after Close = %v, want ErrClosed", err)
	}
	if err := c.EndTrace(ctx, ExecutionStatus{Kind: StatusCompleted}); !errors.Is(err, ErrClosed) {
		t.Fatalf("EndTrace after Close = %v, want ErrClosed", err)
	}
	m := c.Metrics()
	if m.Dropped.Closed != 3 || m.Recorded != 3 || m.Delivered != 0 {
		t.Fatalf("Metrics after Close: closed %d recorded %d delivered %d, want 3 3 0",
			m.Dropped.Closed, m.Recorded, m.Delivered)
	}
	if c.Healthy() {
		t.Fatal("Healthy() after Close")
	}
}

func TestClient_FlushContext(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{name: "cancelled", ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx, cancel
		}, want: context.Canceled},
		{name: "expired deadline", ctx: func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		}, want: context.DeadlineExceeded},
		{name: "deadline while a write blocks", ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(t.Context(), 20*time.Millisecond)
		}, want: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newRecordSink()
			sink.gate = make(chan struct{})
			sink.entered = make(chan struct{}, 1)
			c := newTestClient(t, sink, nil)
			c.DataFlow(t.Context(), "a", "out", "b", "in", "T", 1)
			<-sink.entered // the consumer holds the event in a blocked Write
			ctx, cancel := tt.ctx()
			defer cancel()
			err := c.Flush(ctx)
			if !errors.Is(err, tt.want) || !strings.HasPrefix(err.Error(), "tracing: flush") {
				t.Fatalf("Flush = %v, want a wrapped %v", err, tt.want)
			}
			close(sink.gate)
			if err := c.Flush(ctxTimeout(t)); err != nil {
				t.Fatalf("Flush after release: %v", err)
			}
			if n := len(sink.snapshot()); n != 1 {
				t.Fatalf("delivered %d, want 1", n)
			}
		})
	}
}

func TestClient_FailedWriteDropsBatchAndCarriesOn(t *testing.T) {
	ctx := ctxTimeout(t)
	failing := newRecordSink()
	var fail sync.Mutex
	failNext := true
	failing.writeErr = func([]TraceEvent) error {
		fail.Lock()
		defer fail.Unlock()
		if failNext {
			failNext = false
			return errSink
		}
		return nil
	}
	other := newRecordSink()
	var handled []error
	c, err := New(testConfig(), WithSink(failing), WithSink(other),
		WithErrorHandler(func(err error) { handled = append(handled, err) }))
	if err != nil {
		t.Fatal(err)
	}
	first := c.ActorCreated(ctx, "a")
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	second := c.ActorCreated(ctx, "b")
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := failing.snapshot(); len(got) != 1 || got[0].EventID != second {
		t.Fatalf("failing sink kept %d events, want only the second", len(got))
	}
	if got := other.snapshot(); len(got) != 2 || got[0].EventID != first {
		t.Fatalf("other sink got %d events, want both (an error in one sink must not stop the others)", len(got))
	}
	m := c.Metrics()
	if m.Dropped.WriteError != 1 || m.Delivered != 1 || m.WriteErrors != 1 {
		t.Fatalf("Metrics: write-error drops %d delivered %d write errors %d, want 1 1 1",
			m.Dropped.WriteError, m.Delivered, m.WriteErrors)
	}
	if m.Sinks[0].WriteErrors != 1 || m.Sinks[0].Events != 1 || m.Sinks[1].Events != 2 || m.Sinks[0].Name != "record" {
		t.Fatalf("per-sink metrics = %+v", m.Sinks)
	}
	if !strings.Contains(m.LastError, errSink.Error()) || m.LastErrorTime.IsZero() || m.ErrorRate != 0.25 {
		t.Fatalf("LastError %q at %v, ErrorRate %v", m.LastError, m.LastErrorTime, m.ErrorRate)
	}
	if len(handled) != 1 || !errors.Is(handled[0], errSink) {
		t.Fatalf("error handler got %v", handled)
	}
	err = c.Close(ctx)
	var u *UndeliveredError
	if !errors.As(err, &u) || u.WriteError != 1 || u.Total() != 1 {
		t.Fatalf("Close = %v, want 1 undelivered by write error", err)
	}
	if want := "tracing: close: 1 events not delivered (write errors 1)"; err.Error() != want {
		t.Fatalf("Close = %q, want %q", err, want)
	}
}

func TestClient_CloseWithExpiredContextAbandons(t *testing.T) {
	sink := newRecordSink()
	sink.gate = make(chan struct{}) // never opened: Write waits for its ctx
	sink.entered = make(chan struct{}, 1)
	c, err := New(testConfig(), WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		c.DataFlow(t.Context(), "a", "out", "b", "in", "T", 1)
	}
	<-sink.entered
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err = c.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want DeadlineExceeded", err)
	}
	var u *UndeliveredError
	if !errors.As(err, &u) || u.Total() != 10 || u.Abandoned != 10 {
		t.Fatalf("Close = %v, want 10 abandoned", err)
	}
	m := c.Metrics()
	if m.Recorded != 10 || m.Delivered+m.Dropped.Total() != 10 {
		t.Fatalf("after Close: recorded %d delivered %d dropped %+v", m.Recorded, m.Delivered, m.Dropped)
	}
	if sink.closes != 1 {
		t.Fatal("sink not closed")
	}
}

func TestClient_QueueFullDropsAndLogs(t *testing.T) {
	ctx := ctxTimeout(t)
	core, logs := observer.New(zapcore.DebugLevel)
	sink := newRecordSink()
	sink.gate = make(chan struct{})
	sink.entered = make(chan struct{}, 1)
	c := newTestClient(t, sink, func(c *TracingConfig) { c.QueueSize = 16; c.BatchSize = 4 }, WithLogger(zap.New(core)))
	c.DataFlow(ctx, "a", "out", "b", "in", "T", 1)
	<-sink.entered
	var dropped EventID
	for range 100 {
		dropped = c.DataFlow(ctx, "a", "out", "b", "in", "T", 1)
	}
	// The last one was dropped: its caller still gets an id to chain.
	if dropped.IsZero() {
		t.Error("DataFlow dropped for a full queue returned the zero id")
	}
	failed := c.ActorFailed(ctx, "a", errSink) // critical: has its own lane
	m := c.Metrics()
	if m.Dropped.QueueFull == 0 || m.Recorded != 102 {
		t.Fatalf("queue full drops %d recorded %d: want drops and 102", m.Dropped.QueueFull, m.Recorded)
	}
	close(sink.gate)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sink.find(t, failed)
	m = c.Metrics()
	if m.Delivered+m.Dropped.Total() != m.Recorded || m.Delivered != uint64(len(sink.snapshot())) {
		t.Fatalf("recorded %d != delivered %d + dropped %d", m.Recorded, m.Delivered, m.Dropped.Total())
	}
	warns := logs.FilterMessage("events dropped").FilterLevelExact(zapcore.WarnLevel).All()
	if len(warns) != 1 {
		t.Fatalf("got %d drop warnings, want 1 summary", len(warns))
	}
	if got := warns[0].ContextMap()["queue_full"]; got != m.Dropped.QueueFull {
		t.Fatalf("warning says queue_full=%v, want %d", got, m.Dropped.QueueFull)
	}
	if logs.All()[0].LoggerName != "reflowtrace" {
		t.Fatalf("logger name %q", logs.All()[0].LoggerName)
	}
}

func TestClient_RecordWait(t *testing.T) {
	tests := []struct {
		name   string
		policy batch.Policy
		want   error
	}{
		{name: "block waits until ctx ends", policy: batch.Block, want: context.DeadlineExceeded},
		{name: "drop newest fails at once", policy: batch.DropNewest, want: ErrQueueFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newRecordSink()
			sink.gate = make(chan struct{})
			sink.entered = make(chan struct{}, 1)
			c := newTestClient(t, sink, func(c *TracingConfig) {
				c.QueueSize, c.BatchSize, c.QueuePolicy = 4, 4, tt.policy
			})
			ctx := ctxTimeout(t)
			if err := c.RecordWait(ctx, dataFlow("a", "out", "b", "in", "T", 1)); err != nil {
				t.Fatal(err)
			}
			<-sink.entered
			var err error
			for range 10 {
				wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
				err = c.RecordWait(wctx, dataFlow("a", "out", "b", "in", "T", 1))
				cancel()
				if err != nil {
					break
				}
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("RecordWait = %v, want %v", err, tt.want)
			}
			close(sink.gate)
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if m := c.Metrics(); m.Dropped.QueueFull != 1 || m.Recorded != m.Delivered+1 {
				t.Fatalf("Metrics: %+v", m)
			}
		})
	}
}

// TestClient_CountingInvariant checks, event by event, that every recorded
// event is either delivered exactly once or counted as dropped, with
// filtering, queue overflow and write errors all happening.
func TestClient_CountingInvariant(t *testing.T) {
	// "filtered" is dropped either by a user predicate, so that events go
	// through the selector, or by the configured actor filter, so that
	// the kept ones are built in their queue slots.
	modes := []struct {
		name    string
		edit    func(*TracingConfig)
		opts    []Option
		inPlace bool
	}{
		{"through the selector", nil, []Option{WithFilter(func(ev *TraceEvent) bool { return ev.ActorID != "filtered" })}, false},
		{"in place", func(c *TracingConfig) { c.Filters.ExcludeActors = []string{"filtered"} }, nil, true},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			cfg := testConfig()
			if mode.edit != nil {
				mode.edit(&cfg)
			}
			testCountingInvariant(t, cfg, mode.inPlace, mode.opts...)
		})
	}
}

func testCountingInvariant(t *testing.T, cfg TracingConfig, inPlace bool, opts ...Option) {
	sink := newRecordSink()
	var writes sync.Mutex
	n := 0
	sink.writeErr = func([]TraceEvent) error {
		writes.Lock()
		defer writes.Unlock()
		n++
		if n%5 == 0 {
			return errSink
		}
		return nil
	}
	c, err := New(cfg, append(opts, WithSink(sink))...)
	if err != nil {
		t.Fatal(err)
	}
	if c.inPlace != inPlace {
		t.Fatalf("inPlace = %v, want %v", c.inPlace, inPlace)
	}
	ctx := ctxTimeout(t)
	const producers, each = 8, 500
	var wg sync.WaitGroup
	ids := make([][]EventID, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				actor := "a"
				if i%10 == 0 {
					actor = "filtered"
				}
				ids[p] = append(ids[p], c.DataFlow(ctx, actor, "out", "b", "in", "T", 1))
				if i%100 == 0 {
					_ = c.Flush(ctx)
				}
			}
		}()
	}
	wg.Wait()
	_ = c.Close(ctx)
	m := c.Metrics()
	if m.Recorded != producers*each {
		t.Fatalf("Recorded = %d, want %d", m.Recorded, producers*each)
	}
	if m.Recorded != m.Delivered+m.Dropped.Total() {
		t.Fatalf("recorded %d != delivered %d + dropped %+v", m.Recorded, m.Delivered, m.Dropped)
	}
	if m.Dropped.Filtered != producers*each/10 || m.Dropped.WriteError == 0 {
		t.Fatalf("Dropped = %+v, want filtered %d and write errors", m.Dropped, producers*each/10)
	}
	delivered := 0
	for _, list := range ids {
		for _, id := range list {
			switch sink.ids[id] {
			case 0:
			case 1:
				delivered++
			default:
				t.Fatalf("event %v delivered %d times", id, sink.ids[id])
			}
		}
	}
	if uint64(delivered) != m.Delivered || len(sink.ids) != delivered {
		t.Fatalf("sink holds %d events (%d recorded ones), Metrics says %d delivered", len(sink.ids), delivered, m.Delivered)
	}
}

// TestClient_ConcurrentSafe records, flushes and closes from many
// goroutines at once, with one sink and with two; run it with -race
// -count=20.
func TestClient_ConcurrentSafe(t *testing.T) {
	for _, sinks := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d sinks", sinks), func(t *testing.T) { testConcurrentSafe(t, sinks) })
	}
}

func testConcurrentSafe(t *testing.T, sinks int) {
	sink := newRecordSink()
	var opts []Option
	others := make([]*recordSink, sinks-1)
	for i := range others {
		others[i] = newRecordSink()
		opts = append(opts, WithSink(others[i]))
	}
	c := newTestClient(t, sink, func(c *TracingConfig) { c.QueueSize = 64; c.BatchSize = 8 }, opts...)
	ctx := ctxTimeout(t)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for p := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range 300 {
				switch i % 4 {
				case 0:
					c.DataFlow(ctx, "a", "out", "b", "in", "T", 1)
				case 1:
					c.ActorStarted(ContextWithEvent(ctx, NewEventID()), "a")
				case 2:
					_ = c.RecordWait(ctx, messageSent("a", "out", "T", 1))
				case 3:
					if p == 0 {
						_ = c.Flush(ctx)
						_ = c.Metrics()
					}
					c.Custom(ctx, "a", "x", attr.Int("i", i))
				}
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_ = c.Flush(ctx)
			_ = c.Close(ctx)
		}()
	}
	close(start)
	wg.Wait()
	m := c.Metrics()
	if m.Recorded != 6*300 || m.Recorded != m.Delivered+m.Dropped.Total() {
		t.Fatalf("recorded %d, delivered %d, dropped %+v", m.Recorded, m.Delivered, m.Dropped)
	}
	// Delivered counts the events every sink holds, each once; a sink
	// holds what it did not miss.
	all := append([]*recordSink{sink}, others...)
	everywhere := 0
	for id := range sink.ids {
		in := 0
		for _, s := range all {
			if s.ids[id] > 1 {
				t.Fatalf("event %v written %d times", id, s.ids[id])
			}
			in += s.ids[id]
		}
		if in == len(all) {
			everywhere++
		}
	}
	if uint64(everywhere) != m.Delivered {
		t.Fatalf("%d events are in every sink, Metrics says %d delivered", everywhere, m.Delivered)
	}
	reached := m.Recorded - m.Dropped.QueueFull - m.Dropped.Closed // what the consumer handed to the sinks
	for i, s := range all {
		if got := uint64(len(s.snapshot())); got+m.Sinks[i].QueueFull != reached {
			t.Fatalf("sink %d holds %d events and missed %d, of %d handed to the sinks", i, got, m.Sinks[i].QueueFull, reached)
		}
	}
}

func TestClient_CriticalKinds(t *testing.T) {
	c := newTestClient(t, &discardSink{}, func(c *TracingConfig) { c.CriticalKinds = []EventKind{KindDataFlow} })
	for k := KindActorCreated; k <= KindCustom; k++ {
		if got := c.isCritical(k); got != (k == KindDataFlow) {
			t.Errorf("isCritical(%v) = %v", k, got)
		}
	}
	d := newTestClient(t, &discardSink{}, nil)
	for k := KindActorCreated; k <= KindCustom; k++ {
		if got := d.isCritical(k); got != k.Critical() {
			t.Errorf("default isCritical(%v) = %v", k, got)
		}
	}
}

// TestClient_DisabledWithSinksWarns checks that a client built disabled
// (the zero TracingConfig) with sinks says so at Warn level, since its
// sinks receive nothing; without sinks it says nothing.
func TestClient_DisabledWithSinksWarns(t *testing.T) {
	for _, withSink := range []bool{true, false} {
		core, logs := observer.New(zapcore.WarnLevel)
		opts := []Option{WithLogger(zap.New(core))}
		if withSink {
			opts = append(opts, WithSink(newRecordSink()))
		}
		c, err := New(TracingConfig{BatchSize: 100}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		warned := logs.FilterMessageSnippet("disabled").Len()
		if withSink && warned != 1 || !withSink && warned != 0 {
			t.Errorf("with a sink %v: %d warnings, want %d", withSink, warned, map[bool]int{true: 1}[withSink])
		}
		if err := c.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}
