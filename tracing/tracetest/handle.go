package tracetest

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// Message kinds counted in Stats.ByKind besides the protocol's tags.
const (
	// KindInvalid counts messages the server could not read.
	KindInvalid = "Invalid"
)

// invalidFormat is the reference server's reply to a message it cannot
// read, in the legacy error shape.
var invalidFormat = wire.ErrorResponse{Message: "Invalid message format"}

// serve applies one message and returns its reply. binary tells that the
// message came in a compressed (binary) frame: a generation-2 server
// attributes such a StartTrace to a shared pseudo-client, so the trace is
// not finalised when this connection closes.
func (c *conn) serve(data []byte, binary bool) wire.TracingResponse {
	s := c.s
	data = bytes.Trim(data, " \t\n\r") // JSON's whitespace, as serde skips
	tag := sniffTag(data)
	if r, ok := s.takeErrorNext(tag); ok {
		return r
	}
	if tag == "StoreTrace" || tag == "RecordEvent" {
		s.mu.Lock()
		inject := false
		if s.errEvery > 0 {
			s.errCount++
			inject = s.errCount%s.errEvery == 0
		}
		code, msg := s.errCode, s.errMsg
		if inject {
			s.metrics.errorsTotal++
			s.byKind[tag]++
			s.messages++
			s.notifyLocked()
		}
		s.mu.Unlock()
		if inject {
			return wire.ErrorResponse{Message: msg, Code: code}
		}
		if s.cfg.fastScan {
			return c.scan(tag, data)
		}
	}
	if s.cfg.gen == Gen1 {
		return c.serveGen1(tag, data)
	}
	return c.serveGen2(tag, data, binary)
}

// takeErrorNext returns the Error reply ErrorNext set for a message of
// kind tag, counting it, if one is due.
func (s *Server) takeErrorNext(tag string) (wire.TracingResponse, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.errNext[tag]
	if !ok {
		return nil, false
	}
	if e.n--; e.n > 0 {
		s.errNext[tag] = e
	} else {
		delete(s.errNext, tag)
	}
	s.metrics.errorsTotal++
	s.byKind[tag]++
	s.messages++
	s.notifyLocked()
	return wire.ErrorResponse{Message: e.msg, Code: e.code}, true
}

// count records a message of the given kind.
func (s *Server) count(kind string) {
	s.mu.Lock()
	s.byKind[kind]++
	if kind == "StoreTrace" || kind == "RecordEvent" {
		s.messages++
	}
	s.notifyLocked()
	s.mu.Unlock()
}

// decode reads a request like the reference server, or returns nil for a
// message it rejects as "Invalid message format".
func (s *Server) decode(data []byte) wire.TracingRequest {
	req, err := wire.DecodeRequest(data)
	if err != nil || usesCustomEventType(req) {
		s.count(KindInvalid)
		return nil
	}
	return req
}

// serveGen1 serves a message like Reflow 0.2's server.
func (c *conn) serveGen1(tag string, data []byte) wire.TracingResponse {
	s := c.s
	switch tag {
	case "EndTrace":
		// Generation 1 has no such message.
		s.count(KindInvalid)
		return invalidFormat
	case "StartTrace":
		// An extra trace_id is an unknown field to generation 1, ignored
		// whatever its value; what else serde refuses (a field twice) is
		// refused before it is taken out.
		if duplicateKey(data) {
			s.count(KindInvalid)
			return invalidFormat
		}
		data = withoutField(data, tag, "trace_id")
	case "StoreTrace", "RecordEvent":
		if !gen1Readable(tag, data) {
			s.count(KindInvalid)
			return invalidFormat
		}
	}
	req := s.decode(data)
	if req == nil {
		return invalidFormat
	}
	if r, ok := req.(wire.RecordEvent); ok && !gen1Metrics(&r.Event) {
		s.count(KindInvalid)
		return invalidFormat
	}
	if r, ok := req.(wire.StoreTrace); ok {
		for i := range r.Trace.Events {
			if !gen1Metrics(&r.Trace.Events[i]) {
				s.count(KindInvalid)
				return invalidFormat
			}
		}
		for i := range r.Trace.Events {
			gen1Snapshot(&r.Trace.Events[i])
		}
	}
	s.count(tag)
	switch r := req.(type) {
	case wire.StartTrace:
		return wire.TraceStarted{TraceID: tracing.NewTraceID()}
	case wire.RecordEvent:
		gen1Snapshot(&r.Event)
		c.record(r.TraceID, &r.Event, false)
		return wire.EventRecorded{Success: true}
	case wire.GetTrace:
		s.mu.Lock()
		defer s.mu.Unlock()
		var td wire.TraceData
		if e := s.store.visible(r.TraceID, true); e != nil {
			t := copyTrace(e)
			td.Trace = &t
		}
		return td
	case wire.QueryTraces:
		s.mu.Lock()
		defer s.mu.Unlock()
		traces := s.queryLocked(&r.Query, presentIn(data), true)
		return wire.QueryResults{Traces: traces, TotalCount: uint64(len(traces))}
	}
	return c.serveCommon(req)
}

