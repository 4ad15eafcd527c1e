package otlp_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/reflowtrace/reflowtrace-go/sink/otlp"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	rtprop "github.com/reflowtrace/reflowtrace-go/tracing/propagation"
)

// The spans go to an in-memory exporter here; a program exports them to a
// collector with WithEndpoint or WithEndpointURL instead of WithExporter.
func ExampleNew() {
	ctx := context.Background()
	spans := tracetest.NewInMemoryExporter()
	s, err := otlp.New(ctx, otlp.WithExporter(spans))
	if err != nil {
		log.Fatal(err)
	}
	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(s))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx) // closes the sink, which shuts the exporter down

	tctx, _, err := client.StartTrace(ctx, "pipeline", tracing.FlowVersion{Major: 1})
	if err != nil {
		log.Fatal(err)
	}
	created := client.ActorCreated(tctx, "sensor")
	client.DataFlow(tracing.ContextWithEvent(tctx, created), "sensor", "out", "scaler", "in", "Reading", 16)
	if err := client.EndTrace(tctx, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}); err != nil {
		log.Fatal(err)
	}
	// Flush exports the events and the ended trace's root span. The spans
	// are read before Close, because shutting the in-memory exporter down
	// clears it.
	if err := client.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	printSpans(spans.GetSpans())
	// Output:
	// flow:pipeline reflow.status=Completed
	//   ActorCreated:sensor reflow.actor_id=sensor
	//     dataflow:sensor->scaler reflow.actor_id=sensor reflow.message.type=Reading reflow.message.size_bytes=16
}

// printSpans prints spans as a tree, each under its parent, siblings in
// the order of their names, with a few of their attributes.
func printSpans(spans tracetest.SpanStubs) {
	children := map[trace.SpanID][]tracetest.SpanStub{}
	for _, s := range spans {
		children[s.Parent.SpanID()] = append(children[s.Parent.SpanID()], s)
	}
	var walk func(parent trace.SpanID, indent string)
	walk = func(parent trace.SpanID, indent string) {
		kids := children[parent]
		slices.SortFunc(kids, func(a, b tracetest.SpanStub) int { return strings.Compare(a.Name, b.Name) })
		for _, s := range kids {
			fmt.Print(indent, s.Name)
			for _, kv := range s.Attributes {
				switch kv.Key {
				case otlp.AttrStatus, otlp.AttrActorID, otlp.AttrMessageType, otlp.AttrMessageSize:
					fmt.Printf(" %s=%s", kv.Key, kv.Value.String())
				}
			}
			fmt.Println()
			walk(s.SpanContext.SpanID(), indent+"  ")
		}
	}
	walk(trace.SpanID{}, "") // a root span has no parent
}

// A ManualReader collects on demand; a program registers the client on the
// MeterProvider it exports its other metrics with (OTLP, Prometheus, …).
func ExampleRegisterMetrics() {
	ctx := context.Background()
	s, err := otlp.New(ctx, otlp.WithExporter(tracetest.NewNoopExporter()))
	if err != nil {
		log.Fatal(err)
	}
	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(s))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(ctx)
	unregister, err := otlp.RegisterMetrics(client, provider)
	if err != nil {
		log.Fatal(err)
	}
	defer unregister()

	client.ActorCreated(ctx, "sensor")
	client.DataFlow(ctx, "sensor", "out", "scaler", "in", "Reading", 16)
	client.DataFlow(ctx, "sensor", "out", "scaler", "in", "Reading", 16)
	if err := client.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == otlp.MetricRecorded || m.Name == otlp.MetricDelivered {
			fmt.Println(m.Name, m.Data.(metricdata.Sum[int64]).DataPoints[0].Value, m.Unit)
		}
	}
	// Output:
	// reflowtrace.events.recorded 3 {event}
	// reflowtrace.events.delivered 3 {event}
}

// The OpenTelemetry ids of a trace's spans follow from the reflowtrace ids,
// so spans of other OpenTelemetry instrumentation can join the trace: here
// a span of the program's own TracerProvider becomes a child of the trace's
// root span. In a program tid comes from StartTrace.
func ExampleTraceIDOf() {
	tid, err := tracing.ParseTraceID("0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f506")
	if err != nil {
		log.Fatal(err)
	}
	root := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: otlp.TraceIDOf(tid), SpanID: otlp.RootSpanIDOf(tid), TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), root)

	spans := tracetest.NewInMemoryExporter()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer provider.Shutdown(ctx)
	_, span := provider.Tracer("app").Start(ctx, "query database")
	span.End()

	got := spans.GetSpans()[0]
	fmt.Println("trace: ", got.SpanContext.TraceID())
	fmt.Println("parent:", got.Parent.SpanID())
	// Output:
	// trace:  0192f3a45b6c7d8e9fa0b1c2d3e4f506
	// parent: 9fa0b1c2d3e4f506
}

// A program whose HTTP or gRPC instrumentation takes an OpenTelemetry
// propagator (otel.SetTextMapPropagator(prop), otelhttp, otelgrpc) passes
// reflowtrace's through Propagator; here it writes a traced context's
// headers into a request's header.
func ExamplePropagator() {
	prop := propagation.NewCompositeTextMapPropagator(
		otlp.Propagator(rtprop.TraceContext{}), propagation.Baggage{})

	tid, err := tracing.ParseTraceID("0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f506")
	if err != nil {
		log.Fatal(err)
	}
	ctx := tracing.ContextWithTrace(context.Background(), tracing.TraceRef{ID: tid})
	header := propagation.HeaderCarrier{}
	prop.Inject(ctx, header)
	fmt.Println(header.Get("traceparent"))
	// Output:
	// 00-0192f3a45b6c7d8e9fa0b1c2d3e4f506-9fa0b1c2d3e4f506-01
}
