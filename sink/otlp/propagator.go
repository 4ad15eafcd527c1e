package otlp

import (
	"context"

	"go.opentelemetry.io/otel/propagation"

	rtprop "github.com/reflowtrace/reflowtrace-go/tracing/propagation"
)

// Propagator returns p as an OpenTelemetry propagation.TextMapPropagator,
// for otel.SetTextMapPropagator, propagation.NewCompositeTextMapPropagator
// or any instrumentation that takes one (otelhttp, otelgrpc): it injects
// and extracts what p does (traceparent, reflow-trace, tracestate) through
// OpenTelemetry's carriers. Package tracing/propagation cannot be used
// there directly, as it does not import OpenTelemetry. Both p and
// OpenTelemetry's own propagation.TraceContext write traceparent: compose
// Propagator with propagation.Baggage and others, not with that one.
func Propagator(p rtprop.TraceContext) propagation.TextMapPropagator {
	return propagator{p: p}
}

// propagator adapts rtprop.TraceContext, whose carrier interface has the
// method set of OpenTelemetry's.
type propagator struct{ p rtprop.TraceContext }

var _ propagation.TextMapPropagator = propagator{}

func (a propagator) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	if carrier == nil {
		return
	}
	a.p.Inject(ctx, carrier)
}

func (a propagator) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	if carrier == nil {
		return ctx
	}
	return a.p.Extract(ctx, carrier)
}

func (a propagator) Fields() []string { return a.p.Fields() }
