package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// TestProtocolExample decodes the complete example of the protocol document
// and checks that re-encoding it gives the same JSON.
func TestProtocolExample(t *testing.T) {
	data, err := os.ReadFile("testdata/protocol_example.json")
	if err != nil {
		t.Fatal(err)
	}
	req, err := DecodeRequest(data)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := req.(RecordEvent)
	if !ok {
		t.Fatalf("got %T, want RecordEvent", req)
	}
	ev := r.Event
	checks := []struct {
		name      string
		got, want any
	}{
		{"trace_id", r.TraceID, wireTraceID},
		{"event_id", ev.EventID, wireEventID},
		{"timestamp", ev.Timestamp, time.Date(2026, 11, 26, 10, 30, 0, 500000000, time.UTC)},
		{"event_type", ev.Type, tracing.TraceEventType{Kind: tracing.KindDataFlow, ToActor: "validator", ToPort: "in"}},
		{"actor_id", ev.ActorID, "sensor"},
		{"port", ev.Data.Port, "out"},
		{"has message", ev.Data.HasMessage, true},
		{"message", ev.Data.Message, tracing.MessageSnapshot{MessageType: "Reading", SizeBytes: 256, SerializedData: []byte{}}},
		{"state_diff", ev.Data.StateDiff, tracing.StateDiff{}},
		{"error", ev.Data.Error, ""},
		{"performance_metrics", ev.Data.PerformanceMetrics, tracing.PerformanceMetrics{ExecutionTimeNs: 1500, QueueDepth: 3}},
		{"custom_attributes", ev.Data.CustomAttributes.Len(), 0},
		{"causality", ev.Causality, tracing.CausalityInfo{RootCauseEventID: wireEventID, DependencyChain: []tracing.EventID{}, SpanID: "a1b2c3d4e5f60718"}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %+v, want %+v", c.name, c.got, c.want)
		}
	}
	var e Encoder
	again := e.AppendRequest(nil, req)
	if !wireJSONEqual(t, again, data) {
		t.Errorf("re-encoded example differs:\n got %s\nwant %s", again, data)
	}
	if !bytes.Equal(again, wireCompact(t, data)) {
		t.Errorf("re-encoded example is not byte for byte the compacted example:\n got %s", again)
	}
	// The RecordEvent fixture of the golden files is the protocol example.
	fixture := wireEvent(tracing.KindDataFlow)
	if got := e.AppendRecordEvent(nil, wireTraceID, &fixture); !bytes.Equal(got, again) {
		t.Errorf("fixture differs from the example:\n got %s\nwant %s", got, again)
	}
}

func wireCompact(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// jsonEqual compares two JSON texts semantically (numbers as written).
func wireJSONEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	for _, p := range []struct {
		data []byte
		v    *any
	}{{a, &x}, {b, &y}} {
		d := json.NewDecoder(bytes.NewReader(p.data))
		d.UseNumber()
		if err := d.Decode(p.v); err != nil {
			t.Fatalf("invalid JSON %s: %v", p.data, err)
		}
	}
	return reflect.DeepEqual(x, y)
}

// exampleWith returns the protocol example with old replaced by new (which
// must occur).
func exampleWith(t *testing.T, old, new string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/protocol_example.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("example has no %q", old)
	}
	return bytes.Replace(data, []byte(old), []byte(new), 1)
}

