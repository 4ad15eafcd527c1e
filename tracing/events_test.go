package tracing

import (
	"errors"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

func TestConstructors(t *testing.T) {
	tests := []struct {
		name  string
		ev    TraceEvent
		kind  EventKind
		check func(t *testing.T, ev TraceEvent)
	}{
		{"actor created", ActorCreated("a"), KindActorCreated, nil},
		{"actor started", ActorStarted("a"), KindActorStarted, nil},
		{"actor completed", ActorCompleted("a"), KindActorCompleted, nil},
		{"actor failed", ActorFailed("a", "boom"), KindActorFailed, func(t *testing.T, ev TraceEvent) {
			if ev.Data.Error != "boom" {
				t.Fatalf("Error = %q", ev.Data.Error)
			}
		}},
		{"message sent", MessageSent("a", "out", "Reading", 7), KindMessageSent, func(t *testing.T, ev TraceEvent) {
			if !ev.Data.HasMessage || ev.Data.Message.MessageType != "Reading" || ev.Data.Message.SizeBytes != 7 || ev.Data.Port != "out" {
				t.Fatalf("data = %+v", ev.Data)
			}
		}},
		{"message received", MessageReceived("a", "in", "Reading", 7), KindMessageReceived, nil},
		{"state changed", StateChanged("a", StateDiff{After: []byte{1}}), KindStateChanged, func(t *testing.T, ev TraceEvent) {
			if ev.Data.StateDiff.DiffType != DiffFull {
				t.Fatalf("DiffType = %v, want Full by default", ev.Data.StateDiff.DiffType)
			}
		}},
		{"port connected", PortConnected("a", "in"), KindPortConnected, nil},
		{"port disconnected", PortDisconnected("a", "in"), KindPortDisconnected, nil},
		{"data flow", DataFlow("sensor", "out", "validator", "in", "Reading", 256), KindDataFlow, func(t *testing.T, ev TraceEvent) {
			if ev.ActorID != "sensor" || ev.Data.Port != "out" || ev.Type.ToActor != "validator" || ev.Type.ToPort != "in" {
				t.Fatalf("data flow = %+v", ev)
			}
		}},
		{"network event", NetworkEvent("net", attr.Int("n", 1)), KindNetworkEvent, func(t *testing.T, ev TraceEvent) {
			if v, ok := ev.Data.CustomAttributes.Get("n"); !ok || v.Int() != 1 {
				t.Fatal("attribute missing")
			}
		}},
		{"custom", Custom("a", "checkpoint", attr.String("k", "v")), KindCustom, func(t *testing.T, ev TraceEvent) {
			if ev.Type.Name != "checkpoint" {
				t.Fatalf("Name = %q", ev.Type.Name)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.ev.Type.Kind != tt.kind {
				t.Fatalf("kind = %v, want %v", tt.ev.Type.Kind, tt.kind)
			}
			if tt.ev.EventID.IsZero() || tt.ev.Causality.RootCauseEventID != tt.ev.EventID {
				t.Fatalf("ids = %v root %v", tt.ev.EventID, tt.ev.Causality.RootCauseEventID)
			}
			if tt.ev.Timestamp.Location() != time.UTC || time.Since(tt.ev.Timestamp) > time.Hour || time.Since(tt.ev.Timestamp) < -time.Hour {
				t.Fatalf("timestamp = %v", tt.ev.Timestamp)
			}
			if tt.check != nil {
				tt.check(t, tt.ev)
			}
		})
	}
}

func TestBuiltInConstructorsDoNotAllocate(t *testing.T) {
	var sink TraceEvent
	if n := testing.AllocsPerRun(100, func() {
		sink = DataFlow("sensor", "out", "validator", "in", "Reading", 256)
		sink = ActorFailed("a", "boom")
		sink = StateChanged("a", StateDiff{DiffType: DiffIncremental})
	}); n != 0 {
		t.Fatalf("allocs = %v, want 0", n)
	}
	_ = sink
}

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
