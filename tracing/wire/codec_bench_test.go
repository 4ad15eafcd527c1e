package wire

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// The encoding_json side of these benchmarks marshals plain structs with
// json tags and map[string]any attributes, the way a straightforward client
// would, already built (their construction is not measured).

type plainEvent struct {
	EventID   string         `json:"event_id"`
	Timestamp time.Time      `json:"timestamp"`
	EventType any            `json:"event_type"`
	ActorID   string         `json:"actor_id"`
	Data      plainData      `json:"data"`
	Causality plainCausality `json:"causality"`
}

type plainData struct {
	Port               *string          `json:"port"`
	Message            *plainMessage    `json:"message"`
	StateDiff          *plainStateDiff  `json:"state_diff"`
	Error              *string          `json:"error"`
	PerformanceMetrics plainPerformance `json:"performance_metrics"`
	CustomAttributes   map[string]any   `json:"custom_attributes"`
}

type plainMessage struct {
	MessageType    string `json:"message_type"`
	SizeBytes      uint64 `json:"size_bytes"`
	Checksum       string `json:"checksum"`
	SerializedData []int  `json:"serialized_data"`
}

type plainStateDiff struct {
	Before   []int  `json:"before"`
	After    []int  `json:"after"`
	DiffType string `json:"diff_type"`
}

type plainPerformance struct {
	ExecutionTimeNs      uint64  `json:"execution_time_ns"`
	MemoryUsageBytes     uint64  `json:"memory_usage_bytes"`
	CPUUsagePercent      float32 `json:"cpu_usage_percent"`
	QueueDepth           uint64  `json:"queue_depth"`
	ThroughputMsgsPerSec float64 `json:"throughput_msgs_per_sec"`
}

type plainCausality struct {
	ParentEventID    *string  `json:"parent_event_id"`
	RootCauseEventID string   `json:"root_cause_event_id"`
	DependencyChain  []string `json:"dependency_chain"`
	SpanID           string   `json:"span_id"`
}

type plainTrace struct {
	TraceID     string        `json:"trace_id"`
	FlowID      string        `json:"flow_id"`
	ExecutionID string        `json:"execution_id"`
	Version     plainVersion  `json:"version"`
	StartTime   time.Time     `json:"start_time"`
	EndTime     *time.Time    `json:"end_time"`
	Status      any           `json:"status"`
	Events      []plainEvent  `json:"events"`
	Metadata    plainMetadata `json:"metadata"`
}

type plainVersion struct {
	Major     uint32    `json:"major"`
	Minor     uint32    `json:"minor"`
	Patch     uint32    `json:"patch"`
	GitHash   *string   `json:"git_hash"`
	Timestamp time.Time `json:"timestamp"`
}

type plainMetadata struct {
	UserID      *string           `json:"user_id"`
	SessionID   *string           `json:"session_id"`
	Environment string            `json:"environment"`
	Hostname    string            `json:"hostname"`
	ProcessID   uint32            `json:"process_id"`
	ThreadID    string            `json:"thread_id"`
	Tags        map[string]string `json:"tags"`
}

// benchDataFlow is a data-flow event with three custom attributes.
func benchDataFlow() tracing.TraceEvent {
	ev := wireEvent(tracing.KindDataFlow)
	ev.Data.CustomAttributes.Add(attr.String("route", "sensor.out->validator.in"), attr.Int("hops", 3), attr.Float64("ratio", 0.25))
	return ev
}

