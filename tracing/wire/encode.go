package wire

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire/internal/strictjson"
)

// MaxValueDepth is how deeply arrays and objects may nest inside a custom
// attribute value. The server reads a whole message with a nesting limit of
// 128, so the encoder writes an array or object nested deeper than this as
// null (and counts it in EncodeStats.DepthLimited).
const MaxValueDepth = 64

// subtypeKey is the custom attribute that names a Custom event written as a
// NetworkEvent.
const subtypeKey = "event_subtype"

// EncodeStats counts the sanitisations an Encoder made so that what it wrote
// is accepted by the server.
type EncodeStats struct {
	// NonFinite counts NaN and ±Inf floats written as 0.
	NonFinite uint64
	// Clamped counts values brought into range: cpu_usage_percent beyond
	// ±math.MaxFloat32 and timestamps outside years -262143..262142.
	Clamped uint64
	// InvalidUTF8 counts strings (and keys) whose invalid UTF-8 bytes were
	// replaced by U+FFFD.
	InvalidUTF8 uint64
	// InvalidKind counts invalid enum values written as a default: an
	// invalid EventKind as "NetworkEvent", an invalid StateDiffType as
	// "Full", an invalid StatusKind as "Pending", an invalid ErrorCode in the
	// legacy error shape.
	InvalidKind uint64
	// DepthLimited counts attribute values nested deeper than MaxValueDepth
	// written as null.
	DepthLimited uint64
}

// Encoder writes the protocol's JSON by appending to a byte slice, without
// reflection and, with a reused destination slice, without allocating.
// Whatever the input, the output is valid JSON the reference server accepts
// (unless CustomEventType is set; with Protocol set to ProtocolV2, only a
// generation-2 server): values it could not read are sanitised and counted
// (see Stats). Fields are written in the protocol's order, so
// equal values give equal bytes; map keys (tags) are written sorted. Keeping
// a message under the protocol's 16 MiB is up to the caller, who can
// measure what an append added.
//
// The zero value is ready to use. An Encoder is not safe for concurrent use;
// give each goroutine its own.
type Encoder struct {
	// Protocol chooses between the two forms of the fields the server
	// generations read differently (PROTOCOL.md, "Two generations").
	// ProtocolV2 writes the generation-2 form: an unmeasured
	// PerformanceMetrics field as null, and a nil
	// MessageSnapshot.SerializedData left out. ProtocolAuto (the default),
	// ProtocolV1 and any other value write the generation-1 form, which
	// both generations accept: every metric as a number (0 when not
	// measured) and serialized_data always present. Auto means "not known
	// to be generation 2": a generation-1 server rejects null.
	Protocol transport.Protocol
	// CustomEventType writes KindCustom events as {"Custom":"name"}, for
	// servers that support it. By default (false) a custom event is written
	// as "NetworkEvent" with the custom attribute "event_subtype" set to its
	// name (in the output only; the event is not modified). A user's own
	// "event_subtype" attribute is then replaced by the name.
	CustomEventType bool
	// AllSnapshotFields writes, under ProtocolV2, every field of a message
	// snapshot, as a generation-2 server writes them in its replies:
	// serialized_data ([] when nil), content_codec ("none" when empty),
	// content_format_version and stored_bytes (null when unset). A client
	// leaves it false: the server reads each absent field as that default,
	// so writing them would only add bytes.
	AllSnapshotFields bool

	stats EncodeStats
	keys  []string // scratch for sorting map keys
}

// Stats returns the sanitisations made so far.
func (e *Encoder) Stats() EncodeStats { return e.stats }

