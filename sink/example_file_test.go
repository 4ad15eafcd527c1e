package sink_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

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

	fileSink, err := sink.NewFile(path)
	if err != nil {
		log.Fatal(err)
	}
	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(fileSink))
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
