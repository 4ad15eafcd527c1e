package otlp

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// ScopeName is the instrumentation scope of every span a Sink exports.
const ScopeName = "github.com/reflowtrace/reflowtrace-go/sink/otlp"

// The attribute keys of the exported spans (see the package documentation).
const (
	AttrActorID         = "reflow.actor_id"
	AttrEventType       = "reflow.event_type"
	AttrEventID         = "reflow.event_id"
	AttrCustomName      = "reflow.custom_name"
	AttrPort            = "reflow.port"
	AttrToActor         = "reflow.to_actor"
	AttrToPort          = "reflow.to_port"
	AttrMessageType     = "reflow.message.type"
	AttrMessageSize     = "reflow.message.size_bytes"
	AttrMessageChecksum = "reflow.message.checksum"
	AttrError           = "reflow.error"
	AttrStateDiffType   = "reflow.state.diff_type"
	AttrRootCause       = "reflow.root_cause_event_id"
	AttrSpanID          = "reflow.span_id"
	AttrMemoryUsage     = "reflow.memory_usage_bytes"
	AttrCPUUsage        = "reflow.cpu_usage_percent"
	AttrQueueDepth      = "reflow.queue_depth"
	AttrThroughput      = "reflow.throughput_msgs_per_sec"
	AttrCustomPrefix    = "reflow.attr."

	AttrTraceID     = "reflow.trace_id"
	AttrFlowID      = "reflow.flow_id"
	AttrExecutionID = "reflow.execution_id"
	AttrFlowVersion = "reflow.flow_version"
	AttrGitHash     = "reflow.flow_version.git_hash"
	AttrStatus      = "reflow.status"
	AttrEnvironment = "reflow.environment"
	AttrHostname    = "reflow.hostname"
	AttrProcessID   = "reflow.process_id"
	AttrUserID      = "reflow.user_id"
	AttrSessionID   = "reflow.session_id"
	AttrTagPrefix   = "reflow.tag."
)

// TraceIDOf returns the OpenTelemetry trace id of the events of trace id:
// its 16 bytes. The zero TraceID has none (it is not a valid W3C id); the
// Sink exports its events under a trace id of its own.
func TraceIDOf(id tracing.TraceID) trace.TraceID { return trace.TraceID(id) }

// SpanIDOf returns the span id of the event with id: tracing.EventID.SpanID,
// its last 8 bytes, the 16 hex digits Reflow's span_id carries by default
// and the parent id package propagation writes into traceparent. If those
// are zero it is the first 8 bytes, and if the whole id is zero, 1: never
// the invalid zero span id.
func SpanIDOf(id tracing.EventID) trace.SpanID { return trace.SpanID(id.SpanID()) }

// RootSpanIDOf returns the span id of the root span of trace id:
// tracing.TraceID.RootSpanID, derived as SpanIDOf derives an event's, so
// that every event's parent is known from the event alone. Package
// propagation writes the same id into traceparent for a context that
// carries the trace but no cause, so that an OpenTelemetry service called
// there becomes a child of this root span.
func RootSpanIDOf(id tracing.TraceID) trace.SpanID { return trace.SpanID(id.RootSpanID()) }

// traceInfo is what a Sink knows of one trace.
type traceInfo struct {
	id       tracing.TraceID
	otelID   trace.TraceID
	trace    tracing.FlowTrace // Events nil
	observed bool              // trace came from ObserveTrace
	joined   bool              // this process joined the trace: its root is another's
	ended    bool              // the trace ended (EndTime set)
	exported bool              // its root span went out (or is pending), or must not
	first    time.Time         // earliest event start seen
	last     time.Time         // latest event end seen
	prev     *traceInfo        // LRU order, most recent at the head
	next     *traceInfo
}

// see widens the trace's time range to cover [start, end].
func (t *traceInfo) see(start, end time.Time) {
	if t.first.IsZero() || start.Before(t.first) {
		t.first = start
	}
	if end.After(t.last) {
		t.last = end
	}
}

type mapper struct {
	res   *resource.Resource
	scope instrumentation.Scope
}

func sampledContext(tid trace.TraceID, sid trace.SpanID) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
}

