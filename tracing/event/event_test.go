package event_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink/memory"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
)

func TestBuilders(t *testing.T) {
	tests := []struct {
		name  string
		ev    tracing.TraceEvent
		kind  tracing.EventKind
		check func(t *testing.T, ev tracing.TraceEvent)
	}{
		{"actor created", event.ActorCreated("a"), tracing.KindActorCreated, nil},
		{"actor started", event.ActorStarted("a"), tracing.KindActorStarted, nil},
		{"actor completed", event.ActorCompleted("a"), tracing.KindActorCompleted, nil},
		{"actor failed", event.ActorFailed("a", "boom"), tracing.KindActorFailed, func(t *testing.T, ev tracing.TraceEvent) {
			if ev.Data.Error != "boom" {
				t.Fatalf("Error = %q", ev.Data.Error)
			}
		}},
		{"message sent", event.MessageSent("a", "out", "Reading", 7), tracing.KindMessageSent, func(t *testing.T, ev tracing.TraceEvent) {
			if !ev.Data.HasMessage || ev.Data.Message.MessageType != "Reading" || ev.Data.Message.SizeBytes != 7 || ev.Data.Port != "out" {
				t.Fatalf("data = %+v", ev.Data)
			}
		}},
		{"message received", event.MessageReceived("a", "in", "Reading", 7), tracing.KindMessageReceived, nil},
		{"state changed", event.StateChanged("a", tracing.StateDiff{After: []byte{1}}), tracing.KindStateChanged, func(t *testing.T, ev tracing.TraceEvent) {
			if ev.Data.StateDiff.DiffType != tracing.DiffFull {
				t.Fatalf("DiffType = %v, want Full by default", ev.Data.StateDiff.DiffType)
			}
		}},
		{"state changed, type kept", event.StateChanged("a", tracing.StateDiff{DiffType: tracing.DiffIncremental}), tracing.KindStateChanged, func(t *testing.T, ev tracing.TraceEvent) {
			if ev.Data.StateDiff.DiffType != tracing.DiffIncremental {
				t.Fatalf("DiffType = %v, want Incremental", ev.Data.StateDiff.DiffType)
			}
		}},
		{"port connected", event.PortConnected("a", "in"), tracing.KindPortConnected, nil},
		{"port disconnected", event.PortDisconnected("a", "in"), tracing.KindPortDisconnected, nil},
		{"data flow", event.DataFlow("sensor", "out", "validator", "in", "Reading", 256), tracing.KindDataFlow, func(t *testing.T, ev tracing.TraceEvent) {
			if ev.ActorID != "sensor" || ev.Data.Port != "out" || ev.Type.ToActor != "validator" || ev.Type.ToPort != "in" {
				t.Fatalf("data flow = %+v", ev)
			}
		}},
		{"network event", event.NetworkEvent("net", attr.Int("n", 1)), tracing.KindNetworkEvent, func(t *testing.T, ev tracing.TraceEvent) {
			if v, ok := ev.Data.CustomAttributes.Get("n"); !ok || v.Int() != 1 {
				t.Fatal("attribute missing")
			}
		}},
		{"custom", event.Custom("a", "checkpoint", attr.String("k", "v")), tracing.KindCustom, func(t *testing.T, ev tracing.TraceEvent) {
			if ev.Type.Name != "checkpoint" {
				t.Fatalf("Name = %q", ev.Type.Name)
			}
			if v, ok := ev.Data.CustomAttributes.Get("k"); !ok || v.String() != "v" {
				t.Fatal("attribute missing")
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

// TestBuildersTimeIsTheIDs checks that the id and the timestamp come from
// one clock read: a UUIDv7 holds its time in milliseconds.
func TestBuildersTimeIsTheIDs(t *testing.T) {
	for range 100 {
		ev := event.ActorCreated("a")
		id := ev.EventID
		ms := int64(id[0])<<40 | int64(id[1])<<32 | int64(id[2])<<24 | int64(id[3])<<16 | int64(id[4])<<8 | int64(id[5])
		if ms != ev.Timestamp.UnixMilli() {
			t.Fatalf("id time %d ms, timestamp %d ms", ms, ev.Timestamp.UnixMilli())
		}
	}
}

func TestBuildersDoNotAllocate(t *testing.T) {
	var sink tracing.TraceEvent
	if n := testing.AllocsPerRun(100, func() {
		sink = event.DataFlow("sensor", "out", "validator", "in", "Reading", 256)
		sink = event.ActorFailed("a", "boom")
		sink = event.StateChanged("a", tracing.StateDiff{DiffType: tracing.DiffIncremental})
		sink = event.Custom("a", "tick")
	}); n != 0 {
		t.Fatalf("allocs = %v, want 0", n)
	}
	_ = sink
}

func BenchmarkDataFlow(b *testing.B) {
	var sink tracing.TraceEvent
	b.ReportAllocs()
	for b.Loop() {
		sink = event.DataFlow("sensor", "out", "validator", "in", "Reading", 256)
	}
	_ = sink
}

// TestBuildersMatchPerKindMethods checks that what Record records for each
// builder's event is what the client's method of the same name records,
// but for the event's id and time, on both of the methods' paths: built in
// the queue slot, and built on the stack and passed through the selector
// (here because of a user predicate).
func TestBuildersMatchPerKindMethods(t *testing.T) {
	modes := []struct {
		name string
		opts []tracing.Option
	}{
		{"in place", nil},
		{"through the selector", []tracing.Option{tracing.WithFilter(func(*tracing.TraceEvent) bool { return true })}},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			testBuildersMatchPerKindMethods(t, mode.opts)
		})
	}
}

func testBuildersMatchPerKindMethods(t *testing.T, opts []tracing.Option) {
	mem, err := memory.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg := tracing.DefaultConfig()
	// Keep the state diff's bytes, and use both lanes of the queue.
	cfg.Privacy.CaptureContent = true
	cfg.CriticalKinds = []tracing.EventKind{tracing.KindActorFailed, tracing.KindDataFlow}
	c, err := tracing.New(cfg, append([]tracing.Option{tracing.WithSink(mem)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	defer func() {
		if err := c.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	ctx, _, err = c.StartTrace(ctx, "flow", tracing.FlowVersion{Major: 1})
	if err != nil {
		t.Fatal(err)
	}
	root, parent := tracing.NewEventID(), tracing.NewEventID()
	ctx = tracing.ContextWithEvent(tracing.ContextWithEvent(ctx, root), parent)

	boom := errors.New("boom")
	diff := tracing.StateDiff{Before: []byte("a"), After: []byte("b")}
	tests := []struct {
		name   string
		built  tracing.TraceEvent
		method func() tracing.EventID
	}{
		{"ActorCreated", event.ActorCreated("a"), func() tracing.EventID { return c.ActorCreated(ctx, "a") }},
		{"ActorStarted", event.ActorStarted("a"), func() tracing.EventID { return c.ActorStarted(ctx, "a") }},
		{"ActorCompleted", event.ActorCompleted("a"), func() tracing.EventID { return c.ActorCompleted(ctx, "a") }},
		{"ActorFailed", event.ActorFailed("a", boom.Error()), func() tracing.EventID { return c.ActorFailed(ctx, "a", boom) }},
		{"ActorFailed nil", event.ActorFailed("a", ""), func() tracing.EventID { return c.ActorFailed(ctx, "a", nil) }},
		{"MessageSent", event.MessageSent("a", "out", "T", 3), func() tracing.EventID { return c.MessageSent(ctx, "a", "out", "T", 3) }},
		{"MessageReceived", event.MessageReceived("a", "in", "T", 3), func() tracing.EventID { return c.MessageReceived(ctx, "a", "in", "T", 3) }},
		{"StateChanged", event.StateChanged("a", diff), func() tracing.EventID { return c.StateChanged(ctx, "a", diff) }},
		{"StateChanged typed", event.StateChanged("a", tracing.StateDiff{DiffType: tracing.DiffIncremental}), func() tracing.EventID {
			return c.StateChanged(ctx, "a", tracing.StateDiff{DiffType: tracing.DiffIncremental})
		}},
		{"PortConnected", event.PortConnected("a", "out"), func() tracing.EventID { return c.PortConnected(ctx, "a", "out") }},
		{"PortDisconnected", event.PortDisconnected("a", "out"), func() tracing.EventID { return c.PortDisconnected(ctx, "a", "out") }},
		{"DataFlow", event.DataFlow("a", "out", "b", "in", "T", 3), func() tracing.EventID { return c.DataFlow(ctx, "a", "out", "b", "in", "T", 3) }},
		{"NetworkEvent", event.NetworkEvent("a", attr.Int("n", 1), attr.String("s", "x")), func() tracing.EventID {
			return c.NetworkEvent(ctx, "a", attr.Int("n", 1), attr.String("s", "x"))
		}},
		{"Custom", event.Custom("a", "tick", attr.Int("n", 1)), func() tracing.EventID { return c.Custom(ctx, "a", "tick", attr.Int("n", 1)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem.Reset()
			builtID := c.Record(ctx, tt.built)
			methodID := tt.method()
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			built, method := find(t, mem, builtID), find(t, mem, methodID)
			if built.Causality.RootCauseEventID != root || built.Causality.ParentEventID != parent {
				t.Fatalf("causality not filled from the context: %+v", built.Causality)
			}
			built.EventID, built.Timestamp = tracing.EventID{}, time.Time{}
			method.EventID, method.Timestamp = tracing.EventID{}, time.Time{}
			if !reflect.DeepEqual(built, method) {
				t.Fatalf("Record(event.%s(...)) recorded\n%+v\nthe method recorded\n%+v", tt.name, built, method)
			}
		})
	}
}

// find returns the event with id that mem holds.
func find(t *testing.T, mem *memory.Sink, id tracing.EventID) tracing.TraceEvent {
	t.Helper()
	for _, ev := range mem.Events() {
		if ev.EventID == id {
			return ev
		}
	}
	t.Fatalf("event %v not delivered", id)
	return tracing.TraceEvent{}
}