func plainFromEvent(ev *tracing.TraceEvent) plainEvent {
	port := ev.Data.Port
	return plainEvent{
		EventID:   ev.EventID.String(),
		Timestamp: ev.Timestamp,
		EventType: map[string]any{"DataFlow": map[string]string{"to_actor": ev.Type.ToActor, "to_port": ev.Type.ToPort}},
		ActorID:   ev.ActorID,
		Data: plainData{
			Port:               &port,
			Message:            &plainMessage{MessageType: ev.Data.Message.MessageType, SizeBytes: ev.Data.Message.SizeBytes, SerializedData: []int{}},
			PerformanceMetrics: plainPerformance{ExecutionTimeNs: 1500, QueueDepth: 3},
			CustomAttributes:   map[string]any{"route": "sensor.out->validator.in", "hops": 3, "ratio": 0.25},
		},
		Causality: plainCausality{RootCauseEventID: ev.Causality.RootCauseEventID.String(), DependencyChain: []string{}, SpanID: ev.Causality.SpanID},
	}
}

func BenchmarkEncodeDataFlow(b *testing.B) {
	ev := benchDataFlow()
	b.Run("reflowtrace", func(b *testing.B) {
		var e Encoder
		buf := e.AppendRecordEvent(nil, wireTraceID, &ev)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			buf = e.AppendRecordEvent(buf[:0], wireTraceID, &ev)
		}
	})
	// The generation-2 form of an event whose metrics were partly not
	// measured: the slower path of the encoder.
	b.Run("reflowtrace_v2_unmeasured", func(b *testing.B) {
		ev := ev
		ev.Data.PerformanceMetrics.Unmeasured = tracing.MetricMemoryUsageBytes | tracing.MetricCPUUsagePercent
		e := Encoder{Protocol: transport.ProtocolV2}
		buf := e.AppendRecordEvent(nil, wireTraceID, &ev)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			buf = e.AppendRecordEvent(buf[:0], wireTraceID, &ev)
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		msg := map[string]any{"RecordEvent": map[string]any{"trace_id": wireTraceID.String(), "event": plainFromEvent(&ev)}}
		out, err := json.Marshal(msg)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
		b.ReportAllocs()
		for b.Loop() {
			out, _ = json.Marshal(msg)
		}
		_ = out
	})
}

func bench512() (tracing.FlowTrace, []tracing.TraceEvent) {
	tr := wireTrace()
	events := make([]tracing.TraceEvent, 512)
	for i := range events {
		events[i] = benchDataFlow()
		events[i].EventID[15] = byte(i)
		events[i].Timestamp = events[i].Timestamp.Add(time.Duration(i) * time.Microsecond)
	}
	return tr, events
}

func BenchmarkEncodeStoreTrace512(b *testing.B) {
	tr, events := bench512()
	b.Run("reflowtrace", func(b *testing.B) {
		var e Encoder
		buf := e.AppendStoreTrace(nil, &tr, events)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			buf = e.AppendStoreTrace(buf[:0], &tr, events)
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		gitHash, user := tr.Version.GitHash, tr.Metadata.UserID
		pt := plainTrace{
			TraceID: tr.TraceID.String(), FlowID: string(tr.FlowID), ExecutionID: tr.ExecutionID.String(),
			Version:   plainVersion{Major: 1, Minor: 2, Patch: 3, GitHash: &gitHash, Timestamp: tr.Version.Timestamp},
			StartTime: tr.StartTime, Status: "Running",
			Metadata: plainMetadata{UserID: &user, Environment: "test", Hostname: "host", ProcessID: 4242, ThreadID: "main", Tags: tr.Metadata.Tags},
		}
		for i := range events {
			pt.Events = append(pt.Events, plainFromEvent(&events[i]))
		}
		msg := map[string]any{"StoreTrace": map[string]any{"trace": pt}}
		out, err := json.Marshal(msg)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
		b.ReportAllocs()
		for b.Loop() {
			out, _ = json.Marshal(msg)
		}
		_ = out
	})
}

// BenchmarkDecodeStoreTrace512 measures what a compatible server spends
// reading one batch.
func BenchmarkDecodeStoreTrace512(b *testing.B) {
	tr, events := bench512()
	var e Encoder
	data := e.AppendStoreTrace(nil, &tr, events)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRequest(data); err != nil {
			b.Fatal(err)
		}
	}
}
