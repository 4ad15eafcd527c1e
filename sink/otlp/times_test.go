package otlp_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/reflowtrace/reflowtrace-go/sink/otlp"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
)

// TestSpanTimes checks each event's span against the time its work really
// took: an ActorCompleted or ActorFailed event is stamped when the run
// ends, so its span ends there and starts the run's duration before; a
// DataFlow is stamped when the send starts.
func TestSpanTimes(t *testing.T) {
	const run = 50 * time.Millisecond
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	measured := func(ev tracing.TraceEvent, at time.Time, d time.Duration) tracing.TraceEvent {
		ev.Timestamp = at
		ev.Data.PerformanceMetrics.ExecutionTimeNs = uint64(d)
		return ev
	}
	unmeasured := measured(event.ActorCompleted("a"), t0.Add(run), run)
	unmeasured.Data.PerformanceMetrics.Unmeasured = tracing.MetricExecutionTimeNs
	cases := []struct {
		name       string
		ev         tracing.TraceEvent
		start, end time.Time
	}{
		{"ActorCompleted ends at its timestamp", measured(event.ActorCompleted("a"), t0.Add(run), run), t0, t0.Add(run)},
		{"ActorFailed ends at its timestamp", measured(event.ActorFailed("a", "boom"), t0.Add(run), run), t0, t0.Add(run)},
		{"DataFlow starts at its timestamp", measured(event.DataFlow("a", "out", "b", "in", "T", 1), t0, run), t0, t0.Add(run)},
		{"ActorStarted without a duration", measured(event.ActorStarted("a"), t0, 0), t0, t0},
		{"ActorCompleted without a duration", measured(event.ActorCompleted("a"), t0, 0), t0, t0},
		{"not measured", unmeasured, t0.Add(run), t0.Add(run)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
			defer cancel()
			spans := tracetest.NewInMemoryExporter()
			s, err := otlp.New(ctx, otlp.WithExporter(spans))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(ctx)
			c.ev.TraceID = tracing.NewTraceID()
			if err := s.Write(ctx, []tracing.TraceEvent{c.ev}); err != nil {
				t.Fatal(err)
			}
			got := spans.GetSpans()
			if len(got) != 1 {
				t.Fatalf("%d spans, want 1", len(got))
			}
			if sp := got[0]; !sp.StartTime.Equal(c.start) || !sp.EndTime.Equal(c.end) {
				t.Errorf("span %s..%s, want %s..%s", sp.StartTime.Sub(t0), sp.EndTime.Sub(t0), c.start.Sub(t0), c.end.Sub(t0))
			}
		})
	}
}
