// Command example traces a small pipeline and exports it as OpenTelemetry
// spans over OTLP.
//
// A sensor sends readings to a scaler, which sends them on to a printer;
// the last reading makes the printer fail. Every send goes through the
// tracing client's SendMiddleware, so each data flow is a span whose parent
// is the event that caused it.
//
// With no flag it starts the OpenTelemetry Collector's OTLP receiver
// in-process on a loopback port, exports to it, and prints the spans that
// arrived, as a tree:
//
//	cd sink/otlp && go run ./example
//
// To see the trace in Jaeger, start its all-in-one image, which accepts
// OTLP on 4317 (gRPC) and 4318 (HTTP), and point the example at it:
//
//	docker run --rm -p 4317:4317 -p 4318:4318 -p 16686:16686 jaegertracing/all-in-one
//	cd sink/otlp && go run ./example -endpoint localhost:4317
//
// then open http://localhost:16686, pick the service "reflowtrace-example"
// and find the trace "flow:otlp-example". -protocol http (with port 4318)
// exports over OTLP/HTTP instead; -tls exports over TLS.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/reflowtrace/reflowtrace-go/sink/otlp"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/actors"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
)

func main() {
	endpoint := flag.String("endpoint", "", "OTLP collector host:port (default: a collector started in-process on loopback)")
	protocol := flag.String("protocol", "grpc", "grpc or http")
	useTLS := flag.Bool("tls", false, "export over TLS")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, *endpoint, *protocol, *useTLS); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, endpoint, protocol string, useTLS bool) error {
	proto := otlp.ProtocolGRPC
	switch protocol {
	case "grpc":
	case "http":
		proto = otlp.ProtocolHTTP
	default:
		return fmt.Errorf("-protocol %q: want grpc or http", protocol)
	}
	var received *collected
	if endpoint == "" {
		var stop func(context.Context) error
		var err error
		endpoint, received, stop, err = startCollector(ctx, proto)
		if err != nil {
			return err
		}
		defer func() { _ = stop(context.Background()) }()
	}

	opts := []otlp.Option{otlp.WithProtocol(proto), otlp.WithEndpoint(endpoint), otlp.WithServiceName("reflowtrace-example")}
	if !useTLS {
		opts = append(opts, otlp.WithInsecure())
	}
	s, err := otlp.New(ctx, opts...)
	if err != nil {
		return err
	}
	cfg := tracing.DefaultConfig()
	cfg.FlowID = "otlp-example"
	client, err := tracing.New(cfg, tracing.WithSink(s))
	if err != nil {
		return errors.Join(err, s.Close(ctx))
	}
	// The client's self-metrics, read once at the end.
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = provider.Shutdown(context.Background()) }()
	if _, err := otlp.RegisterMetrics(client, provider); err != nil {
		return errors.Join(err, client.Close(ctx))
	}

	tctx, _, err := client.StartTrace(ctx, "", tracing.FlowVersion{Major: 1})
	if err != nil {
		return errors.Join(err, client.Close(ctx))
	}
	pipelineErr := pipeline(tctx, client)
	status := tracing.ExecutionStatus{Kind: tracing.StatusCompleted}
	if pipelineErr != nil {
		status = tracing.FailedStatus(pipelineErr.Error())
	}
	if err := client.EndTrace(tctx, status); err != nil {
		return errors.Join(err, client.Close(ctx))
	}
	if err := client.Close(ctx); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	m := client.Metrics()
	fmt.Printf("recorded %d events, delivered %d to %s, dropped %d\n", m.Recorded, m.Delivered, endpoint, m.Dropped.Total())
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err == nil {
		for _, sm := range rm.ScopeMetrics {
			for _, mt := range sm.Metrics {
				if sum, ok := mt.Data.(metricdata.Sum[int64]); ok && mt.Name == otlp.MetricDelivered {
					fmt.Printf("metric %s = %d\n", mt.Name, sum.DataPoints[0].Value)
				}
			}
		}
	}
	if received != nil {
		received.print(os.Stdout)
	}
	return nil
}

