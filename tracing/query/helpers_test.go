package query_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
	"github.com/reflowtrace/reflowtrace-go/tracing/query"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// testCtx bounds every network test.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func startServer(t *testing.T, ctx context.Context, opts ...tracetest.Option) *tracetest.Server {
	t.Helper()
	srv, err := tracetest.Start(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// fastRetry reconnects quickly and often.
var fastRetry = query.WithRetry(retry.Policy{InitialDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, MaxRetries: retry.Unlimited, MaxElapsedTime: 20 * time.Second})

func dial(t *testing.T, ctx context.Context, url string, opts ...query.Option) *query.Client {
	t.Helper()
	c, err := query.Dial(ctx, url, append([]query.Option{fastRetry}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// eventAt returns ev with a fresh id and at as its time.
func eventAt(ev tracing.TraceEvent, at time.Time) tracing.TraceEvent {
	ev.EventID = tracing.NewEventID()
	ev.Timestamp = at
	return ev
}

// mkTrace returns a trace with one ActorStarted event per actor.
func mkTrace(flow tracing.FlowID, exec tracing.ExecutionID, start time.Time, status tracing.ExecutionStatus, actors ...string) tracing.FlowTrace {
	tr := tracing.FlowTrace{
		TraceID: tracing.NewTraceID(), FlowID: flow, ExecutionID: exec,
		Version: tracing.FlowVersion{Major: 1, Timestamp: start}, StartTime: start,
		Status: status, Events: []tracing.TraceEvent{},
		Metadata: tracing.TraceMetadata{Environment: "test", Hostname: "h", Tags: map[string]string{}},
	}
	for i, a := range actors {
		tr.Events = append(tr.Events, eventAt(event.ActorStarted(a), start.Add(time.Duration(i)*time.Millisecond)))
	}
	return tr
}

// peer is a raw connection that stores traces and records events.
type peer struct {
	t   *testing.T
	ws  *websocket.Conn
	enc wire.Encoder
}

func newPeer(t *testing.T, ctx context.Context, url string) *peer {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &peer{t: t, ws: ws}
}

func (p *peer) ask(ctx context.Context, req wire.TracingRequest) wire.TracingResponse {
	p.t.Helper()
	if err := p.ws.Write(ctx, websocket.MessageText, p.enc.AppendRequest(nil, req)); err != nil {
		p.t.Fatal(err)
	}
	typ, data, err := p.ws.Read(ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	if typ != websocket.MessageText {
		p.t.Fatalf("binary acknowledgement")
	}
	resp, err := wire.DecodeResponse(data)
	if err != nil {
		p.t.Fatal(err)
	}
	return resp
}

func (p *peer) store(ctx context.Context, traces ...tracing.FlowTrace) {
	p.t.Helper()
	for _, tr := range traces {
		if r, ok := p.ask(ctx, wire.StoreTrace{Trace: tr}).(wire.TraceStored); !ok || r.TraceID != tr.TraceID {
			p.t.Fatalf("StoreTrace %s: reply %#v", tr.TraceID, r)
		}
	}
}

func (p *peer) record(ctx context.Context, trace tracing.TraceID, ev tracing.TraceEvent) {
	p.t.Helper()
	if r, ok := p.ask(ctx, wire.RecordEvent{TraceID: trace, Event: ev}).(wire.EventRecorded); !ok || !r.Success {
		p.t.Fatalf("RecordEvent: reply %#v", r)
	}
}

func ids(evs []tracing.TraceEvent) []string {
	out := make([]string, len(evs))
	for i := range evs {
		out[i] = evs[i].EventID.String()
	}
	return out
}

func traceIDs(ts []tracing.FlowTrace) map[tracing.TraceID]bool {
	out := map[tracing.TraceID]bool{}
	for _, t := range ts {
		out[t.TraceID] = true
	}
	return out
}

type variant struct {
	name string
	gen  tracetest.Generation
	comp *transport.CompressionAlgorithm
}

func (v variant) opts() []tracetest.Option {
	o := []tracetest.Option{tracetest.WithGeneration(v.gen)}
	if v.comp != nil {
		o = append(o, tracetest.WithCompression(*v.comp))
	}
	return o
}

// variants are both generations, without and with each compression.
func variants() []variant {
	var out []variant
	for _, g := range []tracetest.Generation{tracetest.Gen1, tracetest.Gen2} {
		out = append(out, variant{name: fmt.Sprintf("gen%d", g), gen: g})
		for _, a := range []transport.CompressionAlgorithm{transport.CompressionZstd, transport.CompressionLZ4, transport.CompressionGzip, transport.CompressionBrotli} {
			out = append(out, variant{name: fmt.Sprintf("gen%d-%s", g, a), gen: g, comp: &a})
		}
	}
	return out
}
