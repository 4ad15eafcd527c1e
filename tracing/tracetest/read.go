package tracetest

import (
	"context"
	"fmt"
	"maps"
	"net/http"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// GetTrace returns the trace a client's GetTrace would get, or nil: on Gen2
// the in-flight trace with that id if there is one (it hides a stored one),
// else the stored trace; on Gen1 the stored trace. The result is a deep
// copy; with WithFastScan its events carry only their ids.
func (s *Server) GetTrace(id tracing.TraceID) *tracing.FlowTrace {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.store.visible(id, s.cfg.gen == Gen1)
	if e == nil {
		return nil
	}
	t := copyTrace(e)
	return &t
}

// Query returns the traces a client's QueryTraces would get (with a
// request id on Gen2, so in-flight traces are merged in), in the server's
// order. The result is a deep copy, never nil.
func (s *Server) Query(q wire.TraceQuery) []tracing.FlowTrace {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.queryLocked(&q, present{}, s.cfg.gen == Gen1)
	return out
}

// Traces returns every trace a client can read: Query with no constraint.
func (s *Server) Traces() []tracing.FlowTrace { return s.Query(wire.TraceQuery{}) }

// Kept returns, for every trace a client can read, how many times each
// event id appears in it, summed over the traces: what the server keeps.
// An event delivered exactly once maps to 1; a missing one is absent.
func (s *Server) Kept() map[tracing.EventID]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keptLocked()
}

func (s *Server) keptLocked() map[tracing.EventID]int {
	out := make(map[tracing.EventID]int)
	for id, e := range s.store.stored {
		if s.cfg.gen == Gen2 {
			if _, hidden := s.store.inflight[id]; hidden {
				continue
			}
		}
		countIDs(out, e)
	}
	if s.cfg.gen == Gen2 {
		for _, f := range s.store.inflight {
			countIDs(out, &f.entry)
		}
	}
	return out
}

func countIDs(out map[tracing.EventID]int, e *entry) {
	if e.fast {
		for _, id := range e.ids {
			out[id]++
		}
		return
	}
	for i := range e.trace.Events {
		out[e.trace.Events[i].EventID]++
	}
}

// KeptInTrace is Kept for the one trace GetTrace(id) returns (empty when
// there is none).
func (s *Server) KeptInTrace(id tracing.TraceID) map[tracing.EventID]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[tracing.EventID]int)
	if e := s.store.visible(id, s.cfg.gen == Gen1); e != nil {
		countIDs(out, e)
	}
	return out
}

// Live returns how many times each event id arrived in a RecordEvent
// (whatever the generation keeps of it).
func (s *Server) Live() map[tracing.EventID]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.live)
}

// Stats are the server's counters.
type Stats struct {
	// Messages counts StoreTrace and RecordEvent messages (also those
	// answered with an injected error); Total every message received,
	// readable or not, including those a fault dropped.
	Messages, Total int
	// ByKind counts the messages served by variant tag ("StoreTrace",
	// "RecordEvent", "EndTrace", "Ping", …), and KindInvalid those the
	// server could not read.
	ByKind map[string]int
	// Connects counts the accepted connections, Refused the refused ones,
	// NormalCloses the connections the client closed with
	// StatusNormalClosure, Conns the connections open now.
	Connects, Refused, NormalCloses, Conns int
	// Stored is the number of stored traces, InFlight the number of
	// generation-2 in-flight traces.
	Stored, InFlight int
	// Headers are the upgrade requests' headers, in order.
	Headers []http.Header
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := make([]http.Header, len(s.headers))
	for i := range s.headers {
		h[i] = s.headers[i].Clone()
	}
	return Stats{
		Messages: s.messages, Total: s.total, ByKind: maps.Clone(s.byKind),
		Connects: s.connects, Refused: s.refused, NormalCloses: s.normalCloses, Conns: len(s.conns),
		Stored: len(s.store.stored), InFlight: len(s.store.inflight), Headers: h,
	}
}

// WaitFor waits until cond returns true or ctx ends, calling it now and
// after every change of the server's state. cond runs with the server
// locked: it must only call the View's methods.
func (s *Server) WaitFor(ctx context.Context, cond func(v View) bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	for {
		s.mu.Lock()
		ok := cond(View{s})
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("tracetest: wait: %w", ctx.Err())
		}
	}
}

// View reads the server's state inside WaitFor. It is valid only during
// the cond call it was given to.
type View struct{ s *Server }

// Kept is Server.Kept.
func (v View) Kept() map[tracing.EventID]int { return v.s.keptLocked() }

// KeptDistinct returns how many distinct event ids the server keeps.
func (v View) KeptDistinct() int { return len(v.s.keptLocked()) }

// DistinctLive returns how many distinct event ids arrived in RecordEvent.
func (v View) DistinctLive() int { return len(v.s.live) }

// Messages returns the StoreTrace and RecordEvent messages received.
func (v View) Messages() int { return v.s.messages }

// ByKind returns how many messages of the given kind were served (see
// Stats.ByKind).
func (v View) ByKind(kind string) int { return v.s.byKind[kind] }

// Connects returns the connections accepted.
func (v View) Connects() int { return v.s.connects }

// Refused returns the connection attempts refused.
func (v View) Refused() int { return v.s.refused }

// NormalCloses returns the connections the client closed with
// StatusNormalClosure.
func (v View) NormalCloses() int { return v.s.normalCloses }

// Conns returns the connections open now.
func (v View) Conns() int { return len(v.s.conns) }

// Stored returns the number of stored traces.
func (v View) Stored() int { return len(v.s.store.stored) }

// InFlight returns the number of generation-2 in-flight traces.
func (v View) InFlight() int { return len(v.s.store.inflight) }
