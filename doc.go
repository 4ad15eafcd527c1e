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
//   - [github.com/reflowtrace/reflowtrace-go/tracing]: the event model and
//     the client, with its configuration, sampling, filtering and
//     redaction. Its subpackages: attr (custom attributes), event (events
//     built to pass to Record or to a sink), wire (the protocol's messages
//     and codec), actors (middleware for actor registration and connector
//     sends), propagation (across processes), ingest (events from another
//     producer), query (the read side) and tracetest (a Reflow tracing
//     server for tests).
//   - [github.com/reflowtrace/reflowtrace-go/tracing/config]: the
//     configuration from a tracing.toml file and REFLOW_TRACING_* variables.
//   - [github.com/reflowtrace/reflowtrace-go/sink/websocket],
//     [github.com/reflowtrace/reflowtrace-go/sink/file] and
//     [github.com/reflowtrace/reflowtrace-go/sink/memory]: the WebSocket,
//     File and Memory sinks, one package each;
//     [github.com/reflowtrace/reflowtrace-go/sink] holds what they share
//     (the fsync policy, the invalid-option error).
//   - [github.com/reflowtrace/reflowtrace-go/batch]: the lock-free bounded
//     queue and batching loop underneath the client.
//   - [github.com/reflowtrace/reflowtrace-go/retry]: the retry policy
//     (Reflow's RetryConfig) used for reconnects.
//
// # Quick start
//
//	mem, err := memory.New()
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
// Here mem is a Memory sink (package sink/memory). To ship events to a
// Reflow tracing server, use websocket.New (package sink/websocket)
// instead; see the examples folder for runnable programs.
package reflowtrace
