package tracing

import "bytes"

// The methods in this file let encoding/json read and write the event model
// and the messages in the protocol's form. Marshalling uses a fresh Encoder
// (so a KindCustom event is written as a NetworkEvent with an
// "event_subtype" attribute, and reads back as such, and the generation-1
// form is written: a metric that was not measured is written as 0 and reads
// back as a measured 0; use an Encoder with ProtocolV2 to keep the
// difference); unmarshalling is as
// strict as DecodeRequest and wraps ErrMalformed. A TraceEvent's TraceID is
// not part of its JSON.

// unmarshalWith decodes data with fn, requiring nothing to follow. It does
// not intern strings: these are single values (one event, one part of
// one), where the strings rarely repeat. A FlowTrace, which holds many
// events, is decoded with interning.
func unmarshalWith(data []byte, fn func(d *decoder) error) error {
	d := decoder{data: data, noIntern: true}
	return d.top(func() error { return fn(&d) })
}

// MarshalJSON returns the protocol JSON of ev.
func (ev TraceEvent) MarshalJSON() ([]byte, error) {
	var e Encoder
	return e.AppendEvent(nil, &ev), nil
}

// UnmarshalJSON reads a protocol TraceEvent into ev; ev.TraceID is kept.
func (ev *TraceEvent) UnmarshalJSON(data []byte) error {
	traceID := ev.TraceID
	var out TraceEvent
	if err := unmarshalWith(data, func(d *decoder) error { return d.event(&out) }); err != nil {
		return err
	}
	out.TraceID = traceID
	*ev = out
	return nil
}

// MarshalJSON returns the protocol JSON of t.
func (t TraceEventType) MarshalJSON() ([]byte, error) {
	var e Encoder
	return e.appendEventType(nil, &t), nil
}

// UnmarshalJSON reads a protocol event type into t.
func (t *TraceEventType) UnmarshalJSON(data []byte) error {
	var out TraceEventType
	if err := unmarshalWith(data, func(d *decoder) error { return d.eventType(&out) }); err != nil {
		return err
	}
	*t = out
	return nil
}