// AppendEvent appends the protocol JSON of ev (a TraceEvent object; ev's
// TraceID is not part of it).
func (e *Encoder) AppendEvent(dst []byte, ev *tracing.TraceEvent) []byte {
	dst = append(dst, `{"event_id":"`...)
	dst = uuid.Append(dst, ev.EventID)
	dst = append(dst, `","timestamp":`...)
	dst = e.appendTime(dst, ev.Timestamp)
	dst = append(dst, `,"event_type":`...)
	dst = e.appendEventType(dst, &ev.Type)
	dst = append(dst, `,"actor_id":`...)
	dst = e.appendString(dst, ev.ActorID)

	d := &ev.Data
	dst = append(dst, `,"data":{"port":`...)
	dst = e.appendOptString(dst, d.Port)
	dst = append(dst, `,"message":`...)
	if d.HasMessage {
		m := &d.Message
		dst = append(dst, `{"message_type":`...)
		dst = e.appendString(dst, m.MessageType)
		dst = append(dst, `,"size_bytes":`...)
		dst = strconv.AppendUint(dst, m.SizeBytes, 10)
		dst = append(dst, `,"checksum":`...)
		dst = e.appendString(dst, m.Checksum)
		if m.SerializedData != nil || e.Protocol != transport.ProtocolV2 || e.AllSnapshotFields {
			dst = append(dst, `,"serialized_data":`...)
			dst = strictjson.AppendBytes(dst, m.SerializedData)
		}
		if all := e.AllSnapshotFields && e.Protocol == transport.ProtocolV2; all || m.ContentCodec != "" || m.ContentFormatVersion != 0 || m.HasStoredBytes {
			dst = e.appendSnapshotExtras(dst, m, all)
		}
		dst = append(dst, '}')
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"state_diff":`...)
	if sd := &d.StateDiff; sd.DiffType != 0 {
		dst = append(dst, `{"before":`...)
		if sd.Before == nil {
			dst = append(dst, "null"...)
		} else {
			dst = strictjson.AppendBytes(dst, sd.Before)
		}
		dst = append(dst, `,"after":`...)
		dst = strictjson.AppendBytes(dst, sd.After)
		dst = append(dst, `,"diff_type":"`...)
		switch sd.DiffType {
		case tracing.DiffFull, tracing.DiffIncremental, tracing.DiffMemoryOnly:
			dst = append(dst, sd.DiffType.String()...)
		default:
			e.stats.InvalidKind++
			dst = append(dst, "Full"...)
		}
		dst = append(dst, `"}`...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"error":`...)
	dst = e.appendOptString(dst, d.Error)

	pm := &d.PerformanceMetrics
	if pm.Unmeasured&tracing.AllMetricFields == 0 {
		dst = append(dst, `,"performance_metrics":{"execution_time_ns":`...)
		dst = strconv.AppendUint(dst, pm.ExecutionTimeNs, 10)
		dst = append(dst, `,"memory_usage_bytes":`...)
		dst = strconv.AppendUint(dst, pm.MemoryUsageBytes, 10)
		dst = append(dst, `,"cpu_usage_percent":`...)
		cpu := pm.CPUUsagePercent
		if cpu > math.MaxFloat32 || cpu < -math.MaxFloat32 {
			cpu = e.clampCPU(cpu)
		}
		dst = e.appendFloat(dst, cpu)
		dst = append(dst, `,"queue_depth":`...)
		dst = strconv.AppendUint(dst, pm.QueueDepth, 10)
		dst = append(dst, `,"throughput_msgs_per_sec":`...)
		dst = e.appendFloat(dst, pm.ThroughputMsgsPerSec)
	} else {
		dst = e.appendPartialMetrics(dst, pm)
	}

	dst = append(dst, `},"custom_attributes":`...)
	as := &d.CustomAttributes
	if ev.Type.Kind == tracing.KindCustom && !e.CustomEventType {
		dst = append(dst, `{"event_subtype":`...)
		dst = e.appendString(dst, ev.Type.Name)
		dst = e.appendMembers(dst, as, nil, true, true, 0)
	} else {
		dst = append(dst, '{')
		dst = e.appendMembers(dst, as, nil, true, false, 0)
	}

	c := &ev.Causality
	dst = append(dst, `}},"causality":{"parent_event_id":`...)
	if c.ParentEventID.IsZero() {
		dst = append(dst, "null"...)
	} else {
		dst = strictjson.AppendUUID(dst, c.ParentEventID)
	}
	dst = append(dst, `,"root_cause_event_id":`...)
	if c.RootCauseEventID.IsZero() {
		dst = strictjson.AppendUUID(dst, ev.EventID)
	} else {
		dst = strictjson.AppendUUID(dst, c.RootCauseEventID)
	}
	dst = append(dst, `,"dependency_chain":[`...)
	for i, id := range c.DependencyChain {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strictjson.AppendUUID(dst, id)
	}
	dst = append(dst, `],"span_id":`...)
	if c.SpanID == "" {
		dst = appendSpanFromID(dst, ev.EventID)
	} else {
		dst = e.appendString(dst, c.SpanID)
	}
	return append(dst, "}}"...)
}

// clampCPU brings a finite cpu_usage_percent into the 32-bit float range
// the server reads it into (counted); infinities are left to appendFloat.
func (e *Encoder) clampCPU(cpu float64) float64 {
	if cpu > math.MaxFloat32 && !math.IsInf(cpu, 1) {
		e.stats.Clamped++
		return math.MaxFloat32
	} else if cpu < -math.MaxFloat32 && !math.IsInf(cpu, -1) {
		e.stats.Clamped++
		return -math.MaxFloat32
	}
	return cpu
}

// appendPartialMetrics writes `,"performance_metrics":{…` (without the
// closing brace) for metrics of which some were not measured: null in the
// generation-2 form, 0 in the generation-1 form.
func (e *Encoder) appendPartialMetrics(dst []byte, pm *tracing.PerformanceMetrics) []byte {
	v2 := e.Protocol == transport.ProtocolV2
	unmeasured := func(f tracing.MetricFields, zero string) bool {
		if pm.Unmeasured&f == 0 {
			return false
		}
		if v2 {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, zero...)
		}
		return true
	}
	dst = append(dst, `,"performance_metrics":{"execution_time_ns":`...)
	if !unmeasured(tracing.MetricExecutionTimeNs, "0") {
		dst = strconv.AppendUint(dst, pm.ExecutionTimeNs, 10)
	}
	dst = append(dst, `,"memory_usage_bytes":`...)
	if !unmeasured(tracing.MetricMemoryUsageBytes, "0") {
		dst = strconv.AppendUint(dst, pm.MemoryUsageBytes, 10)
	}
	dst = append(dst, `,"cpu_usage_percent":`...)
	if !unmeasured(tracing.MetricCPUUsagePercent, "0.0") {
		dst = e.appendFloat(dst, e.clampCPU(pm.CPUUsagePercent))
	}
	dst = append(dst, `,"queue_depth":`...)
	if !unmeasured(tracing.MetricQueueDepth, "0") {
		dst = strconv.AppendUint(dst, pm.QueueDepth, 10)
	}
	dst = append(dst, `,"throughput_msgs_per_sec":`...)
	if !unmeasured(tracing.MetricThroughputMsgsPerSec, "0.0") {
		dst = e.appendFloat(dst, pm.ThroughputMsgsPerSec)
	}
	return dst
}

// appendSnapshotExtras writes the generation-2 MessageSnapshot fields,
// each with a leading comma: those that are set or, with all, every one,
// unset ones as a generation-2 server writes them.
func (e *Encoder) appendSnapshotExtras(dst []byte, m *tracing.MessageSnapshot, all bool) []byte {
	switch {
	case m.ContentCodec != "":
		dst = append(dst, `,"content_codec":`...)
		dst = e.appendString(dst, m.ContentCodec)
	case all:
		dst = append(dst, `,"content_codec":"none"`...)
	}
	if m.ContentFormatVersion != 0 || all {
		dst = append(dst, `,"content_format_version":`...)
		dst = strconv.AppendUint(dst, uint64(m.ContentFormatVersion), 10)
	}
	switch {
	case m.HasStoredBytes:
		dst = append(dst, `,"stored_bytes":`...)
		dst = strconv.AppendUint(dst, m.StoredBytes, 10)
	case all:
		dst = append(dst, `,"stored_bytes":null`...)
	}
	return dst
}

// AppendRecordEvent appends the RecordEvent request for ev in trace traceID.
func (e *Encoder) AppendRecordEvent(dst []byte, traceID tracing.TraceID, ev *tracing.TraceEvent) []byte {
	dst = append(dst, `{"RecordEvent":{"trace_id":`...)
	dst = strictjson.AppendUUID(dst, traceID)
	dst = append(dst, `,"event":`...)
	dst = e.AppendEvent(dst, ev)
	return append(dst, "}}"...)
}

// AppendStoreTrace appends the StoreTrace request of a trace holding events:
// every field but the events comes from trace (trace.Events is ignored), the
// events from the slice. A sink can so write a batch without building a
// FlowTrace.
func (e *Encoder) AppendStoreTrace(dst []byte, trace *tracing.FlowTrace, events []tracing.TraceEvent) []byte {
	dst = append(dst, `{"StoreTrace":{"trace":`...)
	dst = e.appendFlowTrace(dst, trace, events)
	return append(dst, "}}"...)
}

// AppendFlowTrace appends the protocol JSON of t with its events.
func (e *Encoder) AppendFlowTrace(dst []byte, t *tracing.FlowTrace) []byte {
	return e.appendFlowTrace(dst, t, t.Events)
}

func (e *Encoder) appendFlowTrace(dst []byte, t *tracing.FlowTrace, events []tracing.TraceEvent) []byte {
	dst = append(dst, `{"trace_id":`...)
	dst = strictjson.AppendUUID(dst, t.TraceID)
	dst = append(dst, `,"flow_id":`...)
	dst = e.appendString(dst, string(t.FlowID))
	dst = append(dst, `,"execution_id":`...)
	dst = strictjson.AppendUUID(dst, t.ExecutionID)
	dst = append(dst, `,"version":`...)
	dst = e.AppendFlowVersion(dst, &t.Version)
	dst = append(dst, `,"start_time":`...)
	dst = e.appendTime(dst, t.StartTime)
	dst = append(dst, `,"end_time":`...)
	if t.EndTime.IsZero() {
		dst = append(dst, "null"...)
	} else {
		dst = e.appendTime(dst, t.EndTime)
	}
	dst = append(dst, `,"status":`...)
	dst = e.AppendExecutionStatus(dst, &t.Status)
	dst = append(dst, `,"events":[`...)
	for i := range events {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = e.AppendEvent(dst, &events[i])
	}
	dst = append(dst, `],"metadata":`...)
	dst = e.AppendMetadata(dst, &t.Metadata)
	return append(dst, '}')
}

// AppendFlowVersion appends the protocol JSON of v.
func (e *Encoder) AppendFlowVersion(dst []byte, v *tracing.FlowVersion) []byte {
	dst = append(dst, `{"major":`...)
	dst = strconv.AppendUint(dst, uint64(v.Major), 10)
	dst = append(dst, `,"minor":`...)
	dst = strconv.AppendUint(dst, uint64(v.Minor), 10)
	dst = append(dst, `,"patch":`...)
	dst = strconv.AppendUint(dst, uint64(v.Patch), 10)
	dst = append(dst, `,"git_hash":`...)
	dst = e.appendOptString(dst, v.GitHash)
	dst = append(dst, `,"timestamp":`...)
	dst = e.appendTime(dst, v.Timestamp)
	return append(dst, '}')
}

// AppendExecutionStatus appends the protocol JSON of s: "Running", …, or
// {"Failed":{"error":"…"}}.
func (e *Encoder) AppendExecutionStatus(dst []byte, s *tracing.ExecutionStatus) []byte {
	switch s.Kind {
	case tracing.StatusPending, tracing.StatusRunning, tracing.StatusCompleted, tracing.StatusCancelled:
		dst = append(dst, '"')
		dst = append(dst, s.Kind.String()...)
		return append(dst, '"')
	case tracing.StatusFailed:
		dst = append(dst, `{"Failed":{"error":`...)
		dst = e.appendString(dst, s.Error)
		return append(dst, "}}"...)
	}
	e.stats.InvalidKind++
	return append(dst, `"Pending"`...)
}

// AppendMetadata appends the protocol JSON of m; tags are written sorted by
// key.
func (e *Encoder) AppendMetadata(dst []byte, m *tracing.TraceMetadata) []byte {
	dst = append(dst, `{"user_id":`...)
	dst = e.appendOptString(dst, m.UserID)
	dst = append(dst, `,"session_id":`...)
	dst = e.appendOptString(dst, m.SessionID)
	dst = append(dst, `,"environment":`...)
	dst = e.appendString(dst, m.Environment)
	dst = append(dst, `,"hostname":`...)
	dst = e.appendString(dst, m.Hostname)
	dst = append(dst, `,"process_id":`...)
	dst = strconv.AppendUint(dst, uint64(m.ProcessID), 10)
	dst = append(dst, `,"thread_id":`...)
	dst = e.appendString(dst, m.ThreadID)
	dst = append(dst, `,"tags":{`...)
	if len(m.Tags) > 0 {
		keys := e.keys[:0]
		for k := range m.Tags {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		anyInvalid := false
		for _, k := range keys {
			anyInvalid = anyInvalid || !utf8.ValidString(k)
		}
		var last map[string]int
		if anyInvalid && len(keys) > smallObject {
			last = make(map[string]int, len(keys))
			for i, k := range keys {
				last[sanitize(k)] = i
			}
		}
		first := true
		for i, k := range keys {
			// Keys that differ only in invalid UTF-8 become equal once
			// sanitised: write the last of them only.
			if last != nil && last[sanitize(k)] != i ||
				last == nil && anyInvalid && shadowed(keys[i+1:], k) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = e.appendString(dst, k)
			dst = append(dst, ':')
			dst = e.appendString(dst, m.Tags[k])
		}
		clear(keys)
		e.keys = keys[:0]
	}
	return append(dst, "}}"...)
}

// shadowed reports whether one of keys equals k once both are sanitised.
func shadowed(keys []string, k string) bool {
	for _, o := range keys {
		if sanitizedEqual(o, k) {
			return true
		}
	}
	return false
}

// AppendTraceQuery appends the protocol JSON of q.
func (e *Encoder) AppendTraceQuery(dst []byte, q *TraceQuery) []byte {
	dst = append(dst, `{"flow_id":`...)
	dst = e.appendOptString(dst, string(q.FlowID))
	dst = append(dst, `,"execution_id":`...)
	if q.ExecutionID.IsZero() {
		dst = append(dst, "null"...)
	} else {
		dst = strictjson.AppendUUID(dst, q.ExecutionID)
	}
	dst = append(dst, `,"time_range":`...)
	if q.HasTimeRange {
		dst = append(dst, '[')
		dst = e.appendTime(dst, q.TimeRange[0])
		dst = append(dst, ',')
		dst = e.appendTime(dst, q.TimeRange[1])
		dst = append(dst, ']')
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"status":`...)
	if q.Status != nil {
		dst = e.AppendExecutionStatus(dst, q.Status)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"actor_filter":`...)
	dst = e.appendOptString(dst, q.ActorFilter)
	dst = append(dst, `,"limit":`...)
	dst = appendOptUint(dst, q.Limit)
	dst = append(dst, `,"offset":`...)
	dst = appendOptUint(dst, q.Offset)
	return append(dst, '}')
}

// AppendSubscriptionFilters appends the protocol JSON of f: a nil slice is
// null, a non-nil one an array.
func (e *Encoder) AppendSubscriptionFilters(dst []byte, f *SubscriptionFilters) []byte {
	dst = append(dst, `{"flow_ids":`...)
	if f.FlowIDs == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, id := range f.FlowIDs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.appendString(dst, string(id))
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"actor_ids":`...)
	if f.ActorIDs == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, id := range f.ActorIDs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.appendString(dst, id)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"event_types":`...)
	if f.EventTypes == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range f.EventTypes {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.appendEventType(dst, &f.EventTypes[i])
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"status_filter":`...)
	if f.StatusFilter == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range f.StatusFilter {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.AppendExecutionStatus(dst, &f.StatusFilter[i])
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// AppendEventType appends the protocol JSON of t: a bare string, the
// DataFlow object, or for KindCustom {"Custom":"name"} when CustomEventType
// is set and "NetworkEvent" otherwise.
func (e *Encoder) AppendEventType(dst []byte, t *tracing.TraceEventType) []byte {
	return e.appendEventType(dst, t)
}

func (e *Encoder) appendEventType(dst []byte, t *tracing.TraceEventType) []byte {
	switch t.Kind {
	case tracing.KindDataFlow:
		dst = append(dst, `{"DataFlow":{"to_actor":`...)
		dst = e.appendString(dst, t.ToActor)
		dst = append(dst, `,"to_port":`...)
		dst = e.appendString(dst, t.ToPort)
		return append(dst, "}}"...)
	case tracing.KindCustom:
		if e.CustomEventType {
			dst = append(dst, `{"Custom":`...)
			dst = e.appendString(dst, t.Name)
			return append(dst, '}')
		}
		return append(dst, `"NetworkEvent"`...)
	}
	if !t.Kind.Valid() {
		e.stats.InvalidKind++
		return append(dst, `"NetworkEvent"`...)
	}
	dst = append(dst, '"')
	dst = append(dst, t.Kind.String()...)
	return append(dst, '"')
}

// AppendValue appends v as JSON (see MaxValueDepth).
func (e *Encoder) AppendValue(dst []byte, v attr.Value) []byte { return e.appendValue(dst, v, 0) }

// AppendAttributes appends as as a JSON object.
func (e *Encoder) AppendAttributes(dst []byte, as *attr.Set) []byte {
	dst = append(dst, '{')
	dst = e.appendMembers(dst, as, nil, true, false, 0)
	return append(dst, '}')
}

// appendValue writes v, nested in depth containers.
func (e *Encoder) appendValue(dst []byte, v attr.Value, depth int) []byte {
	switch v.Kind() {
	case attr.KindBool:
		if v.Bool() {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case attr.KindInt:
		return strconv.AppendInt(dst, v.Int(), 10)
	case attr.KindUint:
		return strconv.AppendUint(dst, v.Uint(), 10)
	case attr.KindFloat:
		return e.appendFloat(dst, v.Float())
	case attr.KindString:
		return e.appendString(dst, v.Str())
	case attr.KindArray:
		if depth >= MaxValueDepth {
			e.stats.DepthLimited++
			return append(dst, "null"...)
		}
		dst = append(dst, '[')
		for i, el := range v.Array() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.appendValue(dst, el, depth+1)
		}
		return append(dst, ']')
	case attr.KindObject:
		if depth >= MaxValueDepth {
			e.stats.DepthLimited++
			return append(dst, "null"...)
		}
		dst = append(dst, '{')
		dst = e.appendMembers(dst, nil, v.Object(), false, false, depth+1)
		return append(dst, '}')
	}
	return append(dst, "null"...)
}

// appendMembers writes the members of an object (without braces), held in
// as or, when as is nil, in obj, each value nested in depth containers. When
// a key repeats (also once sanitised), only its last occurrence is written.
// unique says the keys are known to be distinct as given. afterFirst says a
// member was already written (and that member was "event_subtype", so any
// other "event_subtype" is skipped).
func (e *Encoder) appendMembers(dst []byte, as *attr.Set, obj []attr.KeyValue, unique, afterFirst bool, depth int) []byte {
	n := len(obj)
	if as != nil {
		n = as.Len()
	}
	at := func(i int) attr.KeyValue {
		if as != nil {
			return as.At(i)
		}
		return obj[i]
	}
	check := !unique
	if unique {
		for i := range n {
			if !utf8.ValidString(at(i).Key) {
				check = true
				break
			}
		}
	}
	// Large objects find their duplicates through a map, not in O(n²).
	var last map[string]int
	if check && n > smallObject {
		last = make(map[string]int, n)
		for i := range n {
			last[sanitize(at(i).Key)] = i
		}
	}
	first := !afterFirst
	for i := range n {
		m := at(i)
		if afterFirst && m.Key == subtypeKey {
			continue
		}
		if last != nil {
			if last[sanitize(m.Key)] != i {
				continue
			}
		} else if check {
			dup := false
			for j := i + 1; j < n && !dup; j++ {
				dup = sanitizedEqual(at(j).Key, m.Key)
			}
			if dup {
				continue
			}
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = e.appendString(dst, m.Key)
		dst = append(dst, ':')
		dst = e.appendValue(dst, m.Value, depth)
	}
	return dst
}

// smallObject is the size up to which appendMembers looks for duplicate
// keys without a map.
const smallObject = 32

// sanitize returns s with each invalid UTF-8 byte replaced by U+FFFD.
func sanitize(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	for _, r := range s {
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

// sanitizedEqual reports whether a and b are equal once invalid UTF-8 is
// replaced by U+FFFD (one per invalid byte).
func sanitizedEqual(a, b string) bool {
	if a == b {
		return true
	}
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			return false
		}
		a, b = a[na:], b[nb:]
	}
	return a == "" && b == ""
}

// AppendRequest appends req as the protocol's externally tagged JSON. A nil
// req appends nothing.
func (e *Encoder) AppendRequest(dst []byte, req TracingRequest) []byte {
	switch r := req.(type) {
	case StartTrace:
		return e.appendStartTrace(dst, &r)
	case *StartTrace:
		return e.appendStartTrace(dst, r)
	case RecordEvent:
		return e.AppendRecordEvent(dst, r.TraceID, &r.Event)
	case *RecordEvent:
		return e.AppendRecordEvent(dst, r.TraceID, &r.Event)
	case EndTrace:
		return e.appendEndTrace(dst, &r)
	case *EndTrace:
		return e.appendEndTrace(dst, r)
	case GetTrace:
		return appendGetTrace(dst, &r)
	case *GetTrace:
		return appendGetTrace(dst, r)
	case QueryTraces:
		return e.appendQueryTraces(dst, &r)
	case *QueryTraces:
		return e.appendQueryTraces(dst, r)
	case GetFlowVersions:
		return e.appendGetFlowVersions(dst, r.FlowID)
	case *GetFlowVersions:
		return e.appendGetFlowVersions(dst, r.FlowID)
	case Ping, *Ping:
		return append(dst, `"Ping"`...)
	case Subscribe:
		return e.appendSubscribe(dst, &r)
	case *Subscribe:
		return e.appendSubscribe(dst, r)
	case Unsubscribe, *Unsubscribe:
		return append(dst, `"Unsubscribe"`...)
	case StoreTrace:
		return e.AppendStoreTrace(dst, &r.Trace, r.Trace.Events)
	case *StoreTrace:
		return e.AppendStoreTrace(dst, &r.Trace, r.Trace.Events)
	case GetMetrics, *GetMetrics:
		return append(dst, `"GetMetrics"`...)
	}
	return dst
}

func (e *Encoder) appendStartTrace(dst []byte, r *StartTrace) []byte {
	dst = append(dst, `{"StartTrace":{`...)
	if !r.TraceID.IsZero() {
		dst = append(dst, `"trace_id":`...)
		dst = strictjson.AppendUUID(dst, r.TraceID)
		dst = append(dst, ',')
	}
	dst = append(dst, `"flow_id":`...)
	dst = e.appendString(dst, string(r.FlowID))
	dst = append(dst, `,"version":`...)
	dst = e.AppendFlowVersion(dst, &r.Version)
	return append(dst, "}}"...)
}

func (e *Encoder) appendEndTrace(dst []byte, r *EndTrace) []byte {
	dst = append(dst, `{"EndTrace":{"trace_id":`...)
	dst = strictjson.AppendUUID(dst, r.TraceID)
	dst = append(dst, `,"status":`...)
	dst = e.AppendExecutionStatus(dst, &r.Status)
	return append(dst, "}}"...)
}

func appendGetTrace(dst []byte, r *GetTrace) []byte {
	dst = append(dst, `{"GetTrace":{"trace_id":`...)
	dst = strictjson.AppendUUID(dst, r.TraceID)
	dst = appendRequestID(dst, r.RequestID)
	return append(dst, "}}"...)
}

func (e *Encoder) appendQueryTraces(dst []byte, r *QueryTraces) []byte {
	dst = append(dst, `{"QueryTraces":{"query":`...)
	dst = e.AppendTraceQuery(dst, &r.Query)
	dst = appendRequestID(dst, r.RequestID)
	return append(dst, "}}"...)
}

// appendRequestID writes `,"request_id":"…"` unless id is zero.
func appendRequestID(dst []byte, id RequestID) []byte {
	if id.IsZero() {
		return dst
	}
	dst = append(dst, `,"request_id":`...)
	return strictjson.AppendUUID(dst, id)
}

func (e *Encoder) appendGetFlowVersions(dst []byte, id tracing.FlowID) []byte {
	dst = append(dst, `{"GetFlowVersions":{"flow_id":`...)
	dst = e.appendString(dst, string(id))
	return append(dst, "}}"...)
}

func (e *Encoder) appendSubscribe(dst []byte, r *Subscribe) []byte {
	f := &r.Filters
	if r.Legacy {
		dst = append(dst, `{"Subscribe":{"filter":`...)
	} else {
		dst = append(dst, `{"Subscribe":{"filters":`...)
	}
	dst = e.AppendSubscriptionFilters(dst, f)
	return append(dst, "}}"...)
}

func appendTraceIDMessage(dst []byte, tag string, id tracing.TraceID) []byte {
	dst = append(dst, `{"`...)
	dst = append(dst, tag...)
	dst = append(dst, `":{"trace_id":`...)
	dst = strictjson.AppendUUID(dst, id)
	return append(dst, "}}"...)
}

// AppendResponse appends resp as the protocol's externally tagged JSON. An
// ErrorResponse with an empty code is written in the legacy shape (no code);
// one with an invalid code too (counted in InvalidKind). A nil resp appends
// nothing.
func (e *Encoder) AppendResponse(dst []byte, resp TracingResponse) []byte {
	switch r := resp.(type) {
	case TraceStarted:
		return appendTraceIDMessage(dst, "TraceStarted", r.TraceID)
	case *TraceStarted:
		return appendTraceIDMessage(dst, "TraceStarted", r.TraceID)
	case EventRecorded:
		return e.appendEventRecorded(dst, &r)
	case *EventRecorded:
		return e.appendEventRecorded(dst, r)
	case TraceData:
		return e.appendTraceData(dst, &r)
	case *TraceData:
		return e.appendTraceData(dst, r)
	case QueryResults:
		return e.appendQueryResults(dst, &r)
	case *QueryResults:
		return e.appendQueryResults(dst, r)
	case FlowVersions:
		return e.appendFlowVersions(dst, r.Versions)
	case *FlowVersions:
		return e.appendFlowVersions(dst, r.Versions)
	case Pong, *Pong:
		return append(dst, `"Pong"`...)
	case EventNotification:
		return e.appendNotification(dst, &r)
	case *EventNotification:
		return e.appendNotification(dst, r)
	case ErrorResponse:
		return e.appendError(dst, &r)
	case *ErrorResponse:
		return e.appendError(dst, r)
	case TraceStored:
		return appendTraceIDMessage(dst, "TraceStored", r.TraceID)
	case *TraceStored:
		return appendTraceIDMessage(dst, "TraceStored", r.TraceID)
	case TracesFound:
		return e.appendTraces(dst, "TracesFound", RequestID{}, r.Traces, false, 0)
	case *TracesFound:
		return e.appendTraces(dst, "TracesFound", RequestID{}, r.Traces, false, 0)
	case Metrics:
		return appendMetrics(dst, r.Data)
	case *Metrics:
		return appendMetrics(dst, r.Data)
	}
	return dst
}

func (e *Encoder) appendEventRecorded(dst []byte, r *EventRecorded) []byte {
	dst = append(dst, `{"EventRecorded":{"success":`...)
	dst = strconv.AppendBool(dst, r.Success)
	dst = append(dst, `,"error":`...)
	dst = e.appendOptString(dst, r.Error)
	return append(dst, "}}"...)
}

// appendTraceData writes TraceData like a generation-2 server: request_id
// first (when not zero), then the trace.
func (e *Encoder) appendTraceData(dst []byte, r *TraceData) []byte {
	dst = append(dst, `{"TraceData":{`...)
	if !r.RequestID.IsZero() {
		dst = append(dst, `"request_id":`...)
		dst = strictjson.AppendUUID(dst, r.RequestID)
		dst = append(dst, ',')
	}
	dst = append(dst, `"trace":`...)
	if r.Trace == nil {
		dst = append(dst, "null"...)
	} else {
		dst = e.AppendFlowTrace(dst, r.Trace)
	}
	return append(dst, "}}"...)
}

func (e *Encoder) appendQueryResults(dst []byte, r *QueryResults) []byte {
	return e.appendTraces(dst, "QueryResults", r.RequestID, r.Traces, true, r.TotalCount)
}

func (e *Encoder) appendTraces(dst []byte, tag string, reqID RequestID, traces []tracing.FlowTrace, withCount bool, count uint64) []byte {
	dst = append(dst, `{"`...)
	dst = append(dst, tag...)
	dst = append(dst, `":{`...)
	if !reqID.IsZero() {
		dst = append(dst, `"request_id":`...)
		dst = strictjson.AppendUUID(dst, reqID)
		dst = append(dst, ',')
	}
	dst = append(dst, `"traces":[`...)
	for i := range traces {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = e.AppendFlowTrace(dst, &traces[i])
	}
	dst = append(dst, ']')
	if withCount {
		dst = append(dst, `,"total_count":`...)
		dst = strconv.AppendUint(dst, count, 10)
	}
	return append(dst, "}}"...)
}

func (e *Encoder) appendFlowVersions(dst []byte, vs []tracing.FlowVersion) []byte {
	dst = append(dst, `{"FlowVersions":{"versions":[`...)
	for i := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = e.AppendFlowVersion(dst, &vs[i])
	}
	return append(dst, "]}}"...)
}

func (e *Encoder) appendNotification(dst []byte, r *EventNotification) []byte {
	dst = append(dst, `{"EventNotification":{"trace_id":`...)
	dst = strictjson.AppendUUID(dst, r.TraceID)
	dst = append(dst, `,"event":`...)
	dst = e.AppendEvent(dst, &r.Event)
	return append(dst, "}}"...)
}

func (e *Encoder) appendError(dst []byte, r *ErrorResponse) []byte {
	dst = append(dst, `{"Error":{"message":`...)
	dst = e.appendString(dst, r.Message)
	if r.Code.Valid() {
		dst = append(dst, `,"code":"`...)
		dst = append(dst, r.Code...)
		dst = append(dst, '"')
	} else if r.Code != "" {
		e.stats.InvalidKind++
	}
	return append(dst, "}}"...)
}

func appendMetrics(dst []byte, data json.RawMessage) []byte {
	dst = append(dst, `{"Metrics":{"data":`...)
	if len(data) == 0 || !json.Valid(data) {
		dst = append(dst, "{}"...)
	} else {
		dst = append(dst, data...)
	}
	return append(dst, "}}"...)
}

// appendSpanFromID appends the quoted 16 lower-case hex digits of the last 8
// bytes of id: the span id of an event that has none.
func appendSpanFromID(dst []byte, id tracing.EventID) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, b := range id[8:] {
		dst = append(dst, hex[b>>4], hex[b&0xf])
	}
	return append(dst, '"')
}

func appendOptUint(dst []byte, v uint64) []byte {
	if v == 0 {
		return append(dst, "null"...)
	}
	return strconv.AppendUint(dst, v, 10)
}

// appendTime writes t as a quoted RFC 3339 timestamp, as
// strictjson.AppendTime does, counting a clamped time.
func (e *Encoder) appendTime(dst []byte, t time.Time) []byte {
	return strictjson.AppendTime(dst, t, &e.stats.Clamped)
}

// appendFloat writes f so that it reads back as the same float, as
// strictjson.AppendFloat does, counting a NaN or ±Inf written as 0.0.
func (e *Encoder) appendFloat(dst []byte, f float64) []byte {
	return strictjson.AppendFloat(dst, f, &e.stats.NonFinite)
}

func (e *Encoder) appendOptString(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return e.appendString(dst, s)
}

// appendString writes s as a quoted JSON string, as strictjson.AppendString
// does, counting a string whose invalid UTF-8 was replaced (once per
// string).
func (e *Encoder) appendString(dst []byte, s string) []byte {
	return strictjson.AppendString(dst, s, &e.stats.InvalidUTF8)
}
