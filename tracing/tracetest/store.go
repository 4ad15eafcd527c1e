package tracetest

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// DefaultMaxTraces is how many traces the memory backend of the reference
// server holds before it evicts the one with the oldest start time.
const DefaultMaxTraces = 10000

// entry is one trace the server holds, stored or in flight. In fast-scan
// mode trace.Events is empty and ids holds the event ids in arrival order;
// otherwise ids is nil and trace.Events is authoritative.
type entry struct {
	trace tracing.FlowTrace
	ids   []tracing.EventID
	fast  bool
}

// addEvent appends one event (or, in fast-scan mode, its id).
func (e *entry) addEvent(ev *tracing.TraceEvent, id tracing.EventID) {
	if e.fast {
		e.ids = append(e.ids, id)
		return
	}
	e.trace.Events = append(e.trace.Events, *ev)
}

// flight is a generation-2 in-flight trace: opened by StartTrace or lazily
// by RecordEvent, ended by EndTrace or by the disconnect of a connection
// that started its id (see Server.disconnectLocked).
type flight struct {
	entry
}

// store is what the server keeps: the storage backend (keyed by trace id,
// replace-whole, bounded) and, on generation 2, the in-flight traces. The
// Server's mu guards it.
type store struct {
	max      int
	stored   map[tracing.TraceID]*entry
	inflight map[tracing.TraceID]*flight
}

func newStore(max int) store {
	return store{max: max, stored: make(map[tracing.TraceID]*entry), inflight: make(map[tracing.TraceID]*flight)}
}

// put stores e under its trace id, replacing whatever was stored there whole.
// Like the reference memory backend it first checks the capacity: when the
// store is full (even if e replaces a stored trace) it evicts the trace with
// the oldest start time.
func (st *store) put(e *entry) {
	if len(st.stored) >= st.max {
		var oldest *entry
		for _, o := range st.stored {
			if oldest == nil || o.trace.StartTime.Before(oldest.trace.StartTime) {
				oldest = o
			}
		}
		if oldest != nil {
			delete(st.stored, oldest.trace.TraceID)
		}
	}
	st.stored[e.trace.TraceID] = e
}

// visible returns the trace a generation-2 reader sees under id (in flight
// first, then stored) or, with storageOnly, the stored one; nil if none.
func (st *store) visible(id tracing.TraceID, storageOnly bool) *entry {
	if !storageOnly {
		if f, ok := st.inflight[id]; ok {
			return &f.entry
		}
	}
	return st.stored[id]
}

// query answers a TraceQuery like the reference server: the storage
// backend's answer (matching stored traces, newest start time first, with
// offset and limit applied), then, unless storageOnly, the matching
// in-flight traces whose id is not in that answer, in no set order, and the
// whole cut to limit again. So a stored trace hides an in-flight one with
// the same id, the reverse of GetTrace, and offset pages the stored
// traces only. The in-flight traces are matched by the server's own
// filter, whose actor filter is an exact actor id where the backend's is
// a substring.
func (st *store) query(q *wire.TraceQuery, p present, storageOnly bool) []*entry {
	p = p.or(q)
	var stored []*entry
	for _, e := range st.stored {
		if matches(q, p, e, strings.Contains) {
			stored = append(stored, e)
		}
	}
	newestFirst := func(a, b *entry) int {
		if c := b.trace.StartTime.Compare(a.trace.StartTime); c != 0 {
			return c
		}
		return cmp.Compare(string(a.trace.TraceID[:]), string(b.trace.TraceID[:]))
	}
	slices.SortFunc(stored, newestFirst)
	stored = stored[min(q.Offset, uint64(len(stored))):]
	if p.limit && uint64(len(stored)) > q.Limit {
		stored = stored[:q.Limit]
	}
	if storageOnly {
		return stored
	}
	answered := make(map[tracing.TraceID]bool, len(stored))
	for _, e := range stored {
		answered[e.trace.TraceID] = true
	}
	var flying []*entry
	for id, f := range st.inflight {
		if !answered[id] && matches(q, p, &f.entry, func(actor, filter string) bool { return actor == filter }) {
			flying = append(flying, &f.entry)
		}
	}
	// In no set order, as the reference server's map of in-flight traces
	// yields them.
	out := append(stored, flying...)
	if p.limit && uint64(len(out)) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

// present says which of a query's fields a request held with a value
// (not absent, not null): the reference server applies a field that is
// there even when it is the zero value (limit 0 answers nothing, a flow
// id "" matches traces of flow "", an actor filter "" any trace with an
// event), which wire.TraceQuery cannot tell from one that is not.
type present struct{ flowID, executionID, actorFilter, limit bool }

// or adds the fields of q that hold a non-zero value.
func (p present) or(q *wire.TraceQuery) present {
	p.flowID = p.flowID || q.FlowID != ""
	p.executionID = p.executionID || !q.ExecutionID.IsZero()
	p.actorFilter = p.actorFilter || q.ActorFilter != ""
	p.limit = p.limit || q.Limit > 0
	return p
}

// presentIn reads which fields the QueryTraces message data holds.
func presentIn(data []byte) present {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body(data, "QueryTraces")["query"], &fields) != nil {
		return present{}
	}
	has := func(name string) bool {
		v, ok := fields[name]
		return ok && string(v) != "null"
	}
	return present{flowID: has("flow_id"), executionID: has("execution_id"), actorFilter: has("actor_filter"), limit: has("limit")}
}

