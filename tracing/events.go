package tracing

import (
	"time"

	"github.com/reflowtrace/reflowtrace-go/internal/clock"
	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
)

// The functions in this file build events like Reflow's TraceEvent helpers.
// Each returns an event with a new UUIDv7 EventID, the current time as its
// Timestamp and itself as its root cause; the client fills the TraceID and,
// from the context, the causality. None of them allocates.

func newEvent(kind EventKind, actorID string) (ev TraceEvent) {
	stamp(&ev, kind, actorID)
	return ev
}

// stamp sets, in place, what every constructor sets: recording methods
// that build their event where it is recorded call it too, which saves
// copying the event.
func stamp(ev *TraceEvent, kind EventKind, actorID string) {
	now := clock.UnixNano()
	// The id is written twice from registers rather than copied from
	// ev.EventID, which would read back the bytes just stored.
	hi, lo := uuid.V7(now)
	uuid.Put((*[16]byte)(&ev.EventID), hi, lo)
	uuid.Put((*[16]byte)(&ev.Causality.RootCauseEventID), hi, lo)
	ev.Timestamp = unixUTC(now)
	ev.Type.Kind = kind
	ev.ActorID = actorID
}

func unixUTC(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// ActorCreated returns an event recording that actorID was created.
func ActorCreated(actorID string) TraceEvent { return newEvent(KindActorCreated, actorID) }

// ActorStarted returns an event recording that actorID started a run.
func ActorStarted(actorID string) TraceEvent { return newEvent(KindActorStarted, actorID) }

// ActorCompleted returns an event recording that actorID completed a run.
func ActorCompleted(actorID string) TraceEvent { return newEvent(KindActorCompleted, actorID) }

// ActorFailed returns an event recording that actorID failed with err.
func ActorFailed(actorID, err string) TraceEvent {
	ev := newEvent(KindActorFailed, actorID)
	ev.Data.Error = err
	return ev
}

// MessageSent returns an event recording that actorID sent a message of the
// given type and size on port.
func MessageSent(actorID, port, messageType string, sizeBytes uint64) TraceEvent {
	return messageEvent(KindMessageSent, actorID, port, messageType, sizeBytes)
}

// MessageReceived returns an event recording that actorID received a
// message of the given type and size on port.
func MessageReceived(actorID, port, messageType string, sizeBytes uint64) TraceEvent {
	return messageEvent(KindMessageReceived, actorID, port, messageType, sizeBytes)
}

func messageEvent(kind EventKind, actorID, port, messageType string, sizeBytes uint64) TraceEvent {
	ev := newEvent(kind, actorID)
	ev.Data.Port = port
	ev.Data.Message = MessageSnapshot{MessageType: messageType, SizeBytes: sizeBytes}
	ev.Data.HasMessage = true
	return ev
}

// StateChanged returns an event recording a change of actorID's state.
// A diff with no DiffType is recorded as a DiffFull diff.
func StateChanged(actorID string, diff StateDiff) TraceEvent {
	ev := newEvent(KindStateChanged, actorID)
	if diff.DiffType == 0 {
		diff.DiffType = DiffFull
	}
	ev.Data.StateDiff = diff
	return ev
}

// PortConnected returns an event recording that actorID's port was
// connected.
func PortConnected(actorID, port string) TraceEvent {
	ev := newEvent(KindPortConnected, actorID)
	ev.Data.Port = port
	return ev
}

// PortDisconnected returns an event recording that actorID's port was
// disconnected.
func PortDisconnected(actorID, port string) TraceEvent {
	ev := newEvent(KindPortDisconnected, actorID)
	ev.Data.Port = port
	return ev
}

// DataFlow returns an event recording that a message of the given type and
// size flowed from fromActor's fromPort to toActor's toPort.
func DataFlow(fromActor, fromPort, toActor, toPort, messageType string, sizeBytes uint64) TraceEvent {
	ev := messageEvent(KindDataFlow, fromActor, fromPort, messageType, sizeBytes)
	ev.Type.ToActor = toActor
	ev.Type.ToPort = toPort
	return ev
}

// NetworkEvent returns a network-level event with the given attributes.
func NetworkEvent(actorID string, attrs ...Attr) TraceEvent {
	ev := newEvent(KindNetworkEvent, actorID)
	ev.Data.CustomAttributes.Add(attrs...)
	return ev
}

// CustomEvent returns a user-named event with the given attributes. By
// default it is written as a NetworkEvent whose "event_subtype" attribute is
// name, which the reference server accepts.
func CustomEvent(actorID, name string, attrs ...Attr) TraceEvent {
	ev := newEvent(KindCustom, actorID)
	ev.Type.Name = name
	ev.Data.CustomAttributes.Add(attrs...)
	return ev
}
