package event_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink/memory"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
)

// An event built here can carry what the client's per-kind methods don't
// take, such as its performance metrics, before it is recorded.
func Example() {
	ctx := context.Background()
	mem, err := memory.New()
	if err != nil {
		log.Fatal(err)
	}
	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(mem))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)

	ev := event.DataFlow("sensor", "out", "validator", "in", "Reading", 256)
	ev.Data.PerformanceMetrics.ExecutionTimeNs = uint64(3 * time.Millisecond)
	client.Record(ctx, ev)
	if err := client.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	for _, ev := range mem.Events() {
		fmt.Println(ev.Type, ev.ActorID, ev.Data.Message.MessageType, time.Duration(ev.Data.PerformanceMetrics.ExecutionTimeNs))
	}
	// Output:
	// DataFlow(validator:in) sensor Reading 3ms
}
