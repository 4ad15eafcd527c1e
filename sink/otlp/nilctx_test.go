package otlp_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/reflowtrace/reflowtrace-go/sink/otlp"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
)

// TestNilContextNeverEnds checks that New, Write, Flush and Close take a
// nil ctx as one that never ends.
func TestNilContextNeverEnds(t *testing.T) {
	var nilCtx context.Context
	spans := tracetest.NewInMemoryExporter()
	s, err := otlp.New(nilCtx, otlp.WithExporter(spans))
	if err != nil {
		t.Fatalf("New(nil): %v", err)
	}
	ev := event.ActorCreated("a")
	ev.EventID, ev.TraceID = tracing.NewEventID(), tracing.NewTraceID()
	if err := s.Write(nilCtx, []tracing.TraceEvent{ev}); err != nil {
		t.Fatalf("Write(nil): %v", err)
	}
	if err := s.Flush(nilCtx); err != nil {
		t.Fatalf("Flush(nil): %v", err)
	}
	if n := len(spans.GetSpans()); n == 0 {
		t.Fatal("no span exported")
	}
	if err := s.Close(nilCtx); err != nil {
		t.Fatalf("Close(nil): %v", err)
	}
}
