package wire

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// Marshal returns the protocol JSON of v, a value of the event model
// (TraceEvent, FlowTrace, Value, …, or a pointer to one) or a message
// (a request or a reply), or an id (any type that marshals itself). It uses a fresh
// Encoder, so a KindCustom event is written as a NetworkEvent with an
// "event_subtype" attribute (and reads back as such) and the generation-1
// form is written: a metric that was not measured is written as 0 and
// reads back as a measured 0 (use an Encoder with ProtocolV2 to keep the
// difference). A TraceEvent's TraceID is not part of its JSON. Any other
// type is an error wrapping ErrUnsupportedType.
//
// The event model's types have no MarshalJSON of their own (package
// tracing holds no codec): encoding/json writes them field by field, which
// is not the protocol's form. Use Marshal, Unmarshal or an Encoder.
func Marshal(v any) ([]byte, error) {
	switch x := v.(type) {
	case tracing.TraceEvent:
		return marshalTraceEvent(x)
	case *tracing.TraceEvent:
		return marshalTraceEvent(*x)
	case tracing.TraceEventType:
		return marshalTraceEventType(x)
	case *tracing.TraceEventType:
		return marshalTraceEventType(*x)
	case tracing.TraceEventData:
		return marshalTraceEventData(x)
	case *tracing.TraceEventData:
		return marshalTraceEventData(*x)
	case tracing.MessageSnapshot:
		return marshalMessageSnapshot(x)
	case *tracing.MessageSnapshot:
		return marshalMessageSnapshot(*x)
	case tracing.StateDiff:
		return marshalStateDiff(x)
	case *tracing.StateDiff:
		return marshalStateDiff(*x)
	case tracing.StateDiffType:
		return marshalStateDiffType(x)
	case *tracing.StateDiffType:
		return marshalStateDiffType(*x)
	case tracing.PerformanceMetrics:
		return marshalPerformanceMetrics(x)
	case *tracing.PerformanceMetrics:
		return marshalPerformanceMetrics(*x)
	case tracing.CausalityInfo:
		return marshalCausalityInfo(x)
	case *tracing.CausalityInfo:
		return marshalCausalityInfo(*x)
	case tracing.FlowTrace:
		return marshalFlowTrace(x)
	case *tracing.FlowTrace:
		return marshalFlowTrace(*x)
	case tracing.FlowVersion:
		return marshalFlowVersion(x)
	case *tracing.FlowVersion:
		return marshalFlowVersion(*x)
	case tracing.ExecutionStatus:
		return marshalExecutionStatus(x)
	case *tracing.ExecutionStatus:
		return marshalExecutionStatus(*x)
	case tracing.TraceMetadata:
		return marshalTraceMetadata(x)
	case *tracing.TraceMetadata:
		return marshalTraceMetadata(*x)
	case TraceQuery:
		return marshalTraceQuery(x)
	case *TraceQuery:
		return marshalTraceQuery(*x)
	case SubscriptionFilters:
		return marshalSubscriptionFilters(x)
	case *SubscriptionFilters:
		return marshalSubscriptionFilters(*x)
	case attr.Value:
		return marshalValue(x)
	case *attr.Value:
		return marshalValue(*x)
	case attr.KeyValue:
		return marshalAttr(x)
	case *attr.KeyValue:
		return marshalAttr(*x)
	case attr.Set:
		return marshalAttributes(x)
	case *attr.Set:
		return marshalAttributes(*x)
	case json.Marshaler, encoding.TextMarshaler:
		return json.Marshal(x)
	}
	return nil, fmt.Errorf("wire: marshal %T: %w", v, ErrUnsupportedType)
}