// serveCommon serves the messages both generations answer alike.
func (c *conn) serveCommon(req wire.TracingRequest) wire.TracingResponse {
	s := c.s
	switch r := req.(type) {
	case wire.StoreTrace:
		e := &entry{trace: r.Trace}
		if e.trace.Events == nil {
			e.trace.Events = []tracing.TraceEvent{}
		}
		s.mu.Lock()
		s.store.put(e)
		s.metrics.tracesStored++
		s.notifyLocked()
		s.mu.Unlock()
		return wire.TraceStored{TraceID: r.Trace.TraceID}
	case wire.GetFlowVersions:
		return wire.ErrorResponse{Message: "GetFlowVersions not implemented yet", Code: wire.CodeNotFound}
	case wire.Ping:
		return wire.Pong{}
	case wire.Subscribe:
		if r.Legacy {
			return wire.ErrorResponse{Message: "Legacy subscription format - use TracingRequest::Subscribe instead"}
		}
		f := r.Filters
		c.smu.Lock()
		c.sub = &f
		c.smu.Unlock()
		return wire.EventRecorded{Success: true}
	case wire.Unsubscribe:
		c.smu.Lock()
		c.sub = nil
		c.smu.Unlock()
		return wire.EventRecorded{Success: true}
	case wire.GetMetrics:
		s.mu.Lock()
		m := s.metrics
		s.mu.Unlock()
		data, _ := json.Marshal(map[string]uint64{ // keys sorted, as the reference writes them
			"connections_active": m.connectionsActive,
			"connections_total":  m.connectionsTotal,
			"errors_total":       m.errorsTotal,
			"messages_received":  m.messagesReceived,
			"messages_sent":      m.messagesSent,
			"traces_queried":     m.tracesQueried,
			"traces_stored":      m.tracesStored,
		})
		return wire.Metrics{Data: data}
	}
	return invalidFormat
}

// record counts a RecordEvent, forwards it to the subscribed connections
// and, on generation 2 (keep), appends it to its in-flight trace, opening
// one lazily.
func (c *conn) record(traceID tracing.TraceID, ev *tracing.TraceEvent, keep bool) {
	s := c.s
	s.mu.Lock()
	s.live[ev.EventID]++
	if keep {
		s.flightLocked(traceID).addEvent(ev, ev.EventID)
	}
	s.notifyLocked()
	subs := make([]*conn, 0, len(s.conns))
	for o := range s.conns {
		subs = append(subs, o)
	}
	s.mu.Unlock()
	for _, o := range subs {
		o.notify(traceID, ev)
	}
}

// flightLocked returns the in-flight trace id, opening it lazily as the
// generation-2 server does for a RecordEvent of an unknown trace: flow
// "unknown", version 0.0.0, tied to no connection.
func (s *Server) flightLocked(id tracing.TraceID) *flight {
	f, ok := s.store.inflight[id]
	if !ok {
		now := time.Now().UTC()
		f = s.newFlight(id, "unknown", tracing.FlowVersion{Timestamp: now}, now)
		s.store.inflight[id] = f
	}
	return f
}

// newFlight returns a new in-flight trace as the generation-2 server
// builds it: a new execution id, start time now, status Running, and the
// server's own metadata.
func (s *Server) newFlight(id tracing.TraceID, flow tracing.FlowID, v tracing.FlowVersion, now time.Time) *flight {
	return &flight{entry: entry{fast: s.cfg.fastScan, trace: tracing.FlowTrace{
		TraceID:     id,
		FlowID:      flow,
		ExecutionID: tracing.NewExecutionID(),
		Version:     v,
		StartTime:   now,
		Status:      tracing.ExecutionStatus{Kind: tracing.StatusRunning},
		Events:      []tracing.TraceEvent{},
		Metadata: tracing.TraceMetadata{
			Environment: "unknown",
			Hostname:    "unknown",
			ProcessID:   s.pid,
			ThreadID:    "ThreadId(2)",
			Tags:        map[string]string{},
		},
	}}}
}

// queryLocked answers a query with deep copies.
func (s *Server) queryLocked(q *wire.TraceQuery, p present, storageOnly bool) []tracing.FlowTrace {
	es := s.store.query(q, p, storageOnly)
	out := make([]tracing.FlowTrace, len(es))
	for i, e := range es {
		out[i] = copyTrace(e)
	}
	return out
}

