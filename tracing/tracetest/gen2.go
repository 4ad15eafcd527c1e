package tracetest

import (
	"encoding/json"
	"time"

	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// serveGen2 serves a message like the generation-2 server.
func (c *conn) serveGen2(tag string, data []byte, binary bool) wire.TracingResponse {
	s := c.s
	// A GetTrace or QueryTraces whose request_id is null or not a UUID is
	// not a generation-2 request: the server reads it as the legacy
	// message, which answers from storage only.
	legacy, generate := false, false
	if tag == "GetTrace" || tag == "QueryTraces" {
		raw, ok := body(data, tag)["request_id"]
		switch {
		case !ok:
			generate = true
		default:
			var str string
			if json.Unmarshal(raw, &str) != nil {
				legacy = true
			} else if _, err := uuid.Parse(str); err != nil {
				legacy = true
			}
		}
	}
	req := s.decode(data)
	if req == nil {
		return invalidFormat
	}
	s.count(tag)
	switch r := req.(type) {
	case wire.StoreTrace:
		for i := range r.Trace.Events {
			snapshotDefaults(&r.Trace.Events[i])
		}
		return c.serveCommon(r)
	case wire.StartTrace:
		id := r.TraceID
		if id.IsZero() {
			id = tracing.NewTraceID()
		}
		s.mu.Lock()
		// A StartTrace for an id already in flight (from this connection or
		// another) replaces it with a new, empty trace. The id is noted
		// against the connection, whose disconnect finalises it; the
		// reference server notes an id started in a binary frame against
		// one shared pseudo-client that never disconnects.
		if !binary {
			c.started = append(c.started, id)
		}
		s.store.inflight[id] = s.newFlight(id, r.FlowID, r.Version, time.Now().UTC())
		s.notifyLocked()
		s.mu.Unlock()
		return wire.TraceStarted{TraceID: id}
	case wire.RecordEvent:
		snapshotDefaults(&r.Event)
		c.record(r.TraceID, &r.Event, true)
		return wire.EventRecorded{Success: true}
	case wire.EndTrace:
		s.mu.Lock()
		if s.store.end(r.TraceID, r.Status, time.Now().UTC()) {
			s.metrics.tracesStored++
		}
		s.notifyLocked()
		s.mu.Unlock()
		return wire.EventRecorded{Success: true}
	case wire.GetTrace:
		s.mu.Lock()
		defer s.mu.Unlock()
		e := s.store.visible(r.TraceID, legacy)
		if legacy {
			if e == nil {
				return wire.ErrorResponse{Message: "Trace not found: " + r.TraceID.String()}
			}
			t := copyTrace(e)
			return wire.TraceData{Trace: &t}
		}
		td := wire.TraceData{RequestID: r.RequestID}
		if generate {
			td.RequestID = wire.NewRequestID()
		}
		if e != nil {
			t := copyTrace(e)
			td.Trace = &t
		}
		return td
	case wire.QueryTraces:
		// total_count is the number of traces answered, after offset and
		// limit, as the generation-1 server counts it.
		s.mu.Lock()
		defer s.mu.Unlock()
		traces := s.queryLocked(&r.Query, presentIn(data), legacy)
		if legacy {
			s.metrics.tracesQueried++
			return wire.TracesFound{Traces: traces}
		}
		qr := wire.QueryResults{Traces: traces, TotalCount: uint64(len(traces)), RequestID: r.RequestID}
		if generate {
			qr.RequestID = wire.NewRequestID()
		}
		return qr
	}
	return c.serveCommon(req)
}

// snapshotDefaults fills in the default a generation-2 server reads for an
// absent content_codec ("none"), which it then returns in its answers.
func snapshotDefaults(ev *tracing.TraceEvent) {
	if ev.Data.HasMessage && ev.Data.Message.ContentCodec == "" {
		ev.Data.Message.ContentCodec = "none"
	}
}
