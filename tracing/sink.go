package tracing

import (
	"context"
	"errors"
)

// ErrClosed is returned (wrapped) by a closed client or sink.
var ErrClosed = errors.New("tracing: closed")

// Sink receives batches of events from a client. The client calls Write
// from one goroutine at a time; Flush and Close may be called concurrently
// with it.
//
// Write must copy what it keeps from batch, and must not modify it: the
// slice and the events' memory are reused after it returns, and a client
// with several sinks gives every sink the same events, concurrently. It
// retries internally as it sees fit, must honor ctx, and an error it
// returns is final for that batch. The client does not wait for a sink
// that ignores ctx: Flush returns at ctx's end, Close shortly after, and
// the call in progress finishes on its own goroutine. After Close,
// Write and Flush return an error wrapping ErrClosed. Close flushes, then
// releases; a second Close returns nil. A Write, Flush or Close that
// panics fails with an error that names the method and holds the panic's
// value (a Write's batch is then lost, counted as a write error).
type Sink interface {
	Write(ctx context.Context, batch []TraceEvent) error
	Flush(ctx context.Context) error
	Close(ctx context.Context) error
}

// ServerSink is implemented by sinks that may send events to a Reflow
// tracing server: the sinks that TracingConfig's server settings
// (ServerURL, ServerURLs, EnableCompression, CompressionAlgorithm,
// Protocol, Retry) configure, through websocket.OptionsFromConfig.
// websocket.Sink reports true.
// When a config sets server settings and no sink of the client reports
// true, New logs one warning listing them: they do not apply.
type ServerSink interface {
	// SendsToServer reports whether the sink sends events to a Reflow
	// tracing server.
	SendsToServer() bool
}
