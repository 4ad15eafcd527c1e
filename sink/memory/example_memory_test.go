package memory_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/reflowtrace/reflowtrace-go/sink/memory"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// A Memory sink keeps events in the process, for tests and local tools.
func ExampleNew() {
	ctx := context.Background()
	mem, err := memory.New(memory.WithCapacity(1000))
	if err != nil {
		log.Fatal(err)
	}
	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(mem))
	if err != nil {
		log.Fatal(err)
	}
	client.ActorCreated(ctx, "sensor")
	client.ActorFailed(ctx, "sensor", errors.New("disconnected"))
	if err := client.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	for _, ev := range mem.Query(memory.Query{ActorID: "sensor"}) {
		line := ev.Type.Kind.String()
		if ev.Data.Error != "" {
			line += ": " + ev.Data.Error
		}
		fmt.Println(line)
	}
	_ = client.Close(ctx)
	// Output:
	// ActorCreated
	// ActorFailed: disconnected
}
