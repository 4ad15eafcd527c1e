package tracing

import (
	"time"

	"github.com/reflowtrace/reflowtrace-go/internal/clock"
	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// The functions in this file build events like Reflow's TraceEvent helpers.
// Each returns an event with a new UUIDv7 EventID, the current time as its
// Timestamp and itself as its root cause; the client fills the TraceID and,
// from the context, the causality. None of them allocates.

// stamp sets, in place, what every constructor sets; TracingClient's
// per-kind methods call it on the event's queue slot. It returns the new
// id's halves (see uuid.V7), for a caller that needs the id too.
func stamp(ev *TraceEvent, kind EventKind, actorID string) (hi, lo uint64) {
	now := clock.UnixNano()
	// The id is written twice from registers rather than copied from
	// ev.EventID, which would read back the bytes just stored.
	hi, lo = uuid.V7(now)
	uuid.Put((*[16]byte)(&ev.EventID), hi, lo)
	uuid.Put((*[16]byte)(&ev.Causality.RootCauseEventID), hi, lo)
	ev.Timestamp = unixUTC(now)
	ev.Type.Kind = kind
	ev.ActorID = actorID
	return hi, lo
}

func unixUTC(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// The constructors fill their named result in place: building a
// ~600-byte event in a helper and returning it would copy it once more
// at each level.

// ActorCreated returns an event recording that actorID was created.
func ActorCreated(actorID string) (ev TraceEvent) {
	stamp(&ev, KindActorCreated, actorID)
	return
}

// ActorStarted returns an event recording that actorID started a run.
func ActorStarted(actorID string) (ev TraceEvent) {
	stamp(&ev, KindActorStarted, actorID)
	return
}

// ActorCompleted returns an event recording that actorID completed a run.
func ActorCompleted(actorID string) (ev TraceEvent) {
	stamp(&ev, KindActorCompleted, actorID)
	return
}

// ActorFailed returns an event recording that actorID failed with err.
func ActorFailed(actorID, err string) (ev TraceEvent) {
	stamp(&ev, KindActorFailed, actorID)
	ev.Data.Error = err
	return
}

// MessageSent returns an event recording that actorID sent a message of the
// given type and size on port.
func MessageSent(actorID, port, messageType string, sizeBytes uint64) (ev TraceEvent) {
	stamp(&ev, KindMessageSent, actorID)
	setMessage(&ev, port, messageType, sizeBytes)
	return
}

// MessageReceived returns an event recording that actorID received a
// message of the given type and size on port.
func MessageReceived(actorID, port, messageType string, sizeBytes uint64) (ev TraceEvent) {
	stamp(&ev, KindMessageReceived, actorID)
	setMessage(&ev, port, messageType, sizeBytes)
	return
}

// StateChanged returns an event recording a change of actorID's state.
// A diff with no DiffType is recorded as a DiffFull diff.
func StateChanged(actorID string, diff StateDiff) (ev TraceEvent) {
	stamp(&ev, KindStateChanged, actorID)
	setStateDiff(&ev, diff)
	return
}

// PortConnected returns an event recording that actorID's port was
// connected.
func PortConnected(actorID, port string) (ev TraceEvent) {
	stamp(&ev, KindPortConnected, actorID)
	ev.Data.Port = port
	return
}

// PortDisconnected returns an event recording that actorID's port was
// disconnected.
func PortDisconnected(actorID, port string) (ev TraceEvent) {
	stamp(&ev, KindPortDisconnected, actorID)
	ev.Data.Port = port
	return
}

// DataFlow returns an event recording that a message of the given type and
// size flowed from fromActor's fromPort to toActor's toPort.
func DataFlow(fromActor, fromPort, toActor, toPort, messageType string, sizeBytes uint64) (ev TraceEvent) {
	stamp(&ev, KindDataFlow, fromActor)
	setDataFlow(&ev, fromPort, toActor, toPort, messageType, sizeBytes)
	return
}

// NetworkEvent returns a network-level event with the given attributes.
func NetworkEvent(actorID string, attrs ...attr.KeyValue) (ev TraceEvent) {
	stamp(&ev, KindNetworkEvent, actorID)
	ev.Data.CustomAttributes.Add(attrs...)
	return
}

// Custom returns a user-named event with the given attributes. By
// default it is written as a NetworkEvent whose "event_subtype" attribute is
// name, which the reference server accepts.
func Custom(actorID, name string, attrs ...attr.KeyValue) (ev TraceEvent) {
	stamp(&ev, KindCustom, actorID)
	ev.Type.Name = name
	ev.Data.CustomAttributes.Add(attrs...)
	return
}

// The setters below fill the kind-specific fields for the constructors
// and for TracingClient's per-kind methods.

func setMessage(ev *TraceEvent, port, msgType string, size uint64) {
	ev.Data.Port = port
	ev.Data.Message.MessageType = msgType
	ev.Data.Message.SizeBytes = size
	ev.Data.HasMessage = true
}

func setDataFlow(ev *TraceEvent, fromPort, toActor, toPort, msgType string, size uint64) {
	setMessage(ev, fromPort, msgType, size)
	ev.Type.ToActor = toActor
	ev.Type.ToPort = toPort
}

func setStateDiff(ev *TraceEvent, diff StateDiff) {
	ev.Data.StateDiff = diff
	if diff.DiffType == 0 {
		ev.Data.StateDiff.DiffType = DiffFull
	}
}
