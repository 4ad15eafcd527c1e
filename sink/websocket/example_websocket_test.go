package websocket_test

import (
	"context"
	"fmt"
	"log"

	"github.com/reflowtrace/reflowtrace-go/sink/websocket"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// A WebSocket sink delivers to a Reflow tracing server; here an in-process
// one from package tracetest, which then tells what it keeps.
func ExampleNew() {
	ctx := context.Background()
	server, err := tracetest.Start(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()

	cfg := tracing.DefaultConfig()
	ws, err := websocket.New(server.URL(), websocket.OptionsFromConfig(cfg)...)
	if err != nil {
		log.Fatal(err)
	}
	client, err := tracing.New(cfg, tracing.WithSink(ws))
	if err != nil {
		log.Fatal(err)
	}
	tctx, trace, _ := client.StartTrace(ctx, "pipeline", tracing.FlowVersion{Major: 1})
	client.ActorCreated(tctx, "sensor")
	client.DataFlow(tctx, "sensor", "out", "printer", "in", "Reading", 64)
	_ = client.EndTrace(tctx, tracing.ExecutionStatus{Kind: tracing.StatusCompleted})
	if err := client.Close(ctx); err != nil { // flushes: the server has acknowledged everything
		log.Fatal(err)
	}

	kept := server.GetTrace(trace)
	fmt.Println("events kept:", len(kept.Events), "status:", kept.Status.Kind)
	// Output:
	// events kept: 2 status: Completed
}
