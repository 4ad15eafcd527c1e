// Package tracing is the heart of the SDK: the Reflow event model
// ([TraceEvent] and the protocol's other types) and the [TracingClient]
// that records events and ships them in batches to one or more [Sink]s.
// The protocol's messages and their JSON live in package wire, reading
// traces back in package query, custom attributes in package attr, the
// sinks in the packages under sink (websocket, file, memory).
//
// # Event model
//
// The types keep the names of the Reflow tracing protocol, so what the
// Reflow documentation describes is found here: [TraceEvent],
// [TraceEventType], [TraceEventData], [MessageSnapshot], [StateDiff],
// [PerformanceMetrics], [CausalityInfo], [FlowTrace], [TraceID], [EventID].
// Events are value types with typed fields: ids are 16-byte UUIDv7 values,
// the first four custom attributes live inline in the event ([attr.Set]),
// and building one of the built-in kinds to pass to [TracingClient.Record]
// (package event: [github.com/reflowtrace/reflowtrace-go/tracing/event.DataFlow],
// …) allocates nothing.
//
// # Recording
//
// [New] builds a client from a [TracingConfig] (see [DefaultConfig], and
// package config to load one) and options ([WithSink], [WithLogger], …).
// Its per-kind methods ([TracingClient.DataFlow], [TracingClient.ActorFailed],
// …) and [TracingClient.Record] take no lock, never block, never allocate for
// the built-in kinds, and return the new event's id. Traces and causality
// ride the context, as OpenTelemetry's spans do: [TracingClient.StartTrace]
// returns a context that carries a new trace, and any number may be open at
// once; an event recorded with a context from [ContextWithEvent] gets its
// parent, root cause and dependency chain filled in. [Cause] carries both
// across channels (package actors wraps it in an Envelope), package
// propagation across processes.
// Package actors traces a network that has no tracing of its own
// (middleware for registration and sends, envelopes for channels, Serve
// for long-lived actors). Package ingest feeds events written by a Reflow runtime
// through the client.
//
// Before the queue, events pass through the configured filters
// ([FilterConfig], [WithFilter]), samplers ([SamplingConfig], [WithSampler])
// and privacy rules ([PrivacyConfig], [WithRedactor]); message content is
// dropped unless capture is enabled. Nothing is lost silently: every event
// that does not reach a sink is counted by reason in
// [TracingClient.Metrics].
//
// # Configuration
//
// A [TracingConfig] is written in code, or read from a tracing.toml file
// or from REFLOW_TRACING_* variables, layered file < environment < code,
// by package config (config.Load, config.FromEnv, config.LoadWithEnv). A
// mistake is never silent: [TracingConfig.Validate] reports every bad
// field at once, in one error wrapping [ErrInvalidConfig], each naming
// the field, its value and what is wanted. The field is named as the user
// wrote it, by file, line and key or by variable, while it holds what was
// loaded (the loaders record where each setting came from in
// [TracingConfig.Source], a [ConfigSource]), and by its Go path
// otherwise. What is valid but suspicious is a warning
// ([TracingConfig.Warnings]) that [New] logs once: what the loaders found
// (an unknown REFLOW_TRACING_* variable, with the nearest known one), a
// setting other settings make meaningless, and server settings when no
// sink sends to a server ([ServerSink]). Limits hold: a queue whose slots
// would take more than 1 GiB ([TracingConfig.QueueMemory]) is rejected
// before anything is allocated.
//
// # JSON
//
// The event model has no JSON methods of its own: encoding/json writes its
// types field by field, which is not the protocol's form. Package wire
// writes and reads the protocol's JSON (wire.Marshal, wire.Unmarshal,
// wire.Encoder).
//
// # Concurrency
//
// A TracingClient is safe for concurrent use. One consumer goroutine, owned
// by the client, batches events by size and time and calls the sinks'
// Write; Flush and Close may be called from any goroutine.
//
// # Shutdown
//
// [TracingClient.Flush] returns when everything recorded before it reached
// the sinks, or its context ends. [TracingClient.Close] stops intake,
// drains the queue into the sinks, flushes and closes them, stops the
// client's goroutines, and reports how many events were not delivered; it
// waits past its context only a short grace (250 ms) for sinks to
// release, then gives up on a sink that ignores its context, counting
// what it held as abandoned and leaving the goroutine blocked in it to
// finish on its own. A later call waits for the first and returns its
// error. Recording after Close is a counted no-op.
package tracing
