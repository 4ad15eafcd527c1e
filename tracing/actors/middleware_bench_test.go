package actors

import (
	"context"
	"runtime"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// BenchmarkMiddleware measures what the middleware costs around a step
// that does nothing, on a client of the default configuration writing to
// a discarding sink: send is a send through SendMiddleware (one DataFlow
// event), run a message run of an actor registered through
// RegisterMiddleware (ActorStarted, then ActorCompleted with the run's
// duration). The loop yields every 32 steps (the client's recording
// benchmarks yield every 256 events), so that the consumer keeps up;
// dropped_% must be 0 for ns/op to measure the whole path.
//
// Run: go test -run '^$' -bench Middleware -count 5 ./tracing/actors
func BenchmarkMiddleware(b *testing.B) {
	ctx := context.Background()
	b.Run("send", func(b *testing.B) {
		c := newBenchClient(b)
		send := SendMiddleware(c, func(context.Context, Send) error { return nil })
		s := Send{FromActor: "sensor", FromPort: "out", ToActor: "validator", ToPort: "in", MessageType: "Reading", Size: 256}
		benchSteps(b, c, func() { _ = send(ctx, s) })
	})
	b.Run("run", func(b *testing.B) {
		c := newBenchClient(b)
		var runner MessageRunner
		register := RegisterMiddleware(c, func(_ context.Context, _ string, actor any) error {
			runner = actor.(MessageRunner)
			return nil
		})
		if err := register(ctx, "validator", messageRunnerFunc(func(context.Context, any) error { return nil })); err != nil {
			b.Fatal(err)
		}
		benchSteps(b, c, func() { _ = runner.Run(ctx, nil) })
	})
}

func newBenchClient(b *testing.B) *tracing.TracingClient {
	c, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(discardSink{}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func benchSteps(b *testing.B, c *tracing.TracingClient, step func()) {
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		step()
		if n++; n%32 == 0 {
			runtime.Gosched()
		}
	}
	m := c.Metrics()
	b.ReportMetric(100*float64(m.EventsDropped)/float64(max(m.Recorded, 1)), "dropped_%")
}
