package file_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/reflowtrace/reflowtrace-go/sink/file"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// A File sink writes JSON Lines of Reflow's TraceEvent; ReadFile reads
// them back.
func ExampleNew() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "reflowtrace-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "trace.jsonl")

	fileSink, err := file.New(path)
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

	for ev, err := range file.ReadFile(path) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.Type.Kind, ev.ActorID, "->", ev.Type.ToActor)
	}
	// Output:
	// DataFlow sensor -> printer
}
