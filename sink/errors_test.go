package sink

import (
	"errors"
	"fmt"
	"testing"
)

func TestDroppedError(t *testing.T) {
	e := &DroppedError{Sink: "file /tmp/t.jsonl", Op: "close", Events: 3, Reasons: map[string]uint64{"b": 2, "a": 1}}
	want := "sink: file /tmp/t.jsonl close: sink: events dropped: 3 events since the last report (so far by reason: a 1, b 2)"
	if got := e.Error(); got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("tracing: close: %w", e)
	var de *DroppedError
	if !errors.Is(wrapped, ErrDropped) || !errors.As(wrapped, &de) || de != e {
		t.Fatalf("%v: errors.Is ErrDropped / errors.As *DroppedError fail", wrapped)
	}
}