// eventSpan maps one event of trace t (nil when the event has no trace the
// Sink knows, which cannot happen: Write registers every trace).
func (m *mapper) eventSpan(ev *tracing.TraceEvent, t *traceInfo) sdktrace.ReadOnlySpan {
	sid := SpanIDOf(ev.EventID)
	parent := RootSpanIDOf(t.id)
	if !ev.Causality.ParentEventID.IsZero() {
		parent = SpanIDOf(ev.Causality.ParentEventID)
	}
	start, end := eventTimes(ev)
	attrs := make([]attribute.KeyValue, 0, 12+ev.Data.CustomAttributes.Len())
	attrs = append(attrs,
		attribute.String(AttrActorID, ev.ActorID),
		attribute.String(AttrEventType, ev.Type.Kind.String()),
		attribute.String(AttrEventID, ev.EventID.String()),
	)
	if t.observed {
		attrs = append(attrs,
			attribute.String(AttrFlowID, string(t.trace.FlowID)),
			attribute.String(AttrExecutionID, t.trace.ExecutionID.String()),
		)
	}
	switch ev.Type.Kind {
	case tracing.KindDataFlow:
		attrs = append(attrs, attribute.String(AttrToActor, ev.Type.ToActor), attribute.String(AttrToPort, ev.Type.ToPort))
	case tracing.KindCustom:
		attrs = append(attrs, attribute.String(AttrCustomName, ev.Type.Name))
	}
	d := &ev.Data
	if d.Port != "" {
		attrs = append(attrs, attribute.String(AttrPort, d.Port))
	}
	if d.HasMessage {
		attrs = append(attrs,
			attribute.String(AttrMessageType, d.Message.MessageType),
			attribute.Int64(AttrMessageSize, clampInt64(d.Message.SizeBytes)),
		)
		if d.Message.Checksum != "" {
			attrs = append(attrs, attribute.String(AttrMessageChecksum, d.Message.Checksum))
		}
	}
	if d.StateDiff.DiffType != 0 {
		attrs = append(attrs, attribute.String(AttrStateDiffType, d.StateDiff.DiffType.String()))
	}
	if d.Error != "" {
		attrs = append(attrs, attribute.String(AttrError, d.Error))
	}
	pm := &d.PerformanceMetrics
	if pm.Measured(tracing.MetricMemoryUsageBytes) && pm.MemoryUsageBytes != 0 {
		attrs = append(attrs, attribute.Int64(AttrMemoryUsage, clampInt64(pm.MemoryUsageBytes)))
	}
	if pm.Measured(tracing.MetricCPUUsagePercent) && pm.CPUUsagePercent != 0 {
		attrs = append(attrs, attribute.Float64(AttrCPUUsage, pm.CPUUsagePercent))
	}
	if pm.Measured(tracing.MetricQueueDepth) && pm.QueueDepth != 0 {
		attrs = append(attrs, attribute.Int64(AttrQueueDepth, clampInt64(pm.QueueDepth)))
	}
	if pm.Measured(tracing.MetricThroughputMsgsPerSec) && pm.ThroughputMsgsPerSec != 0 {
		attrs = append(attrs, attribute.Float64(AttrThroughput, pm.ThroughputMsgsPerSec))
	}
	if rc := ev.Causality.RootCauseEventID; !rc.IsZero() && rc != ev.EventID {
		attrs = append(attrs, attribute.String(AttrRootCause, rc.String()))
	}
	if s := ev.Causality.SpanID; s != "" && s != sid.String() {
		attrs = append(attrs, attribute.String(AttrSpanID, s))
	}
	for i := range ev.Data.CustomAttributes.Len() {
		a := ev.Data.CustomAttributes.At(i)
		if kv, ok := customAttr(a); ok {
			attrs = append(attrs, kv)
		}
	}
	var status sdktrace.Status
	if ev.Type.Kind == tracing.KindActorFailed || d.Error != "" {
		status = sdktrace.Status{Code: codes.Error, Description: d.Error}
	}
	stub := tracetest.SpanStub{
		Name:                 eventSpanName(ev),
		SpanContext:          sampledContext(t.otelID, sid),
		Parent:               sampledContext(t.otelID, parent),
		SpanKind:             trace.SpanKindInternal,
		StartTime:            start,
		EndTime:              end,
		Attributes:           attrs,
		Status:               status,
		Resource:             m.res,
		InstrumentationScope: m.scope,
	}
	return stub.Snapshot()
}

