package sink_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// A WebSocket sink delivers to a Reflow tracing server; here an in-process
// one from package tracetest, which then tells what it keeps.
func ExampleNewWebSocket() {
	ctx := context.Background()
	server, err := tracetest.Start(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()

	cfg := tracing.DefaultConfig()
	ws, err := sink.NewWebSocket(server.URL(), sink.WebSocketOptionsFromConfig(cfg)...)
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

// A Memory sink keeps events in the process, for tests and local tools.
func ExampleNewMemory() {
	ctx := context.Background()
	mem, err := sink.NewMemory(sink.WithCapacity(1000))
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
	for _, ev := range mem.Query(sink.MemoryQuery{ActorID: "sensor"}) {
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

// A File sink writes JSON Lines of Reflow's TraceEvent; ReadFile reads
// them back.
func ExampleNewFile() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "reflowtrace-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "trace.jsonl")

	file, err := sink.NewFile(path)
	if err != nil {
		log.Fatal(err)
	}
	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(file))
	if err != nil {
		log.Fatal(err)
	}
	client.DataFlow(ctx, "sensor", "out", "printer", "in", "Reading", 64)
	if err := client.Close(ctx); err != nil {
		log.Fatal(err)
	}

	for ev, err := range sink.ReadFile(path) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.Type.Kind, ev.ActorID, "->", ev.Type.ToActor)
	}
	// Output:
	// DataFlow sensor -> printer
}
