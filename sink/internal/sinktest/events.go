// Package sinktest builds the events the tests of the file and memory
// sinks write and compares what they read back.
package sinktest

import (
	"fmt"
	"reflect"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// Base is the timestamp of Event(0); event i is i milliseconds
// later.
var Base = time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)

// Trace is the trace of the events built by Event.
var Trace = tracing.TraceID{0x01, 0x91, 0xf3, 0xb2, 0x7c, 0x4e, 0x7a, 0x10, 0x9d, 0x2f, 0x3b, 0x5c, 0x8e, 0x0f, 0x1a, 0x22}

// ID returns a deterministic event id for i.
func ID(i int) tracing.EventID {
	var id tracing.EventID
	id[0], id[1], id[2], id[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	id[6], id[8] = 0x70, 0x80
	return id
}

// Event returns a data-flow event numbered i, in fresh memory each
// call: equal i give equal events that share nothing.
func Event(i int) tracing.TraceEvent {
	ev := tracing.TraceEvent{
		EventID:   ID(i),
		TraceID:   Trace,
		Timestamp: Base.Add(time.Duration(i) * time.Millisecond),
		Type:      tracing.TraceEventType{Kind: tracing.KindDataFlow, ToActor: "validator", ToPort: "in"},
		ActorID:   fmt.Sprintf("actor-%d", i%3),
	}
	ev.Data.Port = "out"
	ev.Data.HasMessage = true
	ev.Data.Message = tracing.MessageSnapshot{MessageType: "Reading", SizeBytes: uint64(i)}
	ev.Data.PerformanceMetrics.QueueDepth = uint64(i)
	ev.Causality.RootCauseEventID = ev.EventID
	ev.Causality.SpanID = "a1b2c3d4e5f60718"
	return ev
}

// RichEvent returns an event numbered i that uses every part of the
// model that refers to memory: byte slices, a dependency chain, more
// attributes than fit inline, nested arrays and objects.
func RichEvent(i int) tracing.TraceEvent {
	ev := Event(i)
	ev.Type = tracing.TraceEventType{Kind: tracing.KindStateChanged}
	ev.Data.Message.SerializedData = []byte{1, 2, 3, byte(i)}
	ev.Data.StateDiff = tracing.StateDiff{Before: []byte("before"), After: []byte("after"), DiffType: tracing.DiffIncremental}
	ev.Data.Error = "boom"
	ev.Causality.ParentEventID = ID(i + 1000)
	ev.Causality.DependencyChain = []tracing.EventID{ID(i + 1001), ID(i + 1002)}
	for j := range 6 {
		ev.Data.CustomAttributes.Set(attr.Int(fmt.Sprintf("k%d", j), j))
	}
	ev.Data.CustomAttributes.Set(attr.Any("list", attr.ArrayValue(
		attr.IntValue(1), attr.StringValue("two"),
		attr.ObjectValue(attr.Bool("deep", true)))))
	ev.Data.CustomAttributes.Set(attr.Any("obj", attr.ObjectValue(attr.Float64("x", 1.5))))
	return ev
}

// Batch returns events from, from+1, … from+n-1.
func Batch(from, n int) []tracing.TraceEvent {
	b := make([]tracing.TraceEvent, n)
	for i := range b {
		b[i] = Event(from + i)
	}
	return b
}

// EventsEqual reports whether a and b hold the same events; on mismatch it
// says where.
func EventsEqual(a, b []tracing.TraceEvent) error {
	if len(a) != len(b) {
		return fmt.Errorf("got %d events, want %d", len(a), len(b))
	}
	for i := range a {
		if !EventEqual(&a[i], &b[i]) {
			return fmt.Errorf("event %d: got %+v, want %+v", i, a[i], b[i])
		}
	}
	return nil
}

// EventEqual compares two events field by field (attributes with
// Attributes.Equal, timestamps with time.Time.Equal).
func EventEqual(a, b *tracing.TraceEvent) bool {
	x, y := *a, *b
	if !x.Data.CustomAttributes.Equal(&y.Data.CustomAttributes) || !x.Timestamp.Equal(y.Timestamp) {
		return false
	}
	x.Data.CustomAttributes, y.Data.CustomAttributes = attr.Set{}, attr.Set{}
	x.Timestamp, y.Timestamp = time.Time{}, time.Time{}
	return reflect.DeepEqual(x, y)
}

// EventNumbers returns the numbers of evs' ids, in order.
func EventNumbers(evs []tracing.TraceEvent) []int {
	out := make([]int, len(evs))
	for i := range evs {
		id := evs[i].EventID
		out[i] = int(id[0])<<24 | int(id[1])<<16 | int(id[2])<<8 | int(id[3])
	}
	return out
}

func Seq(from, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = from + i
	}
	return out
}
