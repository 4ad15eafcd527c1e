package tracing

import "github.com/reflowtrace/reflowtrace-go/tracing/attr"

// The builders below are package event's, for the tests of this package,
// which cannot import it; they are built on stamp and the setters, as the
// per-kind methods are. Package event's tests check that its builders
// record what the per-kind methods record.

func actorCreated(actorID string) (ev TraceEvent) {
	stamp(&ev, KindActorCreated, actorID)
	return
}

func actorStarted(actorID string) (ev TraceEvent) {
	stamp(&ev, KindActorStarted, actorID)
	return
}

func actorCompleted(actorID string) (ev TraceEvent) {
	stamp(&ev, KindActorCompleted, actorID)
	return
}

func actorFailed(actorID, err string) (ev TraceEvent) {
	stamp(&ev, KindActorFailed, actorID)
	ev.Data.Error = err
	return
}

func messageSent(actorID, port, messageType string, sizeBytes uint64) (ev TraceEvent) {
	stamp(&ev, KindMessageSent, actorID)
	setMessage(&ev, port, messageType, sizeBytes)
	return
}

func messageReceived(actorID, port, messageType string, sizeBytes uint64) (ev TraceEvent) {
	stamp(&ev, KindMessageReceived, actorID)
	setMessage(&ev, port, messageType, sizeBytes)
	return
}

func stateChanged(actorID string, diff StateDiff) (ev TraceEvent) {
	stamp(&ev, KindStateChanged, actorID)
	setStateDiff(&ev, diff)
	return
}

func portConnected(actorID, port string) (ev TraceEvent) {
	stamp(&ev, KindPortConnected, actorID)
	ev.Data.Port = port
	return
}

func portDisconnected(actorID, port string) (ev TraceEvent) {
	stamp(&ev, KindPortDisconnected, actorID)
	ev.Data.Port = port
	return
}

func dataFlow(fromActor, fromPort, toActor, toPort, messageType string, sizeBytes uint64) (ev TraceEvent) {
	stamp(&ev, KindDataFlow, fromActor)
	setDataFlow(&ev, fromPort, toActor, toPort, messageType, sizeBytes)
	return
}

func networkEvent(actorID string, attrs ...attr.KeyValue) (ev TraceEvent) {
	stamp(&ev, KindNetworkEvent, actorID)
	ev.Data.CustomAttributes.Add(attrs...)
	return
}

func custom(actorID, name string, attrs ...attr.KeyValue) (ev TraceEvent) {
	stamp(&ev, KindCustom, actorID)
	ev.Type.Name = name
	ev.Data.CustomAttributes.Add(attrs...)
	return
}
