package wire

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// jsonRoundTrip marshals in with Marshal, unmarshals the result into a
// new value of the same type and marshals that again: both JSON texts must
// be equal, and the value must match want (when non-nil).
func jsonRoundTrip[T any](t *testing.T, in T, want *T) {
	t.Helper()
	data, err := Marshal(in)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var out T
	if err := Unmarshal(data, &out); err != nil {
		t.Fatalf("Unmarshal %s: %v", data, err)
	}
	again, err := Marshal(out)
	if err != nil {
		t.Fatalf("Marshal again: %v", err)
	}
	if !bytes.Equal(data, again) {
		t.Fatalf("round trip changed the JSON:\n got %s\nwant %s", again, data)
	}
	if want != nil && !reflect.DeepEqual(out, *want) {
		t.Fatalf("decoded %+v\nwant %+v", out, *want)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	ev := wireEvent(tracing.KindStateChanged)
	ev.TraceID = tracing.TraceID{} // not part of the JSON
	dataFlow := wireEvent(tracing.KindDataFlow)
	tr := wireTrace(tracing.KindMessageSent)
	tr.Events[0].TraceID = tracing.TraceID{}
	tr.EndTime = wireEnd
	failed := tracing.FailedStatus("x")
	q := TraceQuery{FlowID: "f", TimeRange: [2]time.Time{wireStart, wireEnd}, HasTimeRange: true, Status: &failed, Limit: 3}
	f := SubscriptionFilters{ActorIDs: []string{"a"}, EventTypes: []tracing.TraceEventType{{Kind: tracing.KindDataFlow, ToActor: "b", ToPort: "c"}}}
	var attrs attr.Set
	attrs.Add(attr.String("s", "v"), attr.Int("i", -1), attr.Float64("f", 2), attr.Bool("b", true), attr.Any("o", attr.ObjectValue(attr.Any("a", attr.ArrayValue(attr.Value{}, attr.UintValue(math.MaxUint64))))))
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"TraceEvent", func(t *testing.T) { jsonRoundTrip(t, ev, &ev) }},
		{"TraceEventType", func(t *testing.T) { jsonRoundTrip(t, dataFlow.Type, &dataFlow.Type) }},
		{"TraceEventType unit", func(t *testing.T) { jsonRoundTrip(t, tracing.TraceEventType{Kind: tracing.KindPortConnected}, nil) }},
		{"TraceEventData", func(t *testing.T) { jsonRoundTrip(t, ev.Data, &ev.Data) }},
		{"MessageSnapshot", func(t *testing.T) {
			jsonRoundTrip(t, tracing.MessageSnapshot{MessageType: "m", SizeBytes: 9, SerializedData: []byte{1}}, nil)
		}},
		{"StateDiff", func(t *testing.T) { jsonRoundTrip(t, ev.Data.StateDiff, &ev.Data.StateDiff) }},
		{"StateDiff none", func(t *testing.T) { jsonRoundTrip(t, tracing.StateDiff{}, &tracing.StateDiff{}) }},
		{"StateDiffType", func(t *testing.T) { jsonRoundTrip(t, tracing.DiffMemoryOnly, wirePtr(tracing.DiffMemoryOnly)) }},
		{"PerformanceMetrics", func(t *testing.T) {
			jsonRoundTrip(t, tracing.PerformanceMetrics{ExecutionTimeNs: 1, MemoryUsageBytes: 2, CPUUsagePercent: 3.5, QueueDepth: 4, ThroughputMsgsPerSec: 5}, &tracing.PerformanceMetrics{ExecutionTimeNs: 1, MemoryUsageBytes: 2, CPUUsagePercent: 3.5, QueueDepth: 4, ThroughputMsgsPerSec: 5})
		}},
		{"CausalityInfo", func(t *testing.T) { jsonRoundTrip(t, ev.Causality, &ev.Causality) }},
		{"FlowTrace", func(t *testing.T) { jsonRoundTrip(t, tr, nil) }},
		{"FlowVersion", func(t *testing.T) { jsonRoundTrip(t, tr.Version, &tr.Version) }},
		{"ExecutionStatus", func(t *testing.T) { jsonRoundTrip(t, failed, &failed) }},
		{"ExecutionStatus unit", func(t *testing.T) { jsonRoundTrip(t, tracing.ExecutionStatus{Kind: tracing.StatusCancelled}, nil) }},
		{"TraceMetadata", func(t *testing.T) { jsonRoundTrip(t, tr.Metadata, &tr.Metadata) }},
		{"TraceQuery", func(t *testing.T) { jsonRoundTrip(t, q, &q) }},
		{"TraceQuery empty", func(t *testing.T) { jsonRoundTrip(t, TraceQuery{}, &TraceQuery{}) }},
		{"RequestID", func(t *testing.T) { jsonRoundTrip(t, wireRequestID, &wireRequestID) }},
		{"SubscriptionFilters", func(t *testing.T) { jsonRoundTrip(t, f, &f) }},
		{"Value", func(t *testing.T) { jsonRoundTrip(t, attrs.At(4).Value, nil) }},
		{"Attr", func(t *testing.T) { jsonRoundTrip(t, attrs.At(0), nil) }},
		{"Attributes", func(t *testing.T) { jsonRoundTrip(t, attrs, nil) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
	for _, r := range wireRequests() {
		t.Run("request "+r.name, func(t *testing.T) { roundTripRequest(t, r.req) })
	}
	for _, r := range wireResponses() {
		t.Run("response "+r.name, func(t *testing.T) { roundTripResponse(t, r.resp) })
	}
}

func roundTripRequest(t *testing.T, r TracingRequest) {
	switch r := r.(type) {
	case StartTrace:
		jsonRoundTrip(t, r, &r)
	case RecordEvent:
		jsonRoundTrip(t, r, nil)
	case EndTrace:
		jsonRoundTrip(t, r, &r)
	case GetTrace:
		jsonRoundTrip(t, r, &r)
	case QueryTraces:
		jsonRoundTrip(t, r, nil)
	case GetFlowVersions:
		jsonRoundTrip(t, r, &r)
	case Ping:
		jsonRoundTrip(t, r, &r)
	case Subscribe:
		jsonRoundTrip(t, r, nil)
	case Unsubscribe:
		jsonRoundTrip(t, r, &r)
	case StoreTrace:
		jsonRoundTrip(t, r, nil)
	case GetMetrics:
		jsonRoundTrip(t, r, &r)
	default:
		t.Fatalf("no round trip for %T", r)
	}
}

func roundTripResponse(t *testing.T, r TracingResponse) {
	switch r := r.(type) {
	case TraceStarted:
		jsonRoundTrip(t, r, &r)
	case EventRecorded:
		jsonRoundTrip(t, r, &r)
	case TraceData:
		jsonRoundTrip(t, r, nil)
	case QueryResults:
		jsonRoundTrip(t, r, nil)
	case FlowVersions:
		jsonRoundTrip(t, r, nil)
	case Pong:
		jsonRoundTrip(t, r, &r)
	case EventNotification:
		jsonRoundTrip(t, r, nil)
	case ErrorResponse:
		jsonRoundTrip(t, r, &r)
	case TraceStored:
		jsonRoundTrip(t, r, &r)
	case TracesFound:
		jsonRoundTrip(t, r, nil)
	case Metrics:
		jsonRoundTrip(t, r, &r)
	default:
		t.Fatalf("no round trip for %T", r)
	}
}

func TestJSONUnmarshalErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		into    any
		wantErr string
	}{
		{"event missing fields", `{}`, new(tracing.TraceEvent), `missing field "event_id"`},
		{"wrong request type", `"Ping"`, new(GetTrace), "want a wire.GetTrace request, got wire.Ping"},
		{"wrong response type", `"Pong"`, new(ErrorResponse), "want a wire.ErrorResponse response, got wire.Pong"},
		{"attr with two members", `{"a":1,"b":2}`, new(attr.KeyValue), "want an object with one member, got 2"},
		{"status unknown", `"Paused"`, new(tracing.ExecutionStatus), `unknown execution status variant "Paused"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Unmarshal([]byte(tc.in), tc.into)
			if err == nil || !errors.Is(err, tracing.ErrMalformed) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q wrapping ErrMalformed", err, tc.wantErr)
			}
		})
	}
}

func TestJSONUnmarshalKeepsTraceID(t *testing.T) {
	ev := tracing.TraceEvent{TraceID: wireTraceID}
	data, _ := Marshal(wireEvent(tracing.KindActorCreated))
	if err := Unmarshal(data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.TraceID != wireTraceID || ev.EventID != wireEventID {
		t.Fatalf("event = %+v", ev)
	}
}

func TestJSONValueNumbers(t *testing.T) {
	tests := []struct {
		in   string
		kind attr.Kind
	}{
		{"1", attr.KindInt},
		{"-1", attr.KindInt},
		{"9223372036854775807", attr.KindInt},
		{"9223372036854775808", attr.KindUint},
		{"18446744073709551615", attr.KindUint},
		{"18446744073709551616", attr.KindFloat},
		{"-9223372036854775809", attr.KindFloat},
		{"-0", attr.KindFloat},
		{"1.0", attr.KindFloat},
		{"1e2", attr.KindFloat},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var v attr.Value
			if err := Unmarshal([]byte(tc.in), &v); err != nil {
				t.Fatal(err)
			}
			if v.Kind() != tc.kind {
				t.Fatalf("kind %v, want %v", v.Kind(), tc.kind)
			}
		})
	}
}
