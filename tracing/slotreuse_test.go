package tracing

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
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

// TestRecord_EventsBuiltOverEventsCarryNothingOver records events of
// every kind with the per-kind methods, in a random order and half of
// them with a cause, for several laps of every lane, and checks each
// against its constructor. A per-kind method builds its event over the
// one its queue slot held and clears only what that one may have set, so
// every kind here is built in slots that held each kind before it.
func TestRecord_EventsBuiltOverEventsCarryNothingOver(t *testing.T) {
	sink := newRecordSink()
	c := newTestClient(t, sink, func(c *TracingConfig) {
		c.Privacy.CaptureContent = true
		// Both lanes, each with kinds that set only the head of an event
		// and kinds that set its tail.
		c.CriticalKinds = []EventKind{KindActorCreated, KindActorFailed, KindDataFlow, KindStateChanged}
	})
	if !c.inPlace {
		t.Fatal("the client does not build events in place")
	}
	plain := ctxTimeout(t)
	caused := ContextWithEvent(ContextWithEvent(plain, NewEventID()), NewEventID())
	cases := perKindCases(c)
	rng := rand.New(rand.NewPCG(1, 2))
	type recorded struct {
		tc  perKindCase
		ctx context.Context
	}
	want := make(map[EventID]recorded)
	n := 4 * c.queue.Cap()
	for i := range n {
		tc, ctx := cases[rng.IntN(len(cases))], plain
		if rng.IntN(2) == 0 {
			ctx = caused
		}
		want[tc.record(ctx)] = recorded{tc, ctx}
		if i%(c.cfg.BatchSize/2) == 0 {
			if err := c.Flush(plain); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.Flush(plain); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.events) != n {
		t.Fatalf("the sink got %d events, want %d (Metrics %+v)", len(sink.events), n, c.Metrics())
	}
	for _, got := range sink.events {
		r, ok := want[got.EventID]
		if !ok {
			t.Fatalf("the sink got an event that was not recorded: %+v", got)
		}
		if w := r.tc.wantRecorded(r.ctx, got); !reflect.DeepEqual(got, w) {
			t.Fatalf("%s recorded\n%+v\nwant\n%+v", r.tc.name, got, w)
		}
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

// TestClearHead_ClearsEveryFieldOutsideTheTail sets each field of an
// event in turn and checks that clearHead clears it, unless the field is
// one emit always writes or one of the tail, which a slot marked
// markHead holds zero. A field added to TraceEvent fails here until it is
// cleared by clearHead or put in the tail (and the kinds that set it
// given markAny in slotMark).
func TestClearHead_ClearsEveryFieldOutsideTheTail(t *testing.T) {
	written := map[string]bool{"EventID": true, "TraceID": true, "Timestamp": true, "Type.Kind": true, "ActorID": true}
	tail := map[string]bool{"Data.StateDiff": true, "Data.Error": true, "Data.PerformanceMetrics": true, "Data.CustomAttributes": true}
	var leaves []string
	var walk func(rt reflect.Type, prefix string)
	walk = func(rt reflect.Type, prefix string) {
		for i := range rt.NumField() {
			f := rt.Field(i)
			path := prefix + f.Name
			switch {
			case tail[path] || written[path]:
			case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]():
				walk(f.Type, path+".")
			default:
				leaves = append(leaves, path)
			}
		}
	}
	walk(reflect.TypeFor[TraceEvent](), "")
	if len(leaves) < 10 {
		t.Fatalf("found only the fields %v", leaves)
	}
	for _, path := range leaves {
		var ev TraceEvent
		f := reflect.ValueOf(&ev).Elem()
		for _, name := range strings.Split(path, ".") {
			f = f.FieldByName(name)
		}
		setNonZero(t, path, f)
		clearHead(&ev)
		if !f.IsZero() {
			t.Errorf("clearHead left %s = %v", path, f)
		}
	}
}

// setNonZero sets v, a field of one of the kinds TraceEvent's head has, to
// a value other than its zero value.
func setNonZero(t *testing.T, path string, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	case reflect.Float64:
		v.SetFloat(1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
	case reflect.Array:
		setNonZero(t, path, v.Index(0))
	default:
		t.Fatalf("%s: setNonZero does not know fields of kind %v", path, v.Kind())
	}
}

// TestRecord_RedactorSettingTheTailCarriesNothingOver checks that what a
// WithRedactor function adds to an event of a kind whose method sets only
// the head (here an error and an attribute on a DataFlow) does not reach
// the next event built in the same queue slot.
func TestRecord_RedactorSettingTheTailCarriesNothingOver(t *testing.T) {
	sink := newRecordSink()
	c := newTestClient(t, sink, nil, WithRedactor(func(ev *TraceEvent) {
		if ev.Data.Port == "tagged" {
			ev.Data.Error = "tagged by the redactor"
			ev.Data.CustomAttributes.Set(attr.Bool("tagged", true))
		}
	}))
	ctx := ctxTimeout(t)
	rng := rand.New(rand.NewPCG(3, 4))
	n := 4 * c.queue.Cap()
	for i := range n {
		port := "plain"
		if rng.IntN(2) == 0 {
			port = "tagged"
		}
		c.DataFlow(ctx, "a", port, "b", "in", "T", 1)
		if i%(c.cfg.BatchSize/2) == 0 {
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.events) != n {
		t.Fatalf("the sink got %d events, want %d", len(sink.events), n)
	}
	for _, ev := range sink.events {
		if ev.Data.Port == "plain" && (ev.Data.Error != "" || ev.Data.CustomAttributes.Len() != 0) {
			t.Fatalf("an event the redactor left alone carries error %q and %d attributes", ev.Data.Error, ev.Data.CustomAttributes.Len())
		}
	}
}
