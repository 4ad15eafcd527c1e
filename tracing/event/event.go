// Package event builds [tracing.TraceEvent] values like Reflow's
// TraceEvent helpers (TraceEvent::data_flow(...) and the others), one
// function per built-in kind:
//
//	c.Record(ctx, event.DataFlow("sensor", "out", "validator", "in", "Reading", 256))
//
// Each returns an event with a new UUIDv7 EventID, the current time as its
// Timestamp and itself as its root cause; the client fills the TraceID and,
// from the context, the causality. None of them allocates, but for
// NetworkEvent and Custom given more than four attributes (the first four
// are held in the event itself).
//
// To record an event of a built-in kind, the per-kind methods of
// [tracing.TracingClient] ([tracing.TracingClient.DataFlow],
// [tracing.TracingClient.ActorFailed], …) are the fast path: they build the
// event straight in the client's queue. Build one here to set what those
// methods don't take, such as [tracing.PerformanceMetrics] or a
// [tracing.MessageSnapshot]'s content, before passing it to
// [tracing.TracingClient.Record] or [tracing.TracingClient.RecordWait]; or
// to write events to a [tracing.Sink] directly, as tests of a sink do.
package event

import (
	"time"

	"github.com/reflowtrace/reflowtrace-go/internal/clock"
	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// stamp sets, in place, what every function of the package sets, from one
// clock read: the id, the root cause, the time, the kind and the actor.
// These and the kind-specific fields below are what the client's per-kind
// methods set; TestBuildersMatchPerKindMethods keeps the two the same.
func stamp(ev *tracing.TraceEvent, kind tracing.EventKind, actorID string) {
	now := clock.UnixNano()
	// The id is written twice from registers rather than copied from
	// ev.EventID, which would read back the bytes just stored.
	hi, lo := uuid.V7(now)
	uuid.Put((*[16]byte)(&ev.EventID), hi, lo)
	uuid.Put((*[16]byte)(&ev.Causality.RootCauseEventID), hi, lo)
	ev.Timestamp = time.Unix(0, now).UTC()
	ev.Type.Kind = kind
	ev.ActorID = actorID
}

// The functions fill their named result in place: building a ~600-byte
// event in a helper and returning it would copy it once more at each
// level.

// ActorCreated returns an event recording that actorID was created.
func ActorCreated(actorID string) (ev tracing.TraceEvent) {
	stamp(&ev, tracing.KindActorCreated, actorID)
	return
}

// ActorStarted returns an event recording that actorID started a run.
func ActorStarted(actorID string) (ev tracing.TraceEvent) {
	stamp(&ev, tracing.KindActorStarted, actorID)
	return
}

// ActorCompleted returns an event recording that actorID completed a run.
func ActorCompleted(actorID string) (ev tracing.TraceEvent) {
	stamp(&ev, tracing.KindActorCompleted, actorID)
	return
}

// ActorFailed returns an event recording that actorID failed with err.
func ActorFailed(actorID, err string) (ev tracing.TraceEvent) {
	stamp(&ev, tracing.KindActorFailed, actorID)
	ev.Data.Error = err
	return
}

// MessageSent returns an event recording that actorID sent a message of the
// given type and size on port.
func MessageSent(actorID, port, messageType string, sizeBytes uint64) (ev tracing.TraceEvent) {
	stamp(&ev, tracing.KindMessageSent, actorID)
	setMessage(&ev, port, messageType, sizeBytes)
	return
}

// MessageReceived returns an event recording that actorID received a
// message of the given type and size on port.
func MessageReceived(actorID, port, messageType string, sizeBytes uint64) (ev tracing.TraceEvent) {
	stamp(&ev, tracing.KindMessageReceived, actorID)
	setMessage(&ev, port, messageType, sizeBytes)
	return
}

// StateChanged returns an event recording a change of actorID's state.
// A diff with no DiffType is recorded as a DiffFull diff.
func StateChanged(actorID string, diff tracing.StateDiff) (ev tracing.TraceEvent) {
	stamp(&ev, tracing.KindStateChanged, actorID)
	ev.Data.StateDiff = diff
	if diff.DiffType == 0 {
		ev.Data.StateDiff.DiffType = tracing.DiffFull
	}
	return
}

// PortConnected returns an event recording that actorID's port was
// connected.
func PortConnected(actorID, port string) (ev tracing.TraceEvent) {
	stamp(&ev, tracing.KindPortConnected, actorID)
	ev.Data.Port = port
	return
}

// PortDisconnected returns an event recording that actorID's port was
// disconnected.
func PortDisconnected(actorID, port string) (ev tracing.TraceEvent) {
	stamp(&ev, tracing.KindPortDisconnected, actorID)
	ev.Data.Port = port
	return
}

// DataFlow returns an event recording that a message of the given type and
// size flowed from fromActor's fromPort to toActor's toPort.
func DataFlow(fromActor, fromPort, toActor, toPort, messageType string, sizeBytes uint64) (ev tracing.TraceEvent) {
	stamp(&ev, tracing.KindDataFlow, fromActor)
	setMessage(&ev, fromPort, messageType, sizeBytes)
	ev.Type.ToActor = toActor
	ev.Type.ToPort = toPort
	return
}

// NetworkEvent returns a network-level event with the given attributes.
func NetworkEvent(actorID string, attrs ...attr.KeyValue) (ev tracing.TraceEvent) {
	stamp(&ev, tracing.KindNetworkEvent, actorID)
	ev.Data.CustomAttributes.Add(attrs...)
	return
}

// Custom returns a user-named event with the given attributes. By
// default it is written as a NetworkEvent whose "event_subtype" attribute is
// name, which the reference server accepts.
func Custom(actorID, name string, attrs ...attr.KeyValue) (ev tracing.TraceEvent) {
	stamp(&ev, tracing.KindCustom, actorID)
	ev.Type.Name = name
	ev.Data.CustomAttributes.Add(attrs...)
	return
}

// setMessage fills the message fields of MessageSent, MessageReceived and
// DataFlow.
func setMessage(ev *tracing.TraceEvent, port, messageType string, sizeBytes uint64) {
	ev.Data.Port = port
	ev.Data.Message.MessageType = messageType
	ev.Data.Message.SizeBytes = sizeBytes
	ev.Data.HasMessage = true
}
