package actors

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

func TestEnvelope_SendReceive(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	tctx, trace, err := c.StartTrace(ctx, "f", tracing.FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	sent := c.MessageSent(tctx, "a", "out", "T", 1)
	ch := make(chan Envelope[int], 1)
	if err := SendEnvelope(tracing.ContextWithEvent(tctx, sent), ch, 42); err != nil {
		t.Fatal(err)
	}
	rctx, msg, ok := ReceiveEnvelope(context.Background(), ch)
	if !ok || msg != 42 {
		t.Fatalf("ReceiveEnvelope = %v, %v", msg, ok)
	}
	got := c.MessageReceived(rctx, "b", "in", "T", 1)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ev := sink.find(t, got)
	if ev.TraceID != trace || ev.Causality.ParentEventID != sent {
		t.Fatalf("received in trace %v with parent %v; want %v, %v", ev.TraceID, ev.Causality.ParentEventID, trace, sent)
	}

	// Closed channel, ended ctx.
	close(ch)
	if _, _, ok := ReceiveEnvelope(ctx, ch); ok {
		t.Fatal("received from a closed channel")
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, ok := ReceiveEnvelope(done, make(chan Envelope[int])); ok {
		t.Fatal("received after ctx ended")
	}
	if err := SendEnvelope(done, make(chan Envelope[int]), 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("SendEnvelope with an ended ctx = %v", err)
	}
	// No cause: the receiver's ctx is returned as is.
	if (Envelope[int]{Msg: 1}).Context(ctx) != ctx {
		t.Fatal("an envelope without a cause changed the context")
	}
}

func TestEnvelope_NoAllocs(t *testing.T) {
	c := newTestClient(t, newRecordSink(), nil)
	tctx, _, err := c.StartTrace(context.Background(), "f", tracing.FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := tracing.ContextWithEvent(tctx, tracing.NewEventID())
	ch := make(chan Envelope[[4]int], 1)
	if n := testing.AllocsPerRun(100, func() {
		_ = SendEnvelope(ctx, ch, [4]int{1, 2, 3, 4})
		<-ch
	}); n != 0 {
		t.Fatalf("SendEnvelope allocates %v times", n)
	}
	bg := context.Background()
	if n := testing.AllocsPerRun(100, func() {
		ch <- NewEnvelope(ctx, [4]int{})
		_, _, _ = ReceiveEnvelope(bg, ch)
	}); n > 1 {
		t.Fatalf("ReceiveEnvelope allocates %v times, want the context only", n)
	}
}

type messageRunnerFunc func(ctx context.Context, msg any) error

func (f messageRunnerFunc) Run(ctx context.Context, msg any) error { return f(ctx, msg) }

func TestRegisterMiddleware_WrapsMessageRunner(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	errRun := errors.New("bad message")
	var seen []any
	var runCtx context.Context
	inner := messageRunnerFunc(func(ctx context.Context, msg any) error {
		seen = append(seen, msg)
		runCtx = ctx
		if msg == "bad" {
			return errRun
		}
		return nil
	})
	var registered any
	reg := RegisterMiddleware(c, func(_ context.Context, _ string, actor any) error {
		registered = actor
		return nil
	})
	if err := reg(ctx, "m", inner); err != nil {
		t.Fatal(err)
	}
	r, ok := registered.(MessageRunner)
	if !ok {
		t.Fatalf("registered %T, want a MessageRunner", registered)
	}
	if u, ok := registered.(interface{ Unwrap() MessageRunner }); !ok || reflect.ValueOf(u.Unwrap()).Pointer() != reflect.ValueOf(inner).Pointer() {
		t.Fatal("the wrapper does not unwrap to the actor's MessageRunner")
	}

	// A plain message runs in the ctx's trace.
	if err := r.Run(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx, "bad"); err != errRun {
		t.Fatalf("Run = %v, want the actor's error unchanged", err)
	}
	// An envelope runs in its sender's trace, caused by its event.
	tctx, trace, err := c.StartTrace(ctx, "f", tracing.FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	sent := c.MessageSent(tctx, "a", "out", "T", 1)
	env := NewEnvelope(tracing.ContextWithEvent(tctx, sent), 7)
	if err := r.Run(ctx, env); err != nil {
		t.Fatal(err)
	}
	if got, _ := tracing.CauseFromContext(runCtx).Trace(); got.ID != trace {
		t.Fatalf("the envelope's run had trace %v, want %v", got.ID, trace)
	}
	if err := r.Run(ctx, &env); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 4 || seen[0] != "hello" || seen[2] != any(env) {
		t.Fatalf("the actor saw %v, want the messages unchanged", seen)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var inTrace, failed int
	for _, ev := range sink.snapshot() {
		if ev.ActorID != "m" {
			continue
		}
		if ev.Type.Kind == tracing.KindActorFailed && ev.Data.Error == "bad message" {
			failed++
		}
		if ev.TraceID == trace && ev.Type.Kind == tracing.KindActorStarted {
			inTrace++
			if ev.Causality.ParentEventID != sent {
				t.Fatalf("an envelope's run has parent %v, want %v", ev.Causality.ParentEventID, sent)
			}
		}
	}
	if failed != 1 || inTrace != 2 {
		t.Fatalf("%d failed runs, %d runs in the envelope's trace; want 1, 2", failed, inTrace)
	}

	// Disabled: next itself.
	n := tracing.NewNop()
	next := func(context.Context, string, any) error { return nil }
	if reflect.ValueOf(RegisterMiddleware(n, next)).Pointer() != reflect.ValueOf(next).Pointer() {
		t.Fatal("a disabled client wrapped next")
	}
}

// TestServe_LongLivedActor runs a long-lived actor over many messages: its
// lifecycle trace keeps the lifecycle only; a message with a trace is
// handled in it; each message without one gets a trace of its own, linked
// to the lifecycle trace.
func TestServe_LongLivedActor(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, func(c *tracing.TracingConfig) { c.QueueSize = 1 << 12 })
	lctx, life, err := c.StartTrace(ctx, "actor-life", tracing.FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	wctx, work, err := c.StartTrace(ctx, "work", tracing.FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	sent := c.MessageSent(wctx, "up", "out", "T", 1)

	const plain = 20
	inbox := make(chan Envelope[int], plain+1)
	for i := range plain {
		inbox <- Envelope[int]{Msg: i}
	}
	inbox <- NewEnvelope(tracing.ContextWithEvent(wctx, sent), -1)
	close(inbox)

	handled := map[int]tracing.TraceRef{}
	var handledIDs []tracing.EventID
	err = Serve(lctx, c, "worker", inbox, func(ctx context.Context, msg int) error {
		ref, _ := tracing.CauseFromContext(ctx).Trace()
		handled[msg] = ref
		handledIDs = append(handledIDs, c.Custom(ctx, "worker", "handled", attr.Int("msg", msg)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	perTrace := map[tracing.TraceID]int{}
	for _, ev := range sink.snapshot() {
		perTrace[ev.TraceID]++
	}
	if perTrace[life] != 2 {
		t.Fatalf("the lifecycle trace holds %d events, want 2 (started, completed)", perTrace[life])
	}
	if handled[-1].ID != work {
		t.Fatalf("the traced message was handled in %v, want its trace %v", handled[-1].ID, work)
	}
	seen := map[tracing.TraceID]bool{life: true, work: true}
	for i := range plain {
		id := handled[i].ID
		if seen[id] || handled[i].FlowID != "actor-life" {
			t.Fatalf("message %d handled in trace %+v: want a new one of the actor's flow", i, handled[i])
		}
		seen[id] = true
		if perTrace[id] != 3 { // started, handled, completed
			t.Fatalf("message %d's trace holds %d events, want 3", i, perTrace[id])
		}
	}
	var linked, ended int
	for _, o := range sink.observed() {
		if o.Metadata.Tags[wire.TagLinkedTrace] == life.String() {
			if o.EndTime.IsZero() {
				linked++
			} else if o.Status.Kind == tracing.StatusCompleted {
				ended++
			}
		}
	}
	if linked != plain || ended != plain {
		t.Fatalf("%d traces linked to the lifecycle, %d ended; want %d each", linked, ended, plain)
	}
	last := sink.find(t, handledIDs[len(handledIDs)-1])
	if len(last.Causality.DependencyChain) != 2 || last.Causality.DependencyChain[0] != sent {
		t.Fatalf("the traced message's event chain %v, want it to start at the sender's %v", last.Causality.DependencyChain, sent)
	}
}

func TestServe_Stops(t *testing.T) {
	ctx := ctxTimeout(t)
	sink := newRecordSink()
	c := newTestClient(t, sink, nil)
	errBad := errors.New("bad")
	inbox := make(chan Envelope[int], 2)
	inbox <- Envelope[int]{Msg: 1}
	inbox <- Envelope[int]{Msg: 2}
	calls := 0
	err := Serve(ctx, c, "w", inbox, func(context.Context, int) error { calls++; return errBad })
	if err != errBad || calls != 1 {
		t.Fatalf("Serve = %v after %d calls, want the handler's error after 1", err, calls)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := Serve(done, c, "w", make(chan Envelope[int]), func(context.Context, int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve with an ended ctx = %v", err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var failedTraces, failedActor int
	for _, o := range sink.observed() {
		if o.Status == tracing.FailedStatus("bad") {
			failedTraces++
		}
	}
	for _, ev := range sink.snapshot() {
		if ev.Type.Kind == tracing.KindActorFailed {
			failedActor++
		}
	}
	// The message's run and trace failed, and so did the actor, twice.
	if failedTraces != 1 || failedActor != 3 {
		t.Fatalf("%d failed traces, %d ActorFailed; want 1, 3", failedTraces, failedActor)
	}

	// Disabled: handle is still called, with the envelope's ctx.
	ch := make(chan Envelope[string], 1)
	ch <- Envelope[string]{Msg: "x"}
	close(ch)
	var got []string
	if err := Serve(ctx, tracing.NewNop(), "w", ch, func(_ context.Context, m string) error { got = append(got, m); return nil }); err != nil || fmt.Sprint(got) != "[x]" {
		t.Fatalf("disabled Serve = %v, handled %v", err, got)
	}
}

// TestEnvelopeNilContextNeverEnds checks that SendEnvelope,
// ReceiveEnvelope and Serve take a nil ctx as one that never ends.
func TestEnvelopeNilContextNeverEnds(t *testing.T) {
	var nilCtx context.Context
	ch := make(chan Envelope[int], 2)
	if err := SendEnvelope(nilCtx, ch, 1); err != nil {
		t.Fatalf("SendEnvelope(nil): %v", err)
	}
	if _, msg, ok := ReceiveEnvelope(nilCtx, ch); !ok || msg != 1 {
		t.Fatalf("ReceiveEnvelope(nil) = %d, %v; want 1, true", msg, ok)
	}
	if err := SendEnvelope(nilCtx, ch, 2); err != nil {
		t.Fatalf("SendEnvelope(nil): %v", err)
	}
	close(ch)
	var got []int
	err := Serve(nilCtx, tracing.NewNop(), "a", ch, func(_ context.Context, msg int) error {
		got = append(got, msg)
		return nil
	})
	if err != nil || len(got) != 1 || got[0] != 2 {
		t.Fatalf("Serve(nil) = %v, handled %v; want nil, [2]", err, got)
	}
}
