package actors

import (
	"context"
	"fmt"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// Envelope is a message for a channel-connected actor with the causal
// position of its sender: the trace and the event the sender's context
// carried (see Cause). The receiver handles Msg with Context(ctx), so what
// it records joins the sender's trace as the sender's event's child. It is
// a value: sending it on a channel copies Msg and one pointer, and
// allocates nothing. The zero Cause carries nothing, so an Envelope built
// by hand without one is handled in the receiver's own trace.
type Envelope[T any] struct {
	Msg   T
	Cause tracing.Cause
}

// NewEnvelope returns msg in an Envelope with the trace and cause ctx
// carries. It does not allocate.
func NewEnvelope[T any](ctx context.Context, msg T) Envelope[T] {
	return Envelope[T]{Msg: msg, Cause: tracing.CauseFromContext(ctx)}
}

// Context returns a copy of ctx (its values, deadline and cancellation)
// that carries the envelope's trace and cause (see ContextWithCause); ctx
// itself when the envelope carries none. It allocates the context only.
func (e Envelope[T]) Context(ctx context.Context) context.Context {
	return tracing.ContextWithCause(ctx, e.Cause)
}

// envelopeCause lets the middleware find the cause of an Envelope of any
// type passed as an any (see MessageRunner), as a value or a pointer.
func (e Envelope[T]) envelopeCause() tracing.Cause { return e.Cause }

type causeCarrier interface{ envelopeCause() tracing.Cause }

// SendEnvelope sends msg on ch in an Envelope with the trace and cause ctx
// carries (see NewEnvelope). It waits until ch takes it or ctx ends, and
// then returns an error wrapping ctx's error. It does not allocate; it
// records nothing (record the send itself with SendMiddleware or
// TracingClient.DataFlow, and pass the ctx that carries that event, to
// make it the receiver's cause).
func SendEnvelope[T any](ctx context.Context, ch chan<- Envelope[T], msg T) error {
	if ctx == nil {
		ctx = context.Background()
	}
	e := NewEnvelope(ctx, msg)
	select {
	case ch <- e:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("tracing: send envelope: %w", ctx.Err())
	}
}

// ReceiveEnvelope waits for the next envelope on ch and returns the ctx to
// handle its message with (ctx with the envelope's trace and cause, see
// Envelope.Context) and the message. ok is false, with ctx and the zero T,
// when ch is closed or ctx ended first (ctx.Err() tells which). It
// allocates the returned context only, when the envelope carries a cause.
func ReceiveEnvelope[T any](ctx context.Context, ch <-chan Envelope[T]) (mctx context.Context, msg T, ok bool) {
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case e, open := <-ch:
		if !open {
			return ctx, msg, false
		}
		return e.Context(ctx), e.Msg, true
	case <-ctx.Done():
		return ctx, msg, false
	}
}
