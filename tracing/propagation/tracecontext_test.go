package propagation_test

import (
	"context"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink/memory"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/propagation"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newClient returns a client writing to a memory sink, closed at the end
// of the test.
func newClient(t *testing.T, flow tracing.FlowID) (*tracing.TracingClient, *memory.Sink) {
	t.Helper()
	mem, err := memory.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg := tracing.DefaultConfig()
	cfg.FlowID = flow
	cfg.BatchTimeout = time.Millisecond
	c, err := tracing.New(cfg, tracing.WithSink(mem))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, mem
}

func find(t *testing.T, mem *memory.Sink, id tracing.EventID) tracing.TraceEvent {
	t.Helper()
	for _, ev := range mem.Events() {
		if ev.EventID == id {
			return ev
		}
	}
	t.Fatalf("event %v not delivered", id)
	return tracing.TraceEvent{}
}

// chainCtx returns a ctx in a new trace of c with a cause n events deep,
// and the events, oldest first.
func chainCtx(t *testing.T, c *tracing.TracingClient, flow tracing.FlowID, n int) (context.Context, tracing.TraceID, []tracing.EventID) {
	t.Helper()
	ctx, trace, err := c.StartTrace(testCtx(t), flow, tracing.FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []tracing.EventID
	for i := range n {
		id := c.DataFlow(ctx, "a", "out", "b", "in", "T", uint64(i))
		ids = append(ids, id)
		ctx = tracing.ContextWithEvent(ctx, id)
	}
	return ctx, trace, ids
}

func TestRoundTrip(t *testing.T) {
	c, _ := newClient(t, "sender")
	var p propagation.TraceContext
	for _, tt := range []struct {
		name  string
		depth int
		flow  tracing.FlowID
	}{
		{"no cause", 0, "plain"},
		{"one cause", 1, "plain"},
		{"chain", 5, "flow; with=odd chars/ü"},
		{"long chain", 40, "plain"},
		{"long flow id", 3, tracing.FlowID(strings.Repeat("x", 300))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, trace, ids := chainCtx(t, c, tt.flow, tt.depth)
			carrier := propagation.MapCarrier{}
			p.Inject(ctx, carrier)
			if v := carrier.Get(propagation.ReflowField); len(v) > propagation.MaxHeaderLen {
				t.Fatalf("reflow-trace of %d bytes, more than MaxHeaderLen", len(v))
			}
			ref, cause, ok := p.Parse(carrier)
			if !ok || ref.ID != trace {
				t.Fatalf("Parse = %+v, %v; want trace %v", ref, ok, trace)
			}
			sent, _ := tracing.CauseFromContext(ctx).Trace()
			if ref.ExecutionID != sent.ExecutionID {
				t.Fatalf("execution id %v, want %v", ref.ExecutionID, sent.ExecutionID)
			}
			wantFlow := tt.flow
			if len(tt.flow) > propagation.MaxFlowIDLen {
				wantFlow = ""
			}
			if ref.FlowID != wantFlow {
				t.Fatalf("flow id %q, want %q", ref.FlowID, wantFlow)
			}
			if tt.depth == 0 {
				if !cause.IsZero() {
					t.Fatalf("cause %v from a ctx without one", cause.EventID())
				}
				return
			}
			want := tracing.CauseFromContext(ctx)
			if cause.EventID() != ids[len(ids)-1] || cause.Root() != ids[0] || !slices.Equal(cause.Chain(), want.Chain()) {
				t.Fatalf("cause %v root %v chain %d ids; want %v %v %d", cause.EventID(), cause.Root(), len(cause.Chain()), ids[len(ids)-1], ids[0], len(want.Chain()))
			}
		})
	}
}

// TestTraceparentFormat checks the W3C field byte by byte.
func TestTraceparentFormat(t *testing.T) {
	c, _ := newClient(t, "f")
	ctx, trace, ids := chainCtx(t, c, "f", 1)
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	tp := carrier.Get("traceparent")
	want := "00-" + strings.ReplaceAll(trace.String(), "-", "") + "-" + strings.ReplaceAll(ids[0].String(), "-", "")[16:] + "-01"
	if tp != want {
		t.Fatalf("traceparent %q, want %q", tp, want)
	}
	if got := (propagation.TraceContext{}).Fields(); !slices.Equal(got, []string{"traceparent", "reflow-trace", "tracestate"}) {
		t.Fatalf("Fields = %v", got)
	}
}

// TestTraceparentWithoutCause checks that a ctx with a trace but no cause
// names the trace's root span as traceparent's parent, the span id the
// OTLP sink exports the root under, not one derived from the execution id,
// and that the receiving side still joins the trace without a cause.
func TestTraceparentWithoutCause(t *testing.T) {
	c, _ := newClient(t, "f")
	ctx, trace, err := c.StartTrace(testCtx(t), "f", tracing.FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := tracing.CauseFromContext(ctx).Trace()
	if ref.ExecutionID.IsZero() || [8]byte(ref.ExecutionID[8:]) == trace.RootSpanID() {
		t.Fatalf("the trace's execution id %v does not tell the derivations apart", ref.ExecutionID)
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	root := trace.RootSpanID()
	want := "00-" + hex.EncodeToString(trace[:]) + "-" + hex.EncodeToString(root[:]) + "-01"
	if tp := carrier.Get("traceparent"); tp != want {
		t.Fatalf("traceparent %q, want %q (the root span's id)", tp, want)
	}
	got, cause, ok := propagation.TraceContext{}.Parse(carrier)
	if !ok || got != ref || !cause.IsZero() {
		t.Fatalf("Parse = %+v, cause %v, %v; want %+v and no cause", got, cause.EventID(), ok, ref)
	}
}

// TestCauseWithZeroLowHalf checks that a cause whose id ends in 8 zero
// bytes (an id a user supplied, not a UUIDv7) travels: traceparent carries
// its span id, which is never all zero, and the receiver matches the cause
// to it.
func TestCauseWithZeroLowHalf(t *testing.T) {
	c, _ := newClient(t, "f")
	ctx, trace, err := c.StartTrace(testCtx(t), "f", tracing.FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	id := tracing.EventID{1, 2, 3, 4, 5, 6, 7, 8}
	ctx = tracing.ContextWithEvent(ctx, id)
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	span := id.SpanID()
	if tp := carrier.Get("traceparent"); tp[36:52] != hex.EncodeToString(span[:]) {
		t.Fatalf("traceparent %q, want parent id %x", tp, span)
	}
	ref, cause, ok := propagation.TraceContext{}.Parse(carrier)
	if !ok || ref.ID != trace || cause.EventID() != id {
		t.Fatalf("Parse = %+v, cause %v, %v; want the cause %v", ref, cause.EventID(), ok, id)
	}
}

func TestInject_NoTrace(t *testing.T) {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(context.Background(), carrier)
	if len(carrier) != 0 {
		t.Fatalf("a ctx without a trace injected %v", carrier)
	}
	propagation.TraceContext{}.Inject(context.Background(), nil) // must not panic

	// With a client, its implicit trace is sent.
	c, _ := newClient(t, "implicit")
	p := propagation.TraceContext{Client: c}
	p.Inject(context.Background(), carrier)
	ref, _, ok := p.Parse(carrier)
	if !ok || ref.ID != c.CurrentTrace(context.Background()).ID || ref.FlowID != "implicit" {
		t.Fatalf("implicit trace: Parse = %+v, %v", ref, ok)
	}
}

// TestExtract_Malformed: nothing malformed changes the context or panics;
// a bad reflow-trace keeps traceparent's trace and drops the cause.
func TestExtract_Malformed(t *testing.T) {
	c, _ := newClient(t, "f")
	ctx, trace, _ := chainCtx(t, c, "f", 3)
	good := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, good)
	tp, rt := good.Get("traceparent"), good.Get("reflow-trace")
	zeroTrace := "00-" + strings.Repeat("0", 32) + tp[35:]
	for _, tt := range []struct {
		name      string
		tp, rt    string
		wantTrace bool
		wantCause bool
	}{
		{"valid", tp, rt, true, true},
		{"no headers", "", "", false, false},
		{"short traceparent", tp[:54], rt, false, false},
		{"version 00 with a suffix", tp + "-x", rt, false, false},
		{"future version with a suffix", "01" + tp[2:] + "-more", rt, true, true},
		{"future version glued suffix", "01" + tp[2:] + "x", rt, false, false},
		{"version ff", "ff" + tp[2:], rt, false, false},
		{"upper-case hex", strings.ToUpper(tp), rt, false, false},
		{"zero trace id", zeroTrace, rt, false, false},
		{"zero parent id", tp[:36] + strings.Repeat("0", 16) + tp[52:], rt, false, false},
		{"bad separator", tp[:2] + "_" + tp[3:], rt, false, false},
		{"non-hex flags", tp[:53] + "zz", rt, false, false},
		{"parent mismatch", tp[:36] + "0123456789abcdef" + tp[52:], rt, true, false},
		{"no reflow-trace", tp, "", true, false},
		{"reflow-trace unknown version", tp, "v=2" + rt[3:], true, false},
		{"reflow-trace no version", tp, rt[4:], true, false},
		{"reflow-trace bad id", tp, strings.Replace(rt, "c=", "c=zz", 1), true, false},
		{"reflow-trace bad chain", tp, rt + ";d=abc", true, false},
		{"reflow-trace bad escape", tp, rt + ";f=%zz", true, false},
		{"reflow-trace too long", tp, rt + ";x=" + strings.Repeat("a", propagation.MaxHeaderLen), true, false},
		{"reflow-trace no equals", tp, rt + ";junk", true, false},
		{"reflow-trace unknown key", tp, rt + ";z=later", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			carrier := propagation.MapCarrier{"traceparent": tt.tp, "reflow-trace": tt.rt}
			base := context.Background()
			got := propagation.TraceContext{}.Extract(base, carrier)
			ref, ok := tracing.CauseFromContext(got).Trace()
			if ok != tt.wantTrace || (ok && ref.ID != trace) {
				t.Fatalf("trace %+v, %v; want %v", ref, ok, tt.wantTrace)
			}
			if !tt.wantTrace && got != base {
				t.Fatal("a rejected carrier changed the context")
			}
			if ok := !tracing.CauseFromContext(got).EventID().IsZero(); ok != tt.wantCause {
				t.Fatalf("cause found %v, want %v", ok, tt.wantCause)
			}
		})
	}
	if _, _, ok := (propagation.TraceContext{}).Parse(nil); ok {
		t.Fatal("a nil carrier parsed")
	}
}

// TestHeaderCarrier: http.Header canonicalizes keys; Get still finds them.
func TestHeaderCarrier(t *testing.T) {
	c, _ := newClient(t, "f")
	ctx, trace, _ := chainCtx(t, c, "f", 2)
	h := propagation.HeaderCarrier{}
	propagation.TraceContext{}.Inject(ctx, h)
	keys := h.Keys()
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"Reflow-Trace", "Traceparent"}) {
		t.Fatalf("header keys %v", keys)
	}
	ref, cause, ok := propagation.TraceContext{}.Parse(h)
	if !ok || ref.ID != trace || cause.IsZero() {
		t.Fatalf("Parse of a header = %+v, %v", ref, ok)
	}
	m := propagation.MapCarrier{"a": "1", "b": "2"}
	if k := m.Keys(); len(k) != 2 {
		t.Fatalf("MapCarrier.Keys = %v", k)
	}
}