// Unmarshal reads protocol JSON into v, a pointer to a value of the event
// model or to a message, as strictly as DecodeRequest: a malformed input
// is an error wrapping tracing.ErrMalformed, naming what was wrong and
// where. A TraceEvent's TraceID is kept. Any other type is an error
// wrapping ErrUnsupportedType.
func Unmarshal(data []byte, v any) error {
	switch x := v.(type) {
	case *tracing.TraceEvent:
		return unmarshalTraceEvent(x, data)
	case *tracing.TraceEventType:
		return unmarshalTraceEventType(x, data)
	case *tracing.TraceEventData:
		return unmarshalTraceEventData(x, data)
	case *tracing.MessageSnapshot:
		return unmarshalMessageSnapshot(x, data)
	case *tracing.StateDiff:
		return unmarshalStateDiff(x, data)
	case *tracing.StateDiffType:
		return unmarshalStateDiffType(x, data)
	case *tracing.PerformanceMetrics:
		return unmarshalPerformanceMetrics(x, data)
	case *tracing.CausalityInfo:
		return unmarshalCausalityInfo(x, data)
	case *tracing.FlowTrace:
		return unmarshalFlowTrace(x, data)
	case *tracing.FlowVersion:
		return unmarshalFlowVersion(x, data)
	case *tracing.ExecutionStatus:
		return unmarshalExecutionStatus(x, data)
	case *tracing.TraceMetadata:
		return unmarshalTraceMetadata(x, data)
	case *TraceQuery:
		return unmarshalTraceQuery(x, data)
	case *SubscriptionFilters:
		return unmarshalSubscriptionFilters(x, data)
	case *attr.Value:
		return unmarshalValue(x, data)
	case *attr.KeyValue:
		return unmarshalAttr(x, data)
	case *attr.Set:
		return unmarshalAttributes(x, data)
	case json.Unmarshaler, encoding.TextUnmarshaler:
		err := json.Unmarshal(data, x)
		if err != nil && !errors.Is(err, tracing.ErrMalformed) {
			err = fmt.Errorf("%w: %w", tracing.ErrMalformed, err)
		}
		return err
	}
	return fmt.Errorf("wire: unmarshal into %T: %w", v, ErrUnsupportedType)
}

// ErrUnsupportedType is wrapped by Marshal's and Unmarshal's error for a
// type that is neither of the event model nor a message.
var ErrUnsupportedType = errors.New("wire: unsupported type")

// unmarshalWith decodes data with fn, requiring nothing to follow. It does
// not intern strings: these are single values (one event, one part of
// one), where the strings rarely repeat. A FlowTrace, which holds many
// events, is decoded with interning.
func unmarshalWith(data []byte, fn func(d *decoder) error) error {
	var d decoder
	d.Init(data, tracing.ErrMalformed)
	d.StopInterning()
	return d.Top(func() error { return fn(&d) })
}

// marshalTraceEvent returns the protocol JSON of ev.
func marshalTraceEvent(ev tracing.TraceEvent) ([]byte, error) {
	var e Encoder
	return e.AppendEvent(nil, &ev), nil
}

// unmarshalTraceEvent reads a protocol TraceEvent into ev; ev.TraceID is kept.
func unmarshalTraceEvent(ev *tracing.TraceEvent, data []byte) error {
	traceID := ev.TraceID
	var out tracing.TraceEvent
	if err := unmarshalWith(data, func(d *decoder) error { return d.event(&out) }); err != nil {
		return err
	}
	out.TraceID = traceID
	*ev = out
	return nil
}

// marshalTraceEventType returns the protocol JSON of t.
func marshalTraceEventType(t tracing.TraceEventType) ([]byte, error) {
	var e Encoder
	return e.appendEventType(nil, &t), nil
}

// unmarshalTraceEventType reads a protocol event type into t.
func unmarshalTraceEventType(t *tracing.TraceEventType, data []byte) error {
	var out tracing.TraceEventType
	if err := unmarshalWith(data, func(d *decoder) error { return d.eventType(&out) }); err != nil {
		return err
	}
	*t = out
	return nil
}

