package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// A trace ends with its status; the sinks that observe traces see the end
// after the trace's events.
func ExampleTracingClient_EndTrace() {
	ctx := context.Background()
	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(&printSink{}))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)
	run, _, err := client.StartTrace(ctx, "pipeline", tracing.FlowVersion{Major: 1})
	if err != nil {
		log.Fatal(err)
	}
	client.ActorStarted(run, "sensor")
	fmt.Println(client.EndTrace(run, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}))

	failed, _, _ := client.StartTrace(ctx, "pipeline", tracing.FlowVersion{Major: 1})
	client.ActorFailed(failed, "validator", errors.New("bad record"))
	fmt.Println(client.EndTrace(failed, tracing.FailedStatus("validator rejected a record")))
	// Output:
	// <nil>
	// <nil>
}

// Warnings lists what is valid but has no effect; New logs the same list
// once on the client's logger.
func ExampleTracingConfig_Warnings() {
	cfg := tracing.DefaultConfig()
	cfg.Sampling.Rate = 0.1 // the default strategy keeps everything
	for _, w := range cfg.Warnings() {
		fmt.Println(w)
	}
	cfg.Sampling.Strategy = "percentage"
	fmt.Println(len(cfg.Warnings()))
	// Output:
	// Sampling.Rate = 0.1 has no effect with Sampling.Strategy unset (always)
	// 0
}

// QueueMemory says what a queue size costs before New allocates it.
func ExampleTracingConfig_QueueMemory() {
	cfg := tracing.DefaultConfig()
	cfg.QueueSize = 100_000
	fmt.Printf("%d events hold %.0f MiB\n", cfg.QueueSize, float64(cfg.QueueMemory())/(1<<20))
	cfg.QueueSize = 1 << 30
	fmt.Println(cfg.Validate())
	// Output:
	// 100000 events hold 90 MiB
	// tracing: invalid config: QueueSize = 1073741824: the queue would take 716.6 GiB of event slots, more than the limit of 1.0 GiB: want at most 1048576
}
