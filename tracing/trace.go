package tracing

import (
	"fmt"
	"time"
)

// FlowVersion is the version of a flow definition.
type FlowVersion struct {
	Major, Minor, Patch uint32
	// GitHash is written as null when "".
	GitHash   string
	Timestamp time.Time
}

// String returns "major.minor.patch".
func (v FlowVersion) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// StatusKind is the kind of an ExecutionStatus.
//
// The kinds, their values and names (String, the protocol's tag):
//
//	StatusPending     0  Pending
//	StatusRunning     1  Running
//	StatusCompleted   2  Completed
//	StatusFailed      3  Failed
//	StatusCancelled   4  Cancelled
type StatusKind uint8

// The execution status kinds. The zero value is StatusPending.
const (
	StatusPending StatusKind = iota
	StatusRunning
	StatusCompleted
	StatusFailed
	StatusCancelled
)

var statusNames = [...]string{"Pending", "Running", "Completed", "Failed", "Cancelled"}

// String returns the protocol name of k.
func (k StatusKind) String() string {
	if int(k) < len(statusNames) {
		return statusNames[k]
	}
	return fmt.Sprintf("StatusKind(%d)", uint8(k))
}

// ExecutionStatus is the state of a flow run: Reflow's ExecutionStatus.
type ExecutionStatus struct {
	Kind StatusKind
	// Error is the failure message of a StatusFailed status.
	Error string
}

// FailedStatus returns a StatusFailed status with the given message.
func FailedStatus(err string) ExecutionStatus {
	return ExecutionStatus{Kind: StatusFailed, Error: err}
}

// String returns the protocol name, with the error of a failed status.
func (s ExecutionStatus) String() string {
	if s.Kind == StatusFailed {
		return "Failed(" + s.Error + ")"
	}
	return s.Kind.String()
}

// TraceMetadata describes where a trace was recorded.
type TraceMetadata struct {
	// UserID and SessionID are written as null when "".
	UserID      string
	SessionID   string
	Environment string
	Hostname    string
	ProcessID   uint32
	ThreadID    string
	// Tags is written as {} when nil.
	Tags map[string]string
}

// FlowTrace is one run of a flow with its events: Reflow's FlowTrace, the
// unit the server persists.
type FlowTrace struct {
	TraceID     TraceID
	FlowID      FlowID
	ExecutionID ExecutionID
	Version     FlowVersion
	StartTime   time.Time
	// EndTime is written as null when zero.
	EndTime  time.Time
	Status   ExecutionStatus
	Events   []TraceEvent
	Metadata TraceMetadata
}

// The metadata tags the client writes into the headers of the traces it
// starts; package wire names them for the sinks and readers (wire.TagJoined,
// wire.TagLinkedTrace), which depend on their values.
const (
	tagJoined      = "reflowtrace.joined"
	tagLinkedTrace = "reflowtrace.linked_trace"
)

// systemActorID is the actor id of the system metric events the client
// records (TracingConfig.SystemMetricsInterval).
const systemActorID = "system"

// anonymizedPrefix starts every value that anonymization produces
// (PrivacyConfig.AnonymizeKey).
const anonymizedPrefix = "anon_"
