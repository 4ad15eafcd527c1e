package tracing_test

import (
	"context"
	"fmt"
	"log"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/actors"
)

// Two runs execute at once on one client, each in its own trace; a message
// sent in an Envelope takes its trace and cause to the receiver.
func ExampleTracingClient_StartTrace() {
	ctx := context.Background()
	events := &printSink{}
	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(events))
	if err != nil {
		log.Fatal(err)
	}
	run1, trace1, _ := client.StartTrace(ctx, "pipeline", tracing.FlowVersion{Major: 1})
	run2, trace2, _ := client.StartTrace(ctx, "pipeline", tracing.FlowVersion{Major: 1})

	inbox := make(chan actors.Envelope[string], 1)
	sent := client.MessageSent(run1, "sensor", "out", "Reading", 8)
	_ = actors.SendEnvelope(tracing.ContextWithEvent(run1, sent), inbox, "reading")
	client.ActorStarted(run2, "other")

	mctx, msg, _ := actors.ReceiveEnvelope(ctx, inbox)
	received := client.MessageReceived(mctx, "scaler", "in", "Reading", uint64(len(msg)))

	_ = client.EndTrace(run1, tracing.ExecutionStatus{Kind: tracing.StatusCompleted})
	_ = client.EndTrace(run2, tracing.ExecutionStatus{Kind: tracing.StatusCompleted})
	if err := client.Close(ctx); err != nil {
		log.Fatal(err)
	}
	ev := events.find(received)
	fmt.Println("received in run 1:", ev.TraceID == trace1)
	fmt.Println("caused by the send:", ev.Causality.ParentEventID == sent)
	fmt.Println("runs apart:", trace1 != trace2)
	// Output:
	// received in run 1: true
	// caused by the send: true
	// runs apart: true
}