// marshalTraceEventData returns the protocol JSON of data.
func marshalTraceEventData(data tracing.TraceEventData) ([]byte, error) {
	// Written through an event so that the layout is the encoder's.
	ev := tracing.TraceEvent{Type: tracing.TraceEventType{Kind: tracing.KindNetworkEvent}, Data: data}
	var e Encoder
	b := e.AppendEvent(nil, &ev)
	return extractMember(b, `,"data":`, `,"causality":`), nil
}

// extractMember returns the bytes of b between the first occurrence of
// start and the last of end.
func extractMember(b []byte, start, end string) []byte {
	i := bytes.Index(b, []byte(start)) + len(start)
	j := bytes.LastIndex(b, []byte(end))
	return b[i:j:j]
}

// unmarshalTraceEventData reads a protocol data object into data.
func unmarshalTraceEventData(data *tracing.TraceEventData, b []byte) error {
	var out tracing.TraceEventData
	if err := unmarshalWith(b, func(d *decoder) error { return d.eventData(&out) }); err != nil {
		return err
	}
	*data = out
	return nil
}

// marshalMessageSnapshot returns the protocol JSON of m.
func marshalMessageSnapshot(m tracing.MessageSnapshot) ([]byte, error) {
	data := tracing.TraceEventData{Message: m, HasMessage: true}
	b, _ := marshalTraceEventData(data)
	return extractMember(b, `"message":`, `,"state_diff":`), nil
}

// unmarshalMessageSnapshot reads a protocol MessageSnapshot into m.
func unmarshalMessageSnapshot(m *tracing.MessageSnapshot, b []byte) error {
	var out tracing.MessageSnapshot
	if err := unmarshalWith(b, func(d *decoder) error { return d.messageSnapshot(&out) }); err != nil {
		return err
	}
	*m = out
	return nil
}

// marshalStateDiff returns the protocol JSON of s; a StateDiff without a
// DiffType is null.
func marshalStateDiff(s tracing.StateDiff) ([]byte, error) {
	data := tracing.TraceEventData{StateDiff: s}
	b, _ := marshalTraceEventData(data)
	return extractMember(b, `"state_diff":`, `,"error":`), nil
}

// unmarshalStateDiff reads a protocol StateDiff (or null) into s.
func unmarshalStateDiff(s *tracing.StateDiff, b []byte) error {
	var out tracing.StateDiff
	if err := unmarshalWith(b, func(d *decoder) error {
		if d.Null() {
			return nil
		}
		return d.stateDiff(&out)
	}); err != nil {
		return err
	}
	*s = out
	return nil
}

// marshalStateDiffType returns the protocol name of t as a JSON string; an invalid
// type is written as "Full".
func marshalStateDiffType(t tracing.StateDiffType) ([]byte, error) {
	switch t {
	case tracing.DiffFull, tracing.DiffIncremental, tracing.DiffMemoryOnly:
		return []byte(`"` + t.String() + `"`), nil
	}
	return []byte(`"Full"`), nil
}

// unmarshalStateDiffType reads a protocol diff type into t.
func unmarshalStateDiffType(t *tracing.StateDiffType, b []byte) error {
	var s tracing.StateDiff
	if err := unmarshalWith(b, func(d *decoder) error {
		return d.Variant("a diff type", func(tag []byte) (bool, error) {
			for _, c := range []tracing.StateDiffType{tracing.DiffFull, tracing.DiffIncremental, tracing.DiffMemoryOnly} {
				if c.String() == string(tag) {
					s.DiffType = c
					return true, nil
				}
			}
			return false, d.UnknownVariant("diff type", tag)
		}, nil)
	}); err != nil {
		return err
	}
	*t = s.DiffType
	return nil
}

// marshalPerformanceMetrics returns the protocol JSON of p.
func marshalPerformanceMetrics(p tracing.PerformanceMetrics) ([]byte, error) {
	data := tracing.TraceEventData{PerformanceMetrics: p}
	b, _ := marshalTraceEventData(data)
	return extractMember(b, `"performance_metrics":`, `,"custom_attributes":`), nil
}