// pipeline runs sensor → scaler → printer; the printer fails on the last
// reading. Each actor handles a message inside the send that delivers it,
// with the ctx the middleware passes on, so what it records is a child of
// that data flow.
func pipeline(ctx context.Context, client *tracing.TracingClient) error {
	var send actors.SendFunc
	deliver := func(ctx context.Context, s actors.Send) error {
		recv := client.MessageReceived(ctx, s.ToActor, s.ToPort, s.MessageType, s.Size)
		rctx := tracing.ContextWithEvent(ctx, recv)
		switch s.ToActor {
		case "scaler":
			return send(rctx, actors.Send{FromActor: "scaler", FromPort: "out", ToActor: "printer", ToPort: "in",
				MessageType: "Scaled", Size: 16, Message: s.Message})
		case "printer":
			if s.Message == 2 {
				client.Record(rctx, event.ActorFailed("printer", "reading out of range"))
				return errors.New("printer: reading out of range")
			}
		}
		return nil
	}
	send = actors.SendMiddleware(client, deliver)
	for _, a := range []string{"sensor", "scaler", "printer"} {
		client.ActorCreated(ctx, a)
	}
	sctx := tracing.ContextWithEvent(ctx, client.ActorStarted(ctx, "sensor"))
	for i := range 3 {
		if err := send(sctx, actors.Send{FromActor: "sensor", FromPort: "out", ToActor: "scaler", ToPort: "in",
			MessageType: "Reading", Size: 16, Message: i}); err != nil {
			return err
		}
	}
	return nil
}

// collected holds the spans the in-process collector received.
type collected struct {
	mu    sync.Mutex
	spans []ptrace.Span
}

func (c *collected) consume(_ context.Context, td ptrace.Traces) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range td.ResourceSpans().Len() {
		ss := td.ResourceSpans().At(i).ScopeSpans()
		for j := range ss.Len() {
			for k := range ss.At(j).Spans().Len() {
				sp := ptrace.NewSpan()
				ss.At(j).Spans().At(k).CopyTo(sp)
				c.spans = append(c.spans, sp)
			}
		}
	}
	return nil
}

// print writes the spans as a tree, children under their parent.
func (c *collected) print(w *os.File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	children := map[string][]ptrace.Span{}
	for _, sp := range c.spans {
		p := ""
		if !sp.ParentSpanID().IsEmpty() {
			p = sp.ParentSpanID().String()
		}
		children[p] = append(children[p], sp)
	}
	fmt.Fprintf(w, "the collector received %d spans:\n", len(c.spans))
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		kids := children[parent]
		sort.Slice(kids, func(a, b int) bool { return kids[a].StartTimestamp() < kids[b].StartTimestamp() })
		for _, sp := range kids {
			status := ""
			if sp.Status().Code() == ptrace.StatusCodeError {
				status = "  ERROR: " + sp.Status().Message()
			}
			fmt.Fprintf(w, "%s%s  [%s]%s\n", strings.Repeat("  ", depth), sp.Name(), sp.SpanID(), status)
			walk(sp.SpanID().String(), depth+1)
		}
	}
	walk("", 0)
}

// startCollector starts the collector's OTLP receiver on a free loopback
// port and returns its address, what it received and its shutdown.
func startCollector(ctx context.Context, proto otlp.Protocol) (string, *collected, func(context.Context) error, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, err
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", nil, nil, err
	}
	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
	if proto == otlp.ProtocolGRPC {
		cfg.Protocols.HTTP = configoptional.None[otlpreceiver.HTTPConfig]()
		cfg.Protocols.GRPC.GetOrInsertDefault().NetAddr.Endpoint = addr
	} else {
		cfg.Protocols.GRPC = configoptional.None[configgrpc.ServerConfig]()
		cfg.Protocols.HTTP.GetOrInsertDefault().ServerConfig.NetAddr.Endpoint = addr
	}
	c := &collected{}
	next, err := consumer.NewTraces(c.consume)
	if err != nil {
		return "", nil, nil, err
	}
	r, err := f.CreateTraces(ctx, receivertest.NewNopSettings(f.Type()), cfg, next)
	if err != nil {
		return "", nil, nil, err
	}
	if err := r.Start(ctx, componenttest.NewNopHost()); err != nil {
		return "", nil, nil, fmt.Errorf("start collector on %s: %w", addr, err)
	}
	return addr, c, r.Shutdown, nil
}
