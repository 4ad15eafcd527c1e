// Package reflowtrace makes Reflow actor networks observable from Go.
//
// A program records what its actors do (created, started, completed,
// failed, the messages and data that flow between them) with a
// [tracing.TracingClient]. Recording takes no lock, allocates nothing and
// never blocks; one consumer goroutine batches the events and hands them to
// sinks: a WebSocket sink that speaks the Reflow tracing protocol to any
// compatible server, a JSON Lines file sink, and an in-memory sink.
//
// The module's packages:
//
//   - [github.com/reflowtrace/reflowtrace-go/tracing]: the event model and its
//     wire codec, the client, configuration, middleware for actor
//     registration and connector sends, sampling, filtering and redaction.
//   - [github.com/reflowtrace/reflowtrace-go/tracing/config]: the
//     configuration from a tracing.toml file and REFLOW_TRACING_* variables.
//   - [github.com/reflowtrace/reflowtrace-go/sink]: the WebSocket, File and
//     Memory sinks.
//   - [github.com/reflowtrace/reflowtrace-go/batch]: the lock-free bounded
//     queue and batching loop underneath the client.
//   - [github.com/reflowtrace/reflowtrace-go/retry]: the retry policy
//     (Reflow's RetryConfig) used for reconnects.
//
// # Quick start
//
//	mem, err := sink.NewMemory()
//	if err != nil {
//		log.Fatal(err)
//	}
//	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(mem))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer client.Close(context.Background())
//
//	ctx := context.Background()
//	client.ActorCreated(ctx, "sensor")
//	client.DataFlow(ctx, "sensor", "out", "validator", "in", "Reading", 256)
//	client.Flush(ctx)
//
// To ship events to a Reflow tracing server, use sink.NewWebSocket instead
// of the memory sink; see the examples folder for runnable programs.
package reflowtrace
