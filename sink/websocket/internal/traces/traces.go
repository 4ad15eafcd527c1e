package traces

import (
	"sync"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// Cache keeps the header (the FlowTrace without its events) of each trace
// the client told the sink about, and builds default headers for the
// others. It keeps at most Max headers, forgetting the oldest first. The
// zero value is empty and ready; a Cache is safe for concurrent use.
type Cache struct {
	mu    sync.Mutex
	m     map[tracing.TraceID]*entry
	order []tracing.TraceID // insertion order, for eviction
	dirty []tracing.TraceID // ended traces whose final header is not sent yet
}

type entry struct {
	trace tracing.FlowTrace
	ended bool
	// dirty is set while the header waits in Cache.dirty to be handed
	// out by TakeEnded.
	dirty bool
	// next is the number of the trace's next segment (see SetNext).
	next int
}

// Max bounds the headers a Cache keeps (and the sink the segments of
// traces it remembers).
const Max = 4096

// Ended reports whether a trace with status has ended: it is no longer
// running or pending.
func Ended(status tracing.ExecutionStatus) bool {
	return status.Kind != tracing.StatusRunning && status.Kind != tracing.StatusPending
}

// Put keeps t's header, replacing what the Cache held for its trace id. A
// trace that has ended (see Ended) has its header handed out once by
// TakeEnded.
func (h *Cache) Put(t tracing.FlowTrace) {
	t.Events = nil
	ended := Ended(t.Status)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[tracing.TraceID]*entry)
	}
	e, ok := h.m[t.TraceID]
	if !ok {
		h.evict()
		e = &entry{}
		h.m[t.TraceID] = e
		h.order = append(h.order, t.TraceID)
	}
	e.trace = t
	if ended && !e.ended && !e.dirty {
		h.dirty = append(h.dirty, t.TraceID)
		e.dirty = true
	}
	e.ended = ended
}

// evict forgets the oldest headers until there is room for one more.
// h.mu must be held.
func (h *Cache) evict() {
	for len(h.m) >= Max && len(h.order) > 0 {
		delete(h.m, h.order[0])
		h.order = h.order[1:]
	}
}

// Get returns the header of trace id. For a trace Put did not tell about
// it keeps and returns a copy of def with id and, unless start is 0, the
// start time start (Unix ns).
func (h *Cache) Get(id tracing.TraceID, def *tracing.FlowTrace, start int64) tracing.FlowTrace {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.m[id]; ok {
		return e.trace
	}
	if h.m == nil {
		h.m = make(map[tracing.TraceID]*entry)
	}
	h.evict()
	t := *def
	t.TraceID = id
	if start != 0 {
		t.StartTime = time.Unix(0, start).UTC()
	}
	h.m[id] = &entry{trace: t}
	h.order = append(h.order, id)
	return t
}

// SetNext records n as the number of trace id's next segment, for a sink
// that forgets the trace's current segment before the trace ends: its next
// events, or its end, must not open segment 0 again, whose store would
// replace what the server keeps under the trace's id. It does nothing for
// a header the Cache does not keep.
func (h *Cache) SetNext(id tracing.TraceID, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.m[id]; ok {
		e.next = max(e.next, n)
	}
}

// Next returns the number SetNext recorded for trace id, or 0.
func (h *Cache) Next(id tracing.TraceID) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.m[id]; ok {
		return e.next
	}
	return 0
}

// TakeEnded returns the headers of the traces that ended since they were
// last handed out, each once, in the order they ended; with a non-zero
// before, only those whose end time is before it (the others wait for a
// later call). Headers forgotten meanwhile are not returned.
func (h *Cache) TakeEnded(before time.Time) []tracing.FlowTrace {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.dirty) == 0 {
		return nil
	}
	var out []tracing.FlowTrace
	keep := h.dirty[:0]
	for _, id := range h.dirty {
		e, ok := h.m[id]
		switch {
		case !ok || !e.dirty:
			// Forgotten (and perhaps built again by Get), or handed out.
		case !before.IsZero() && !e.trace.EndTime.Before(before):
			keep = append(keep, id)
		default:
			e.dirty = false
			out = append(out, e.trace)
		}
	}
	h.dirty = keep
	return out
}
