package otlp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/reflowtrace/reflowtrace-go/sink/memory"
	"github.com/reflowtrace/reflowtrace-go/sink/otlp"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// tracedClient returns a client writing to a memory sink, with 3 events
// delivered and 1 filtered out, flushed.
func tracedClient(t *testing.T, ctx context.Context) *tracing.TracingClient {
	t.Helper()
	cfg := tracing.DefaultConfig()
	cfg.QueueSize = 512
	cfg.Filters.ExcludeActors = []string{"noisy"}
	mem, err := memory.New()
	if err != nil {
		t.Fatal(err)
	}
	client, err := tracing.New(cfg, tracing.WithSink(mem))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close(context.Background()) })
	client.ActorCreated(ctx, "a")
	client.ActorCreated(ctx, "b")
	client.ActorStarted(ctx, "a")
	client.ActorCreated(ctx, "noisy")
	if err := client.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return client
}

type point struct {
	value float64
	attrs attribute.Set
}

// collect reads every data point of every instrument of reader.
func collect(t *testing.T, ctx context.Context, reader sdkmetric.Reader) (map[string][]point, map[string]string) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	points, units := map[string][]point{}, map[string]string{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otlp.MeterName {
			continue
		}
		for _, m := range sm.Metrics {
			units[m.Name] = m.Unit
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if !d.IsMonotonic || d.Temporality != metricdata.CumulativeTemporality {
					t.Errorf("%s: not a cumulative monotonic sum", m.Name)
				}
				for _, p := range d.DataPoints {
					points[m.Name] = append(points[m.Name], point{float64(p.Value), p.Attributes})
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					points[m.Name] = append(points[m.Name], point{float64(p.Value), p.Attributes})
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					points[m.Name] = append(points[m.Name], point{p.Value, p.Attributes})
				}
			case metricdata.Histogram[float64]: // the sink's own, checked apart
			default:
				t.Errorf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return points, units
}

func TestRegisterMetricsManualReader(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	client := tracedClient(t, ctx)
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = provider.Shutdown(context.Background()) }()
	unregister, err := otlp.RegisterMetrics(client, provider)
	if err != nil {
		t.Fatal(err)
	}
	points, units := collect(t, ctx, reader)
	m := client.Metrics()
	single := func(name string, want float64, unit string) {
		t.Helper()
		ps := points[name]
		if len(ps) != 1 || ps[0].value != want {
			t.Errorf("%s = %v, want one point %v", name, ps, want)
		}
		if units[name] != unit {
			t.Errorf("%s: unit %q, want %q", name, units[name], unit)
		}
	}
	single(otlp.MetricRecorded, 4, "{event}")
	single(otlp.MetricDelivered, 3, "{event}")
	single(otlp.MetricBatches, float64(m.Batches), "{batch}")
	single(otlp.MetricQueueDepth, 0, "{event}")
	single(otlp.MetricQueueCapacity, float64(m.QueueCapacity), "{event}")
	single(otlp.MetricHealthy, 1, "1")
	single(otlp.MetricSpooled, 0, "{event}")
	if m.QueueCapacity < 512 {
		t.Errorf("QueueCapacity %d, want at least the configured 512", m.QueueCapacity)
	}
	dropped := map[string]float64{}
	for _, p := range points[otlp.MetricDropped] {
		r, _ := p.attrs.Value("reason")
		src, _ := p.attrs.Value("source")
		dropped[src.AsString()+"/"+r.AsString()] = p.value
	}
	want := map[string]float64{"client/queue_full": 0, "client/closed": 0, "client/sampled_out": 0, "client/filtered": 1, "client/write_error": 0, "client/sink_queue_full": 0}
	if len(dropped) != len(want) {
		t.Errorf("dropped series %v, want %v", dropped, want)
	}
	for k, v := range want {
		if dropped[k] != v {
			t.Errorf("dropped %s = %v, want %v", k, dropped[k], v)
		}
	}
	if ps := points[otlp.MetricWriteLatency]; len(ps) != 1 || ps[0].value <= 0 || units[otlp.MetricWriteLatency] != "s" {
		t.Errorf("%s = %v (%s), want one positive point in s", otlp.MetricWriteLatency, ps, units[otlp.MetricWriteLatency])
	} else if name, _ := ps[0].attrs.Value("sink"); name.AsString() != m.Sinks[0].Name {
		t.Errorf("latency sink %q, want %q", name.AsString(), m.Sinks[0].Name)
	}

	// After Close the client is no longer healthy.
	if err := client.Close(ctx); err != nil {
		t.Fatal(err)
	}
	points, _ = collect(t, ctx, reader)
	single(otlp.MetricHealthy, 0, "1")

	if err := unregister(); err != nil {
		t.Fatal(err)
	}
	points, _ = collect(t, ctx, reader)
	if len(points) != 0 {
		t.Errorf("after unregister: %d instruments reported", len(points))
	}
}

