package sink

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalidOption is wrapped by the errors constructors return for bad
// option values and URLs; the message names the option and the value.
var ErrInvalidOption = errors.New("sink: invalid option")

// ErrDropped is wrapped by the error of a sink's Flush or Close that found
// events dropped since the previous Flush or Close returned: events the
// sink accepted from Write and then gave up, each counted by reason in its
// SinkStats.Dropped, which the client sums into Metrics().Dropped.Sink.
// The WebSocket sink drops them when retries are exhausted without a
// spool, at its memory or spool limit, for expired or damaged spool
// records, events too large for a frame, events the server rejected for
// good and events not delivered by Close; the File sink when a write or
// fsync of its file fails. Test for it with errors.Is; read the counts
// with errors.As and a *DroppedError.
var ErrDropped = errors.New("sink: events dropped")

// DroppedError is the error of a sink's Flush or Close that found events
// dropped since the previous report; it wraps ErrDropped. Every dropped
// event reaches one report: a Flush or Close reports those dropped since
// the last report, not again. Read it with errors.As.
type DroppedError struct {
	// Sink names the sink that dropped them: "websocket", or "file"
	// followed by the file's path.
	Sink string
	// Op is the call that reports it ("flush" or "close").
	Op string
	// Events counts the events dropped since the previous report.
	Events uint64
	// Reasons counts every event dropped so far, by reason (the sink's
	// Drop constants).
	Reasons map[string]uint64
	// Last, when the sink knows it, is the last error that cost events:
	// for the WebSocket sink, why it last could not reach the server
	// (the URL and the dial's error). Error includes it.
	Last error
}

// Error says how many events were dropped and why, e.g. "sink: websocket
// close: sink: events dropped: 20 events since the last report (so far
// by reason: retries_exhausted 20)".
func (e *DroppedError) Error() string {
	reasons := make([]string, 0, len(e.Reasons))
	for r, k := range e.Reasons {
		reasons = append(reasons, fmt.Sprintf("%s %d", r, k))
	}
	slices.Sort(reasons)
	msg := fmt.Sprintf("sink: %s %s: %v: %d events since the last report (so far by reason: %s)",
		e.Sink, e.Op, ErrDropped, e.Events, strings.Join(reasons, ", "))
	if e.Last != nil {
		msg += "; last: " + e.Last.Error()
	}
	return msg
}

// Unwrap returns ErrDropped.
func (e *DroppedError) Unwrap() error { return ErrDropped }
