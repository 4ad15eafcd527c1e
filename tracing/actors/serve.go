package actors

import (
	"context"
	"fmt"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/internal/step"
)

// Serve runs a long-lived actor named actorID: it calls handle for each
// message received on inbox, one at a time, until inbox is closed (Serve
// returns nil), ctx ends (an error wrapping ctx's error) or handle fails
// (Serve returns handle's error unchanged).
//
// An actor that lives as long as its process must not make one trace grow
// for its whole life, so Serve keeps the actor's lifecycle and its work
// apart. ctx is the actor's lifecycle context, typically carrying a trace
// started for the actor: it gets ActorStarted when Serve begins and
// ActorCompleted or ActorFailed when Serve returns, and nothing else,
// however many messages the actor handles. Each message is handled in a
// trace of its own:
//
//   - a message whose envelope carries a trace (see NewEnvelope,
//     SendEnvelope) is handled in it, caused by the envelope's event: the
//     work's trace follows the work from actor to actor;
//   - a message whose envelope carries none gets a new trace, of the flow
//     ctx's trace names (or TracingConfig.FlowID), whose metadata names
//     ctx's trace under TagLinkedTrace, ended when handle returns
//     (Completed, or Failed with handle's error).
//
// Around each handle it records ActorStarted and then ActorCompleted, or
// ActorFailed with handle's error, with the run's duration, in the
// message's trace; handle's ctx carries the ActorStarted event, so what it
// records or sends is its child. With a disabled client Serve only
// receives and calls handle. Safe for concurrent use: run one Serve per
// actor goroutine.
func Serve[T any](ctx context.Context, c *tracing.TracingClient, actorID string, inbox <-chan Envelope[T], handle func(ctx context.Context, msg T) error) (err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !c.Enabled() {
		return serve(ctx, c, actorID, inbox, handle)
	}
	c.ActorStarted(ctx, actorID)
	returned := false
	defer func() {
		switch {
		case !returned:
			// handle panicked: the panic goes on once recorded.
			r := recover()
			c.ActorFailed(ctx, actorID, PanicError{Value: r})
			panic(r)
		case err != nil:
			c.ActorFailed(ctx, actorID, err)
		default:
			c.ActorCompleted(ctx, actorID)
		}
	}()
	err = serve(ctx, c, actorID, inbox, handle)
	returned = true
	return err
}

// serve is Serve's loop.
func serve[T any](ctx context.Context, c *tracing.TracingClient, actorID string, inbox <-chan Envelope[T], handle func(ctx context.Context, msg T) error) error {
	flow := tracing.FlowID("")
	if ref, ok := tracing.CauseFromContext(ctx).Trace(); ok {
		flow = ref.FlowID
	}
	for {
		var e Envelope[T]
		select {
		case m, open := <-inbox:
			if !open {
				return nil
			}
			e = m
		case <-ctx.Done():
			return fmt.Errorf("tracing: serve %s: %w", actorID, ctx.Err())
		}
		if !c.Enabled() {
			if err := handle(e.Context(ctx), e.Msg); err != nil {
				return err
			}
			continue
		}
		if err := serveOne(ctx, c, flow, actorID, e.Cause, func(mctx context.Context) error { return handle(mctx, e.Msg) }); err != nil {
			return err
		}
	}
}

// serveOne handles one message for Serve: in the trace cause carries, or
// in a new trace linked to ctx's.
func serveOne(ctx context.Context, c *tracing.TracingClient, flow tracing.FlowID, actorID string, cause tracing.Cause, handle func(context.Context) error) error {
	own := false
	mctx := ctx
	if _, ok := cause.Trace(); ok {
		mctx = tracing.ContextWithCause(ctx, cause)
	} else {
		var err error
		if mctx, _, err = c.StartTrace(ctx, flow, tracing.FlowVersion{}); err != nil {
			mctx = tracing.ContextWithCause(ctx, cause) // closed meanwhile: record nothing more
		} else {
			own = true
			mctx = tracing.ContextWithCause(mctx, cause)
		}
	}
	if !own {
		return runTraced(mctx, c, actorID, handle)
	}
	returned := false
	defer func() {
		if !returned {
			// handle panicked: the message's trace ends failed, and the
			// panic goes on.
			r := recover()
			_ = c.EndTrace(mctx, tracing.FailedStatus(PanicError{Value: r}.Error()))
			panic(r)
		}
	}()
	err := runTraced(mctx, c, actorID, handle)
	returned = true
	status := tracing.ExecutionStatus{Kind: tracing.StatusCompleted}
	if err != nil {
		status = tracing.FailedStatus(err.Error())
	}
	_ = c.EndTrace(mctx, status) // only fails once the client is closed
	return err
}

// runTraced records ActorStarted, calls run with a ctx carrying it, then
// records ActorCompleted or ActorFailed with run's duration, and returns
// run's error unchanged. A run that panics is recorded as ActorFailed
// with "panic: " and the panic's value, and the panic goes on.
func runTraced(ctx context.Context, c *tracing.TracingClient, name string, run func(context.Context) error) error {
	// Two clock reads in all: each event's gives its time and id, and
	// their monotonic readings the run's duration.
	start := step.Begin()
	rctx := tracing.ContextWithEvent(ctx, step.RunStarted(c, ctx, name, start))
	ended := false
	defer func() {
		if ended {
			return
		}
		r := recover()
		end := step.Begin()
		step.RunEnded(c, rctx, name, end, step.Ended(end.Mono-start.Mono, PanicError{Value: r}))
		panic(r)
	}()
	err := run(rctx)
	ended = true
	end := step.Begin()
	step.RunEnded(c, rctx, name, end, step.Ended(end.Mono-start.Mono, err))
	return err
}

// PanicError is the failure recorded for an actor's run, or a Serve,
// that panicked: the run's ActorFailed event holds its message, "panic: "
// and the panic's value. The panic itself is not stopped.
type PanicError struct{ Value any }

// Error returns "panic: " and the panic's value.
func (e PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }
