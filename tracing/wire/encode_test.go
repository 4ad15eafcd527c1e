package wire

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Fixed values of the wire fixtures: no randomness, no clock.
var (
	wireTraceID     = mustTraceID("6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60")
	wireEventID     = mustEventID("0191f3b2-7c4e-7a10-9d2f-3b5c8e0f1a22")
	wireParentID    = mustEventID("0191f3b2-7c4e-7a10-8000-000000000001")
	wireRootID      = mustEventID("0191f3b2-7c4e-7a10-8000-000000000002")
	wireExecutionID = tracing.ExecutionID(mustEventID("0191f3b2-7c4e-7a10-8000-0000000000e1"))
	wireTime        = time.Date(2026, 11, 26, 10, 30, 0, 500000000, time.UTC)
	wireStart       = time.Date(2026, 11, 26, 10, 29, 59, 123456789, time.UTC)
	wireEnd         = time.Date(2026, 11, 26, 10, 31, 0, 0, time.UTC)
	wireRequestID   = RequestID(mustEventID("11111111-2222-4333-8444-555555555555"))
)

func mustTraceID(s string) tracing.TraceID {
	id, err := tracing.ParseTraceID(s)
	if err != nil {
		panic(err)
	}
	return id
}

func mustEventID(s string) tracing.EventID {
	id, err := tracing.ParseEventID(s)
	if err != nil {
		panic(err)
	}
	return id
}

// wireEvent returns a fixed event of the given kind, with the fields that
// kind typically carries.
func wireEvent(kind tracing.EventKind) tracing.TraceEvent {
	ev := tracing.TraceEvent{
		EventID:   wireEventID,
		TraceID:   wireTraceID,
		Timestamp: wireTime,
		Type:      tracing.TraceEventType{Kind: kind},
		ActorID:   "sensor",
		Causality: tracing.CausalityInfo{RootCauseEventID: wireEventID},
	}
	ev.Data.PerformanceMetrics = tracing.PerformanceMetrics{ExecutionTimeNs: 1500, QueueDepth: 3}
	switch kind {
	case tracing.KindActorFailed:
		ev.Data.Error = "sensor offline"
	case tracing.KindMessageSent, tracing.KindMessageReceived:
		ev.Data.Port = "out"
		ev.Data.HasMessage = true
		ev.Data.Message = tracing.MessageSnapshot{MessageType: "Reading", SizeBytes: 2, Checksum: "crc32:0d4a1185", SerializedData: []byte("hi")}
	case tracing.KindStateChanged:
		ev.Data.StateDiff = tracing.StateDiff{Before: []byte{0}, After: []byte{1, 255}, DiffType: tracing.DiffIncremental}
		ev.Causality.ParentEventID = wireParentID
		ev.Causality.RootCauseEventID = wireRootID
		ev.Causality.DependencyChain = []tracing.EventID{wireRootID, wireParentID}
		ev.Causality.SpanID = "a1b2c3d4e5f60718"
	case tracing.KindPortConnected, tracing.KindPortDisconnected:
		ev.Data.Port = "in"
	case tracing.KindDataFlow:
		ev.Type.ToActor, ev.Type.ToPort = "validator", "in"
		ev.Data.Port = "out"
		ev.Data.HasMessage = true
		ev.Data.Message = tracing.MessageSnapshot{MessageType: "Reading", SizeBytes: 256}
		ev.Causality.SpanID = "a1b2c3d4e5f60718"
	case tracing.KindNetworkEvent:
		ev.Data.CustomAttributes.Add(attr.String("peer", "127.0.0.1:9000"), attr.Int("retries", 2), attr.Float64("load", 0.75), attr.Bool("tls", true))
		ev.Data.PerformanceMetrics.CPUUsagePercent = 12.5
		ev.Data.PerformanceMetrics.ThroughputMsgsPerSec = 1000
	case tracing.KindCustom:
		ev.Type.Name = "checkpoint"
		ev.Data.CustomAttributes.Add(attr.String("event_subtype", "overridden"), attr.Uint64("offset", math.MaxUint64))
	}
	return ev
}

func wireTrace(kinds ...tracing.EventKind) tracing.FlowTrace {
	t := tracing.FlowTrace{
		TraceID:     wireTraceID,
		FlowID:      "sensors",
		ExecutionID: wireExecutionID,
		Version:     tracing.FlowVersion{Major: 1, Minor: 2, Patch: 3, GitHash: "abc123", Timestamp: wireStart},
		StartTime:   wireStart,
		Status:      tracing.ExecutionStatus{Kind: tracing.StatusRunning},
		Metadata: tracing.TraceMetadata{
			UserID: "u1", Environment: "test", Hostname: "host", ProcessID: 4242, ThreadID: "main",
			Tags: map[string]string{"zone": "eu", "app": "demo"},
		},
	}
	for _, k := range kinds {
		t.Events = append(t.Events, wireEvent(k))
	}
	return t
}

type wireRequest struct {
	name string
	req  TracingRequest
}

