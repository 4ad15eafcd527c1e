package otlp_test

import (
	"context"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/actors"
)

// compareRounds is how many times BenchmarkAgainstOpenTelemetry goes
// through its contenders in turn, so that load from the rest of the
// machine affects each about equally.
const compareRounds = 8

// compareYieldEvery is how many operations each goroutine does between
// two runtime.Gosched calls, as the recording benchmarks of package
// tracing do: without it the consumer goroutines of the client and of
// the batch span processor would only run when a producer is preempted.
const compareYieldEvery = 256

// BenchmarkAgainstOpenTelemetry records one data flow (from sensor's out
// to validator's in, a 256-byte Reading) with each of its contenders, in
// turn, compareRounds times, from one goroutine per P (run with -cpu
// 1,2), and reports each one's ns/op and its ratio to the client's
// DataFlow, measured in the same run:
//
//   - dataflow_ns/op: TracingClient.DataFlow into a client of the default
//     configuration writing to a discarding sink;
//   - send_ns/op: a send through actors.SendMiddleware (the DataFlow with
//     its duration and error, and the context that carries it to next);
//   - otel_ns/op, x_otel: an OpenTelemetry span with the same five
//     attributes, started and ended, through the SDK's batch span
//     processor (its defaults) into a discarding exporter;
//   - zap_ns/op, x_zap: zap logging the same five fields at Info, JSON
//     to io.Discard;
//   - x_otel_send: otel_ns/op over send_ns/op, the middleware's send
//     against a span around the same step;
//   - <contender>_allocs/op: each one's heap allocations per operation,
//     its background goroutines' included.
//
// ns/op is all four together, and B/op and allocs/op too.
//
// Run: go test -run '^$' -bench AgainstOpenTelemetry -cpu 1,2 -count 5 ./...
// (in sink/otlp).
func BenchmarkAgainstOpenTelemetry(b *testing.B) {
	ctx := context.Background()

	c, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(discardSink{}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(context.Background()) })
	send := actors.SendMiddleware(c, func(context.Context, actors.Send) error { return nil })
	s := actors.Send{FromActor: "sensor", FromPort: "out", ToActor: "validator", ToPort: "in", MessageType: "Reading", Size: 256}

	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardExporter{}))
	b.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	tracer := provider.Tracer("bench")
	attrs := trace.WithAttributes(
		attribute.String("from_port", "out"), attribute.String("to_actor", "validator"),
		attribute.String("to_port", "in"), attribute.String("message_type", "Reading"),
		attribute.Int64("size_bytes", 256))

	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zapcore.InfoLevel))

	contenders := []struct {
		unit string
		op   func()
	}{
		{"dataflow", func() { c.DataFlow(ctx, "sensor", "out", "validator", "in", "Reading", 256) }},
		{"send", func() { _ = send(ctx, s) }},
		{"otel", func() {
			_, span := tracer.Start(ctx, "sensor", attrs)
			span.End()
		}},
		{"zap", func() {
			log.Info("sensor", zap.String("from_port", "out"), zap.String("to_actor", "validator"),
				zap.String("to_port", "in"), zap.String("message_type", "Reading"), zap.Uint64("size_bytes", 256))
		}},
	}
	took := make([]time.Duration, len(contenders))
	allocs := make([]uint64, len(contenders))
	var ms runtime.MemStats
	b.ReportAllocs()
	b.ResetTimer()
	per := max(b.N/compareRounds, 1)
	for range compareRounds {
		for i, ct := range contenders {
			runtime.ReadMemStats(&ms)
			before := ms.Mallocs
			took[i] += inParallel(per, ct.op)
			runtime.ReadMemStats(&ms)
			allocs[i] += ms.Mallocs - before
		}
	}
	b.StopTimer()
	n := float64(per * compareRounds)
	for i, ct := range contenders {
		b.ReportMetric(float64(took[i].Nanoseconds())/n, ct.unit+"_ns/op")
		b.ReportMetric(float64(allocs[i])/n, ct.unit+"_allocs/op")
	}
	b.ReportMetric(float64(took[2])/float64(took[0]), "x_otel")
	b.ReportMetric(float64(took[3])/float64(took[0]), "x_zap")
	b.ReportMetric(float64(took[2])/float64(took[1]), "x_otel_send")
	if m := c.Metrics(); m.EventsDropped != 0 {
		b.ReportMetric(100*float64(m.EventsDropped)/float64(max(m.Recorded, 1)), "dropped_%")
	}
}

// inParallel runs op n times in all, split between one goroutine per P,
// and returns the wall time from the start of the first to the end of
// the last.
func inParallel(n int, op func()) time.Duration {
	procs := runtime.GOMAXPROCS(0)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range procs {
		k := n / procs
		if i < n%procs {
			k++
		}
		wg.Go(func() {
			start.Wait()
			for j := range k {
				op()
				if j%compareYieldEvery == compareYieldEvery-1 {
					runtime.Gosched()
				}
			}
		})
	}
	t0 := time.Now()
	start.Done()
	wg.Wait()
	return time.Since(t0)
}

// discardSink is a tracing.Sink that keeps nothing.
type discardSink struct{}

func (discardSink) Write(context.Context, []tracing.TraceEvent) error { return nil }
func (discardSink) Flush(context.Context) error                       { return nil }
func (discardSink) Close(context.Context) error                       { return nil }

// discardExporter is an OpenTelemetry span exporter that keeps nothing.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }
