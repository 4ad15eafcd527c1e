package tracetest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/reflowtrace/reflowtrace-go/sink/websocket"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// A test starts a server of either generation, points the SDK at it and
// checks what the server keeps, not what it acknowledged.
func ExampleStart() {
	ctx := context.Background()
	server, err := tracetest.Start(ctx, tracetest.WithGeneration(tracetest.Gen1))
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()

	ws, err := websocket.New(server.URL())
	if err != nil {
		log.Fatal(err)
	}
	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(ws))
	if err != nil {
		log.Fatal(err)
	}
	tctx, trace, _ := client.StartTrace(ctx, "pipeline", tracing.FlowVersion{})
	ids := []tracing.EventID{
		client.ActorCreated(tctx, "a"),
		client.ActorStarted(tctx, "a"),
	}
	if err := client.Close(ctx); err != nil {
		log.Fatal(err)
	}

	kept := server.KeptInTrace(trace)
	for _, id := range ids {
		fmt.Println("kept once:", kept[id] == 1)
	}
	// Output:
	// kept once: true
	// kept once: true
}
