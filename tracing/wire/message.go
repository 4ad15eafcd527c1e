package wire

import (
	"encoding/json"
	"fmt"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// TracingRequest is a message a client sends to a tracing server: one of
// StartTrace, RecordEvent, EndTrace, GetTrace, QueryTraces, GetFlowVersions,
// Ping, Subscribe, Unsubscribe, and the legacy StoreTrace and GetMetrics. The
// interface is sealed: only the types of this package implement it. The
// encoder accepts both the value and the pointer form of each type;
// DecodeRequest returns the value form (e.g. RecordEvent, not *RecordEvent).
type TracingRequest interface{ isTracingRequest() }

// StartTrace opens a trace for a run of FlowID at Version; the reply is
// TraceStarted.
//
// With a zero TraceID it is the generation-1 form ({flow_id, version}): the
// server picks a new trace id and stores nothing. With a TraceID it is the
// generation-2 form ({trace_id, flow_id, version}): the client owns the id,
// a generation-2 server answers with that id and opens an in-flight trace
// tied to the connection, and a generation-1 server ignores the field and
// picks an id of its own, as for the first form.
type StartTrace struct {
	// TraceID is the client's id for the trace; zero leaves it out.
	TraceID tracing.TraceID
	FlowID  tracing.FlowID
	Version tracing.FlowVersion
}

// RecordEvent sends one event of a trace; the reply is EventRecorded. A
// generation-1 server forwards it to subscribers and does not persist it
// (see StoreTrace); a generation-2 server also appends it to the in-flight
// trace of TraceID (opening one for an unknown id), stored at EndTrace.
type RecordEvent struct {
	TraceID tracing.TraceID
	Event   tracing.TraceEvent
}

// EndTrace ends a trace opened by StartTrace (or lazily by RecordEvent) on
// a generation-2 server: the server stores it with Status and end_time set
// to its own clock, and replies with EventRecorded (success also for an
// unknown or already ended id). A generation-1 server does not know the
// message and replies with an "Invalid message format" ErrorResponse.
type EndTrace struct {
	TraceID tracing.TraceID
	Status  tracing.ExecutionStatus
}

// GetTrace asks for a trace; the reply is TraceData.
//
// RequestID, when not zero, is written as "request_id": a generation-2
// server echoes it in TraceData and merges in-flight traces into the
// answer; a generation-1 server ignores it. Without it a generation-2
// server answers with a request id of its own.
type GetTrace struct {
	TraceID   tracing.TraceID
	RequestID RequestID
}

// QueryTraces asks for the traces matching Query; the reply is
// QueryResults. RequestID is written and echoed as for GetTrace.
type QueryTraces struct {
	Query     TraceQuery
	RequestID RequestID
}

// GetFlowVersions asks for the known versions of a flow; the reference
// server replies with an ErrorResponse with CodeNotFound.
type GetFlowVersions struct{ FlowID tracing.FlowID }

// Ping asks for a Pong. It is written as the bare string "Ping".
type Ping struct{}

// Subscribe asks the server to push EventNotification messages for events
// matching Filters; the reply is EventRecorded.
type Subscribe struct {
	Filters SubscriptionFilters
	// Legacy marks the legacy form, {"Subscribe":{"filter":…}}, which the
	// reference server answers with an Error, subscribing nothing. The
	// decoder sets it for a Subscribe with "filter" and no "filters"; the
	// encoder then writes that form.
	Legacy bool
}

// Unsubscribe stops the pushes started by Subscribe. It is written as the
// bare string "Unsubscribe".
type Unsubscribe struct{}

// StoreTrace is the legacy message that persists events: the server stores
// Trace as sent, replacing any stored trace with the same id whole, its
// events included (so each StoreTrace of a trace must carry all its events
// so far), and replies with TraceStored.
type StoreTrace struct{ Trace tracing.FlowTrace }

// GetMetrics is the legacy request for the server's counters; the reply is
// Metrics. It is written as the bare string "GetMetrics".
type GetMetrics struct{}

func (StartTrace) isTracingRequest()      {}
func (RecordEvent) isTracingRequest()     {}
func (EndTrace) isTracingRequest()        {}
func (GetTrace) isTracingRequest()        {}
func (QueryTraces) isTracingRequest()     {}
func (GetFlowVersions) isTracingRequest() {}
func (Ping) isTracingRequest()            {}
func (Subscribe) isTracingRequest()       {}
func (Unsubscribe) isTracingRequest()     {}
func (StoreTrace) isTracingRequest()      {}
func (GetMetrics) isTracingRequest()      {}

// TracingResponse is a message a tracing server sends: a reply to a request
// (TraceStarted, EventRecorded, TraceData, QueryResults, FlowVersions, Pong,
// ErrorResponse, and the legacy TraceStored, TracesFound, Metrics) or a
// pushed EventNotification. The interface is sealed. The encoder accepts the
// value and the pointer form of each type; DecodeResponse returns the value
// form.
type TracingResponse interface{ isTracingResponse() }

// TraceStarted carries the trace id the server picked for a StartTrace.
type TraceStarted struct{ TraceID tracing.TraceID }

// EventRecorded acknowledges RecordEvent, Subscribe and Unsubscribe. Error
// is "" when the protocol's error is null.
type EventRecorded struct {
	Success bool
	Error   string
}

// TraceData is the reply to GetTrace; Trace is nil when the server has no
// such trace (written as null). The legacy reply of the same name always
// has a trace.
//
// RequestID is the request id a generation-2 server echoes (or made up for
// a GetTrace without one); it is zero in a generation-1 reply, where
// "request_id" is absent, and zero is not written.
type TraceData struct {
	Trace     *tracing.FlowTrace
	RequestID RequestID
}

// QueryResults is the reply to QueryTraces. RequestID is as in TraceData.
type QueryResults struct {
	Traces     []tracing.FlowTrace
	TotalCount uint64
	RequestID  RequestID
}

// FlowVersions is the reply to GetFlowVersions.
type FlowVersions struct{ Versions []tracing.FlowVersion }

// Pong is the reply to Ping. It is written as the bare string "Pong".
type Pong struct{}

// EventNotification is pushed to a subscribed connection for each matching
// event; it can arrive between a request and its reply.
type EventNotification struct {
	TraceID tracing.TraceID
	Event   tracing.TraceEvent
}

// ErrorResponse is the server's "Error" reply. The legacy shape has no code;
// it decodes with Code "", and an ErrorResponse with Code "" is written in
// the legacy shape. Err converts it to an error.
type ErrorResponse struct {
	Message string
	Code    ErrorCode
}

// TraceStored is the legacy reply to StoreTrace: the events are persisted.
type TraceStored struct{ TraceID tracing.TraceID }

// TracesFound is a legacy reply holding traces.
type TracesFound struct{ Traces []tracing.FlowTrace }

// Metrics is the legacy reply to GetMetrics. Data is the server's counters
// as a JSON value (kept as received); nil is written as {}.
type Metrics struct{ Data json.RawMessage }

func (TraceStarted) isTracingResponse()      {}
func (EventRecorded) isTracingResponse()     {}
func (TraceData) isTracingResponse()         {}
func (QueryResults) isTracingResponse()      {}
func (FlowVersions) isTracingResponse()      {}
func (Pong) isTracingResponse()              {}
func (EventNotification) isTracingResponse() {}
func (ErrorResponse) isTracingResponse()     {}
func (TraceStored) isTracingResponse()       {}
func (TracesFound) isTracingResponse()       {}
func (Metrics) isTracingResponse()           {}

// ErrorCode classifies a server error. The empty code is the legacy error
// shape, which has none.
type ErrorCode string

// The error codes of the protocol.
const (
	CodeNotFound           ErrorCode = "NotFound"
	CodeInvalidRequest     ErrorCode = "InvalidRequest"
	CodeStorageError       ErrorCode = "StorageError"
	CodeSerializationError ErrorCode = "SerializationError"
	CodeUnauthorized       ErrorCode = "Unauthorized"
	CodeInternalError      ErrorCode = "InternalError"
)

// Valid reports whether c is one of the protocol's codes (the legacy empty
// code is not).
func (c ErrorCode) Valid() bool {
	switch c {
	case CodeNotFound, CodeInvalidRequest, CodeStorageError, CodeSerializationError, CodeUnauthorized, CodeInternalError:
		return true
	}
	return false
}

// Retryable reports whether resending the same request may succeed: true for
// CodeStorageError and CodeInternalError (server-side trouble), false for the
// others, which judge the request itself. The legacy empty code is not
// retryable by code alone; see ServerError.Retryable, which also looks at the
// message.
func (c ErrorCode) Retryable() bool {
	return c == CodeStorageError || c == CodeInternalError
}

// legacyInvalidFormat is the message of the server's reply to a message it
// cannot read (legacy shape).
const legacyInvalidFormat = "Invalid message format"

// ServerError is an error reply of the server, as an error. Read it with
// errors.As.
type ServerError struct {
	Code    ErrorCode
	Message string
}

// Error returns "tracing: server error <code>: <message>" (the code is left
// out for the legacy shape).
func (e *ServerError) Error() string {
	if e.Code == "" {
		return "tracing: server error: " + e.Message
	}
	return fmt.Sprintf("tracing: server error %s: %s", e.Code, e.Message)
}

// Retryable reports whether resending the request may succeed. With a code
// it is Code.Retryable(). A legacy error (no code) is retryable unless it is
// the server's "Invalid message format", which a resend would repeat: the
// legacy shape is also what the server uses for storage failures.
func (e *ServerError) Retryable() bool {
	if e.Code != "" {
		return e.Code.Retryable()
	}
	return e.Message != legacyInvalidFormat
}

// Err returns the reply as a *ServerError.
func (e *ErrorResponse) Err() *ServerError {
	return &ServerError{Code: e.Code, Message: e.Message}
}
