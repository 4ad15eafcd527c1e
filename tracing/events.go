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
