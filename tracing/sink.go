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
// Write must copy what it keeps from batch: the slice and the events' memory
// are reused after it returns. It retries internally as it sees fit, must
// honor ctx, and an error it returns is final for that batch. After Close,
// Write and Flush return an error wrapping ErrClosed. Close flushes, then
// releases; a second Close returns nil.
type Sink interface {
	Write(ctx context.Context, batch []TraceEvent) error
	Flush(ctx context.Context) error
	Close(ctx context.Context) error
}
