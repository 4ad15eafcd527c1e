// Package step lets the middleware of package actors record the event of
// a step it wraps (a send, an actor's run) the way the client's per-kind
// methods record theirs: built straight in its queue slot, with the id and
// time taken when the step started and the step's duration and error set
// when it returns. Package tracing fills in the functions below; nothing
// here is part of the client's API.
package step

import (
	"context"

	"github.com/reflowtrace/reflowtrace-go/internal/clock"
	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
)

// Start is the id and time of a step's event, taken when the step starts,
// from one clock read, and that read's monotonic reading, which starts the
// step's duration.
type Start struct {
	Hi, Lo   uint64 // the UUIDv7's halves (see uuid.V7)
	UnixNano int64
	Mono     int64 // clock.Mono at UnixNano
}

// Begin returns the id and time of an event that starts now.
func Begin() Start {
	ns, mono := clock.Read()
	hi, lo := uuid.V7(ns)
	return Start{Hi: hi, Lo: lo, UnixNano: ns, Mono: mono}
}

// ID returns the event's id.
func (s Start) ID() [16]byte {
	var id [16]byte
	uuid.Put(&id, s.Hi, s.Lo)
	return id
}

// End is how a step ended: how long it took and, when it failed, its
// error's message.
type End struct {
	Nanos  uint64
	Failed bool
	Error  string
}

// Ended returns the End of a step that took nanos (0 if negative) and
// returned err. It calls err.Error() here, before anything is claimed in
// the queue.
func Ended(nanos int64, err error) End {
	e := End{Nanos: uint64(max(nanos, 0))}
	if err != nil {
		e.Failed, e.Error = true, err.Error()
	}
	return e
}

// The functions package tracing fills in; c is the *tracing.TracingClient
// (a step package that named it would import tracing, which imports this
// one). Each records what the client's per-kind method of its event's kind
// records, with the step's End in Data.PerformanceMetrics.ExecutionTimeNs
// and Data.Error, and its cause taken from ctx.
var (
	// KeepsDataFlow reports whether the client's kind and actor filters
	// keep a DataFlow event of fromActor (false when it is disabled):
	// whether a send's event can be recorded at all, so that the ctx of
	// a send whose event never is does not carry it.
	KeepsDataFlow func(c any, fromActor string) bool
	// DataFlow records the DataFlow event of a send that started at at.
	DataFlow func(c any, ctx context.Context, at Start, fromActor, fromPort, toActor, toPort, msgType string, size uint64, end End)
	// RunStarted records ActorStarted for actorID's run, with at's id
	// and time, and returns the id, or the zero id when the client
	// records no such event (disabled, or filtered out by kind or actor).
	RunStarted func(c any, ctx context.Context, actorID string, at Start) [16]byte
	// RunEnded records ActorCompleted for actorID's run, or ActorFailed
	// when end.Failed, with at's id and time.
	RunEnded func(c any, ctx context.Context, actorID string, at Start, end End)
)