func wireRequests() []wireRequest {
	failed := tracing.FailedStatus("disk full")
	stored := wireTrace(tracing.KindActorStarted, tracing.KindDataFlow)
	stored.EndTime = wireEnd
	stored.Status = tracing.ExecutionStatus{Kind: tracing.StatusCompleted}
	return []wireRequest{
		{"StartTrace", StartTrace{FlowID: "sensors", Version: tracing.FlowVersion{Major: 1, Timestamp: wireStart}}},
		{"RecordEvent", RecordEvent{TraceID: wireTraceID, Event: wireEvent(tracing.KindDataFlow)}},
		{"StartTrace_trace_id", StartTrace{TraceID: wireTraceID, FlowID: "sensors", Version: tracing.FlowVersion{Major: 1, Timestamp: wireStart}}},
		{"EndTrace", EndTrace{TraceID: wireTraceID, Status: tracing.ExecutionStatus{Kind: tracing.StatusCompleted}}},
		{"EndTrace_failed", EndTrace{TraceID: wireTraceID, Status: failed}},
		{"GetTrace", GetTrace{TraceID: wireTraceID}},
		{"GetTrace_request_id", GetTrace{TraceID: wireTraceID, RequestID: wireRequestID}},
		{"QueryTraces", QueryTraces{Query: TraceQuery{
			FlowID: "sensors", ExecutionID: wireExecutionID, TimeRange: [2]time.Time{wireStart, wireEnd}, HasTimeRange: true,
			Status: &failed, ActorFilter: "sensor", Limit: 10, Offset: 20,
		}}},
		{"QueryTraces_empty", QueryTraces{}},
		{"QueryTraces_request_id", QueryTraces{RequestID: wireRequestID}},
		{"GetFlowVersions", GetFlowVersions{FlowID: "sensors"}},
		{"Ping", Ping{}},
		{"Subscribe", Subscribe{Filters: SubscriptionFilters{
			FlowIDs:      []tracing.FlowID{"sensors"},
			ActorIDs:     []string{},
			EventTypes:   []tracing.TraceEventType{{Kind: tracing.KindActorFailed}, {Kind: tracing.KindDataFlow, ToActor: "validator", ToPort: "in"}},
			StatusFilter: []tracing.ExecutionStatus{{Kind: tracing.StatusCancelled}, failed},
		}}},
		{"Subscribe_all", Subscribe{}},
		{"Subscribe_legacy", Subscribe{Filters: SubscriptionFilters{ActorIDs: []string{"a"}}, Legacy: true}},
		{"Unsubscribe", Unsubscribe{}},
		{"StoreTrace", StoreTrace{Trace: stored}},
		{"GetMetrics", GetMetrics{}},
	}
}

type wireResponse struct {
	name string
	resp TracingResponse
}

func wireResponses() []wireResponse {
	tr := wireTrace(tracing.KindActorCompleted)
	failed := wireTrace()
	failed.Status = tracing.FailedStatus("boom")
	return []wireResponse{
		{"TraceStarted", TraceStarted{TraceID: wireTraceID}},
		{"EventRecorded", EventRecorded{Success: true}},
		{"EventRecorded_error", EventRecorded{Error: "queue full"}},
		{"TraceData", TraceData{Trace: &tr}},
		{"TraceData_null", TraceData{}},
		{"TraceData_request_id", TraceData{Trace: &tr, RequestID: wireRequestID}},
		{"TraceData_null_request_id", TraceData{RequestID: wireRequestID}},
		{"QueryResults", QueryResults{Traces: []tracing.FlowTrace{tr, failed}, TotalCount: 2}},
		{"QueryResults_request_id", QueryResults{Traces: []tracing.FlowTrace{tr}, TotalCount: 1, RequestID: wireRequestID}},
		{"QueryResults_empty", QueryResults{}},
		{"FlowVersions", FlowVersions{Versions: []tracing.FlowVersion{{Major: 1, Timestamp: wireStart}, {Major: 2, GitHash: "f00", Timestamp: wireEnd}}}},
		{"Pong", Pong{}},
		{"EventNotification", EventNotification{TraceID: wireTraceID, Event: wireEvent(tracing.KindActorFailed)}},
		{"Error", ErrorResponse{Message: "trace not found", Code: CodeNotFound}},
		{"Error_legacy", ErrorResponse{Message: "Invalid message format"}},
		{"TraceStored", TraceStored{TraceID: wireTraceID}},
		{"TracesFound", TracesFound{Traces: []tracing.FlowTrace{tr}}},
		{"Metrics", Metrics{Data: json.RawMessage(`{"events_received":12,"uptime_seconds":3.5}`)}},
	}
}

// allKinds lists every valid event kind.
func wireKinds() []tracing.EventKind {
	var ks []tracing.EventKind
	for k := tracing.KindActorCreated; k <= tracing.KindCustom; k++ {
		ks = append(ks, k)
	}
	return ks
}

// checkGolden compares got with testdata/name.golden.json, or rewrites the
// file with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", err)
	}
	if want = bytes.TrimSuffix(want, []byte("\n")); !bytes.Equal(got, want) {
		t.Errorf("%s changed:\n got %s\nwant %s", path, got, want)
	}
	if !json.Valid(got) {
		t.Errorf("%s: output is not valid JSON", name)
	}
}

