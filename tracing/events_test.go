package tracing

import (
	"errors"
	"testing"
)

func TestEventKindNames(t *testing.T) {
	for k := KindActorCreated; k <= KindCustom; k++ {
		got, err := parseEventKind(k.String())
		if err != nil || got != k {
			t.Fatalf("parseEventKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := parseEventKind("Nope"); err == nil {
		t.Fatal("parseEventKind accepted an unknown name")
	}
	if EventKind(0).Valid() || EventKind(200).Valid() {
		t.Fatal("invalid kinds reported valid")
	}
	if !KindActorFailed.Critical() || KindDataFlow.Critical() {
		t.Fatal("default critical kinds are lifecycle and failures only")
	}
}

func TestIDs(t *testing.T) {
	id := NewEventID()
	parsed, err := ParseEventID(id.String())
	if err != nil || parsed != id {
		t.Fatalf("ParseEventID(String()) = %v, %v", parsed, err)
	}
	if _, err := ParseTraceID("not-a-uuid"); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("error = %v, want ErrInvalidID", err)
	}
	var tid TraceID
	if err := tid.UnmarshalText([]byte("6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60")); err != nil || tid.String() != "6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60" {
		t.Fatalf("UnmarshalText = %v, %v", tid, err)
	}
	if !(ExecutionID{}).IsZero() || NewExecutionID().IsZero() {
		t.Fatal("IsZero wrong")
	}
}

func TestSpanIDs(t *testing.T) {
	cases := []struct {
		name string
		id   [16]byte
		want [8]byte
	}{
		{"last 8 bytes", [16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, [8]byte{8, 9, 10, 11, 12, 13, 14, 15}},
		{"last 8 zero", [16]byte{1, 2, 3, 4, 5, 6, 7, 8}, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{"zero", [16]byte{}, [8]byte{7: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := EventID(c.id).SpanID(); got != c.want {
				t.Errorf("EventID.SpanID() = %x, want %x", got, c.want)
			}
			if got := TraceID(c.id).RootSpanID(); got != c.want {
				t.Errorf("TraceID.RootSpanID() = %x, want %x", got, c.want)
			}
		})
	}
}