// unmarshalPerformanceMetrics reads protocol PerformanceMetrics into p.
func unmarshalPerformanceMetrics(p *tracing.PerformanceMetrics, b []byte) error {
	var out tracing.PerformanceMetrics
	if err := unmarshalWith(b, func(d *decoder) error { return d.perf(&out) }); err != nil {
		return err
	}
	*p = out
	return nil
}

// marshalCausalityInfo returns the protocol JSON of c. A zero RootCauseEventID is
// written as the zero UUID and an empty SpanID as "0000000000000000": without
// an event there is no own id to fill them with.
func marshalCausalityInfo(c tracing.CausalityInfo) ([]byte, error) {
	ev := tracing.TraceEvent{Type: tracing.TraceEventType{Kind: tracing.KindNetworkEvent}, Causality: c}
	var e Encoder
	b := e.AppendEvent(nil, &ev)
	return extractMember(b, `,"causality":`, `}`), nil
}

// unmarshalCausalityInfo reads protocol CausalityInfo into c.
func unmarshalCausalityInfo(c *tracing.CausalityInfo, b []byte) error {
	var out tracing.CausalityInfo
	if err := unmarshalWith(b, func(d *decoder) error { return d.causality(&out) }); err != nil {
		return err
	}
	*c = out
	return nil
}

// marshalFlowTrace returns the protocol JSON of t with its events.
func marshalFlowTrace(t tracing.FlowTrace) ([]byte, error) {
	var e Encoder
	return e.AppendFlowTrace(nil, &t), nil
}

// unmarshalFlowTrace reads a protocol FlowTrace into t.
func unmarshalFlowTrace(t *tracing.FlowTrace, b []byte) error {
	var out tracing.FlowTrace
	var d decoder
	d.Init(b, tracing.ErrMalformed)
	if err := d.Top(func() error { return d.flowTrace(&out) }); err != nil {
		return err
	}
	*t = out
	return nil
}

// marshalFlowVersion returns the protocol JSON of v.
func marshalFlowVersion(v tracing.FlowVersion) ([]byte, error) {
	var e Encoder
	return e.AppendFlowVersion(nil, &v), nil
}

// unmarshalFlowVersion reads a protocol FlowVersion into v.
func unmarshalFlowVersion(v *tracing.FlowVersion, b []byte) error {
	var out tracing.FlowVersion
	if err := unmarshalWith(b, func(d *decoder) error { return d.flowVersion(&out) }); err != nil {
		return err
	}
	*v = out
	return nil
}

// marshalExecutionStatus returns the protocol JSON of s.
func marshalExecutionStatus(s tracing.ExecutionStatus) ([]byte, error) {
	var e Encoder
	return e.AppendExecutionStatus(nil, &s), nil
}

// unmarshalExecutionStatus reads a protocol ExecutionStatus into s.
func unmarshalExecutionStatus(s *tracing.ExecutionStatus, b []byte) error {
	var out tracing.ExecutionStatus
	if err := unmarshalWith(b, func(d *decoder) error { return d.status(&out) }); err != nil {
		return err
	}
	*s = out
	return nil
}

// marshalTraceMetadata returns the protocol JSON of m.
func marshalTraceMetadata(m tracing.TraceMetadata) ([]byte, error) {
	var e Encoder
	return e.AppendMetadata(nil, &m), nil
}

// unmarshalTraceMetadata reads protocol TraceMetadata into m.
func unmarshalTraceMetadata(m *tracing.TraceMetadata, b []byte) error {
	var out tracing.TraceMetadata
	if err := unmarshalWith(b, func(d *decoder) error { return d.metadata(&out) }); err != nil {
		return err
	}
	*m = out
	return nil
}

// marshalTraceQuery returns the protocol JSON of q.
func marshalTraceQuery(q TraceQuery) ([]byte, error) {
	var e Encoder
	return e.AppendTraceQuery(nil, &q), nil
}

