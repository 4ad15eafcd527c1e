package traces

import (
	"sync"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// Cache keeps the StoreTrace header of each trace the client told the
// sink about, and builds default headers for the others.
type Cache struct {
	mu    sync.Mutex
	m     map[tracing.TraceID]*entry
	order []tracing.TraceID // insertion order, for eviction
	dirty []tracing.TraceID // ended traces whose final header is not sent yet
}

type entry struct {
	trace tracing.FlowTrace
	ended bool
}

const Max = 4096

func (h *Cache) Put(t tracing.FlowTrace) (ended bool) {
	t.Events = nil
	ended = t.Status.Kind != tracing.StatusRunning && t.Status.Kind != tracing.StatusPending
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
	if ended && !e.ended {
		h.dirty = append(h.dirty, t.TraceID)
	}
	e.ended = ended
	return ended
}

func (h *Cache) evict() {
	for len(h.m) >= Max && len(h.order) > 0 {
		delete(h.m, h.order[0])
		h.order = h.order[1:]
	}
}

// Get returns the header for id, creating one from def (with start time
// start) when the sink was not told about the trace.
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

// TakeEnded returns the headers of ended traces not sent yet; with a
// non-zero before, only those that ended before it.
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
		case !ok:
		case !before.IsZero() && !e.trace.EndTime.Before(before):
			keep = append(keep, id)
		default:
			out = append(out, e.trace)
		}
	}
	h.dirty = keep
	return out
}
