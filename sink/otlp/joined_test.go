package otlp_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/reflowtrace/reflowtrace-go/sink/otlp"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
	"github.com/reflowtrace/reflowtrace-go/tracing/propagation"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// TestTraceAcrossProcesses records one trace in two processes, each with
// its own client and Sink exporting to one collector, as two services
// exporting to one Jaeger do: process B joins the trace A started, through
// the propagator given its client and through the zero propagator. The
// trace must arrive with one root span, A's, and every span's parent
// must be a span that arrived.
func TestTraceAcrossProcesses(t *testing.T) {
	for _, tt := range []struct {
		name       string
		propagator func(b *tracing.TracingClient) propagation.TraceContext
	}{
		{"propagator with client", func(b *tracing.TracingClient) propagation.TraceContext {
			return propagation.TraceContext{Client: b}
		}},
		{"zero propagator", func(*tracing.TracingClient) propagation.TraceContext {
			return propagation.TraceContext{}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recv := new(consumertest.TracesSink)
			addr := startCollector(t, otlp.ProtocolGRPC, recv)
			ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
			defer cancel()
			newClient := func(flow tracing.FlowID) *tracing.TracingClient {
				cfg := tracing.DefaultConfig()
				cfg.FlowID = flow
				c, err := tracing.New(cfg, tracing.WithSink(newSink(t, otlp.ProtocolGRPC, addr)))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close(context.Background()) })
				return c
			}
			a, b := newClient("frontend"), newClient("worker")

			// Process A starts the trace and calls B twice: once from an
			// event, once from the trace alone.
			tctx, tid, err := a.StartTrace(ctx, "pipeline", tracing.FlowVersion{Major: 1})
			if err != nil {
				t.Fatal(err)
			}
			created := a.ActorCreated(tctx, "source")
			sent := a.DataFlow(tracing.ContextWithEvent(tctx, created), "source", "out", "worker", "in", "Job", 8)
			fromEvent, fromTrace := propagation.MapCarrier{}, propagation.MapCarrier{}
			propagation.TraceContext{}.Inject(tracing.ContextWithEvent(tctx, sent), fromEvent)
			propagation.TraceContext{}.Inject(tctx, fromTrace)

			// Process B records into the trace it joins.
			p := tt.propagator(b)
			bctx := p.Extract(ctx, fromEvent)
			started := b.ActorStarted(bctx, "worker")
			done := event.ActorCompleted("worker")
			done.Data.PerformanceMetrics.ExecutionTimeNs = uint64(time.Millisecond)
			completed := b.Record(tracing.ContextWithEvent(bctx, started), done)
			helper := b.ActorCreated(p.Extract(ctx, fromTrace), "helper")
			if err := b.Close(ctx); err != nil { // B is done first: it must export no root
				t.Fatalf("B: Close: %v", err)
			}
			if err := a.EndTrace(tctx, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}); err != nil {
				t.Fatal(err)
			}
			if err := a.Close(ctx); err != nil {
				t.Fatalf("A: Close: %v", err)
			}

			spans := map[pcommon.SpanID]ptrace.Span{}
			var roots []ptrace.Span
			for _, sp := range spansOf(recv) {
				if sp.span.TraceID() != pcommon.TraceID(tid) {
					// B's implicit trace, ended empty at Close: a
					// trace of its own.
					continue
				}
				if _, dup := spans[sp.span.SpanID()]; dup {
					t.Errorf("span id %s exported twice (%s)", sp.span.SpanID(), sp.span.Name())
				}
				spans[sp.span.SpanID()] = sp.span
				if sp.span.ParentSpanID().IsEmpty() {
					roots = append(roots, sp.span)
				}
			}
			rootID := pcommon.SpanID(otlp.RootSpanIDOf(tid))
			if len(roots) != 1 || roots[0].SpanID() != rootID || roots[0].Name() != "flow:pipeline" {
				for _, r := range roots {
					t.Logf("root %s %q", r.SpanID(), r.Name())
				}
				t.Fatalf("%d root spans, want one: A's %s", len(roots), rootID)
			}
			sid := func(id tracing.EventID) pcommon.SpanID { return pcommon.SpanID(otlp.SpanIDOf(id)) }
			for _, c := range []struct {
				name          string
				span, parent  pcommon.SpanID
				flow, process string
			}{
				{"A: ActorCreated", sid(created), rootID, "pipeline", "A"},
				{"A: DataFlow", sid(sent), sid(created), "pipeline", "A"},
				{"B: ActorStarted", sid(started), sid(sent), "pipeline", "B"},
				{"B: ActorCompleted", sid(completed), sid(started), "pipeline", "B"},
				{"B: without a cause", sid(helper), rootID, "pipeline", "B"},
			} {
				sp, ok := spans[c.span]
				if !ok {
					t.Errorf("%s: span %s did not arrive", c.name, c.span)
					continue
				}
				if sp.ParentSpanID() != c.parent {
					t.Errorf("%s: parent %s, want %s", c.name, sp.ParentSpanID(), c.parent)
				}
				if _, ok := spans[sp.ParentSpanID()]; !ok {
					t.Errorf("%s: parent %s did not arrive", c.name, sp.ParentSpanID())
				}
				wantAttr(t, c.name, attrs(sp), otlp.AttrFlowID, c.flow)
			}
			if len(spans) != 6 {
				t.Errorf("%d spans arrived, want 6 (a root and 5 events)", len(spans))
			}
		})
	}
}