// unmarshalTraceQuery reads a protocol TraceQuery into q.
func unmarshalTraceQuery(q *TraceQuery, b []byte) error {
	var out TraceQuery
	if err := unmarshalWith(b, func(d *decoder) error { return d.traceQuery(&out) }); err != nil {
		return err
	}
	*q = out
	return nil
}

// marshalSubscriptionFilters returns the protocol JSON of f.
func marshalSubscriptionFilters(f SubscriptionFilters) ([]byte, error) {
	var e Encoder
	return e.AppendSubscriptionFilters(nil, &f), nil
}

// unmarshalSubscriptionFilters reads protocol SubscriptionFilters into f.
func unmarshalSubscriptionFilters(f *SubscriptionFilters, b []byte) error {
	var out SubscriptionFilters
	if err := unmarshalWith(b, func(d *decoder) error { return d.filters(&out) }); err != nil {
		return err
	}
	*f = out
	return nil
}

// marshalValue returns v as JSON (see MaxValueDepth; NaN and ±Inf are 0.0).
func marshalValue(v attr.Value) ([]byte, error) {
	var e Encoder
	return e.AppendValue(nil, v), nil
}

// unmarshalValue reads any JSON value into v: integers that fit int64 are
// ValueInt, larger ones ValueUint, other numbers ValueFloat.
func unmarshalValue(v *attr.Value, b []byte) error {
	var out attr.Value
	if err := unmarshalWith(b, func(d *decoder) error {
		var err error
		out, err = d.Value()
		return err
	}); err != nil {
		return err
	}
	*v = out
	return nil
}

// marshalAttr returns a as a JSON object with one member.
func marshalAttr(a attr.KeyValue) ([]byte, error) {
	var e Encoder
	b := e.appendString([]byte{'{'}, a.Key)
	b = append(b, ':')
	b = e.appendValue(b, a.Value, 0)
	return append(b, '}'), nil
}

// unmarshalAttr reads a JSON object with exactly one member into a.
func unmarshalAttr(a *attr.KeyValue, b []byte) error {
	var as attr.Set
	if err := unmarshalWith(b, func(d *decoder) error { return d.Attributes(&as) }); err != nil {
		return err
	}
	if as.Len() != 1 {
		return malformedf("want an object with one member, got %d", as.Len())
	}
	*a = as.At(0)
	return nil
}

// marshalAttributes returns as as a JSON object.
func marshalAttributes(as attr.Set) ([]byte, error) {
	var e Encoder
	return e.AppendAttributes(nil, &as), nil
}

// unmarshalAttributes reads a JSON object into as, replacing its content.
func unmarshalAttributes(as *attr.Set, b []byte) error {
	var out attr.Set
	if err := unmarshalWith(b, func(d *decoder) error { return d.Attributes(&out) }); err != nil {
		return err
	}
	*as = out
	return nil
}

// marshalRequest returns the JSON of a request.
func marshalRequest(r TracingRequest) ([]byte, error) {
	var e Encoder
	return e.AppendRequest(nil, r), nil
}

// unmarshalRequest decodes data as a request of type T.
func unmarshalRequest[T TracingRequest](data []byte, dst *T) error {
	r, err := DecodeRequest(data)
	if err != nil {
		return err
	}
	v, ok := r.(T)
	if !ok {
		return malformedf("want a %T request, got %T", *dst, r)
	}
	*dst = v
	return nil
}

// marshalResponse returns the JSON of a response.
func marshalResponse(r TracingResponse) ([]byte, error) {
	var e Encoder
	return e.AppendResponse(nil, r), nil
}

// unmarshalResponse decodes data as a response of type T.
func unmarshalResponse[T TracingResponse](data []byte, dst *T) error {
	r, err := DecodeResponse(data)
	if err != nil {
		return err
	}
	v, ok := r.(T)
	if !ok {
		return malformedf("want a %T response, got %T", *dst, r)
	}
	*dst = v
	return nil
}

