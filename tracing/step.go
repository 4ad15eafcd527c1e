package tracing

import (
	"context"

	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
	"github.com/reflowtrace/reflowtrace-go/tracing/internal/step"
)

// The middleware of package actors records the events of the steps it
// wraps through package step, which this fills in.
func init() {
	step.KeepsDataFlow = func(c any, fromActor string) bool {
		t := c.(*TracingClient)
		return t.Enabled() && !t.sel.rejects(KindDataFlow, fromActor)
	}
	step.DataFlow = func(c any, ctx context.Context, at step.Start, fromActor, fromPort, toActor, toPort, msgType string, size uint64, end step.End) {
		c.(*TracingClient).emitStep(ctx, KindDataFlow, fromActor, at, end, func(ev *TraceEvent) {
			setDataFlow(ev, fromPort, toActor, toPort, msgType, size)
		})
	}
	step.RunStarted = func(c any, ctx context.Context, actorID string, at step.Start) [16]byte {
		return c.(*TracingClient).emitStep(ctx, KindActorStarted, actorID, at, step.End{}, nil)
	}
	step.RunEnded = func(c any, ctx context.Context, actorID string, at step.Start, end step.End) {
		kind := KindActorCompleted
		if end.Failed {
			kind = KindActorFailed
		}
		c.(*TracingClient).emitStep(ctx, kind, actorID, at, end, nil)
	}
}

// emitStep is emit for the event of a step the middleware wraps: it takes
// at's id and time (taken when the step started) instead of new ones, and
// gets end's duration (Data.PerformanceMetrics.ExecutionTimeNs) and error
// message (Data.Error). Built in its queue slot, it leaves markStep there.
// It returns at's id, or the zero id when begin rejects the event. It is
// a function of its own, not an option of emit, so that the per-kind
// methods' path does not pay for it.
func (c *TracingClient) emitStep(ctx context.Context, kind EventKind, actorID string, at step.Start, end step.End, build func(*TraceEvent)) EventID {
	if !c.begin(kind, actorID) {
		return EventID{}
	}
	if !c.inPlace {
		var ev TraceEvent
		stampAt(&ev, kind, actorID, at)
		if build != nil {
			build(&ev)
		}
		setEnd(&ev, end)
		return c.record(ctx, &ev)
	}
	n := nodeFrom(ctx)
	c.adopt(n)
	fill := func(ev *TraceEvent, mark uint8) uint8 {
		clearFor(ev, mark)
		stampAt(ev, kind, actorID, at)
		if build != nil {
			build(ev)
		}
		setEnd(ev, end)
		ev.TraceID = c.traceID(n)
		setCause(n, ev)
		if c.redactBuilt[kind] {
			c.sel.redactor().apply(ev)
		}
		return markStep
	}
	// The queue counts what it refuses. The caller still gets the id, as
	// for every dropped event.
	if c.isCritical(kind) {
		c.queue.PutCriticalReuse(fill)
	} else {
		c.queue.PutReuse(fill)
	}
	return at.ID()
}

// stampAt is stamp with the id and time of at.
func stampAt(ev *TraceEvent, kind EventKind, actorID string, at step.Start) {
	uuid.Put((*[16]byte)(&ev.EventID), at.Hi, at.Lo)
	uuid.Put((*[16]byte)(&ev.Causality.RootCauseEventID), at.Hi, at.Lo)
	ev.Timestamp = unixUTC(at.UnixNano)
	ev.Type.Kind = kind
	ev.ActorID = actorID
}

// setEnd sets how a step ended: its duration and its error message.
func setEnd(ev *TraceEvent, end step.End) {
	ev.Data.PerformanceMetrics.ExecutionTimeNs = end.Nanos
	ev.Data.Error = end.Error
}
