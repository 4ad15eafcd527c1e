package otlp

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// MeterName is the name of the meter RegisterMetrics creates its
// instruments on.
const MeterName = "github.com/reflowtrace/reflowtrace-go/sink/otlp"

// The names of the instruments RegisterMetrics creates (OpenTelemetry
// semantic-convention style: a namespace, dots, units in curly braces).
const (
	// MetricRecorded is a counter of TracingMetrics.Recorded, unit {event}.
	MetricRecorded = "reflowtrace.events.recorded"
	// MetricDelivered is a counter of TracingMetrics.Delivered, unit {event}.
	MetricDelivered = "reflowtrace.events.delivered"
	// MetricDropped is a counter of TracingMetrics.Dropped, unit {event},
	// one series per reason: attribute "reason" (queue_full, closed,
	// sampled_out, filtered, write_error, sink_queue_full, or a sink's own
	// reason) and
	// "source" ("client", or "sink" for Dropped.Sink).
	MetricDropped = "reflowtrace.events.dropped"
	// MetricSpooled is a gauge of TracingMetrics.Spooled, unit {event}.
	MetricSpooled = "reflowtrace.events.spooled"
	// MetricBatches is a counter of TracingMetrics.Batches, unit {batch}.
	MetricBatches = "reflowtrace.batches"
	// MetricWriteErrors is a counter of failed sink writes per sink,
	// attribute "sink" (SinkStats.Name), unit {error}.
	MetricWriteErrors = "reflowtrace.sink.write.errors"
	// MetricWriteLatency is a gauge of the average duration of a sink's
	// writes since the client started (SinkStats.Latency), per sink,
	// unit s. It is a gauge of an average, not a histogram, because the
	// client keeps only the sum and the count of write durations: a
	// histogram fed from them would invent a distribution. The OTLP sink's
	// own histogram (WithMeterProvider) has the real one.
	MetricWriteLatency = "reflowtrace.sink.write.latency.average"
	// MetricQueueDepth is a gauge of TracingMetrics.QueueDepth, unit {event}.
	MetricQueueDepth = "reflowtrace.queue.depth"
	// MetricQueueCapacity is a gauge of TracingMetrics.QueueCapacity,
	// unit {event}.
	MetricQueueCapacity = "reflowtrace.queue.capacity"
	// MetricHealthy is a gauge of TracingClient.Healthy: 1 healthy, 0 not,
	// unit 1 (Prometheus names it reflowtrace_healthy_ratio).
	MetricHealthy = "reflowtrace.healthy"
)

// RegisterMetrics publishes client's self-metrics as observable instruments
// on a meter of provider (see the Metric constants for names and units).
// Each collection calls client.Metrics and client.Healthy once. The
// returned function unregisters the callback; after it the instruments
// report nothing. It returns an error if client or provider is nil or an
// instrument cannot be created.
func RegisterMetrics(client *tracing.TracingClient, provider metric.MeterProvider) (unregister func() error, err error) {
	if client == nil {
		return nil, fmt.Errorf("%w: RegisterMetrics: nil client", ErrInvalidOption)
	}
	if provider == nil {
		return nil, fmt.Errorf("%w: RegisterMetrics: nil provider", ErrInvalidOption)
	}
	m := provider.Meter(MeterName)
	var errs []error
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	gauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	recorded := counter(MetricRecorded, "{event}", "Events handed to the tracing client.")
	delivered := counter(MetricDelivered, "{event}", "Events every sink delivered (acknowledged, for sinks that acknowledge).")
	dropped := counter(MetricDropped, "{event}", "Events not delivered, by reason.")
	batches := counter(MetricBatches, "{batch}", "Batches handed to the sinks.")
	writeErrors := counter(MetricWriteErrors, "{error}", "Failed sink writes, per sink.")
	spooled := gauge(MetricSpooled, "{event}", "Events a sink keeps on disk for later delivery.")
	depth := gauge(MetricQueueDepth, "{event}", "Events waiting in the client's queue.")
	capacity := gauge(MetricQueueCapacity, "{event}", "Size of the client's queue.")
	healthy := gauge(MetricHealthy, "1", "1 while the tracing client is healthy, else 0.")
	latency, err := m.Float64ObservableGauge(MetricWriteLatency, metric.WithUnit("s"),
		metric.WithDescription("Average duration of a sink's writes since the client started."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("otlp: RegisterMetrics: %w", err)
	}

	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		mt := client.Metrics()
		o.ObserveInt64(recorded, clampInt64(mt.Recorded))
		o.ObserveInt64(delivered, clampInt64(mt.Delivered))
		o.ObserveInt64(batches, clampInt64(mt.Batches))
		o.ObserveInt64(spooled, clampInt64(mt.Spooled))
		o.ObserveInt64(depth, int64(mt.QueueDepth))
		o.ObserveInt64(capacity, int64(mt.QueueCapacity))
		h := int64(0)
		if client.Healthy() {
			h = 1
		}
		o.ObserveInt64(healthy, h)
		d := mt.Dropped
		for _, r := range [...]struct {
			reason string
			n      uint64
		}{
			{"queue_full", d.QueueFull}, {"closed", d.Closed}, {"sampled_out", d.SampledOut},
			{"filtered", d.Filtered}, {"write_error", d.WriteError}, {"sink_queue_full", d.SinkQueueFull},
		} {
			o.ObserveInt64(dropped, clampInt64(r.n), metric.WithAttributes(
				attribute.String("reason", r.reason), attribute.String("source", "client")))
		}
		reasons := make([]string, 0, len(d.Sink))
		for r := range d.Sink {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			o.ObserveInt64(dropped, clampInt64(d.Sink[r]), metric.WithAttributes(
				attribute.String("reason", r), attribute.String("source", "sink")))
		}
		for _, s := range mt.Sinks {
			attrs := metric.WithAttributes(attribute.String("sink", s.Name))
			o.ObserveInt64(writeErrors, clampInt64(s.WriteErrors), attrs)
			if s.Batches+s.WriteErrors > 0 {
				o.ObserveFloat64(latency, s.Latency.Seconds(), attrs)
			}
		}
		return nil
	}, recorded, delivered, dropped, batches, writeErrors, spooled, depth, capacity, healthy, latency)
	if err != nil {
		return nil, fmt.Errorf("otlp: RegisterMetrics: register callback: %w", err)
	}
	return reg.Unregister, nil
}