// sniffTag returns the message's variant tag: the first key of the top
// object, or the bare string of a unit variant; "" if neither.
func sniffTag(data []byte) string {
	i := 0
	if i < len(data) && data[i] == '{' {
		i++
		for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
			i++
		}
	}
	if i >= len(data) || data[i] != '"' {
		return ""
	}
	j := bytes.IndexByte(data[i+1:], '"')
	if j < 0 || j > 32 {
		return ""
	}
	return string(data[i+1 : i+1+j])
}

// body returns the top-level fields of the message's variant body, or nil
// when it is not an object.
func body(data []byte, tag string) map[string]json.RawMessage {
	var m map[string]map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	return m[tag]
}

// duplicateKey reports whether an object of the JSON data holds a key
// twice (or data does not parse), which serde refuses where a map would
// keep one of them.
func duplicateKey(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var walk func() bool // reads one value; false on a duplicate or an error
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				key, ok := k.(string)
				if err != nil || !ok || seen[key] {
					return false
				}
				seen[key] = true
				if !walk() {
					return false
				}
			}
			_, err := dec.Token()
			return err == nil
		case json.Delim('['):
			for dec.More() {
				if !walk() {
					return false
				}
			}
			_, err := dec.Token()
			return err == nil
		}
		return true
	}
	return !walk()
}

// withoutField returns the message without the named field of its body
// (the message itself when it has no such field).
func withoutField(data []byte, tag, field string) []byte {
	b := body(data, tag)
	if _, ok := b[field]; !ok {
		return data
	}
	delete(b, field)
	out, err := json.Marshal(map[string]map[string]json.RawMessage{tag: b})
	if err != nil {
		return data
	}
	return out
}

// gen1Metrics reports whether ev's metrics are all measured: generation 1
// requires all five numbers.
func gen1Metrics(ev *tracing.TraceEvent) bool {
	return ev.Data.PerformanceMetrics.Unmeasured&tracing.AllMetricFields == 0
}

// gen1Snapshot drops what generation 1's message snapshot has no field
// for, and so neither keeps nor pushes: content_codec,
// content_format_version and stored_bytes.
func gen1Snapshot(ev *tracing.TraceEvent) {
	m := &ev.Data.Message
	m.ContentCodec, m.ContentFormatVersion, m.StoredBytes, m.HasStoredBytes = "", 0, 0, false
}

// gen1Event is the part of an event generation 1 is stricter about.
type gen1Event struct {
	Data struct {
		Message map[string]json.RawMessage `json:"message"`
	} `json:"data"`
}

// gen1Readable reports whether every message snapshot of a RecordEvent or
// StoreTrace has the four fields generation 1 requires (generation 2 lets
// serialized_data out). Other type errors are the decoder's to find.
func gen1Readable(tag string, data []byte) bool {
	if !bytes.Contains(data, []byte(`"message"`)) {
		return true
	}
	var evs []gen1Event
	if tag == "RecordEvent" {
		var m struct {
			RecordEvent struct {
				Event gen1Event `json:"event"`
			}
		}
		if json.Unmarshal(data, &m) != nil {
			return true // malformed: the decoder rejects it
		}
		evs = []gen1Event{m.RecordEvent.Event}
	} else {
		var m struct {
			StoreTrace struct {
				Trace struct {
					Events []gen1Event `json:"events"`
				} `json:"trace"`
			}
		}
		if json.Unmarshal(data, &m) != nil {
			return true
		}
		evs = m.StoreTrace.Trace.Events
	}
	for _, ev := range evs {
		if ev.Data.Message == nil {
			continue
		}
		for _, k := range []string{"message_type", "size_bytes", "checksum", "serialized_data"} {
			if v, ok := ev.Data.Message[k]; !ok || string(v) == "null" {
				return false
			}
		}
	}
	return true
}

// usesCustomEventType reports whether req holds a {"Custom":"name"} event
// type. The reference server has no such variant, so it cannot read the
// message at all; the decoder accepts it for servers that do, so this
// server rejects it itself.
func usesCustomEventType(req wire.TracingRequest) bool {
	switch r := req.(type) {
	case wire.StoreTrace:
		for i := range r.Trace.Events {
			if r.Trace.Events[i].Type.Kind == tracing.KindCustom {
				return true
			}
		}
	case wire.RecordEvent:
		return r.Event.Type.Kind == tracing.KindCustom
	case wire.Subscribe:
		for _, t := range r.Filters.EventTypes {
			if t.Kind == tracing.KindCustom {
				return true
			}
		}
	}
	return false
}
