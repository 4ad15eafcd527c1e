package wire

import (
	"fmt"

	"github.com/reflowtrace/reflowtrace-go/internal/clock"
	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// RequestID identifies one GetTrace or QueryTraces request, so that a
// generation-2 server's reply can be matched with it. The zero value is
// "no request id" (not written).
type RequestID [16]byte

// NewRequestID returns a new time-ordered (version 7) request id. It is
// safe for concurrent use and does not allocate.
func NewRequestID() RequestID { return RequestID(uuid.NewV7(clock.UnixNano())) }

// ParseRequestID parses a hyphenated UUID.
func ParseRequestID(s string) (RequestID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return RequestID{}, fmt.Errorf("%w: request id %q is not a hyphenated UUID", tracing.ErrInvalidID, s)
	}
	return RequestID(u), nil
}

// String returns the hyphenated UUID form.
func (id RequestID) String() string { return uuid.String(id) }

// IsZero reports whether id is the zero value.
func (id RequestID) IsZero() bool { return id == RequestID{} }

// AppendText appends the hyphenated UUID form (encoding.TextAppender).
func (id RequestID) AppendText(b []byte) ([]byte, error) { return uuid.Append(b, id), nil }

// MarshalText returns the hyphenated UUID form.
func (id RequestID) MarshalText() ([]byte, error) { return id.AppendText(nil) }

// UnmarshalText parses a hyphenated UUID.
func (id *RequestID) UnmarshalText(b []byte) error {
	u, err := ParseRequestID(string(b))
	*id = u
	return err
}
