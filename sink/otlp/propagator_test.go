package otlp_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"

	"github.com/reflowtrace/reflowtrace-go/sink/otlp"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	rtprop "github.com/reflowtrace/reflowtrace-go/tracing/propagation"
)

// TestPropagatorInComposite: otlp.Propagator composed with OpenTelemetry's
// Baggage propagator, as an application would pass it to
// otel.SetTextMapPropagator, carries the trace, the cause and a
// tracestate over OpenTelemetry's HeaderCarrier, next to the baggage.
func TestPropagatorInComposite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	prop := propagation.NewCompositeTextMapPropagator(otlp.Propagator(rtprop.TraceContext{}), propagation.Baggage{})
	for _, f := range []string{"traceparent", "reflow-trace", "tracestate", "baggage"} {
		if !slices.Contains(prop.Fields(), f) {
			t.Errorf("composite Fields() = %v, want %q among them", prop.Fields(), f)
		}
	}

	// What an upstream service sent: a trace, a cause, a tracestate.
	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(discardSink{}))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(ctx)
	tctx, tid, err := client.StartTrace(ctx, "pipeline", tracing.FlowVersion{Major: 1})
	if err != nil {
		t.Fatal(err)
	}
	cause := client.ActorCreated(tctx, "sensor")
	up := http.Header{}
	rtprop.TraceContext{}.Inject(tracing.ContextWithEvent(tctx, cause), rtprop.HeaderCarrier(up))
	up.Set("tracestate", "congo=t61rcWkgMzE")
	member, err := baggage.NewMember("tenant", "acme")
	if err != nil {
		t.Fatal(err)
	}
	bag, err := baggage.New(member)
	if err != nil {
		t.Fatal(err)
	}
	propagation.Baggage{}.Inject(baggage.ContextWithBaggage(context.Background(), bag), propagation.HeaderCarrier(up))

	got := prop.Extract(context.Background(), propagation.HeaderCarrier(up))
	c := tracing.CauseFromContext(got)
	if c.EventID() != cause {
		t.Errorf("extracted cause %v, want %v", c.EventID(), cause)
	}
	if ref, ok := c.Trace(); !ok || ref.ID != tid {
		t.Errorf("extracted trace %v (%v), want %v", ref.ID, ok, tid)
	}
	if v := baggage.FromContext(got).Member("tenant").Value(); v != "acme" {
		t.Errorf("baggage tenant=%q, want acme", v)
	}

	down := http.Header{}
	prop.Inject(got, propagation.HeaderCarrier(down))
	if down.Get("traceparent") != up.Get("traceparent") || down.Get("reflow-trace") == "" {
		t.Errorf("injected traceparent %q, reflow-trace %q; want traceparent %q and a reflow-trace",
			down.Get("traceparent"), down.Get("reflow-trace"), up.Get("traceparent"))
	}
	if ts := down.Get("tracestate"); ts != "congo=t61rcWkgMzE" {
		t.Errorf("injected tracestate %q, want the one received", ts)
	}
	if b := down.Get("baggage"); b != "tenant=acme" {
		t.Errorf("injected baggage %q, want tenant=acme", b)
	}

	// A nil carrier is ignored, as OpenTelemetry's propagators do.
	otlp.Propagator(rtprop.TraceContext{}).Inject(got, nil)
	if otlp.Propagator(rtprop.TraceContext{}).Extract(ctx, nil) != ctx {
		t.Error("Extract with a nil carrier changed ctx")
	}
}
