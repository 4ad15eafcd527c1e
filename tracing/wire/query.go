package wire

import (
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// TraceQuery selects traces on the server. Zero fields are written as null
// (no constraint).
type TraceQuery struct {
	FlowID      tracing.FlowID
	ExecutionID tracing.ExecutionID
	// TimeRange constrains the start time when HasTimeRange is true.
	TimeRange    [2]time.Time
	HasTimeRange bool
	// Status constrains the status when non-nil.
	Status *tracing.ExecutionStatus
	// ActorFilter keeps the traces with an event of that actor. Reflow's
	// storage backends match it as a substring of the actor id; a
	// generation-2 server matches its in-flight traces exactly.
	ActorFilter string
	// Limit and Offset are written as null when zero. A generation-2
	// server pages its stored traces by them, then adds the matching
	// in-flight traces not on the page and cuts the whole to Limit.
	Limit  uint64
	Offset uint64
}

// SubscriptionFilters select the events pushed to a subscribed connection.
// A nil slice is written as null (no constraint); an empty non-nil slice as
// [].
type SubscriptionFilters struct {
	FlowIDs      []tracing.FlowID
	ActorIDs     []string
	EventTypes   []tracing.TraceEventType
	StatusFilter []tracing.ExecutionStatus
}