// TestJoinedHeader checks ObserveTrace's reading of wire.TagJoined at the
// Sink: a joined trace gets no root span, not at Close, not when it is
// forgotten (WithMaxTraces) and not when more of its events come after;
// a trace started here that is joined again (it came back from another
// process) keeps its root span; and a trace forgotten after its root went
// out gets no second one.
func TestJoinedHeader(t *testing.T) {
	recv := new(consumertest.TracesSink)
	addr := startCollector(t, otlp.ProtocolHTTP, recv)
	s := newSink(t, otlp.ProtocolHTTP, addr, otlp.WithMaxTraces(2))
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()

	now := time.Now().UTC()
	header := func(id tracing.TraceID, joined bool) tracing.FlowTrace {
		ft := tracing.FlowTrace{TraceID: id, FlowID: "f", StartTime: now, Status: tracing.ExecutionStatus{Kind: tracing.StatusRunning}}
		if joined {
			ft.Metadata.Tags = map[string]string{wire.TagJoined: "true"}
		}
		return ft
	}
	write := func(id tracing.TraceID) {
		t.Helper()
		ev := event.ActorCreated("a")
		ev.TraceID = id
		if err := s.Write(ctx, []tracing.TraceEvent{ev}); err != nil {
			t.Fatal(err)
		}
	}
	joined, forgotten, owned, other := tracing.NewTraceID(), tracing.NewTraceID(), tracing.NewTraceID(), tracing.NewTraceID()
	// The comments give the traces the Sink remembers, most recent first.
	s.ObserveTrace(header(owned, false))
	s.ObserveTrace(header(owned, true)) // came back: still started here
	write(owned)                        // owned
	s.ObserveTrace(header(forgotten, true))
	write(forgotten) // forgotten, owned
	write(other)     // other, forgotten; owned's root goes out
	write(owned)     // owned, other; forgotten (joined) has no root
	write(forgotten) // forgotten, owned; other's root goes out
	s.ObserveTrace(header(joined, true))
	write(joined) // joined, forgotten
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	roots := map[pcommon.TraceID]int{}
	for _, sp := range spansOf(recv) {
		if sp.span.ParentSpanID().IsEmpty() {
			roots[sp.span.TraceID()]++
		}
	}
	for _, c := range []struct {
		name  string
		id    tracing.TraceID
		roots int
	}{
		{"joined", joined, 0},
		{"joined, forgotten, written again", forgotten, 0},
		{"started here, joined again, forgotten, written again", owned, 1},
		{"never told of", other, 1},
	} {
		if got := roots[pcommon.TraceID(c.id)]; got != c.roots {
			t.Errorf("%s: %d root spans, want %d", c.name, got, c.roots)
		}
	}
}