func TestGoldenEvents(t *testing.T) {
	for _, k := range wireKinds() {
		t.Run(k.String(), func(t *testing.T) {
			ev := wireEvent(k)
			var e Encoder
			got := e.AppendEvent(nil, &ev)
			checkGolden(t, "event_"+k.String(), got)

			var back tracing.TraceEvent
			if err := Unmarshal(got, &back); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if again := e.AppendEvent(nil, &back); !bytes.Equal(again, got) {
				t.Errorf("re-encoded differently:\n got %s\nwant %s", again, got)
			}
			if e.Stats() != (EncodeStats{}) {
				t.Errorf("stats = %+v, want none", e.Stats())
			}
		})
	}
	t.Run("Custom_typed", func(t *testing.T) {
		ev := wireEvent(tracing.KindCustom)
		e := Encoder{CustomEventType: true}
		got := e.AppendEvent(nil, &ev)
		checkGolden(t, "event_Custom_typed", got)
		var back tracing.TraceEvent
		if err := Unmarshal(got, &back); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if back.Type.Kind != tracing.KindCustom || back.Type.Name != "checkpoint" {
			t.Errorf("type = %v, want Custom(checkpoint)", back.Type)
		}
		if v, _ := back.Data.CustomAttributes.Get(subtypeKey); v.Str() != "overridden" {
			t.Errorf("the typed form must keep the user's event_subtype, got %v", v)
		}
	})
}

// wireSnapshotEvent is a MessageSent event whose snapshot has the
// generation-2 fields set.
func wireSnapshotEvent() tracing.TraceEvent {
	ev := wireEvent(tracing.KindMessageSent)
	ev.Data.Message.Checksum = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
	ev.Data.Message.ContentCodec = "lz4"
	ev.Data.Message.ContentFormatVersion = 2
	ev.Data.Message.StoredBytes, ev.Data.Message.HasStoredBytes = 0, true
	return ev
}

// TestGoldenProtocolForms pins both forms of the fields the generations
// read differently: not-measured metrics and the generation-2 snapshot.
func TestGoldenProtocolForms(t *testing.T) {
	unmeasured := wireEvent(tracing.KindDataFlow)
	unmeasured.Data.PerformanceMetrics = tracing.PerformanceMetrics{
		ExecutionTimeNs: 1500, MemoryUsageBytes: 7, CPUUsagePercent: 2.5, QueueDepth: 0, ThroughputMsgsPerSec: 9,
		Unmeasured: tracing.MetricMemoryUsageBytes | tracing.MetricCPUUsagePercent | tracing.MetricThroughputMsgsPerSec,
	}
	allUnmeasured := wireEvent(tracing.KindActorCreated)
	allUnmeasured.Data.PerformanceMetrics = tracing.PerformanceMetrics{ExecutionTimeNs: 5, Unmeasured: tracing.AllMetricFields}
	snapshot := wireSnapshotEvent()
	noData := wireEvent(tracing.KindDataFlow) // its snapshot has no SerializedData
	tests := []struct {
		name  string
		ev    tracing.TraceEvent
		proto transport.Protocol
	}{
		{"DataFlow_unmeasured", unmeasured, transport.ProtocolV1},
		{"DataFlow_unmeasured_v2", unmeasured, transport.ProtocolV2},
		{"ActorCreated_unmeasured_v2", allUnmeasured, transport.ProtocolV2},
		{"MessageSent_snapshot", snapshot, transport.ProtocolV1},
		{"MessageSent_snapshot_v2", snapshot, transport.ProtocolV2},
		{"DataFlow_v2", noData, transport.ProtocolV2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := Encoder{Protocol: tc.proto}
			got := e.AppendEvent(nil, &tc.ev)
			checkGolden(t, "event_"+tc.name, got)
			var back tracing.TraceEvent
			if err := Unmarshal(got, &back); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if again := e.AppendEvent(nil, &back); !bytes.Equal(again, got) {
				t.Errorf("re-encoded differently:\n got %s\nwant %s", again, got)
			}
			pm, want := back.Data.PerformanceMetrics, tc.ev.Data.PerformanceMetrics
			if tc.proto == transport.ProtocolV2 {
				// Lossless: what was not measured reads back so.
				if pm.Unmeasured != want.Unmeasured {
					t.Errorf("unmeasured = %05b, want %05b", pm.Unmeasured, want.Unmeasured)
				}
			} else if pm.Unmeasured != 0 {
				t.Errorf("generation-1 form read back with unmeasured %05b, want every field a number", pm.Unmeasured)
			}
			for f := tracing.MetricExecutionTimeNs; f <= tracing.MetricThroughputMsgsPerSec; f <<= 1 {
				if !want.Measured(f) && metricValue(pm, f) != 0 {
					t.Errorf("unmeasured field %05b read back as %v, want 0", f, metricValue(pm, f))
				}
				if want.Measured(f) && metricValue(pm, f) != metricValue(want, f) {
					t.Errorf("field %05b = %v, want %v", f, metricValue(pm, f), metricValue(want, f))
				}
			}
			if back.Data.HasMessage {
				m, w := back.Data.Message, tc.ev.Data.Message
				if m.ContentCodec != w.ContentCodec || m.ContentFormatVersion != w.ContentFormatVersion ||
					m.HasStoredBytes != w.HasStoredBytes || m.StoredBytes != w.StoredBytes || m.Checksum != w.Checksum {
					t.Errorf("snapshot = %+v, want %+v", m, w)
				}
				if (m.SerializedData == nil) != (w.SerializedData == nil && tc.proto == transport.ProtocolV2) {
					t.Errorf("serialized_data = %v (nil %v), from %v in form %v", m.SerializedData, m.SerializedData == nil, w.SerializedData, tc.proto)
				}
			}
		})
	}
}