// TestExportDurationHistogram checks WithMeterProvider's histogram and
// that delivered counts what the collector acknowledged.
func TestExportDurationHistogram(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = provider.Shutdown(context.Background()) }()
	recv := new(consumertest.TracesSink)
	addr := startCollector(t, otlp.ProtocolGRPC, recv)
	s := newSink(t, otlp.ProtocolGRPC, addr, otlp.WithMeterProvider(provider))
	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(s))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := otlp.RegisterMetrics(client, provider); err != nil {
		t.Fatal(err)
	}
	client.ActorCreated(ctx, "a")
	if err := client.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	var hist *metricdata.Histogram[float64]
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "reflowtrace.otlp.export.duration" {
				h := m.Data.(metricdata.Histogram[float64])
				hist = &h
			}
		}
	}
	if hist == nil || len(hist.DataPoints) != 1 {
		t.Fatalf("export duration histogram: %+v", hist)
	}
	p := hist.DataPoints[0]
	if o, _ := p.Attributes.Value("outcome"); o.AsString() != "ok" || p.Count < 1 {
		t.Errorf("histogram point %+v, want ok exports", p)
	}
	points, _ := collect(t, ctx, reader)
	if ps := points[otlp.MetricDelivered]; len(ps) != 1 || ps[0].value != 1 {
		t.Errorf("delivered %v, want 1 (acknowledged by the collector)", ps)
	}
}

func TestRegisterMetricsPrometheus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	client := tracedClient(t, ctx)
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer func() { _ = provider.Shutdown(context.Background()) }()
	if _, err := otlp.RegisterMetrics(client, provider); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	text := string(body)
	for _, want := range []string{
		`reflowtrace_events_recorded_total{otel_scope_name="` + otlp.MeterName + `"`,
		`reflowtrace_events_delivered_total{`,
		`reflowtrace_events_dropped_total{`,
		`reason="filtered"`,
		`reflowtrace_queue_capacity{`,
		`reflowtrace_healthy_ratio{`, // unit "1" becomes _ratio
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if !hasSeries(text, "reflowtrace_events_recorded_total", "4") ||
		!hasSeries(text, "reflowtrace_events_delivered_total", "3") ||
		!hasSeries(text, "reflowtrace_healthy_ratio", "1") {
		t.Errorf("/metrics values wrong:\n%s", grep(text, "reflowtrace_"))
	}
}

// hasSeries reports whether text has a sample of metric with value.
func hasSeries(text, metric, value string) bool {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, metric+"{") && strings.HasSuffix(line, "} "+value) {
			return true
		}
	}
	return false
}

func grep(text, s string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func TestRegisterMetricsInvalid(t *testing.T) {
	provider := sdkmetric.NewMeterProvider()
	defer func() { _ = provider.Shutdown(context.Background()) }()
	if _, err := otlp.RegisterMetrics(nil, provider); !errors.Is(err, otlp.ErrInvalidOption) {
		t.Errorf("nil client: %v", err)
	}
	client := tracing.NewNop()
	if _, err := otlp.RegisterMetrics(client, nil); !errors.Is(err, otlp.ErrInvalidOption) {
		t.Errorf("nil provider: %v", err)
	}
}
