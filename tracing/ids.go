package tracing

import (
	"errors"
	"fmt"

	"github.com/reflowtrace/reflowtrace-go/internal/clock"
	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
)

// ErrInvalidID is wrapped by the errors of ParseTraceID, ParseEventID,
// ParseExecutionID and the text decoders of the ID types.
var ErrInvalidID = errors.New("tracing: invalid id")

// TraceID identifies one trace (one run of a flow). It is a UUID held as a
// 16-byte value: creating and copying it does not allocate. The zero value is
// "no trace".
type TraceID [16]byte

// EventID identifies one TraceEvent. The zero value is "no event".
type EventID [16]byte

// ExecutionID identifies one execution instance of a flow.
type ExecutionID [16]byte

// FlowID names a flow (a Reflow network definition).
type FlowID string

// NewTraceID returns a new time-ordered (version 7) trace id.
func NewTraceID() TraceID { return TraceID(uuid.NewV7(clock.UnixNano())) }

// NewEventID returns a new time-ordered (version 7) event id. It is safe for
// concurrent use, takes no lock and does not allocate.
func NewEventID() EventID { return EventID(uuid.NewV7(clock.UnixNano())) }

// NewExecutionID returns a new time-ordered (version 7) execution id.
func NewExecutionID() ExecutionID { return ExecutionID(uuid.NewV7(clock.UnixNano())) }

// ParseTraceID parses a hyphenated UUID.
func ParseTraceID(s string) (TraceID, error) {
	u, err := parseID("trace", s)
	return TraceID(u), err
}

// ParseEventID parses a hyphenated UUID.
func ParseEventID(s string) (EventID, error) {
	u, err := parseID("event", s)
	return EventID(u), err
}

// ParseExecutionID parses a hyphenated UUID.
func ParseExecutionID(s string) (ExecutionID, error) {
	u, err := parseID("execution", s)
	return ExecutionID(u), err
}

func parseID[S string | []byte](what string, s S) ([16]byte, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return u, fmt.Errorf("%w: %s id %q is not a hyphenated UUID", ErrInvalidID, what, string(s))
	}
	return u, nil
}

// String returns the hyphenated UUID form.
func (id TraceID) String() string { return uuid.String(id) }

// String returns the hyphenated UUID form.
func (id EventID) String() string { return uuid.String(id) }

// String returns the hyphenated UUID form.
func (id ExecutionID) String() string { return uuid.String(id) }

// IsZero reports whether id is the zero value.
func (id TraceID) IsZero() bool { return id == TraceID{} }

// IsZero reports whether id is the zero value.
func (id EventID) IsZero() bool { return id == EventID{} }

// IsZero reports whether id is the zero value.
func (id ExecutionID) IsZero() bool { return id == ExecutionID{} }

// AppendText appends the hyphenated UUID form (encoding.TextAppender).
func (id TraceID) AppendText(b []byte) ([]byte, error) { return uuid.Append(b, id), nil }

// AppendText appends the hyphenated UUID form (encoding.TextAppender).
func (id EventID) AppendText(b []byte) ([]byte, error) { return uuid.Append(b, id), nil }

// AppendText appends the hyphenated UUID form (encoding.TextAppender).
func (id ExecutionID) AppendText(b []byte) ([]byte, error) { return uuid.Append(b, id), nil }

// MarshalText returns the hyphenated UUID form.
func (id TraceID) MarshalText() ([]byte, error) { return id.AppendText(nil) }

// MarshalText returns the hyphenated UUID form.
func (id EventID) MarshalText() ([]byte, error) { return id.AppendText(nil) }

// MarshalText returns the hyphenated UUID form.
func (id ExecutionID) MarshalText() ([]byte, error) { return id.AppendText(nil) }

// UnmarshalText parses a hyphenated UUID.
func (id *TraceID) UnmarshalText(b []byte) error {
	u, err := parseID("trace", b)
	*id = u
	return err
}

// UnmarshalText parses a hyphenated UUID.
func (id *EventID) UnmarshalText(b []byte) error {
	u, err := parseID("event", b)
	*id = u
	return err
}

// UnmarshalText parses a hyphenated UUID.
func (id *ExecutionID) UnmarshalText(b []byte) error {
	u, err := parseID("execution", b)
	*id = u
	return err
}

// SpanID returns the 8-byte span id that stands for the event with id in
// W3C Trace Context and OpenTelemetry: the id's last 8 bytes (a UUIDv7's
// random half, the span_id the encoder writes for an event that has none of
// its own); if those are all zero, its first 8 bytes; for the zero id,
// 00…01. It is never the all-zero span id, which W3C and OpenTelemetry
// treat as invalid. Package propagation writes it as traceparent's parent
// id, and the OTLP sink gives it to the event's span.
func (id EventID) SpanID() [8]byte { return spanIDOf(id) }

// RootSpanID returns the span id of the root span of trace id, derived
// from the trace id as EventID.SpanID derives an event's, so that every
// process that records into the trace knows it from the trace id alone.
// Package propagation writes it as traceparent's parent id for a context
// that carries the trace but no cause, and the OTLP sink gives it to the
// trace's root span, so that an OpenTelemetry service called from outside
// any event becomes a child of that root span.
func (id TraceID) RootSpanID() [8]byte { return spanIDOf(id) }

// spanIDOf returns id's last 8 bytes, else its first 8, else 00…01.
func spanIDOf(id [16]byte) [8]byte {
	if s := [8]byte(id[8:]); s != ([8]byte{}) {
		return s
	}
	if s := [8]byte(id[:8]); s != ([8]byte{}) {
		return s
	}
	return [8]byte{7: 1}
}
