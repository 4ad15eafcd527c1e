package otlp_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/reflowtrace/reflowtrace-go/sink/otlp"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	rtprop "github.com/reflowtrace/reflowtrace-go/tracing/propagation"
)

// TestTraceparentNamesExportedSpans puts an OpenTelemetry service between
// two calls of a traced flow: it extracts reflowtrace's traceparent with
// OpenTelemetry's own propagator and starts its span there. Called with a
// ctx that carries the trace but no cause, its span must be a child of the
// root span the Sink exports; called with an event as cause, a child of
// that event's span. Otherwise the span is an orphan in Jaeger.
func TestTraceparentNamesExportedSpans(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	exported := tracetest.NewInMemoryExporter()
	s, err := otlp.New(ctx, otlp.WithExporter(exported))
	if err != nil {
		t.Fatal(err)
	}
	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(s))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(ctx)

	service := tracetest.NewInMemoryExporter()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(service))
	defer provider.Shutdown(ctx)
	call := func(ctx context.Context, name string) {
		carrier := rtprop.MapCarrier{}
		rtprop.TraceContext{}.Inject(ctx, carrier)
		octx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier(carrier))
		_, span := provider.Tracer("service").Start(octx, name)
		span.End()
	}

	tctx, tid, err := client.StartTrace(ctx, "pipeline", tracing.FlowVersion{Major: 1})
	if err != nil {
		t.Fatal(err)
	}
	call(tctx, "without cause")
	created := client.ActorCreated(tctx, "sensor")
	call(tracing.ContextWithEvent(tctx, created), "with cause")
	if err := client.EndTrace(tctx, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}); err != nil {
		t.Fatal(err)
	}
	if err := client.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	ids := map[trace.SpanID]string{}
	for _, sp := range exported.GetSpans() {
		ids[sp.SpanContext.SpanID()] = sp.Name
	}
	want := map[string]string{"without cause": "flow:pipeline", "with cause": "ActorCreated:sensor"}
	got := service.GetSpans()
	if len(got) != len(want) {
		t.Fatalf("the service made %d spans, want %d", len(got), len(want))
	}
	for _, sp := range got {
		if sp.SpanContext.TraceID() != otlp.TraceIDOf(tid) {
			t.Errorf("%s: trace %s, want %s", sp.Name, sp.SpanContext.TraceID(), otlp.TraceIDOf(tid))
		}
		parent, ok := ids[sp.Parent.SpanID()]
		if !ok {
			t.Errorf("%s: parent %s is no span the sink exported (%v)", sp.Name, sp.Parent.SpanID(), ids)
			continue
		}
		if parent != want[sp.Name] {
			t.Errorf("%s: parent %q, want %q", sp.Name, parent, want[sp.Name])
		}
	}
}