// TestDecodeStrict checks that the decoder accepts and rejects what the
// reference server does, and that errors name the offending path.
func TestDecodeStrict(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name    string
		old     string
		new     string
		wantErr string // "" = accepted
	}{
		{"example", `"sensor"`, `"sensor"`, ""},
		{"negative integer", `"queue_depth":3`, `"queue_depth":-1`,
			"tracing: malformed message: RecordEvent.event.data.performance_metrics.queue_depth: want a non-negative integer, got -1"},
		{"float for integer", `"queue_depth":3`, `"queue_depth":3.0`, "queue_depth: want a non-negative integer, got 3.0"},
		{"exponent for integer", `"size_bytes":256`, `"size_bytes":1e6`, "message.size_bytes: want a non-negative integer"},
		{"negative zero integer", `"queue_depth":3`, `"queue_depth":-0`, "queue_depth: want a non-negative integer"},
		{"integer too large", `"queue_depth":3`, `"queue_depth":18446744073709551616`, "queue_depth: integer 18446744073709551616 out of range"},
		{"max integer", `"queue_depth":3`, `"queue_depth":18446744073709551615`, ""},
		{"string for integer", `"queue_depth":3`, `"queue_depth":"3"`, "queue_depth: want a non-negative integer, got a string"},
		{"integer for float", `"cpu_usage_percent":0.0`, `"cpu_usage_percent":7`, ""},
		{"null float (generation 2: not measured)", `"cpu_usage_percent":0.0`, `"cpu_usage_percent":null`, ""},
		{"null integer metric (generation 2: not measured)", `"queue_depth":3`, `"queue_depth":null`, ""},
		{"bool for metric", `"queue_depth":3`, `"queue_depth":true`, "queue_depth: want a non-negative integer, got a boolean"},
		{"null trace id", `"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60"`, `"trace_id":null`, "RecordEvent.trace_id: want a string, got null"},
		{"float out of range", `"cpu_usage_percent":0.0`, `"cpu_usage_percent":1e999`, "cpu_usage_percent: number 1e999 out of range"},
		{"NaN", `"cpu_usage_percent":0.0`, `"cpu_usage_percent":NaN`, "cpu_usage_percent: want a number"},
		{"byte out of range", `"serialized_data":[]`, `"serialized_data":[1,256]`, "serialized_data[1]: integer 256 out of range 0..255"},
		{"negative byte", `"serialized_data":[]`, `"serialized_data":[-1]`, "serialized_data[0]: want a non-negative integer"},
		{"base64 bytes", `"serialized_data":[]`, `"serialized_data":"aGk="`, "serialized_data: want an array of integers 0..255, got a string"},
		{"null required bytes", `"serialized_data":[]`, `"serialized_data":null`, "serialized_data: want an array"},
		{"absent serialized data (generation 2)", `"checksum":"",
 "serialized_data":[]`, `"checksum":""`, ""},
		{"snapshot generation 2 fields", `"serialized_data":[]`, `"serialized_data":[],"content_codec":"none","content_format_version":1,"stored_bytes":null`, ""},
		{"snapshot stored bytes", `"serialized_data":[]`, `"stored_bytes":18446744073709551615`, ""},
		{"snapshot bad stored bytes", `"serialized_data":[]`, `"stored_bytes":-1`, "message.stored_bytes: want a non-negative integer"},
		{"snapshot format version too large", `"serialized_data":[]`, `"content_format_version":4294967296`, "message.content_format_version: integer 4294967296 out of range"},
		{"snapshot null codec", `"serialized_data":[]`, `"content_codec":null`, "message.content_codec: want a string, got null"},
		{"snapshot missing checksum", `"checksum":"",`, ``, `message: missing field "checksum"`},
		{"metrics absent (generation 2)", exampleMetrics, ``, ""},
		{"metrics duplicate", `"queue_depth":3`, `"queue_depth":3,"queue_depth":null`, `duplicate field "queue_depth"`},
		{"metrics null", `"performance_metrics":{`, `"performance_metrics":null,"x":{`, "performance_metrics: want a PerformanceMetrics object, got null"},
		{"missing required", `"span_id":"a1b2c3d4e5f60718"`, `"x":1`, `RecordEvent.event.causality: missing field "span_id"`},
		{"missing root cause", `"root_cause_event_id":"0191f3b2-7c4e-7a10-9d2f-3b5c8e0f1a22",`, ``, `missing field "root_cause_event_id"`},
		{"null required map", `"custom_attributes":{}`, `"custom_attributes":null`, "custom_attributes: want an object, got null"},
		{"null required array", `"dependency_chain":[]`, `"dependency_chain":null`, "dependency_chain: want an array of event ids, got null"},
		{"optional absent", `"port":"out",`, ``, ""},
		{"unknown field", `"actor_id":"sensor"`, `"actor_id":"sensor","extra":{"a":[1,2.5,null,true]}`, ""},
		{"duplicate field", `"actor_id":"sensor"`, `"actor_id":"sensor","actor_id":"x"`, `duplicate field "actor_id"`},
		{"bad uuid", `"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60"`, `"trace_id":"6f1c2a4e1b7d4c398f1e2a9d3c4b5e60"`, "RecordEvent.trace_id: want a hyphenated UUID"},
		{"uppercase uuid", `"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60"`, `"trace_id":"6F1C2A4E-1B7D-4C39-8F1E-2A9D3C4B5E60"`, ""},
		{"bad timestamp", `"2026-11-26T10:30:00.500Z"`, `"2026-11-26 10:30"`, "event.timestamp: want an RFC 3339 timestamp"},
		{"timestamp with offset", `"2026-11-26T10:30:00.500Z"`, `"2026-11-26T11:30:00.5+01:00"`, ""},
		{"timestamp no fraction", `"2026-11-26T10:30:00.500Z"`, `"2026-11-26T10:30:00Z"`, ""},
		{"timestamp bad day", `"2026-11-26T10:30:00.500Z"`, `"2026-02-30T10:30:00Z"`, "want an RFC 3339 timestamp"},
		{"unknown event type", `{"DataFlow":{"to_actor":"validator","to_port":"in"}}`, `"Exploded"`, `unknown event type variant "Exploded"`},
		{"custom event type", `{"DataFlow":{"to_actor":"validator","to_port":"in"}}`, `{"Custom":"cp"}`, ""},
		{"unit variant as object", `{"DataFlow":{"to_actor":"validator","to_port":"in"}}`, `{"ActorCreated":null}`, ""},
		{"data flow as string", `{"DataFlow":{"to_actor":"validator","to_port":"in"}}`, `"DataFlow"`, `variant "DataFlow" needs content`},
		{"two tags", `{"DataFlow":{"to_actor":"validator","to_port":"in"}}`, `{"DataFlow":{"to_actor":"v","to_port":"i"},"ActorCreated":null}`, "with one key"},
		{"wrong tag case", `{"RecordEvent"`, `{"recordEvent"`, `unknown request variant "recordEvent"`},
		{"trailing data", `}}}}`, `}}}} x`, "trailing characters"},
		{"trailing whitespace", `}}}}`, "}}}} \n\t", ""},
		{"truncated", `"span_id":"a1b2c3d4e5f60718"}}}}`, `"span_id":"a1b2c3d4e5f60718"}`, "want ',' or '}'"},
		{"control character", `"actor_id":"sensor"`, "\"actor_id\":\"sen\x01sor\"", "control character"},
		{"invalid UTF-8", `"actor_id":"sensor"`, "\"actor_id\":\"sen\xffsor\"", "invalid UTF-8"},
		{"lone surrogate", `"actor_id":"sensor"`, `"actor_id":"sen\ud800sor"`, "lone surrogate"},
		{"surrogate pair", `"actor_id":"sensor"`, `"actor_id":"\ud83d\ude00"`, ""},
		{"escaped key", `"actor_id":"sensor"`, `"actor\u005fid":"sensor"`, ""},
		{"bad escape", `"actor_id":"sensor"`, `"actor_id":"\x"`, "invalid escape"},
		{"deep attribute ok", `"custom_attributes":{}`, `"custom_attributes":{"a":` + nest(122) + `}`, ""},
		{"deep attribute too deep", `"custom_attributes":{}`, `"custom_attributes":{"a":` + nest(123) + `}`, "nesting deeper than 127 levels"},
		{"deep unknown field too deep", `"actor_id":"sensor"`, `"actor_id":"sensor","x":` + nest(200), "nesting deeper than 127 levels"},
		{"leading zero", `"queue_depth":3`, `"queue_depth":03`, "want ',' or '}'"},
		{"bad number", `"cpu_usage_percent":0.0`, `"cpu_usage_percent":1.`, "invalid number"},
		{"state diff", `"state_diff":null`, `"state_diff":{"after":[1],"diff_type":"MemoryOnly"}`, ""},
		{"state diff bad type", `"state_diff":null`, `"state_diff":{"before":null,"after":[1],"diff_type":"Partial"}`, `unknown diff type variant "Partial"`},
		{"state diff missing after", `"state_diff":null`, `"state_diff":{"before":[1],"diff_type":"Full"}`, `state_diff: missing field "after"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRequest(exampleWith(t, tc.old, tc.new))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("accepted, want error %q", tc.wantErr)
			case err != nil && (!errors.Is(err, tracing.ErrMalformed) || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %q, want it to wrap ErrMalformed and contain %q", err, tc.wantErr)
			}
		})
	}
}

// exampleMetrics is the content of the performance_metrics object of
// testdata/protocol_example.json.
const exampleMetrics = "\n \"execution_time_ns\":1500,\"memory_usage_bytes\":0,\"cpu_usage_percent\":0.0,\"queue_depth\":3,\n \"throughput_msgs_per_sec\":0.0"

// TestDecodeMetricsForms checks how each form of PerformanceMetrics reads:
// a number is measured, null and absent are not.
func TestDecodeMetricsForms(t *testing.T) {
	all := exampleMetrics
	tests := []struct {
		name string
		body string
		want tracing.PerformanceMetrics
	}{
		{"generation 1", all, tracing.PerformanceMetrics{ExecutionTimeNs: 1500, QueueDepth: 3}},
		{"spaces", ` "queue_depth" : 3 , "cpu_usage_percent" : null `, tracing.PerformanceMetrics{QueueDepth: 3, Unmeasured: tracing.AllMetricFields &^ tracing.MetricQueueDepth}},
		{"empty", ``, tracing.PerformanceMetrics{Unmeasured: tracing.AllMetricFields}},
		{"nulls", `"execution_time_ns":1500,"memory_usage_bytes":null,"cpu_usage_percent":null,"queue_depth":0,"throughput_msgs_per_sec":null`,
			tracing.PerformanceMetrics{ExecutionTimeNs: 1500, Unmeasured: tracing.MetricMemoryUsageBytes | tracing.MetricCPUUsagePercent | tracing.MetricThroughputMsgsPerSec}},
		{"some absent", `"cpu_usage_percent":2.5,"queue_depth":null`,
			tracing.PerformanceMetrics{CPUUsagePercent: 2.5, Unmeasured: tracing.MetricExecutionTimeNs | tracing.MetricMemoryUsageBytes | tracing.MetricQueueDepth | tracing.MetricThroughputMsgsPerSec}},
		{"all null", `"execution_time_ns":null,"memory_usage_bytes":null,"cpu_usage_percent":null,"queue_depth":null,"throughput_msgs_per_sec":null`,
			tracing.PerformanceMetrics{Unmeasured: tracing.AllMetricFields}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := DecodeRequest(exampleWith(t, all, tc.body))
			if err != nil {
				t.Fatal(err)
			}
			got := req.(RecordEvent).Event.Data.PerformanceMetrics
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			var p tracing.PerformanceMetrics
			if err := Unmarshal([]byte("{"+tc.body+"}"), &p); err != nil || p != tc.want {
				t.Fatalf("UnmarshalJSON: %+v, %v, want %+v", p, err, tc.want)
			}
		})
	}
}

// TestDecodeSnapshotForms checks the generation-2 MessageSnapshot fields
// and the absent serialized_data.
func TestDecodeSnapshotForms(t *testing.T) {
	tests := []struct {
		in   string
		want tracing.MessageSnapshot
	}{
		{`{"message_type":"m","size_bytes":1,"checksum":"","serialized_data":[]}`, tracing.MessageSnapshot{MessageType: "m", SizeBytes: 1, SerializedData: []byte{}}},
		{`{"message_type":"m","size_bytes":1,"checksum":""}`, tracing.MessageSnapshot{MessageType: "m", SizeBytes: 1}},
		{`{"message_type":"m","size_bytes":1,"checksum":"c","serialized_data":[104,105],"content_codec":"none","content_format_version":0,"stored_bytes":null}`,
			tracing.MessageSnapshot{MessageType: "m", SizeBytes: 1, Checksum: "c", SerializedData: []byte("hi"), ContentCodec: "none"}},
		{`{"stored_bytes":0,"content_format_version":3,"content_codec":"zstd","message_type":"m","size_bytes":1,"checksum":""}`,
			tracing.MessageSnapshot{MessageType: "m", SizeBytes: 1, ContentCodec: "zstd", ContentFormatVersion: 3, HasStoredBytes: true}},
	}
	for _, tc := range tests {
		var m tracing.MessageSnapshot
		if err := Unmarshal([]byte(tc.in), &m); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if !reflect.DeepEqual(m, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.in, m, tc.want)
		}
	}
}

// TestDecodeTimestamps checks that a reply holding the timestamp forms the
// server's date library writes beyond RFC 3339's, leap seconds and signed
// years, decodes.
func TestDecodeTimestamps(t *testing.T) {
	// A whole reply with such timestamps decodes.
	trace := string(new(Encoder).AppendFlowTrace(nil, wirePtr(wireTrace(tracing.KindActorStarted))))
	trace = strings.Replace(trace, `"start_time":"2026-11-26T10:29:59.123456789Z"`, `"start_time":"2016-12-31T23:59:60.25Z"`, 1)
	trace = strings.Replace(trace, `"timestamp":"2026-11-26T10:30:00.500Z"`, `"timestamp":"+10000-01-01T00:00:00Z"`, 1)
	trace = strings.Replace(trace, `"end_time":null`, `"end_time":"-0001-12-31T23:59:59Z"`, 1)
	resp, err := DecodeResponse([]byte(`{"TraceData":{"trace":` + trace + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	tr := resp.(TraceData).Trace
	if !tr.StartTime.Equal(time.Date(2017, 1, 1, 0, 0, 0, 25e7, time.UTC)) || tr.Events[0].Timestamp.Year() != 10000 || tr.EndTime.Year() != -1 {
		t.Fatalf("times = %v, %v, %v", tr.StartTime, tr.Events[0].Timestamp, tr.EndTime)
	}
}

func TestDecodeRequestShapes(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    TracingRequest
		wantErr string
	}{
		{"ping", `"Ping"`, Ping{}, ""},
		{"ping with spaces", " \n\"Ping\"\t", Ping{}, ""},
		{"ping as object", `{"Ping":null}`, Ping{}, ""},
		{"ping with content", `{"Ping":{}}`, nil, `variant "Ping" takes no content`},
		{"unsubscribe", `"Unsubscribe"`, Unsubscribe{}, ""},
		{"get metrics", `"GetMetrics"`, GetMetrics{}, ""},
		{"get trace", `{"GetTrace":{"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60"}}`, GetTrace{TraceID: wireTraceID}, ""},
		{"get trace missing id", `{"GetTrace":{}}`, nil, `GetTrace: missing field "trace_id"`},
		{"get trace request id", `{"GetTrace":{"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60","request_id":"11111111-2222-4333-8444-555555555555"}}`,
			GetTrace{TraceID: wireTraceID, RequestID: wireRequestID}, ""},
		// A null or non-UUID request_id sends the request down the legacy
		// path of a generation-2 server: read, without a request id.
		{"get trace null request id", `{"GetTrace":{"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60","request_id":null}}`, GetTrace{TraceID: wireTraceID}, ""},
		{"get trace bad request id", `{"GetTrace":{"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60","request_id":"r-1"}}`, GetTrace{TraceID: wireTraceID}, ""},
		{"get trace number request id", `{"GetTrace":{"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60","request_id":[7]}}`, GetTrace{TraceID: wireTraceID}, ""},
		{"get trace invalid request id", `{"GetTrace":{"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60","request_id":[7,]}}`, nil, "GetTrace.request_id"},
		{"get trace duplicate request id", `{"GetTrace":{"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60","request_id":null,"request_id":null}}`, nil, `duplicate field "request_id"`},
		{"query request id", `{"QueryTraces":{"query":{},"request_id":"11111111-2222-4333-8444-555555555555"}}`, QueryTraces{RequestID: wireRequestID}, ""},
		{"query null request id", `{"QueryTraces":{"query":{},"request_id":null}}`, QueryTraces{}, ""},
		{"start trace generation 1", `{"StartTrace":{"flow_id":"f","version":{"major":1,"minor":0,"patch":0,"timestamp":"2026-11-26T10:29:59.123456789Z"}}}`,
			StartTrace{FlowID: "f", Version: tracing.FlowVersion{Major: 1, Timestamp: wireStart}}, ""},
		{"start trace generation 2", `{"StartTrace":{"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60","flow_id":"f","version":{"major":1,"minor":0,"patch":0,"timestamp":"2026-11-26T10:29:59.123456789Z"}}}`,
			StartTrace{TraceID: wireTraceID, FlowID: "f", Version: tracing.FlowVersion{Major: 1, Timestamp: wireStart}}, ""},
		{"start trace null id", `{"StartTrace":{"trace_id":null,"flow_id":"f","version":{"major":1,"minor":0,"patch":0,"timestamp":"2026-11-26T10:30:00Z"}}}`, nil, "StartTrace.trace_id: want a string, got null"},
		{"start trace bad id", `{"StartTrace":{"trace_id":"t-1","flow_id":"f","version":{"major":1,"minor":0,"patch":0,"timestamp":"2026-11-26T10:30:00Z"}}}`, nil, "StartTrace.trace_id: want a hyphenated UUID"},
		{"start trace missing flow", `{"StartTrace":{"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60","version":{"major":1,"minor":0,"patch":0,"timestamp":"2026-11-26T10:30:00Z"}}}`, nil, `StartTrace: missing field "flow_id"`},
		{"end trace", `{"EndTrace":{"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60","status":"Completed"}}`, EndTrace{TraceID: wireTraceID, Status: tracing.ExecutionStatus{Kind: tracing.StatusCompleted}}, ""},
		{"end trace failed", `{"EndTrace":{"status":{"Failed":{"error":"x"}},"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60"}}`, EndTrace{TraceID: wireTraceID, Status: tracing.FailedStatus("x")}, ""},
		{"end trace missing status", `{"EndTrace":{"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60"}}`, nil, `EndTrace: missing field "status"`},
		{"end trace null id", `{"EndTrace":{"trace_id":null,"status":"Completed"}}`, nil, "EndTrace.trace_id: want a string, got null"},
		{"end trace bad status", `{"EndTrace":{"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60","status":"Done"}}`, nil, `EndTrace.status: unknown execution status variant "Done"`},
		{"end trace as string", `"EndTrace"`, nil, `variant "EndTrace" needs content`},
		{"query all null", `{"QueryTraces":{"query":{}}}`, QueryTraces{}, ""},
		{"query bad range", `{"QueryTraces":{"query":{"time_range":["2026-11-26T10:30:00Z"]}}}`, nil, "QueryTraces.query.time_range: want two timestamps, got 1"},
		{"query limit", `{"QueryTraces":{"query":{"limit":5,"status":{"Failed":{"error":"x"}}}}}`, nil, ""},
		{"legacy subscribe", `{"Subscribe":{"filter":{"actor_ids":["a"]}}}`, Subscribe{Filters: SubscriptionFilters{ActorIDs: []string{"a"}}, Legacy: true}, ""},
		{"subscribe prefers filters", `{"Subscribe":{"filters":{"actor_ids":["b"]},"filter":{"actor_ids":["a"]}}}`, Subscribe{Filters: SubscriptionFilters{ActorIDs: []string{"b"}}}, ""},
		{"subscribe without filters", `{"Subscribe":{}}`, nil, `Subscribe: missing field "filters"`},
		{"subscribe nulls", `{"Subscribe":{"filters":{"flow_ids":null,"actor_ids":null}}}`, Subscribe{}, ""},
		{"version too large", `{"StartTrace":{"flow_id":"f","version":{"major":4294967296,"minor":0,"patch":0,"timestamp":"2026-11-26T10:30:00Z"}}}`, nil, "StartTrace.version.major: integer 4294967296 out of range 0..4294967295"},
		{"empty", ``, nil, "want a request, got end of input"},
		{"empty object", `{}`, nil, "got an empty object"},
		{"array", `[]`, nil, "want a request, got an array"},
		{"a response", `"Pong"`, nil, `unknown request variant "Pong"`},
		{"failed status as string", `{"StoreTrace":{"trace":{"trace_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60","flow_id":"f","execution_id":"6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60","version":{"major":0,"minor":0,"patch":0,"timestamp":"2026-11-26T10:30:00Z"},"start_time":"2026-11-26T10:30:00Z","status":"Failed","events":[],"metadata":{"environment":"","hostname":"","process_id":0,"thread_id":"","tags":{}}}}}`, nil, `StoreTrace.trace.status: an execution status variant "Failed" needs content`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeRequest([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, tracing.ErrMalformed) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestDecodeResponseShapes(t *testing.T) {
	trace := string(new(Encoder).AppendFlowTrace(nil, wirePtr(wireTrace())))
	tests := []struct {
		name    string
		in      string
		want    TracingResponse
		wantErr string
	}{
		{"error with code", `{"Error":{"message":"gone","code":"NotFound"}}`, ErrorResponse{Message: "gone", Code: CodeNotFound}, ""},
		{"legacy error", `{"Error":{"message":"Invalid message format"}}`, ErrorResponse{Message: "Invalid message format"}, ""},
		{"error null code", `{"Error":{"message":"m","code":null}}`, ErrorResponse{Message: "m"}, ""},
		{"error unknown code", `{"Error":{"message":"m","code":"Teapot"}}`, ErrorResponse{Message: "m"}, ""},
		{"error missing message", `{"Error":{"code":"NotFound"}}`, nil, `Error: missing field "message"`},
		{"trace data null", `{"TraceData":{"trace":null}}`, TraceData{}, ""},
		{"trace data request id", `{"TraceData":{"request_id":"11111111-2222-4333-8444-555555555555","trace":null}}`, TraceData{RequestID: wireRequestID}, ""},
		{"trace data null request id", `{"TraceData":{"request_id":null,"trace":null}}`, TraceData{}, ""},
		{"trace data bad request id", `{"TraceData":{"request_id":"r-1","trace":null}}`, nil, "TraceData.request_id: want a hyphenated UUID"},
		{"query results request id", `{"QueryResults":{"request_id":"11111111-2222-4333-8444-555555555555","traces":[],"total_count":0}}`, QueryResults{Traces: []tracing.FlowTrace{}, RequestID: wireRequestID}, ""},
		{"query results null request id", `{"QueryResults":{"traces":[],"total_count":0,"request_id":null}}`, QueryResults{Traces: []tracing.FlowTrace{}}, ""},
		{"traces found ignores request id", `{"TracesFound":{"traces":[],"request_id":7}}`, TracesFound{Traces: []tracing.FlowTrace{}}, ""},
		{"legacy trace not found", `{"Error":{"message":"Trace not found: 6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60"}}`, ErrorResponse{Message: "Trace not found: 6f1c2a4e-1b7d-4c39-8f1e-2a9d3c4b5e60"}, ""},
		{"trace data legacy", `{"TraceData":{"trace":` + trace + `}}`, TraceData{Trace: wirePtr(wireTrace())}, ""},
		{"event recorded", `{"EventRecorded":{"success":true,"error":null}}`, EventRecorded{Success: true}, ""},
		{"event recorded no error field", `{"EventRecorded":{"success":false}}`, EventRecorded{}, ""},
		{"event recorded bad success", `{"EventRecorded":{"success":1}}`, nil, "EventRecorded.success: want a boolean, got 1"},
		{"pong", `"Pong"`, Pong{}, ""},
		{"metrics", `{"Metrics":{"data":{"a": [1, 2]} }}`, Metrics{Data: json.RawMessage(`{"a": [1, 2]}`)}, ""},
		{"query results missing count", `{"QueryResults":{"traces":[]}}`, nil, `missing field "total_count"`},
		{"traces found", `{"TracesFound":{"traces":[]}}`, TracesFound{Traces: []tracing.FlowTrace{}}, ""},
		{"a request", `"Ping"`, nil, `unknown response variant "Ping"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeResponse([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, tracing.ErrMalformed) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var e Encoder
			if g, w := e.AppendResponse(nil, got), e.AppendResponse(nil, tc.want); !bytes.Equal(g, w) {
				t.Fatalf("got %s, want %s", g, w)
			}
		})
	}
}

func wirePtr[T any](v T) *T { return &v }

// frameAlgorithms are the algorithms a Reflow server compresses with.
var frameAlgorithms = []compress.Algorithm{compress.Zstd, compress.LZ4, compress.Gzip, compress.Brotli}

// replyFrame compresses msg as a server with a replies.
func replyFrame(t testing.TB, a compress.Algorithm, msg []byte) []byte {
	t.Helper()
	c, err := compress.NewCodec(a)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.AppendReply(nil, msg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeResponseFrame(t *testing.T) {
	var e Encoder
	long := e.AppendResponse(nil, QueryResults{Traces: []tracing.FlowTrace{wireTrace(tracing.KindDataFlow, tracing.KindActorFailed)}, TotalCount: 1})
	short := e.AppendResponse(nil, EventRecorded{Success: true})
	lz4, err := compress.NewCodec(compress.LZ4)
	if err != nil {
		t.Fatal(err)
	}
	prefixed, err := lz4.AppendRequest(nil, long)
	if err != nil {
		t.Fatal(err)
	}
	type frameCase struct {
		name    string
		binary  bool
		data    []byte
		want    []byte
		wantErr error
	}
	tests := []frameCase{
		{"text", false, short, short, nil},
		{"lz4 prefixed block", true, prefixed, long, nil},
		{"corrupt lz4 block", true, []byte{0xf0, 1, 2}, nil, compress.ErrCorrupt},
		{"empty binary", true, nil, nil, tracing.ErrMalformed},
		{"text sent as binary", true, short, nil, tracing.ErrMalformed},
		{"binary sent as text", false, replyFrame(t, compress.LZ4, long), nil, tracing.ErrMalformed},
		{"truncated zstd", true, replyFrame(t, compress.Zstd, long)[:20], nil, compress.ErrCorrupt},
		{"truncated gzip", true, replyFrame(t, compress.Gzip, long)[:20], nil, compress.ErrCorrupt},
	}
	for _, a := range frameAlgorithms {
		tests = append(tests,
			frameCase{a.String() + " reply", true, replyFrame(t, a, long), long, nil},
			frameCase{a.String() + " short reply", true, replyFrame(t, a, short), short, nil},
			// Decompresses, but not to a message.
			frameCase{a.String() + " of a non-message", true, replyFrame(t, a, []byte(`{"Nope":1}`)), nil, tracing.ErrMalformed},
		)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeResponseFrame(tc.binary, tc.data)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !errors.Is(err, tracing.ErrMalformed) {
					t.Fatalf("error %v, want %v and ErrMalformed", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if again := e.AppendResponse(nil, got); !bytes.Equal(again, tc.want) {
				t.Fatalf("got %s, want %s", again, tc.want)
			}
		})
	}
}

// TestDecodeResponseFrameTranscripts decodes every binary reply of Reflow's
// own server, both generations, every algorithm, to what the transcript
// says the reply holds, in any order of algorithms (the pooled decoders
// remember the last one).
func TestDecodeResponseFrameTranscripts(t *testing.T) {
	type reply struct {
		name string
		raw  []byte
		want TracingResponse
	}
	var replies []reply
	perAlg := map[string]int{}
	for name, steps := range readTranscripts(t) {
		for _, s := range steps {
			if s.ReplyKind != "binary" {
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(s.ReplyB64)
			if err != nil {
				t.Fatalf("%s %s: %v", name, s.Step, err)
			}
			want, err := DecodeResponse([]byte(s.Reply))
			if err != nil {
				t.Fatalf("%s %s: reply JSON rejected: %v", name, s.Step, err)
			}
			replies = append(replies, reply{name + "/" + s.Step, raw, want})
			perAlg[name[strings.IndexByte(name, '-')+1:]]++
		}
	}
	for _, a := range frameAlgorithms {
		if perAlg[a.String()] == 0 {
			t.Fatalf("no binary %s reply in the transcripts", a)
		}
	}
	if perAlg["none"] != 0 {
		t.Fatalf("%d binary replies from a server without compression", perAlg["none"])
	}
	// Twice, the second time in reverse, so that each algorithm follows
	// every other one.
	for round := range 2 {
		for i := range replies {
			r := replies[i]
			if round == 1 {
				r = replies[len(replies)-1-i]
			}
			got, err := DecodeResponseFrame(true, r.raw)
			if err != nil {
				t.Fatalf("%s: binary reply rejected: %v", r.name, err)
			}
			if !reflect.DeepEqual(got, r.want) {
				t.Fatalf("%s: binary reply decodes to %#v, its JSON to %#v", r.name, got, r.want)
			}
		}
	}
}

// bigErrorReply returns an Error reply of n bytes or a few more.
func bigErrorReply(n int) []byte {
	msg := []byte(`{"Error":{"message":"`)
	for i := 0; len(msg) < n; i++ {
		msg = strconv.AppendInt(append(msg, " event "...), int64(i), 10)
	}
	return append(msg, `","code":"InternalError"}}`...)
}

// TestDecodeResponseFrameLarge decodes a reply over the protocol's 16 MiB
// in every algorithm, as a Reflow server sends a large QueryResults.
func TestDecodeResponseFrameLarge(t *testing.T) {
	msg := bigErrorReply(17 << 20)
	for _, a := range frameAlgorithms {
		t.Run(a.String(), func(t *testing.T) {
			got, err := DecodeResponseFrame(true, replyFrame(t, a, msg))
			if err != nil {
				t.Fatal(err)
			}
			e, ok := got.(ErrorResponse)
			if !ok || len(e.Message) != len(msg)-len(`{"Error":{"message":""`)-len(`,"code":"InternalError"}}`) || e.Code != "InternalError" {
				t.Fatalf("got a %T of %d bytes", got, len(e.Message))
			}
		})
	}
}

// TestDecodeResponseFrameTooLarge checks that a frame decoding to more than
// 64 MiB is refused, lz4 (whose replies carry no size) and zstd.
func TestDecodeResponseFrameTooLarge(t *testing.T) {
	data := make([]byte, compress.MaxMessageSize+1)
	copy(data, `{"Error":{"message":"`)
	block := make([]byte, lz4.CompressBlockBound(len(data)))
	n, err := lz4.CompressBlock(data, block, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	zframe := enc.EncodeAll(data, nil)
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	for name, frame := range map[string][]byte{"lz4": block[:n], "zstd": zframe} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeResponseFrame(true, frame)
			if !errors.Is(err, compress.ErrTooLarge) || !errors.Is(err, tracing.ErrMalformed) {
				t.Fatalf("error %v, want ErrTooLarge and ErrMalformed", err)
			}
		})
	}
}

// TestDecodeResponseFrameOtherLZ4Encoders reads raw blocks written by
// other lz4 encoders than the SDK's: the fast, high-compression and
// C-compatible ones.
func TestDecodeResponseFrameOtherLZ4Encoders(t *testing.T) {
	var e Encoder
	traces := make([]tracing.FlowTrace, 40)
	for i := range traces {
		traces[i] = wireTrace(tracing.KindDataFlow, tracing.KindActorFailed, tracing.KindMessageSent)
	}
	msg := e.AppendResponse(nil, QueryResults{Traces: traces, TotalCount: uint64(len(traces))})
	tests := []struct {
		name     string
		compress func(src, dst []byte) (int, error)
	}{
		{name: "CompressBlock", compress: func(src, dst []byte) (int, error) { return lz4.CompressBlock(src, dst, nil) }},
		{name: "CompressorHC", compress: (&lz4.CompressorHC{Level: lz4.Level9}).CompressBlock},
		{name: "CompressorCCompat", compress: (&lz4.CompressorCCompat{}).CompressBlock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			block := make([]byte, lz4.CompressBlockBound(len(msg)))
			n, err := tt.compress(msg, block)
			if err != nil || n == 0 {
				t.Fatalf("compress = %d, %v", n, err)
			}
			for _, frame := range [][]byte{block[:n], append(binary.LittleEndian.AppendUint32(nil, uint32(len(msg))), block[:n]...)} {
				got, err := DecodeResponseFrame(true, frame)
				if err != nil {
					t.Fatal(err)
				}
				if again := e.AppendResponse(nil, got); !bytes.Equal(again, msg) {
					t.Fatalf("decodes to %d bytes of JSON, want the original %d", len(again), len(msg))
				}
			}
		})
	}
}

// TestDecodeResponseFrameCorruptLZ4 feeds hand-made broken lz4 blocks, raw
// and size-prefixed, each breaking one rule of the block format.
func TestDecodeResponseFrameCorruptLZ4(t *testing.T) {
	prefixed := func(size uint32, block ...byte) []byte {
		return append(binary.LittleEndian.AppendUint32(nil, size), block...)
	}
	// valid is `{"a"` then a match of 8 copying it twice: 12 bytes, not
	// a message.
	valid := []byte{0x44, '{', '"', 'a', '"', 0x04, 0x00, 0x00}
	tests := []struct {
		name string
		src  []byte
	}{
		{"valid block of a non-message", valid},
		{"prefixed block of a non-message", prefixed(12, valid...)},
		{"declared size too big", prefixed(13, valid...)},
		{"declared size too small", prefixed(11, valid...)},
		{"declared size over 64 MiB", prefixed(compress.MaxMessageSize+1, valid...)},
		{"declared size max uint32", prefixed(1<<32-1, valid...)},
		{"size but no block", prefixed(5)},
		{"truncated literals", valid[:3]},
		{"truncated offset", valid[:6]},
		{"ends where an offset is due", valid[:5]},
		{"zero offset", []byte{0x44, '{', '"', 'a', '"', 0x00, 0x00, 0x00}},
		{"offset before the output", []byte{0x44, '{', '"', 'a', '"', 0x05, 0x00, 0x00}},
		{"match first", []byte{0x00, 0x01, 0x00}},
		{"truncated length bytes", []byte{0xF0, 0xFF}},
		{"match length bytes truncated", []byte{0x1F, '{', 0x01, 0x00, 0xFF}},
		{"empty literal-only sequence", []byte{0x00}},
		{"garbage", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeResponseFrame(true, tt.src)
			if err == nil || got != nil || !errors.Is(err, tracing.ErrMalformed) {
				t.Fatalf("DecodeResponseFrame = %v, %v; want ErrMalformed", got, err)
			}
		})
	}
}

