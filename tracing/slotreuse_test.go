package tracing

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// dirtyEvent returns an event of kind with every field set, so that an
// event later built in the same queue slot shows any field it did not
// overwrite.
func dirtyEvent(kind EventKind) TraceEvent {
	ev := TraceEvent{
		EventID:   NewEventID(),
		TraceID:   NewTraceID(),
		Timestamp: time.Unix(1, 2),
		Type:      TraceEventType{Kind: kind, ToActor: "dirty-to", ToPort: "dirty-port", Name: "dirty-name"},
		ActorID:   "dirty",
		Data: TraceEventData{
			Port: "dirty-port",
			Message: MessageSnapshot{
				MessageType: "dirty-type", SizeBytes: 9, Checksum: "dirty-checksum",
				SerializedData: []byte("[1]"), ContentCodec: "none", StoredBytes: 3,
				ContentFormatVersion: 2, HasStoredBytes: true,
			},
			HasMessage: true,
			StateDiff:  StateDiff{Before: []byte("{}"), After: []byte("{}"), DiffType: DiffIncremental},
			Error:      "dirty-error",
			PerformanceMetrics: PerformanceMetrics{
				ExecutionTimeNs: 1, MemoryUsageBytes: 2, CPUUsagePercent: 3, QueueDepth: 4,
				ThroughputMsgsPerSec: 5, Unmeasured: MetricQueueDepth,
			},
		},
		Causality: CausalityInfo{
			ParentEventID: NewEventID(), RootCauseEventID: NewEventID(),
			DependencyChain: []EventID{NewEventID()}, SpanID: "dirty-span",
		},
	}
	for i := range 6 { // inline (4) and overflow
		ev.Data.CustomAttributes.Add(attr.String(fmt.Sprint("dirty", i), "x"))
	}
	return ev
}

// TestRecord_ReusedSlotsCarryNothingOver fills every slot of the queue,
// both lanes, with events whose every field is set, then records one event
// of each kind with the per-kind methods and checks that each is exactly
// what its constructor builds: an event built in a slot that held another
// event must not keep any of its fields (the queue clears a slot only when
// it is reused).
func TestRecord_ReusedSlotsCarryNothingOver(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []Option
	}{
		{"in place", nil},
		{"through the selector", []Option{WithFilter(func(*TraceEvent) bool { return true })}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			sink := newRecordSink()
			c := newTestClient(t, sink, func(c *TracingConfig) {
				c.Privacy.CaptureContent = true
				c.CriticalKinds = []EventKind{KindActorFailed, KindDataFlow} // both lanes
			}, mode.opts...)
			ctx := ctxTimeout(t)
			// Two laps of every lane; a flush every half batch keeps the
			// queue from refusing any.
			laps := 2 * (c.queue.Cap())
			for i := range laps {
				kind := KindNetworkEvent
				if i%2 == 1 {
					kind = KindActorFailed // the priority lane
				}
				c.Record(ctx, dirtyEvent(kind))
				if i%(c.cfg.BatchSize/2) == 0 {
					if err := c.Flush(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if m := c.Metrics(); m.Dropped.Total() != 0 || m.Delivered != uint64(laps) {
				t.Fatalf("Metrics %+v: want %d delivered, none dropped", m, laps)
			}
			testRecordMatchesConstructors(t, c, sink)
		})
	}
}

// TestClient_ReleasesCapturedContent checks that captured content does not
// stay reachable from the queue's slots once the sinks have written it
// (the slots are cleared only when they are reused), with one sink and
// with two, whose lanes write copies of the batch.
func TestClient_ReleasesCapturedContent(t *testing.T) {
	for _, sinks := range []int{1, 2} {
		t.Run(fmt.Sprintf("sinks=%d", sinks), func(t *testing.T) {
			var opts []Option
			for range sinks - 1 {
				opts = append(opts, WithSink(&discardSink{}))
			}
			c := newTestClient(t, &discardSink{}, func(c *TracingConfig) { c.Privacy.CaptureContent = true }, opts...)
			ctx := ctxTimeout(t)
			freed := make(chan struct{}, 2)
			record := func() {
				// Big enough to get heap objects of their own.
				before, after := make([]byte, 1<<16), make([]byte, 1<<16)
				runtime.AddCleanup(&before[0], func(chan struct{}) { freed <- struct{}{} }, freed)
				runtime.AddCleanup(&after[0], func(chan struct{}) { freed <- struct{}{} }, freed)
				c.StateChanged(ctx, "a", StateDiff{Before: before, After: after})
			}
			record()
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			for n := 0; n < 2; {
				runtime.GC()
				select {
				case <-freed:
					n++
				case <-time.After(10 * time.Millisecond):
				case <-ctx.Done():
					t.Fatalf("%d of the 2 content buffers still reachable after the event was written", 2-n)
				}
			}
		})
	}
}
