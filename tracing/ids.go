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