// matches applies a query's filters, those p says are present: flow id,
// execution id, start time within the range, status, and an actor filter
// that some event's actor id satisfies by actorMatch.
func matches(q *wire.TraceQuery, p present, e *entry, actorMatch func(actor, filter string) bool) bool {
	t := &e.trace
	if p.flowID && t.FlowID != q.FlowID {
		return false
	}
	if p.executionID && t.ExecutionID != q.ExecutionID {
		return false
	}
	if q.HasTimeRange && (t.StartTime.Before(q.TimeRange[0]) || t.StartTime.After(q.TimeRange[1])) {
		return false
	}
	if q.Status != nil && *q.Status != t.Status {
		return false
	}
	if p.actorFilter {
		found := false
		for i := range t.Events {
			if actorMatch(t.Events[i].ActorID, q.ActorFilter) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// end moves the in-flight trace id to storage with status and end time
// now, replacing the stored trace whole. It reports whether there was one.
func (st *store) end(id tracing.TraceID, status tracing.ExecutionStatus, now time.Time) bool {
	f, ok := st.inflight[id]
	if !ok {
		return false
	}
	delete(st.inflight, id)
	f.trace.Status = status
	f.trace.EndTime = now
	e := f.entry
	st.put(&e)
	return true
}

// copyTrace returns a deep copy of e's trace; in fast-scan mode its events
// carry only their ids.
func copyTrace(e *entry) tracing.FlowTrace {
	t := e.trace
	t.Metadata.Tags = copyMap(e.trace.Metadata.Tags)
	if e.fast {
		t.Events = make([]tracing.TraceEvent, len(e.ids))
		for i, id := range e.ids {
			t.Events[i].EventID = id
		}
		return t
	}
	t.Events = make([]tracing.TraceEvent, len(e.trace.Events))
	for i := range e.trace.Events {
		t.Events[i] = copyEvent(&e.trace.Events[i])
	}
	return t
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// copyEvent returns a copy of ev that shares no memory with it.
func copyEvent(ev *tracing.TraceEvent) tracing.TraceEvent {
	c := *ev
	d := &c.Data
	d.Message.SerializedData = slices.Clone(ev.Data.Message.SerializedData)
	d.StateDiff.Before = slices.Clone(ev.Data.StateDiff.Before)
	d.StateDiff.After = slices.Clone(ev.Data.StateDiff.After)
	c.Causality.DependencyChain = slices.Clone(ev.Causality.DependencyChain)
	var as attr.Set
	for a := range ev.Data.CustomAttributes.All {
		as.Set(attr.Any(a.Key, copyValue(a.Value)))
	}
	d.CustomAttributes = as
	return c
}

func copyValue(v attr.Value) attr.Value {
	switch v.Kind() {
	case attr.KindArray:
		src := v.Array()
		vs := make([]attr.Value, len(src))
		for i := range src {
			vs[i] = copyValue(src[i])
		}
		return attr.ArrayValue(vs...)
	case attr.KindObject:
		src := v.Object()
		as := make([]attr.KeyValue, len(src))
		for i := range src {
			as[i] = attr.Any(src[i].Key, copyValue(src[i].Value))
		}
		return attr.ObjectValue(as...)
	}
	return v
}