// TestDecodeResponseFrameErrorIsStable checks that a frame no algorithm
// decodes gets the same error whichever algorithm the pooled decoders
// used last.
func TestDecodeResponseFrameErrorIsStable(t *testing.T) {
	var e Encoder
	msg := e.AppendResponse(nil, QueryResults{Traces: []tracing.FlowTrace{wireTrace(tracing.KindDataFlow)}, TotalCount: 1})
	bad := []byte{0xF0, 0xFF}
	var first string
	for _, a := range append(frameAlgorithms, compress.LZ4, compress.Brotli) {
		if _, err := DecodeResponseFrame(true, replyFrame(t, a, msg)); err != nil {
			t.Fatal(err)
		}
		_, err := DecodeResponseFrame(true, bad)
		if err == nil {
			t.Fatal("a broken frame decoded")
		}
		if first == "" {
			first = err.Error()
		} else if err.Error() != first {
			t.Fatalf("after a %s reply: error %q, before %q", a, err, first)
		}
	}
}

func TestDecodeNeverPanicsOnTruncation(t *testing.T) {
	var e Encoder
	for _, tc := range wireRequests() {
		data := e.AppendRequest(nil, tc.req)
		for i := range data {
			if _, err := DecodeRequest(data[:i]); err == nil {
				t.Fatalf("%s: accepted the first %d bytes", tc.name, i)
			}
		}
	}
	for _, tc := range wireResponses() {
		data := e.AppendResponse(nil, tc.resp)
		for i := range data {
			if _, err := DecodeResponse(data[:i]); err == nil {
				t.Fatalf("%s: accepted the first %d bytes", tc.name, i)
			}
		}
	}
}

func TestDecodeDuplicateAttributeKeys(t *testing.T) {
	tests := []struct {
		name  string
		n     int // distinct keys
		total int // members written
	}{
		{"inline", 3, 6},
		{"overflow", 10, 20},
		{"large", 100, 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("{")
			for i := range tc.total {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(`"k` + strconv.Itoa(i%tc.n) + `":` + strconv.Itoa(i))
			}
			b.WriteString("}")
			var as attr.Set
			if err := Unmarshal([]byte(b.String()), &as); err != nil {
				t.Fatal(err)
			}
			if as.Len() != tc.n {
				t.Fatalf("Len = %d, want %d", as.Len(), tc.n)
			}
			for i := range tc.n {
				a := as.At(i)
				if a.Key != "k"+strconv.Itoa(i) || a.Value.Int() != int64(tc.total-tc.n+i) {
					t.Fatalf("attribute %d = %v", i, a)
				}
			}
			var v attr.Value
			if err := Unmarshal([]byte(b.String()), &v); err != nil {
				t.Fatal(err)
			}
			if len(v.Object()) != tc.n || v.Object()[0].Value.Int() != int64(tc.total-tc.n) {
				t.Fatalf("object = %v", v)
			}
		})
	}
}