// MarshalJSON returns the request's protocol JSON, {"StartTrace":{…}}.
func (r StartTrace) MarshalJSON() ([]byte, error) { return marshalRequest(r) }

// UnmarshalJSON reads a StartTrace request.
func (r *StartTrace) UnmarshalJSON(b []byte) error { return unmarshalRequest(b, r) }

// MarshalJSON returns the request's protocol JSON, {"RecordEvent":{…}}.
func (r RecordEvent) MarshalJSON() ([]byte, error) { return marshalRequest(&r) }

// UnmarshalJSON reads a RecordEvent request.
func (r *RecordEvent) UnmarshalJSON(b []byte) error { return unmarshalRequest(b, r) }

// MarshalJSON returns the request's protocol JSON, {"EndTrace":{…}}.
func (r EndTrace) MarshalJSON() ([]byte, error) { return marshalRequest(r) }

// UnmarshalJSON reads an EndTrace request.
func (r *EndTrace) UnmarshalJSON(b []byte) error { return unmarshalRequest(b, r) }

// MarshalJSON returns the request's protocol JSON, {"GetTrace":{…}}.
func (r GetTrace) MarshalJSON() ([]byte, error) { return marshalRequest(r) }

// UnmarshalJSON reads a GetTrace request.
func (r *GetTrace) UnmarshalJSON(b []byte) error { return unmarshalRequest(b, r) }

// MarshalJSON returns the request's protocol JSON, {"QueryTraces":{…}}.
func (r QueryTraces) MarshalJSON() ([]byte, error) { return marshalRequest(r) }

// UnmarshalJSON reads a QueryTraces request.
func (r *QueryTraces) UnmarshalJSON(b []byte) error { return unmarshalRequest(b, r) }

// MarshalJSON returns the request's protocol JSON, {"GetFlowVersions":{…}}.
func (r GetFlowVersions) MarshalJSON() ([]byte, error) { return marshalRequest(r) }

// UnmarshalJSON reads a GetFlowVersions request.
func (r *GetFlowVersions) UnmarshalJSON(b []byte) error { return unmarshalRequest(b, r) }

// MarshalJSON returns "Ping".
func (r Ping) MarshalJSON() ([]byte, error) { return marshalRequest(r) }

// UnmarshalJSON reads a Ping request.
func (r *Ping) UnmarshalJSON(b []byte) error { return unmarshalRequest(b, r) }

// MarshalJSON returns the request's protocol JSON, {"Subscribe":{…}}.
func (r Subscribe) MarshalJSON() ([]byte, error) { return marshalRequest(r) }

// UnmarshalJSON reads a Subscribe request.
func (r *Subscribe) UnmarshalJSON(b []byte) error { return unmarshalRequest(b, r) }

// MarshalJSON returns "Unsubscribe".
func (r Unsubscribe) MarshalJSON() ([]byte, error) { return marshalRequest(r) }

// UnmarshalJSON reads an Unsubscribe request.
func (r *Unsubscribe) UnmarshalJSON(b []byte) error { return unmarshalRequest(b, r) }

// MarshalJSON returns the request's protocol JSON, {"StoreTrace":{…}}.
func (r StoreTrace) MarshalJSON() ([]byte, error) { return marshalRequest(&r) }

// UnmarshalJSON reads a StoreTrace request.
func (r *StoreTrace) UnmarshalJSON(b []byte) error { return unmarshalRequest(b, r) }

// MarshalJSON returns "GetMetrics".
func (r GetMetrics) MarshalJSON() ([]byte, error) { return marshalRequest(r) }

// UnmarshalJSON reads a GetMetrics request.
func (r *GetMetrics) UnmarshalJSON(b []byte) error { return unmarshalRequest(b, r) }

// MarshalJSON returns the reply's protocol JSON, {"TraceStarted":{…}}.
func (r TraceStarted) MarshalJSON() ([]byte, error) { return marshalResponse(r) }

