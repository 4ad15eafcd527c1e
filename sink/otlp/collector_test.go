package otlp_test

import (
	"context"
	"net"
	"sort"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/reflowtrace/reflowtrace-go/sink/otlp"
)

// testDeadline bounds every network test.
const testDeadline = 30 * time.Second

// startCollector runs the OpenTelemetry Collector's OTLP receiver on a
// loopback port for proto, handing what it receives to next, and returns
// its host:port. The receiver is shut down when the test ends.
func startCollector(t *testing.T, proto otlp.Protocol, next consumer.Traces) string {
	t.Helper()
	f := otlpreceiver.NewFactory()
	var lastErr error
	for range 5 { // the port is free when picked; another process may take it first
		addr := freeLoopbackAddr(t)
		cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
		if proto == otlp.ProtocolGRPC {
			cfg.Protocols.HTTP = configoptional.None[otlpreceiver.HTTPConfig]()
			cfg.Protocols.GRPC.GetOrInsertDefault().NetAddr.Endpoint = addr
		} else {
			cfg.Protocols.GRPC = configoptional.None[configgrpc.ServerConfig]()
			cfg.Protocols.HTTP.GetOrInsertDefault().ServerConfig.NetAddr.Endpoint = addr
		}
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		r, err := f.CreateTraces(ctx, receivertest.NewNopSettings(f.Type()), cfg, next)
		if err != nil {
			cancel()
			t.Fatalf("create receiver: %v", err)
		}
		if lastErr = r.Start(ctx, componenttest.NewNopHost()); lastErr != nil {
			_ = r.Shutdown(ctx)
			cancel()
			continue
		}
		cancel()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
			defer cancel()
			if err := r.Shutdown(ctx); err != nil {
				t.Errorf("shutdown receiver: %v", err)
			}
		})
		return addr
	}
	t.Fatalf("start receiver: %v", lastErr)
	return ""
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// receivedSpan is one span as the collector received it, with its
// resource's attributes.
type receivedSpan struct {
	span     ptrace.Span
	resource map[string]any
	scope    string
}

// spansOf flattens what sink received, ordered by start time then name.
func spansOf(sink *consumertest.TracesSink) []receivedSpan {
	var out []receivedSpan
	for _, td := range sink.AllTraces() {
		for i := range td.ResourceSpans().Len() {
			rs := td.ResourceSpans().At(i)
			res := rs.Resource().Attributes().AsRaw()
			for j := range rs.ScopeSpans().Len() {
				ss := rs.ScopeSpans().At(j)
				for k := range ss.Spans().Len() {
					out = append(out, receivedSpan{span: ss.Spans().At(k), resource: res, scope: ss.Scope().Name()})
				}
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		sa, sb := out[a].span, out[b].span
		if sa.StartTimestamp() != sb.StartTimestamp() {
			return sa.StartTimestamp() < sb.StartTimestamp()
		}
		return sa.Name() < sb.Name()
	})
	return out
}

func newSink(t *testing.T, proto otlp.Protocol, addr string, opts ...otlp.Option) *otlp.Sink {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	base := []otlp.Option{
		otlp.WithProtocol(proto), otlp.WithEndpoint(addr), otlp.WithInsecure(),
		otlp.WithRetry(otlp.RetryConfig{Enabled: false}), otlp.WithTimeout(10 * time.Second),
	}
	s, err := otlp.New(ctx, append(base, opts...)...)
	if err != nil {
		t.Fatalf("otlp.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		defer cancel()
		_ = s.Close(ctx) // a test may have closed it already
	})
	return s
}

var protocols = []struct {
	name  string
	proto otlp.Protocol
}{
	{"grpc", otlp.ProtocolGRPC},
	{"http", otlp.ProtocolHTTP},
}
