package otlp_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/reflowtrace/reflowtrace-go/sink/otlp"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
)

// blockingExporter's ExportSpans blocks until release is closed or its
// ctx ends, as an exporter talking to a collector that does not answer.
type blockingExporter struct {
	entered chan struct{}
	once    sync.Once
	release chan struct{}
}

func (e *blockingExporter) ExportSpans(ctx context.Context, _ []sdktrace.ReadOnlySpan) error {
	e.once.Do(func() { close(e.entered) })
	select {
	case <-e.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *blockingExporter) Shutdown(ctx context.Context) error { return ctx.Err() }

// TestFlushAndCloseHonourCtxDuringExport: while a Write's export is in
// flight under its own, longer ctx (a slow collector: the exporter's 10 s
// timeout and a minute of retries by default), a Flush or Close whose ctx
// ends first returns then, with ctx's error, instead of waiting for that
// export to give up.
func TestFlushAndCloseHonourCtxDuringExport(t *testing.T) {
	for _, tc := range []struct {
		name string
		call func(*otlp.Sink, context.Context) error
	}{
		{"Flush", (*otlp.Sink).Flush},
		{"Close", (*otlp.Sink).Close},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := &blockingExporter{entered: make(chan struct{}), release: make(chan struct{})}
			defer close(exp.release)
			s, err := otlp.New(context.Background(), otlp.WithExporter(exp))
			if err != nil {
				t.Fatal(err)
			}
			writeCtx, cancelWrite := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancelWrite()
			tid := tracing.NewTraceID()
			ev := event.ActorCreated("a")
			ev.TraceID = tid
			writeDone := make(chan struct{})
			go func() {
				defer close(writeDone)
				_ = s.Write(writeCtx, []tracing.TraceEvent{ev})
			}()
			defer func() { <-writeDone }()
			<-exp.entered
			// The trace ended: Flush and Close have its root span to export.
			s.ObserveTrace(tracing.FlowTrace{TraceID: tid, FlowID: "f", StartTime: time.Now(), EndTime: time.Now(),
				Status: tracing.ExecutionStatus{Kind: tracing.StatusCompleted}})

			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err = tc.call(s, ctx)
			if took := time.Since(start); took > time.Second {
				t.Errorf("%s(ctx with a 200ms deadline) returned after %v (err %v), want about 200ms", tc.name, took.Round(time.Millisecond), err)
			} else if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: %v, want context.DeadlineExceeded", tc.name, err)
			}
		})
	}
}