// UnmarshalJSON reads a TraceStarted reply.
func (r *TraceStarted) UnmarshalJSON(b []byte) error { return unmarshalResponse(b, r) }

// MarshalJSON returns the reply's protocol JSON, {"EventRecorded":{…}}.
func (r EventRecorded) MarshalJSON() ([]byte, error) { return marshalResponse(r) }

// UnmarshalJSON reads an EventRecorded reply.
func (r *EventRecorded) UnmarshalJSON(b []byte) error { return unmarshalResponse(b, r) }

// MarshalJSON returns the reply's protocol JSON, {"TraceData":{…}}.
func (r TraceData) MarshalJSON() ([]byte, error) { return marshalResponse(r) }

// UnmarshalJSON reads a TraceData reply (either shape).
func (r *TraceData) UnmarshalJSON(b []byte) error { return unmarshalResponse(b, r) }

// MarshalJSON returns the reply's protocol JSON, {"QueryResults":{…}}.
func (r QueryResults) MarshalJSON() ([]byte, error) { return marshalResponse(r) }

// UnmarshalJSON reads a QueryResults reply.
func (r *QueryResults) UnmarshalJSON(b []byte) error { return unmarshalResponse(b, r) }

// MarshalJSON returns the reply's protocol JSON, {"FlowVersions":{…}}.
func (r FlowVersions) MarshalJSON() ([]byte, error) { return marshalResponse(r) }

// UnmarshalJSON reads a FlowVersions reply.
func (r *FlowVersions) UnmarshalJSON(b []byte) error { return unmarshalResponse(b, r) }

// MarshalJSON returns "Pong".
func (r Pong) MarshalJSON() ([]byte, error) { return marshalResponse(r) }

// UnmarshalJSON reads a Pong reply.
func (r *Pong) UnmarshalJSON(b []byte) error { return unmarshalResponse(b, r) }

// MarshalJSON returns the message's protocol JSON, {"EventNotification":{…}}.
func (r EventNotification) MarshalJSON() ([]byte, error) { return marshalResponse(&r) }

// UnmarshalJSON reads an EventNotification message.
func (r *EventNotification) UnmarshalJSON(b []byte) error { return unmarshalResponse(b, r) }

// MarshalJSON returns the reply's protocol JSON, {"Error":{…}} (legacy
// shape when Code is "").
func (r ErrorResponse) MarshalJSON() ([]byte, error) { return marshalResponse(r) }

// UnmarshalJSON reads an Error reply (either shape).
func (r *ErrorResponse) UnmarshalJSON(b []byte) error { return unmarshalResponse(b, r) }

// MarshalJSON returns the reply's protocol JSON, {"TraceStored":{…}}.
func (r TraceStored) MarshalJSON() ([]byte, error) { return marshalResponse(r) }

// UnmarshalJSON reads a TraceStored reply.
func (r *TraceStored) UnmarshalJSON(b []byte) error { return unmarshalResponse(b, r) }

// MarshalJSON returns the reply's protocol JSON, {"TracesFound":{…}}.
func (r TracesFound) MarshalJSON() ([]byte, error) { return marshalResponse(r) }

// UnmarshalJSON reads a TracesFound reply.
func (r *TracesFound) UnmarshalJSON(b []byte) error { return unmarshalResponse(b, r) }

// MarshalJSON returns the reply's protocol JSON, {"Metrics":{…}}.
func (r Metrics) MarshalJSON() ([]byte, error) { return marshalResponse(r) }

// UnmarshalJSON reads a Metrics reply.
func (r *Metrics) UnmarshalJSON(b []byte) error { return unmarshalResponse(b, r) }

// malformedf returns an error about a whole value, worded as the decoder's
// errors are.
func malformedf(format string, args ...any) error {
	var d decoder
	d.Init(nil, tracing.ErrMalformed)
	return d.Errorf(format, args...)
}