// MarshalJSON returns the protocol JSON of data.
func (data TraceEventData) MarshalJSON() ([]byte, error) {
	// Written through an event so that the layout is the encoder's.
	ev := TraceEvent{Type: TraceEventType{Kind: KindNetworkEvent}, Data: data}
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

// UnmarshalJSON reads a protocol data object into data.
func (data *TraceEventData) UnmarshalJSON(b []byte) error {
	var out TraceEventData
	if err := unmarshalWith(b, func(d *decoder) error { return d.eventData(&out) }); err != nil {
		return err
	}
	*data = out
	return nil
}

// MarshalJSON returns the protocol JSON of m.
func (m MessageSnapshot) MarshalJSON() ([]byte, error) {
	data := TraceEventData{Message: m, HasMessage: true}
	b, _ := data.MarshalJSON()
	return extractMember(b, `"message":`, `,"state_diff":`), nil
}

// UnmarshalJSON reads a protocol MessageSnapshot into m.
func (m *MessageSnapshot) UnmarshalJSON(b []byte) error {
	var out MessageSnapshot
	if err := unmarshalWith(b, func(d *decoder) error { return d.messageSnapshot(&out) }); err != nil {
		return err
	}
	*m = out
	return nil
}

// MarshalJSON returns the protocol JSON of s; a StateDiff without a
// DiffType is null.
func (s StateDiff) MarshalJSON() ([]byte, error) {
	data := TraceEventData{StateDiff: s}
	b, _ := data.MarshalJSON()
	return extractMember(b, `"state_diff":`, `,"error":`), nil
}

// UnmarshalJSON reads a protocol StateDiff (or null) into s.
func (s *StateDiff) UnmarshalJSON(b []byte) error {
	var out StateDiff
	if err := unmarshalWith(b, func(d *decoder) error {
		if d.null() {
			return nil
		}
		return d.stateDiff(&out)
	}); err != nil {
		return err
	}
	*s = out
	return nil
}

// MarshalJSON returns the protocol name of t as a JSON string; an invalid
// type is written as "Full".
func (t StateDiffType) MarshalJSON() ([]byte, error) {
	switch t {
	case DiffFull, DiffIncremental, DiffMemoryOnly:
		return []byte(`"` + t.String() + `"`), nil
	}
	return []byte(`"Full"`), nil
}

// UnmarshalJSON reads a protocol diff type into t.
func (t *StateDiffType) UnmarshalJSON(b []byte) error {
	var s StateDiff
	if err := unmarshalWith(b, func(d *decoder) error {
		return d.variant("a diff type", func(tag []byte) (bool, error) {
			for _, c := range []StateDiffType{DiffFull, DiffIncremental, DiffMemoryOnly} {
				if c.String() == string(tag) {
					s.DiffType = c
					return true, nil
				}
			}
			return false, d.unknownVariant("diff type", tag)
		}, nil)
	}); err != nil {
		return err
	}
	*t = s.DiffType
	return nil
}

// MarshalJSON returns the protocol JSON of p.
func (p PerformanceMetrics) MarshalJSON() ([]byte, error) {
	data := TraceEventData{PerformanceMetrics: p}
	b, _ := data.MarshalJSON()
	return extractMember(b, `"performance_metrics":`, `,"custom_attributes":`), nil
}

// UnmarshalJSON reads protocol PerformanceMetrics into p.
func (p *PerformanceMetrics) UnmarshalJSON(b []byte) error {
	var out PerformanceMetrics
	if err := unmarshalWith(b, func(d *decoder) error { return d.perf(&out) }); err != nil {
		return err
	}
	*p = out
	return nil
}

// MarshalJSON returns the protocol JSON of c. A zero RootCauseEventID is
// written as the zero UUID and an empty SpanID as "0000000000000000": without
// an event there is no own id to fill them with.
func (c CausalityInfo) MarshalJSON() ([]byte, error) {
	ev := TraceEvent{Type: TraceEventType{Kind: KindNetworkEvent}, Causality: c}
	var e Encoder
	b := e.AppendEvent(nil, &ev)
	return extractMember(b, `,"causality":`, `}`), nil
}

// UnmarshalJSON reads protocol CausalityInfo into c.
func (c *CausalityInfo) UnmarshalJSON(b []byte) error {
	var out CausalityInfo
	if err := unmarshalWith(b, func(d *decoder) error { return d.causality(&out) }); err != nil {
		return err
	}
	*c = out
	return nil
}

// MarshalJSON returns the protocol JSON of t with its events.
func (t FlowTrace) MarshalJSON() ([]byte, error) {
	var e Encoder
	return e.AppendFlowTrace(nil, &t), nil
}

// UnmarshalJSON reads a protocol FlowTrace into t.
func (t *FlowTrace) UnmarshalJSON(b []byte) error {
	var out FlowTrace
	d := decoder{data: b}
	if err := d.top(func() error { return d.flowTrace(&out) }); err != nil {
		return err
	}
	*t = out
	return nil
}

// MarshalJSON returns the protocol JSON of v.
func (v FlowVersion) MarshalJSON() ([]byte, error) {
	var e Encoder
	return e.AppendFlowVersion(nil, &v), nil
}

// UnmarshalJSON reads a protocol FlowVersion into v.
func (v *FlowVersion) UnmarshalJSON(b []byte) error {
	var out FlowVersion
	if err := unmarshalWith(b, func(d *decoder) error { return d.flowVersion(&out) }); err != nil {
		return err
	}
	*v = out
	return nil
}

// MarshalJSON returns the protocol JSON of s.
func (s ExecutionStatus) MarshalJSON() ([]byte, error) {
	var e Encoder
	return e.AppendExecutionStatus(nil, &s), nil
}

// UnmarshalJSON reads a protocol ExecutionStatus into s.
func (s *ExecutionStatus) UnmarshalJSON(b []byte) error {
	var out ExecutionStatus
	if err := unmarshalWith(b, func(d *decoder) error { return d.status(&out) }); err != nil {
		return err
	}
	*s = out
	return nil
}

// MarshalJSON returns the protocol JSON of m.
func (m TraceMetadata) MarshalJSON() ([]byte, error) {
	var e Encoder
	return e.AppendMetadata(nil, &m), nil
}

// UnmarshalJSON reads protocol TraceMetadata into m.
func (m *TraceMetadata) UnmarshalJSON(b []byte) error {
	var out TraceMetadata
	if err := unmarshalWith(b, func(d *decoder) error { return d.metadata(&out) }); err != nil {
		return err
	}
	*m = out
	return nil
}

// MarshalJSON returns the protocol JSON of q.
func (q TraceQuery) MarshalJSON() ([]byte, error) {
	var e Encoder
	return e.AppendTraceQuery(nil, &q), nil
}

// UnmarshalJSON reads a protocol TraceQuery into q.
func (q *TraceQuery) UnmarshalJSON(b []byte) error {
	var out TraceQuery
	if err := unmarshalWith(b, func(d *decoder) error { return d.traceQuery(&out) }); err != nil {
		return err
	}
	*q = out
	return nil
}

// MarshalJSON returns the protocol JSON of f.
func (f SubscriptionFilters) MarshalJSON() ([]byte, error) {
	var e Encoder
	return e.AppendSubscriptionFilters(nil, &f), nil
}

// UnmarshalJSON reads protocol SubscriptionFilters into f.
func (f *SubscriptionFilters) UnmarshalJSON(b []byte) error {
	var out SubscriptionFilters
	if err := unmarshalWith(b, func(d *decoder) error { return d.filters(&out) }); err != nil {
		return err
	}
	*f = out
	return nil
}

// MarshalJSON returns v as JSON (see MaxValueDepth; NaN and ±Inf are 0.0).
func (v Value) MarshalJSON() ([]byte, error) {
	var e Encoder
	return e.AppendValue(nil, v), nil
}

// UnmarshalJSON reads any JSON value into v: integers that fit int64 are
// ValueInt, larger ones ValueUint, other numbers ValueFloat.
func (v *Value) UnmarshalJSON(b []byte) error {
	var out Value
	if err := unmarshalWith(b, func(d *decoder) error {
		var err error
		out, err = d.value()
		return err
	}); err != nil {
		return err
	}
	*v = out
	return nil
}

// MarshalJSON returns a as a JSON object with one member.
func (a Attr) MarshalJSON() ([]byte, error) {
	var e Encoder
	b := e.appendString([]byte{'{'}, a.Key)
	b = append(b, ':')
	b = e.appendValue(b, a.Value, 0)
	return append(b, '}'), nil
}

// UnmarshalJSON reads a JSON object with exactly one member into a.
func (a *Attr) UnmarshalJSON(b []byte) error {
	var as Attributes
	if err := unmarshalWith(b, func(d *decoder) error { return d.attributes(&as) }); err != nil {
		return err
	}
	if as.Len() != 1 {
		return (&decoder{}).errorf("want an object with one member, got %d", as.Len())
	}
	*a = as.At(0)
	return nil
}

// MarshalJSON returns as as a JSON object.
func (as Attributes) MarshalJSON() ([]byte, error) {
	var e Encoder
	return e.AppendAttributes(nil, &as), nil
}

// UnmarshalJSON reads a JSON object into as, replacing its content.
func (as *Attributes) UnmarshalJSON(b []byte) error {
	var out Attributes
	if err := unmarshalWith(b, func(d *decoder) error { return d.attributes(&out) }); err != nil {
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
		return (&decoder{}).errorf("want a %T request, got %T", *dst, r)
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
		return (&decoder{}).errorf("want a %T response, got %T", *dst, r)
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
