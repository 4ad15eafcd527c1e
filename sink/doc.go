// Package sink is the root of the destinations a tracing client ships
// events to: each sink is a package of its own below it, and this package
// holds only what they share. Every sink implements tracing.Sink; pass it
// to the client with tracing.WithSink, once per sink: a client with
// several sinks feeds each from a queue and goroutine of its own, so that
// a slow or failing sink does not hold back the others.
//
//   - [github.com/reflowtrace/reflowtrace-go/sink/websocket] speaks the
//     Reflow tracing protocol to a tracing server of either generation and
//     keeps every event on it (each StoreTrace carries all the events of
//     its trace segment, since the server replaces a stored trace whole),
//     matches every request with its reply, reconnects with backoff, fails
//     over to other servers, and spools to disk what it cannot deliver.
//   - [github.com/reflowtrace/reflowtrace-go/sink/file] writes JSON Lines,
//     one protocol TraceEvent per line, so a file can be replayed to a
//     server. It buffers, rotates by size, optionally compresses to
//     standard LZ4 frames (readable by lz4cat), syncs by policy and counts
//     the events a failing disk lost; its ReadFile reads a file or a
//     rotated set back, skipping and reporting lines torn by a crash.
//   - [github.com/reflowtrace/reflowtrace-go/sink/memory] keeps the most
//     recent events, bounded, queryable by trace, actor, kind and time,
//     with WaitFor for tests.
//   - github.com/reflowtrace/reflowtrace-go/sink/otlp, a module of its own
//     (so that gRPC and the OpenTelemetry SDK stay out of this one),
//     exports events as OTLP spans and the client's metrics to
//     OpenTelemetry.
//
// What the sinks share is here: SyncPolicy, which says when the File sink
// and the WebSocket sink's spool call fsync, with SyncTracker for a sink
// that follows one; ErrInvalidOption, which every sink's constructor
// wraps in the error it returns for an option value it refuses; and
// ErrDropped, which the Flush and Close of the WebSocket and File sinks
// wrap, through a *DroppedError counting them by reason, when they found
// events they had accepted and then lost.
//
// # Concurrency
//
// Every sink is safe for concurrent use: the client calls Write from one
// goroutine, and Flush and Close may come from others at the same time.
// Write copies what it keeps, so the caller may reuse its batch as soon as
// Write returns.
//
// # Shutdown
//
// Close flushes, then releases; it is safe to call twice (the second call
// returns nil). After Close, Write and Flush return an error wrapping
// tracing.ErrClosed. A sink that owns goroutines (the WebSocket sink)
// stops them before Close returns; when Close's context ends first, it
// cancels its pending work, still stops its goroutines, and returns the
// context's error joined with what could not be delivered. The File and
// Memory sinks own no goroutines: their Close is bounded local work.
package sink
