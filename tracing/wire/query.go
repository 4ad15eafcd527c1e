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
	Status      *tracing.ExecutionStatus
	ActorFilter string
	// Limit and Offset are written as null when zero.
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