func metricValue(p tracing.PerformanceMetrics, f tracing.MetricFields) float64 {
	switch f {
	case tracing.MetricExecutionTimeNs:
		return float64(p.ExecutionTimeNs)
	case tracing.MetricMemoryUsageBytes:
		return float64(p.MemoryUsageBytes)
	case tracing.MetricCPUUsagePercent:
		return p.CPUUsagePercent
	case tracing.MetricQueueDepth:
		return float64(p.QueueDepth)
	}
	return p.ThroughputMsgsPerSec
}

// TestEncodeProtocolDefault checks that the forms other than ProtocolV2
// write what a generation-1 server reads: numbers and serialized_data.
func TestEncodeProtocolDefault(t *testing.T) {
	ev := wireEvent(tracing.KindDataFlow)
	ev.Data.PerformanceMetrics.Unmeasured = tracing.AllMetricFields
	for _, p := range []transport.Protocol{transport.ProtocolAuto, transport.ProtocolV1, transport.Protocol(9)} {
		e := Encoder{Protocol: p}
		got := string(e.AppendEvent(nil, &ev))
		if !strings.Contains(got, `"serialized_data":[]`) ||
			!strings.Contains(got, `{"execution_time_ns":0,"memory_usage_bytes":0,"cpu_usage_percent":0.0,"queue_depth":0,"throughput_msgs_per_sec":0.0}`) {
			t.Errorf("protocol %v wrote %s", p, got)
		}
	}
	// Bits outside AllMetricFields mean nothing.
	ev = wireEvent(tracing.KindDataFlow)
	plain := string(new(Encoder).AppendEvent(nil, &ev))
	ev.Data.PerformanceMetrics.Unmeasured = ^tracing.AllMetricFields
	if got := string((&Encoder{Protocol: transport.ProtocolV2}).AppendEvent(nil, &ev)); !strings.Contains(got, `"execution_time_ns":1500,`) ||
		strings.Replace(got, `,"serialized_data":[]`, "", 1) != strings.Replace(plain, `,"serialized_data":[]`, "", 1) {
		t.Errorf("unknown bits changed the output:\n got %s\nwant %s", got, plain)
	}
}

func TestGoldenRequests(t *testing.T) {
	for _, tc := range wireRequests() {
		t.Run(tc.name, func(t *testing.T) {
			var e Encoder
			got := e.AppendRequest(nil, tc.req)
			checkGolden(t, "request_"+tc.name, got)
			back, err := DecodeRequest(got)
			if err != nil {
				t.Fatalf("DecodeRequest: %v", err)
			}
			if again := e.AppendRequest(nil, back); !bytes.Equal(again, got) {
				t.Errorf("re-encoded differently:\n got %s\nwant %s", again, got)
			}
			// The pointer form writes the same.
			if ptr := e.AppendRequest(nil, requestPtr(tc.req)); !bytes.Equal(ptr, got) {
				t.Errorf("pointer form differs:\n got %s\nwant %s", ptr, got)
			}
		})
	}
}

func TestGoldenResponses(t *testing.T) {
	for _, tc := range wireResponses() {
		t.Run(tc.name, func(t *testing.T) {
			var e Encoder
			got := e.AppendResponse(nil, tc.resp)
			checkGolden(t, "response_"+tc.name, got)
			back, err := DecodeResponse(got)
			if err != nil {
				t.Fatalf("DecodeResponse: %v", err)
			}
			if again := e.AppendResponse(nil, back); !bytes.Equal(again, got) {
				t.Errorf("re-encoded differently:\n got %s\nwant %s", again, got)
			}
			if ptr := e.AppendResponse(nil, responsePtr(tc.resp)); !bytes.Equal(ptr, got) {
				t.Errorf("pointer form differs:\n got %s\nwant %s", ptr, got)
			}
		})
	}
}

func requestPtr(r TracingRequest) TracingRequest {
	switch r := r.(type) {
	case StartTrace:
		return &r
	case RecordEvent:
		return &r
	case EndTrace:
		return &r
	case GetTrace:
		return &r
	case QueryTraces:
		return &r
	case GetFlowVersions:
		return &r
	case Ping:
		return &r
	case Subscribe:
		return &r
	case Unsubscribe:
		return &r
	case StoreTrace:
		return &r
	case GetMetrics:
		return &r
	}
	panic("unknown request")
}

func responsePtr(r TracingResponse) TracingResponse {
	switch r := r.(type) {
	case TraceStarted:
		return &r
	case EventRecorded:
		return &r
	case TraceData:
		return &r
	case QueryResults:
		return &r
	case FlowVersions:
		return &r
	case Pong:
		return &r
	case EventNotification:
		return &r
	case ErrorResponse:
		return &r
	case TraceStored:
		return &r
	case TracesFound:
		return &r
	case Metrics:
		return &r
	}
	panic("unknown response")
}

