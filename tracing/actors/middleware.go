package actors

import (
	"context"
	"reflect"

	"github.com/reflowtrace/reflowtrace-go/internal/clock"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/internal/step"
)

// Runner is an actor's processing step, as the middleware sees it: Run is
// called for each activation of the actor.
type Runner interface {
	Run(ctx context.Context) error
}

// RegisterFunc registers actor under name in an actor network.
type RegisterFunc func(ctx context.Context, name string, actor any) error

// Send is one message sent over a connector, from FromActor's FromPort to
// ToActor's ToPort. Message is the payload, which the middleware passes on
// untouched and never records.
type Send struct {
	FromActor, FromPort string
	ToActor, ToPort     string
	MessageType         string
	Size                uint64
	Message             any
}

// SendFunc sends s over a connector.
type SendFunc func(ctx context.Context, s Send) error

// RegisterMiddleware returns a RegisterFunc that registers through next and
// records ActorCreated when next succeeds, or ActorFailed with next's error
// when it fails, both caused by the event ctx carries.
//
// If actor implements Runner, next is given a wrapper instead (a Runner
// whose Unwrap method returns the original): every Run of the wrapper
// records ActorStarted, calls the actor's Run with a ctx that carries the
// ActorStarted event (so that what the actor records or sends inside is its
// child), then records ActorCompleted, or ActorFailed with Run's error,
// with the run's duration in PerformanceMetrics.ExecutionTimeNs (from the
// clock read that timestamps the ActorStarted event to the one that
// timestamps its own, measured on the monotonic clock, which no step of
// the wall clock changes) and the ActorStarted event as parent. Run's
// error is returned unchanged.
//
// If actor implements MessageRunner instead, the wrapper (whose Unwrap
// returns the original) does the same for every message: Run(ctx, msg)
// passes msg on unchanged and, when msg is an Envelope (of any message
// type, as a value or a pointer), runs in the envelope's trace with the
// envelope's event as cause (see Envelope), so an actor fed from a channel
// of envelopes continues its sender's trace.
//
// Events are recorded in the trace ctx carries (see StartTrace): the ctx
// of the registration for ActorCreated, the ctx of each Run for the
// others. For a long-lived actor that handles messages forever, see Serve.
// Each Run allocates once, for the ctx that carries its ActorStarted
// event (see tracing.ContextWithEvent).
//
// It returns next itself when the client is disabled. See TracingClient
// for the order of a middleware chain.
func RegisterMiddleware(c *tracing.TracingClient, next RegisterFunc) RegisterFunc {
	if !c.Enabled() || next == nil {
		return next
	}
	return func(ctx context.Context, name string, actor any) error {
		switch r := actor.(type) {
		case Runner:
			actor = &tracedRunner{c: c, name: name, inner: r}
		case MessageRunner:
			actor = &tracedMessageRunner{c: c, name: name, inner: r}
		}
		err := next(ctx, name, actor)
		if err != nil {
			c.ActorFailed(ctx, name, err)
		} else {
			c.ActorCreated(ctx, name)
		}
		return err
	}
}

// tracedRunner is the Runner RegisterMiddleware registers in place of an
// actor's own.
type tracedRunner struct {
	c     *tracing.TracingClient
	name  string
	inner Runner
}

// Unwrap returns the actor's own Runner.
func (r *tracedRunner) Unwrap() Runner { return r.inner }

// Run records ActorStarted, runs the actor, then records ActorCompleted or
// ActorFailed.
func (r *tracedRunner) Run(ctx context.Context) error {
	if !r.c.Enabled() {
		return r.inner.Run(ctx)
	}
	return runTraced(ctx, r.c, r.name, r.inner.Run)
}

// MessageRunner is an actor's processing step that receives the message it
// runs for: Run is called once per message. See RegisterMiddleware.
type MessageRunner interface {
	Run(ctx context.Context, msg any) error
}

// tracedMessageRunner is the MessageRunner RegisterMiddleware registers in
// place of an actor's own.
type tracedMessageRunner struct {
	c     *tracing.TracingClient
	name  string
	inner MessageRunner
}

// Unwrap returns the actor's own MessageRunner.
func (r *tracedMessageRunner) Unwrap() MessageRunner { return r.inner }

// Run records ActorStarted, runs the actor for msg, then records
// ActorCompleted or ActorFailed. An Envelope msg's trace and cause are
// the run's.
func (r *tracedMessageRunner) Run(ctx context.Context, msg any) error {
	if e, ok := msg.(causeCarrier); ok && !nilPointer(msg) {
		ctx = tracing.ContextWithCause(ctx, e.envelopeCause())
	}
	if !r.c.Enabled() {
		return r.inner.Run(ctx, msg)
	}
	return runTraced(ctx, r.c, r.name, func(ctx context.Context) error { return r.inner.Run(ctx, msg) })
}

// nilPointer reports whether v is a nil pointer (a nil *Envelope[T],
// which carries no cause).
func nilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// SendMiddleware returns a SendFunc that sends through next and records a
// DataFlow event for every send: from s.FromActor's s.FromPort to
// s.ToActor's s.ToPort, with s.MessageType and s.Size, the time next took
// in PerformanceMetrics.ExecutionTimeNs (on the monotonic clock), next's
// error in Data.Error if it failed, and its cause taken from ctx. The
// event is timestamped when the send starts and recorded when it returns;
// the ctx passed to next carries it, so what the receiving side records
// with that ctx is its child. Each send allocates once, for that ctx (see
// tracing.ContextWithEvent). When the client's kind or actor filters drop
// DataFlow events of s.FromActor, next gets ctx itself: what the
// receiving side records is then ctx's child, not that of an event no
// sink receives.
//
// It returns next itself when the client is disabled. See TracingClient
// for the order of a middleware chain.
func SendMiddleware(c *tracing.TracingClient, next SendFunc) SendFunc {
	if !c.Enabled() || next == nil {
		return next
	}
	return func(ctx context.Context, s Send) error {
		if !c.Enabled() {
			return next(ctx, s)
		}
		at := step.Begin() // the event's time and id
		nctx := ctx
		if step.KeepsDataFlow(c, s.FromActor) {
			nctx = tracing.ContextWithEvent(ctx, at.ID())
		} // else no event is recorded: what the receiver records is ctx's child
		err := next(nctx, s)
		end := step.Ended(clock.Mono()-at.Mono, err)
		// Its cause is ctx's, not the event's own.
		step.DataFlow(c, ctx, at, s.FromActor, s.FromPort, s.ToActor, s.ToPort, s.MessageType, s.Size, end)
		return err
	}
}
