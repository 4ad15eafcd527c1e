package main

import (
	"cmp"
	"slices"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// activation is one run of an actor: ActorStarted to ActorCompleted or
// ActorFailed, or a DataFlow's execution time when the actor reports no
// lifecycle.
type activation struct {
	actor      int
	start, end time.Time
	failed     bool
	first      int // index of the starting event (or the DataFlow)
	last       int // index of the ending event
}

// flow is one DataFlow: a message from one actor to another; failed when
// the send failed.
type flow struct {
	from, to int
	at       time.Time
	event    int
	failed   bool
}

// actorStats are an actor's counts and latencies.
type actorStats struct {
	Name          string
	Events        int
	Activations   int
	Failures      int
	P50, P95, P99 time.Duration
	Max           time.Duration
}

// edgeStats count the messages of one edge of the data-flow graph.
type edgeStats struct {
	From, To string
	Messages int
	Bytes    uint64
}

// model is what the view shows of one trace.
type model struct {
	Title    string
	Trace    *tracing.FlowTrace // nil for a file without header
	Events   []tracing.TraceEvent
	Actors   []string
	actorIdx map[string]int
	Acts     []activation
	Flows    []flow
	Failures []int // event indexes of the failures (see failure)
	Stats    []actorStats
	Edges    []edgeStats
	Start    time.Time
	End      time.Time
}

// failure reports whether ev records a failure: an ActorFailed, or any
// event that carries an error, such as the DataFlow of a send that failed
// (the actors middleware records those).
func failure(ev *tracing.TraceEvent) bool {
	return ev.Type.Kind == tracing.KindActorFailed || ev.Data.Error != ""
}

// build computes the model of events (sorted by time, stably).
func build(title string, trace *tracing.FlowTrace, events []tracing.TraceEvent) *model {
	m := &model{Title: title, Trace: trace, Events: slices.Clone(events), actorIdx: map[string]int{}}
	slices.SortStableFunc(m.Events, func(a, b tracing.TraceEvent) int { return a.Timestamp.Compare(b.Timestamp) })
	actor := func(name string) int {
		i, ok := m.actorIdx[name]
		if !ok {
			i = len(m.Actors)
			m.actorIdx[name] = i
			m.Actors = append(m.Actors, name)
		}
		return i
	}
	lifecycle := map[string]bool{}
	for i := range m.Events {
		if k := m.Events[i].Type.Kind; k == tracing.KindActorStarted {
			lifecycle[m.Events[i].ActorID] = true
		}
	}
	open := map[int][]int{} // actor → indexes of unmatched ActorStarted
	edges := map[[2]int]*edgeStats{}
	counts := map[int]int{}
	for i := range m.Events {
		ev := &m.Events[i]
		a := actor(ev.ActorID)
		counts[a]++
		if i == 0 || ev.Timestamp.Before(m.Start) {
			m.Start = ev.Timestamp
		}
		if ev.Timestamp.After(m.End) {
			m.End = ev.Timestamp
		}
		failed := failure(ev)
		if failed {
			m.Failures = append(m.Failures, i)
		}
		switch ev.Type.Kind {
		case tracing.KindActorStarted:
			open[a] = append(open[a], i)
		case tracing.KindActorCompleted, tracing.KindActorFailed:
			if q := open[a]; len(q) > 0 {
				s := q[len(q)-1]
				open[a] = q[:len(q)-1]
				start := m.Events[s].Timestamp
				end := ev.Timestamp
				if !end.After(start) && ev.Data.PerformanceMetrics.ExecutionTimeNs > 0 {
					end = start.Add(time.Duration(ev.Data.PerformanceMetrics.ExecutionTimeNs))
				}
				m.Acts = append(m.Acts, activation{actor: a, start: start, end: end, failed: failed, first: s, last: i})
			}
		case tracing.KindDataFlow:
			to := actor(ev.Type.ToActor)
			m.Flows = append(m.Flows, flow{from: a, to: to, at: ev.Timestamp, event: i, failed: failed})
			e := edges[[2]int{a, to}]
			if e == nil {
				e = &edgeStats{From: ev.ActorID, To: ev.Type.ToActor}
				edges[[2]int{a, to}] = e
			}
			e.Messages++
			if ev.Data.HasMessage {
				e.Bytes += ev.Data.Message.SizeBytes
			}
			if d := ev.Data.PerformanceMetrics.ExecutionTimeNs; d > 0 && !lifecycle[ev.ActorID] {
				start := ev.Timestamp.Add(-time.Duration(d))
				m.Acts = append(m.Acts, activation{actor: a, start: start, end: ev.Timestamp, failed: failed, first: i, last: i})
				if start.Before(m.Start) {
					m.Start = start
				}
			}
		}
	}
	for _, a := range m.Acts {
		if a.end.After(m.End) {
			m.End = a.end
		}
	}
	slices.SortStableFunc(m.Acts, func(a, b activation) int { return a.start.Compare(b.start) })
	durs := make([][]time.Duration, len(m.Actors))
	failures := make([]int, len(m.Actors))
	for _, a := range m.Acts {
		durs[a.actor] = append(durs[a.actor], a.end.Sub(a.start))
	}
	for _, i := range m.Failures {
		failures[m.actorIdx[m.Events[i].ActorID]]++
	}
	for i, name := range m.Actors {
		d := durs[i]
		slices.Sort(d)
		st := actorStats{Name: name, Events: counts[i], Activations: len(d), Failures: failures[i]}
		if len(d) > 0 {
			st.P50, st.P95, st.P99, st.Max = percentile(d, 50), percentile(d, 95), percentile(d, 99), d[len(d)-1]
		}
		m.Stats = append(m.Stats, st)
	}
	for _, e := range edges {
		m.Edges = append(m.Edges, *e)
	}
	slices.SortFunc(m.Edges, func(a, b edgeStats) int {
		return cmp.Or(cmp.Compare(b.Messages, a.Messages), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	return m
}

// percentile is the nearest-rank p-th percentile of sorted d.
func percentile(d []time.Duration, p int) time.Duration {
	rank := (p*len(d) + 99) / 100 // ceil(p/100 * n)
	return d[max(rank, 1)-1]
}
