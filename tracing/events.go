package tracing

import (
	"time"

	"github.com/reflowtrace/reflowtrace-go/internal/clock"
	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
)

// stamp sets, in place, what every event of a per-kind method gets: a new
// UUIDv7 EventID, the current time as its Timestamp (one clock read for
// both), itself as its root cause, its kind and its actor. TracingClient's
// per-kind methods call it on the event's queue slot. It returns the new
// id's halves (see uuid.V7), for a caller that needs the id too. Package
// event's builders set the same fields in the same way.
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

// The marks emit leaves on an event's queue slot, for the next event
// built in that slot to know what it must clear (batch.Queue.PutReuse).
const (
	// markAny: the slot may hold anything; it is cleared whole. The queue
	// gives this mark to a slot written by Record.
	markAny uint8 = iota
	// markHead: only the event's head may be set, never its tail
	// (Data.StateDiff, Data.Error, Data.PerformanceMetrics and
	// Data.CustomAttributes); clearHead clears the head.
	markHead
	// markStep: as markHead, and Data.Error and Data.PerformanceMetrics
	// may be set too (the event of a step, see emitStep); clearStep
	// clears them.
	markStep
)

// slotMark is the mark of a slot that emit built an event of each kind in.
// The per-kind methods of the kinds with markHead set only head fields;
// the redactor and the consumer only clear or rewrite fields that are
// set, so they never set a tail field of such an event.
var slotMark = [numKinds]uint8{
	KindActorCreated:     markHead,
	KindActorStarted:     markHead,
	KindActorCompleted:   markHead,
	KindMessageSent:      markHead,
	KindMessageReceived:  markHead,
	KindPortConnected:    markHead,
	KindPortDisconnected: markHead,
	KindDataFlow:         markHead,
	// Their methods set the tail.
	KindActorFailed:  markAny,
	KindStateChanged: markAny,
	KindNetworkEvent: markAny,
	KindCustom:       markAny,
}

// clearHead zeroes what an event's head may hold beyond what stamp and
// emit always write (EventID, TraceID, Timestamp, Type.Kind, ActorID):
// the head of a slot marked markHead then holds nothing of the event
// before, and its tail is zero already.
func clearHead(ev *TraceEvent) {
	ev.Type = TraceEventType{}
	ev.Data.Port = ""
	ev.Data.Message = MessageSnapshot{}
	ev.Data.HasMessage = false
	ev.Causality = CausalityInfo{}
}

// clearStep zeroes what an event built over a slot marked markStep may
// hold beyond what stamp and emit always write.
func clearStep(ev *TraceEvent) {
	clearHead(ev)
	ev.Data.Error = ""
	ev.Data.PerformanceMetrics = PerformanceMetrics{}
}

// The setters below fill the kind-specific fields for TracingClient's
// per-kind methods (package event's builders set the same fields).

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