func TestAppendStoreTraceUsesEventsArgument(t *testing.T) {
	tr := wireTrace(tracing.KindActorCreated) // its Events must be ignored
	events := []tracing.TraceEvent{wireEvent(tracing.KindDataFlow), wireEvent(tracing.KindActorCompleted)}
	var e Encoder
	got := e.AppendStoreTrace(nil, &tr, events)
	req, err := DecodeRequest(got)
	if err != nil {
		t.Fatal(err)
	}
	st := req.(StoreTrace)
	if len(st.Trace.Events) != 2 || st.Trace.Events[0].Type.Kind != tracing.KindDataFlow || st.Trace.Events[1].Type.Kind != tracing.KindActorCompleted {
		t.Fatalf("events = %v", st.Trace.Events)
	}
	empty := e.AppendStoreTrace(nil, &tr, nil)
	if !bytes.Contains(empty, []byte(`"events":[]`)) {
		t.Errorf("nil events must be written as []: %s", empty)
	}
}

func TestEncodeDefaults(t *testing.T) {
	ev := tracing.TraceEvent{EventID: wireEventID, Type: tracing.TraceEventType{Kind: tracing.KindActorCreated}}
	var e Encoder
	got := string(e.AppendEvent(nil, &ev))
	for _, want := range []string{
		`"timestamp":"0001-01-01T00:00:00Z"`,
		`"port":null`, `"message":null`, `"state_diff":null`, `"error":null`,
		`"cpu_usage_percent":0.0`, `"throughput_msgs_per_sec":0.0`,
		`"custom_attributes":{}`,
		`"parent_event_id":null`,
		`"root_cause_event_id":"0191f3b2-7c4e-7a10-9d2f-3b5c8e0f1a22"`,
		`"dependency_chain":[]`,
		`"span_id":"9d2f3b5c8e0f1a22"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in %s", want, got)
		}
	}
}

func TestEncodeFloats(t *testing.T) {
	tests := []struct {
		name string
		in   float64
		want string
	}{
		{"zero", 0, "0.0"},
		{"negative zero", math.Copysign(0, -1), "-0.0"},
		{"integral", 1, "1.0"},
		{"fraction", 1.5, "1.5"},
		{"large integral", 1e20, "100000000000000000000.0"},
		{"exponent", 1e21, "1e+21"},
		{"max", math.MaxFloat64, "1.7976931348623157e+308"},
		{"tiny", 5e-324, "5e-324"},
		{"small", 1e-7, "1e-07"},
		{"nan", math.NaN(), "0.0"},
		{"inf", math.Inf(1), "0.0"},
		{"-inf", math.Inf(-1), "0.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e Encoder
			got := string(e.AppendValue(nil, attr.FloatValue(tc.in)))
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			var v attr.Value
			if err := Unmarshal([]byte(got), &v); err != nil {
				t.Fatal(err)
			}
			if v.Kind() != attr.KindFloat {
				t.Fatalf("%s reads back as %v, want Float", got, v.Kind())
			}
		})
	}
}

func TestEncodeStrings(t *testing.T) {
	tests := []struct {
		name, in, want string
		invalid        bool
	}{
		{"plain", "abc", `"abc"`, false},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`, false},
		{"controls", "\n\r\t\b\f\x00\x1f", `"\n\r\t\b\f\u0000\u001f"`, false},
		{"unicode", "héllo ✓ 😀", `"héllo ✓ 😀"`, false},
		{"line separators kept", "\u2028\u2029", "\"\u2028\u2029\"", false},
		{"invalid byte", "a\xffb", "\"a\uFFFDb\"", true},
		{"truncated rune", "a\xe2\x9c", "\"a\uFFFD\uFFFD\"", true},
		{"surrogate half", "\xed\xa0\x80", "\"\uFFFD\uFFFD\uFFFD\"", true},
		{"html kept", "<&>", `"<&>"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e Encoder
			got := string(e.AppendValue(nil, attr.StringValue(tc.in)))
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatalf("invalid JSON %s", got)
			}
			if n := e.Stats().InvalidUTF8; (n == 1) != tc.invalid {
				t.Fatalf("InvalidUTF8 = %d", n)
			}
		})
	}
}

func TestEncodeValues(t *testing.T) {
	deep := attr.StringValue("leaf")
	for range MaxValueDepth + 10 {
		deep = attr.ArrayValue(deep)
	}
	tests := []struct {
		name  string
		in    attr.Value
		want  string
		depth uint64
	}{
		{"null", attr.Value{}, "null", 0},
		{"bools", attr.ArrayValue(attr.BoolValue(true), attr.BoolValue(false)), "[true,false]", 0},
		{"ints", attr.ArrayValue(attr.IntValue(math.MinInt64), attr.IntValue(-1), attr.UintValue(math.MaxUint64)), "[-9223372036854775808,-1,18446744073709551615]", 0},
		{"empty containers", attr.ArrayValue(attr.ArrayValue(), attr.ObjectValue()), "[[],{}]", 0},
		{"object keeps last duplicate", attr.ObjectValue(attr.Int("a", 1), attr.Int("b", 2), attr.Int("a", 3)), `{"b":2,"a":3}`, 0},
		{"object sanitised duplicate", attr.ObjectValue(attr.Int("\xff", 1), attr.Int("\xfe", 2)), "{\"\uFFFD\":2}", 0},
		{"nested", attr.ObjectValue(attr.Any("x", attr.ArrayValue(attr.ObjectValue(attr.Float64("y", 2))))), `{"x":[{"y":2.0}]}`, 0},
		{"too deep", deep, strings.Repeat("[", MaxValueDepth) + "null" + strings.Repeat("]", MaxValueDepth), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e Encoder
			got := string(e.AppendValue(nil, tc.in))
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			if e.Stats().DepthLimited != tc.depth {
				t.Fatalf("DepthLimited = %d, want %d", e.Stats().DepthLimited, tc.depth)
			}
		})
	}
}

func TestEncodeCustomEvent(t *testing.T) {
	tests := []struct {
		name   string
		typed  bool
		attrs  []attr.KeyValue
		want   string
		unique bool
	}{
		{"default form", false, []attr.KeyValue{attr.Int("n", 1)}, `"event_type":"NetworkEvent"`, true},
		{"name wins over attribute", false, []attr.KeyValue{attr.String("event_subtype", "mine"), attr.Int("n", 1)}, `"custom_attributes":{"event_subtype":"cp","n":1}`, true},
		{"no attributes", false, nil, `"custom_attributes":{"event_subtype":"cp"}`, true},
		{"typed form", true, []attr.KeyValue{attr.String("event_subtype", "mine")}, `"event_type":{"Custom":"cp"},"actor_id":"a","data":{"port":null,"message":null,"state_diff":null,"error":null,"performance_metrics":{"execution_time_ns":0,"memory_usage_bytes":0,"cpu_usage_percent":0.0,"queue_depth":0,"throughput_msgs_per_sec":0.0},"custom_attributes":{"event_subtype":"mine"}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := event.Custom("a", "cp", tc.attrs...)
			before := ev.Data.CustomAttributes.Len()
			e := Encoder{CustomEventType: tc.typed}
			got := string(e.AppendEvent(nil, &ev))
			if !strings.Contains(got, tc.want) {
				t.Fatalf("missing %s in %s", tc.want, got)
			}
			if strings.Count(got, `"event_subtype"`) > 1 {
				t.Fatalf("event_subtype written twice: %s", got)
			}
			if ev.Data.CustomAttributes.Len() != before || ev.Type.Kind != tracing.KindCustom {
				t.Fatal("the encoder modified the event")
			}
			if _, err := DecodeRequest(e.AppendRecordEvent(nil, wireTraceID, &ev)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestEncodeInvalidKinds(t *testing.T) {
	ev := wireEvent(tracing.KindActorCreated)
	ev.Type.Kind = 0
	ev.Data.StateDiff.DiffType = 9
	var e Encoder
	got := string(e.AppendEvent(nil, &ev))
	if !strings.Contains(got, `"event_type":"NetworkEvent"`) || !strings.Contains(got, `"diff_type":"Full"`) {
		t.Fatal(got)
	}
	st := tracing.ExecutionStatus{Kind: 42}
	if s := string(e.AppendExecutionStatus(nil, &st)); s != `"Pending"` {
		t.Fatal(s)
	}
	if s := string(e.AppendResponse(nil, ErrorResponse{Message: "m", Code: "Bogus"})); s != `{"Error":{"message":"m"}}` {
		t.Fatal(s)
	}
	if n := e.Stats().InvalidKind; n != 4 {
		t.Fatalf("InvalidKind = %d, want 4", n)
	}
}

func TestEncodeTagsSorted(t *testing.T) {
	m := tracing.TraceMetadata{Tags: map[string]string{"b": "2", "a": "1", "c\xff": "x", "c\xfe": "y"}}
	var e Encoder
	for range 5 {
		got := string(e.AppendMetadata(nil, &m))
		want := "\"tags\":{\"a\":\"1\",\"b\":\"2\",\"c\uFFFD\":\"x\"}}"
		if !strings.HasSuffix(got, want) {
			t.Fatalf("got %s, want suffix %s", got, want)
		}
	}
}

// TestEncodeExtremeValues writes an event with extreme values in every field
// and checks that the output is valid JSON the strict decoder accepts, and
// that it decodes to the sanitised values.
// The limits the encoder clamps times to: the years the server's date type
// holds, -262143 to 262142.
var (
	minTime = time.Date(-262143, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(262142, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

func TestEncodeExtremeValues(t *testing.T) {
	const bad = "a\xff\xfe\"\\\x00\n\u2028"
	const clean = "a\uFFFD\uFFFD\"\\\x00\n\u2028"
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i)
	}
	deep := attr.IntValue(1)
	for range 200 {
		deep = attr.ObjectValue(attr.Any("k", deep))
	}
	ev := tracing.TraceEvent{
		EventID:   tracing.EventID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		Timestamp: time.Date(1000000, 1, 1, 0, 0, 0, 0, time.UTC),
		Type:      tracing.TraceEventType{Kind: tracing.KindDataFlow, ToActor: bad, ToPort: bad},
		ActorID:   bad,
		Data: tracing.TraceEventData{
			Port:       bad,
			HasMessage: true,
			Message:    tracing.MessageSnapshot{MessageType: bad, SizeBytes: math.MaxUint64, Checksum: bad, SerializedData: big},
			StateDiff:  tracing.StateDiff{Before: []byte{}, After: nil, DiffType: tracing.DiffMemoryOnly},
			Error:      bad,
			PerformanceMetrics: tracing.PerformanceMetrics{
				ExecutionTimeNs: math.MaxUint64, MemoryUsageBytes: math.MaxUint64, QueueDepth: math.MaxUint64,
				CPUUsagePercent: math.MaxFloat64, ThroughputMsgsPerSec: math.NaN(),
			},
		},
		Causality: tracing.CausalityInfo{DependencyChain: nil, SpanID: bad},
	}
	ev.Data.CustomAttributes.Add(
		attr.String(bad, bad), attr.Float64("nan", math.NaN()), attr.Float64("inf", math.Inf(-1)), attr.Float64("max", math.MaxFloat64),
		attr.Uint64("u", math.MaxUint64), attr.Int64("i", math.MinInt64), attr.Any("deep", deep), attr.Any("empty", attr.ArrayValue()),
		attr.Any("nil", attr.Value{}),
	)
	tr := tracing.FlowTrace{
		FlowID: tracing.FlowID(bad), Version: tracing.FlowVersion{Major: math.MaxUint32, Minor: math.MaxUint32, Patch: math.MaxUint32, GitHash: bad},
		Status:   tracing.FailedStatus(bad),
		EndTime:  time.Date(-1000000, 1, 1, 0, 0, 0, 0, time.UTC),
		Metadata: tracing.TraceMetadata{UserID: bad, SessionID: bad, Environment: bad, Hostname: bad, ProcessID: math.MaxUint32, ThreadID: bad, Tags: map[string]string{bad: bad}},
	}
	// The batch repeats the event with small data, to keep the test fast.
	small := ev
	small.Data.Message.SerializedData = []byte{0, 255}
	var e Encoder
	for _, msg := range []struct {
		name string
		data []byte
		big  []byte
	}{
		{"RecordEvent", e.AppendRecordEvent(nil, wireTraceID, &ev), big},
		{"StoreTrace", e.AppendStoreTrace(nil, &tr, []tracing.TraceEvent{small, {}}), small.Data.Message.SerializedData},
	} {
		t.Run(msg.name, func(t *testing.T) {
			if !json.Valid(msg.data) {
				t.Fatal("not valid JSON")
			}
			req, err := DecodeRequest(msg.data)
			if err != nil {
				t.Fatal(err)
			}
			var got tracing.TraceEvent
			switch r := req.(type) {
			case RecordEvent:
				got = r.Event
			case StoreTrace:
				got = r.Trace.Events[0]
				if len(r.Trace.Events) != 2 {
					t.Fatalf("%d events", len(r.Trace.Events))
				}
				if r.Trace.FlowID != clean || r.Trace.Version.Major != math.MaxUint32 || r.Trace.Status.Error != clean ||
					r.Trace.Metadata.Tags[clean] != clean || r.Trace.Metadata.ProcessID != math.MaxUint32 {
					t.Errorf("trace = %+v", r.Trace)
				}
				if !r.Trace.EndTime.Equal(minTime) {
					t.Errorf("EndTime = %v, want clamped to %v", r.Trace.EndTime, minTime)
				}
			}
			checkExtreme(t, &got, clean, msg.big)
		})
	}
	s := e.Stats()
	if s.NonFinite == 0 || s.Clamped == 0 || s.InvalidUTF8 == 0 || s.DepthLimited == 0 {
		t.Errorf("stats = %+v: every kind of sanitisation must be counted", s)
	}
}

func checkExtreme(t *testing.T, got *tracing.TraceEvent, clean string, big []byte) {
	t.Helper()
	if got.ActorID != clean || got.Type.ToActor != clean || got.Type.ToPort != clean || got.Data.Port != clean ||
		got.Data.Error != clean || got.Data.Message.MessageType != clean || got.Causality.SpanID != clean {
		t.Errorf("strings not sanitised: %+v", got)
	}
	if !got.Timestamp.Equal(maxTime) {
		t.Errorf("Timestamp = %v, want clamped to %v", got.Timestamp, maxTime)
	}
	if !bytes.Equal(got.Data.Message.SerializedData, big) {
		t.Error("serialized_data changed")
	}
	if got.Data.StateDiff.Before == nil || len(got.Data.StateDiff.Before) != 0 || len(got.Data.StateDiff.After) != 0 {
		t.Errorf("state diff = %+v: empty before must stay [], nil after must be []", got.Data.StateDiff)
	}
	pm := got.Data.PerformanceMetrics
	if pm.ExecutionTimeNs != math.MaxUint64 || pm.QueueDepth != math.MaxUint64 || pm.CPUUsagePercent != math.MaxFloat32 || pm.ThroughputMsgsPerSec != 0 {
		t.Errorf("metrics = %+v", pm)
	}
	as := &got.Data.CustomAttributes
	if v, ok := as.Get(clean); !ok || v.Str() != clean {
		t.Errorf("sanitised key/value missing: %v", as.Slice())
	}
	for key, want := range map[string]attr.Value{
		"nan": attr.FloatValue(0), "inf": attr.FloatValue(0), "max": attr.FloatValue(math.MaxFloat64),
		"u": attr.UintValue(math.MaxUint64), "i": attr.IntValue(math.MinInt64), "empty": attr.ArrayValue(), "nil": {},
	} {
		if v, _ := as.Get(key); !v.Equal(want) {
			t.Errorf("%s = %v, want %v", key, v, want)
		}
	}
	v, _ := as.Get("deep")
	depth := 0
	for v.Kind() == attr.KindObject {
		v = v.Object()[0].Value
		depth++
	}
	if depth != MaxValueDepth || v.Kind() != attr.KindNull {
		t.Errorf("deep value cut at depth %d (%v), want %d then null", depth, v.Kind(), MaxValueDepth)
	}
}

// TestEncodeAllSnapshotFields checks that AllSnapshotFields writes, under
// ProtocolV2 only, every snapshot field the way a generation-2 server's
// replies do (see the reference transcripts), and changes nothing else.
func TestEncodeAllSnapshotFields(t *testing.T) {
	ev := wireEvent(tracing.KindDataFlow)
	ev.Data.Message.SerializedData = nil
	full := Encoder{Protocol: transport.ProtocolV2, AllSnapshotFields: true}
	got := string(full.AppendEvent(nil, &ev))
	const want = `"checksum":"","serialized_data":[],"content_codec":"none","content_format_version":0,"stored_bytes":null}`
	if !strings.Contains(got, want) {
		t.Errorf("unset fields: got %s\nwant it to hold %s", got, want)
	}
	ev.Data.Message.SerializedData = []byte{7}
	ev.Data.Message.ContentCodec = "zstd"
	ev.Data.Message.ContentFormatVersion = 2
	ev.Data.Message.StoredBytes, ev.Data.Message.HasStoredBytes = 9, true
	got = string(full.AppendEvent(nil, &ev))
	lean := string((&Encoder{Protocol: transport.ProtocolV2}).AppendEvent(nil, &ev))
	if got != lean {
		t.Errorf("set fields: got %s\nwant what the default form writes, %s", got, lean)
	}
	// Generation 1 has no such fields: the option does nothing there.
	ev = wireEvent(tracing.KindDataFlow)
	for _, p := range []transport.Protocol{transport.ProtocolAuto, transport.ProtocolV1} {
		if got, want := string((&Encoder{Protocol: p, AllSnapshotFields: true}).AppendEvent(nil, &ev)), string((&Encoder{Protocol: p}).AppendEvent(nil, &ev)); got != want {
			t.Errorf("protocol %v: got %s\nwant %s", p, got, want)
		}
	}
}

func TestEncodeNoAllocs(t *testing.T) {
	ev := wireEvent(tracing.KindDataFlow)
	ev.Data.CustomAttributes.Add(attr.String("route", "a→b"), attr.Int("hops", 3), attr.Float64("ratio", 0.5))
	custom := wireEvent(tracing.KindCustom)
	tr := wireTrace()
	batch := []tracing.TraceEvent{ev, custom, wireEvent(tracing.KindStateChanged)}
	var e Encoder
	v2 := Encoder{Protocol: transport.ProtocolV2}
	all := Encoder{Protocol: transport.ProtocolV2, AllSnapshotFields: true}
	partial := wireSnapshotEvent()
	partial.Data.PerformanceMetrics.Unmeasured = tracing.MetricQueueDepth | tracing.MetricCPUUsagePercent
	buf := make([]byte, 0, 64<<10)
	tests := []struct {
		name string
		fn   func()
	}{
		{"AppendEvent", func() { buf = e.AppendEvent(buf[:0], &ev) }},
		{"AppendRecordEvent custom", func() { buf = e.AppendRecordEvent(buf[:0], wireTraceID, &custom) }},
		{"AppendStoreTrace", func() { buf = e.AppendStoreTrace(buf[:0], &tr, batch) }},
		{"AppendEvent generation 2 unmeasured", func() { buf = v2.AppendEvent(buf[:0], &partial) }},
		{"AppendEvent generation 1 unmeasured", func() { buf = e.AppendEvent(buf[:0], &partial) }},
		{"AppendEvent generation 2 all fields", func() { buf = all.AppendEvent(buf[:0], &partial) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn()
			if n := testing.AllocsPerRun(100, tc.fn); n != 0 {
				t.Fatalf("%v allocations per call, want 0", n)
			}
		})
	}
}

func TestEncodeDuplicateKeys(t *testing.T) {
	var members []attr.KeyValue
	for i := range 100 {
		members = append(members, attr.Int(strconv.Itoa(i%50), i))
	}
	members = append(members, attr.Int("x\xff", 1), attr.Int("x\uFFFD", 2))
	var e Encoder
	got := e.AppendValue(nil, attr.ObjectValue(members...))
	var m map[string]int
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 51 || m["0"] != 50 || m["49"] != 99 || m["x\uFFFD"] != 2 {
		t.Fatalf("got %s", got)
	}
	if n := bytes.Count(got, []byte(`"0":`)); n != 1 {
		t.Fatalf("key written %d times", n)
	}

	tags := tracing.TraceMetadata{Tags: map[string]string{"c\uFFFD": "valid", "c\xff": "invalid", "a": "1"}}
	out := string(e.AppendMetadata(nil, &tags))
	if n := strings.Count(out, "\"c\uFFFD\""); n != 1 {
		t.Fatalf("sanitised tag written %d times: %s", n, out)
	}
	for i := range 40 {
		tags.Tags["k\xff"+strconv.Itoa(i)] = "v"
		tags.Tags["k\xfe"+strconv.Itoa(i)] = "w"
	}
	out = string(e.AppendMetadata(nil, &tags))
	var md struct{ Tags map[string]string }
	if err := json.Unmarshal([]byte(out), &md); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\"k\uFFFD0\""); n != 1 || len(md.Tags) != 42 {
		t.Fatalf("%d tags, key k\uFFFD0 written %d times", len(md.Tags), n)
	}
}
