package query_test

import (
	"fmt"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/sink/websocket"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/propagation"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// TestTraceAcrossTwoProcesses checks that a trace recorded by two
// processes (two clients, each with its own WebSocket sink), the second
// joining it through propagation, is kept whole on a server that replaces
// a stored trace whole: every event of both, once, with the status the
// first process ended it with, read back as one trace. It runs on both
// generations in every mode that keeps events, with a propagator that
// joins the trace as it extracts it (Client set) and with the zero
// propagator, whose extracted trace the client joins as it records.
func TestTraceAcrossTwoProcesses(t *testing.T) {
	type run struct {
		gen  tracetest.Generation
		mode websocket.Mode
	}
	runs := []run{
		{tracetest.Gen1, websocket.ModeStore}, {tracetest.Gen1, websocket.ModeBoth},
		{tracetest.Gen2, websocket.ModeStore}, {tracetest.Gen2, websocket.ModeLive}, {tracetest.Gen2, websocket.ModeBoth},
	}
	for _, r := range runs {
		for _, withClient := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/%s/client=%t", r.gen, r.mode, withClient), func(t *testing.T) {
				testTraceAcrossTwoProcesses(t, r.gen, r.mode, withClient)
			})
		}
	}
}

func testTraceAcrossTwoProcesses(t *testing.T, gen tracetest.Generation, mode websocket.Mode, withClient bool) {
	ctx := testCtx(t)
	srv := startServer(t, ctx, tracetest.WithGeneration(gen))
	newClient := func() *tracing.TracingClient {
		ws, err := websocket.New(srv.URL(), websocket.WithMode(mode))
		if err != nil {
			t.Fatal(err)
		}
		c, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(ws))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := newClient(), newClient()
	var ids []tracing.EventID
	actx, trace, err := a.StartTrace(ctx, "orders", tracing.FlowVersion{Major: 1})
	if err != nil {
		t.Fatal(err)
	}
	first := a.ActorStarted(actx, "frontend")
	ids = append(ids, first)
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{Client: a}.Inject(tracing.ContextWithEvent(actx, first), carrier)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// The second process joins the trace and records into it.
	prop := propagation.TraceContext{}
	if withClient {
		prop.Client = b
	}
	bctx := prop.Extract(ctx, carrier)
	for range 20 {
		ids = append(ids, b.DataFlow(bctx, "backend", "out", "db", "in", "Row", 8))
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		ids = append(ids, a.DataFlow(actx, "frontend", "out", "backend", "in", "Order", 8))
	}
	if err := a.EndTrace(actx, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*tracing.TracingClient{b, a} {
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}

	q := dial(t, ctx, srv.URL())
	tr, err := q.Trace(ctx, trace)
	if err != nil || tr == nil {
		t.Fatalf("Trace = %v, %v", tr, err)
	}
	seen := map[tracing.EventID]int{}
	for _, ev := range tr.Events {
		seen[ev.EventID]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("event %s read %d times, want once; trace has %d events", id, seen[id], len(tr.Events))
		}
	}
	if tr.Status.Kind != tracing.StatusCompleted {
		t.Fatalf("status %v, want Completed", tr.Status)
	}
}