// rootSpan maps trace t to its root span.
func (m *mapper) rootSpan(t *traceInfo) sdktrace.ReadOnlySpan {
	ft := &t.trace
	start, end := ft.StartTime, ft.EndTime
	if start.IsZero() || (!t.first.IsZero() && t.first.Before(start)) {
		start = t.first
	}
	if end.IsZero() {
		end = t.last
	}
	if end.Before(start) {
		end = start
	}
	attrs := []attribute.KeyValue{attribute.String(AttrTraceID, t.id.String())}
	name := "trace:" + t.id.String()
	var status sdktrace.Status
	if t.observed {
		name = "flow:" + string(ft.FlowID)
		st := ft.Status.String()
		if !t.ended {
			st = tracing.StatusRunning.String()
		}
		attrs = append(attrs,
			attribute.String(AttrFlowID, string(ft.FlowID)),
			attribute.String(AttrExecutionID, ft.ExecutionID.String()),
			attribute.String(AttrFlowVersion, ft.Version.String()),
			attribute.String(AttrStatus, st),
		)
		if ft.Version.GitHash != "" {
			attrs = append(attrs, attribute.String(AttrGitHash, ft.Version.GitHash))
		}
		md := &ft.Metadata
		for _, kv := range [...]struct{ k, v string }{
			{AttrEnvironment, md.Environment}, {AttrHostname, md.Hostname},
			{AttrUserID, md.UserID}, {AttrSessionID, md.SessionID},
		} {
			if kv.v != "" {
				attrs = append(attrs, attribute.String(kv.k, kv.v))
			}
		}
		if md.ProcessID != 0 {
			attrs = append(attrs, attribute.Int64(AttrProcessID, int64(md.ProcessID)))
		}
		for k, v := range md.Tags {
			attrs = append(attrs, attribute.String(AttrTagPrefix+k, v))
		}
		if t.ended {
			switch ft.Status.Kind {
			case tracing.StatusCompleted:
				status = sdktrace.Status{Code: codes.Ok}
			case tracing.StatusFailed:
				status = sdktrace.Status{Code: codes.Error, Description: ft.Status.Error}
			}
		}
	}
	stub := tracetest.SpanStub{
		Name:                 name,
		SpanContext:          sampledContext(t.otelID, RootSpanIDOf(t.id)),
		SpanKind:             trace.SpanKindInternal,
		StartTime:            start,
		EndTime:              end,
		Attributes:           attrs,
		Status:               status,
		Resource:             m.res,
		InstrumentationScope: m.scope,
	}
	return stub.Snapshot()
}

// eventTimes returns the span's start and end. An ActorCompleted or
// ActorFailed event is recorded when the run ends, with the run's duration
// in ExecutionTimeNs: its span ends at the timestamp and starts that long
// before. Any other event is timestamped when its work starts (a DataFlow
// of SendMiddleware when the send starts): its span starts at the
// timestamp and ends ExecutionTimeNs later. Without a measured execution
// time the span has no duration.
func eventTimes(ev *tracing.TraceEvent) (start, end time.Time) {
	start, end = ev.Timestamp, ev.Timestamp
	pm := &ev.Data.PerformanceMetrics
	if !pm.Measured(tracing.MetricExecutionTimeNs) || pm.ExecutionTimeNs == 0 {
		return start, end
	}
	d := time.Duration(clampInt64(pm.ExecutionTimeNs))
	switch ev.Type.Kind {
	case tracing.KindActorCompleted, tracing.KindActorFailed:
		return end.Add(-d), end
	}
	return start, start.Add(d)
}

// eventSpanName names an event's span as Reflow's own OTLP export does:
// "dataflow:from->to" for a data flow, else "Kind:actor".
func eventSpanName(ev *tracing.TraceEvent) string {
	if ev.Type.Kind == tracing.KindDataFlow {
		return "dataflow:" + ev.ActorID + "->" + ev.Type.ToActor
	}
	return ev.Type.String() + ":" + ev.ActorID
}

func customAttr(a attr.KeyValue) (attribute.KeyValue, bool) {
	k := AttrCustomPrefix + a.Key
	switch a.Value.Kind() {
	case attr.KindNull:
		return attribute.KeyValue{}, false
	case attr.KindString:
		return attribute.String(k, a.Value.Str()), true
	case attr.KindBool:
		return attribute.Bool(k, a.Value.Bool()), true
	case attr.KindInt:
		return attribute.Int64(k, a.Value.Int()), true
	case attr.KindUint:
		return attribute.Int64(k, clampInt64(a.Value.Uint())), true
	case attr.KindFloat:
		return attribute.Float64(k, a.Value.Float()), true
	}
	return attribute.String(k, a.Value.String()), true
}

func clampInt64(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}
