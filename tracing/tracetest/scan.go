package tracetest

import (
	"bytes"
	"time"

	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

var (
	keyEventID   = []byte(`{"event_id":"`)
	keyTraceID   = []byte(`"trace_id":"`)
	keyStartTime = []byte(`"start_time":"`)
)

// scan serves a StoreTrace or RecordEvent in fast-scan mode: it reads the
// trace id (the first "trace_id" of the message), the event ids (each
// object starting with "event_id", as the SDK's encoder writes events) and
// a StoreTrace's start time, and applies the same storage rules as a full
// decode. Subscribers are not notified.
func (c *conn) scan(tag string, data []byte) wire.TracingResponse {
	s := c.s
	var traceID tracing.TraceID
	if i := bytes.Index(data, keyTraceID); i >= 0 {
		traceID, _ = parseID(data[i+len(keyTraceID):])
	}
	var ids []tracing.EventID
	rest := data
	for {
		i := bytes.Index(rest, keyEventID)
		if i < 0 {
			break
		}
		rest = rest[i+len(keyEventID):]
		if id, ok := parseID(rest); ok {
			ids = append(ids, id)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages++
	s.byKind[tag]++
	s.notifyLocked()
	if tag == "StoreTrace" {
		e := &entry{fast: true, ids: ids, trace: tracing.FlowTrace{TraceID: traceID}}
		if i := bytes.Index(data, keyStartTime); i >= 0 {
			rest := data[i+len(keyStartTime):]
			if j := bytes.IndexByte(rest, '"'); j >= 0 {
				e.trace.StartTime, _ = time.Parse(time.RFC3339Nano, string(rest[:j]))
			}
		}
		s.store.put(e)
		s.metrics.tracesStored++
		return wire.TraceStored{TraceID: traceID}
	}
	for _, id := range ids[:min(len(ids), 1)] {
		s.live[id]++
		if s.cfg.gen == Gen2 {
			s.flightLocked(traceID).addEvent(nil, id)
		}
	}
	return wire.EventRecorded{Success: true}
}

// parseID reads a hyphenated UUID at the start of b.
func parseID(b []byte) ([16]byte, bool) {
	if len(b) < uuid.TextLen {
		return [16]byte{}, false
	}
	id, err := uuid.Parse(b[:uuid.TextLen])
	return id, err == nil
}
