package query_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink/websocket"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

func TestTraceJoinsSegments(t *testing.T) {
	for _, tc := range []struct {
		name string
		gen  tracetest.Generation
		mode websocket.Mode
	}{
		{"gen1-store", tracetest.Gen1, websocket.ModeStore},
		{"gen2-store", tracetest.Gen2, websocket.ModeStore},
		{"gen2-both", tracetest.Gen2, websocket.ModeBoth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			srv := startServer(t, ctx, tracetest.WithGeneration(tc.gen))
			cfg := tracing.DefaultConfig()
			cfg.ServerURL = srv.URL()
			cfg.FlowID = "segmented"
			cfg.QueueSize = 1 << 12
			ws, err := websocket.New(srv.URL(), append(websocket.OptionsFromConfig(cfg),
				websocket.WithMaxFrameBytes(2048), websocket.WithMode(tc.mode))...)
			if err != nil {
				t.Fatal(err)
			}
			tc1, err := tracing.New(cfg, tracing.WithSink(ws))
			if err != nil {
				t.Fatal(err)
			}
			tctx, id, err := tc1.StartTrace(ctx, cfg.FlowID, tracing.FlowVersion{Major: 1})
			if err != nil {
				t.Fatal(err)
			}
			var want []tracing.EventID
			// Events of one kind: the client keeps critical ones ahead of
			// routine ones, so only within a kind is the order recorded the
			// order sent.
			for i := range 120 {
				want = append(want, tc1.DataFlow(tctx, "worker", "out", "sink", "in", "Row", uint64(i)))
			}
			if err := tc1.EndTrace(tctx, tracing.FailedStatus("worker crashed")); err != nil {
				t.Fatal(err)
			}
			if err := tc1.Close(ctx); err != nil {
				t.Fatal(err)
			}

			c := dial(t, ctx, srv.URL())
			first, err := c.GetTrace(ctx, id)
			if err != nil || first == nil {
				t.Fatalf("GetTrace = %v, %v", first, err)
			}
			if len(first.Events) >= len(want) {
				t.Fatalf("first segment holds all %d events: the trace was not segmented", len(first.Events))
			}
			whole, err := c.Trace(ctx, id)
			if err != nil || whole == nil {
				t.Fatalf("Trace = %v, %v", whole, err)
			}
			wantS := make([]string, len(want))
			for i, e := range want {
				wantS[i] = e.String()
			}
			if got := ids(whole.Events); !slices.Equal(got, wantS) {
				t.Errorf("Trace events: %d, want the %d recorded, in order", len(got), len(wantS))
			}
			if whole.TraceID != id || whole.Status != tracing.FailedStatus("worker crashed") {
				t.Errorf("Trace: id %s status %v", whole.TraceID, whole.Status)
			}
			if _, tagged := whole.Metadata.Tags[wire.TagSegmentOf]; tagged {
				t.Error("joined trace carries a segment tag")
			}
			// A later segment's id reads the whole trace too.
			res, err := c.QueryTraces(ctx, wire.TraceQuery{ExecutionID: first.ExecutionID})
			if err != nil {
				t.Fatal(err)
			}
			for _, seg := range res.Traces {
				if seg.TraceID == id {
					continue
				}
				again, err := c.Trace(ctx, seg.TraceID)
				if err != nil || again == nil || again.TraceID != id || len(again.Events) != len(want) {
					t.Errorf("Trace(segment %s) = %v, %v", seg.TraceID, again, err)
				}
				break
			}
		})
	}
}

// TestTraceWithoutItsFirstSegment: the server no longer keeps a trace's
// first segment (the memory backend evicts the oldest first); Trace of a
// later segment joins the segments it still keeps, in order, under the
// first segment's id.
func TestTraceWithoutItsFirstSegment(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t, ctx)
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	exec := tracing.NewExecutionID()
	head := tracing.NewTraceID() // never stored, or evicted
	var segs []tracing.FlowTrace
	for i, actors := range [][]string{{"a", "b"}, {"c"}} {
		seg := mkTrace("f", exec, base.Add(time.Duration(i)*time.Second), tracing.ExecutionStatus{Kind: tracing.StatusRunning}, actors...)
		seg.Metadata.Tags[wire.TagSegmentOf] = head.String()
		seg.Metadata.Tags[wire.TagSegment] = strconv.Itoa(i + 1)
		segs = append(segs, seg)
	}
	segs[1].Status = tracing.ExecutionStatus{Kind: tracing.StatusCompleted}
	newPeer(t, ctx, srv.URL()).store(ctx, segs[1], segs[0])
	c := dial(t, ctx, srv.URL())
	got, err := c.Trace(ctx, segs[1].TraceID)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatalf("Trace(%s) = nil, nil, but the server keeps it (its first segment %s is gone)", segs[1].TraceID, head)
	}
	want := append(ids(segs[0].Events), ids(segs[1].Events)...)
	if got.TraceID != head || !slices.Equal(ids(got.Events), want) || got.Status != segs[1].Status {
		t.Fatalf("Trace = %s with %v, %v; want %s with %v, Completed", got.TraceID, ids(got.Events), got.Status, head, want)
	}
}
