package main

import (
	"context"
	"strconv"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/query"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// Reflow's server pushes a notification only for a RecordEvent, and a
// program that records with the WebSocket sink's default settings sends
// StoreTrace alone: a monitor that only subscribed would see nothing of it.
// So the monitor also reads what the server stores, every -poll.
//
// The protocol has no "changed since" query; QueryTraces filters on a
// trace's start time and returns traces whole. Each round reads:
//
//   - the traces that started in the last lookback (at least a minute):
//     every trace started since the monitor began, and every new segment
//     of a long trace (a segment starts with its first event);
//   - on the first round, the traces still running or pending, however
//     old, to learn the traces already recording when the monitor began;
//   - by GetTrace, each trace seen running that has left that window,
//     until it ends or a later segment of it appears;
//   - by GetTrace, the traces of notifications whose flow is not known yet
//     (the -flow filter needs it).
//
// Events are de-duplicated by event id in the watcher.

// minLookback is the shortest window of start times read every round.
const minLookback = time.Minute

// pollResult is what one round read.
type pollResult struct {
	traces []tracing.FlowTrace
	err    error // the first error; the traces read before it are kept
}

// tracked is a trace polled by id.
type tracked struct {
	logical tracing.TraceID // the trace a segment belongs to
	segment int
	last    bool // superseded by a later segment: read once more, then dropped
}

// poller reads what the server stores. Only one round runs at a time; the
// watcher hands it to the round's goroutine and back.
type poller struct {
	c        *query.Client
	flows    []tracing.FlowID // one query per flow; none means every flow
	lookback time.Duration
	start    time.Time
	rounds   int
	tracked  map[tracing.TraceID]*tracked
}

func newPoller(c *query.Client, flows []tracing.FlowID, interval time.Duration, start time.Time) *poller {
	if len(flows) == 0 {
		flows = []tracing.FlowID{""}
	}
	return &poller{c: c, flows: flows, lookback: max(minLookback, 10*interval), start: start, tracked: map[tracing.TraceID]*tracked{}}
}

// round reads the traces the server stores that may hold new events, and
// those of wanted.
func (p *poller) round(ctx context.Context, wanted []tracing.TraceID) pollResult {
	var res pollResult
	fail := func(err error) {
		if res.err == nil {
			res.err = err
		}
	}
	got := map[tracing.TraceID]bool{}
	add := func(t tracing.FlowTrace) {
		if got[t.TraceID] {
			return
		}
		got[t.TraceID] = true
		res.traces = append(res.traces, t)
	}
	now := time.Now()
	from := now.Add(-p.lookback)
	if p.rounds == 0 {
		from = p.start.Add(-p.lookback)
	}
	queries := []wire.TraceQuery{{HasTimeRange: true, TimeRange: [2]time.Time{from, now.AddDate(100, 0, 0)}}}
	if p.rounds == 0 {
		for _, k := range []tracing.StatusKind{tracing.StatusRunning, tracing.StatusPending} {
			queries = append(queries, wire.TraceQuery{Status: &tracing.ExecutionStatus{Kind: k}})
		}
	}
	for _, q := range queries {
		for _, flow := range p.flows {
			q.FlowID = flow
			for t, err := range p.c.QueryAll(ctx, q) {
				if err != nil {
					fail(err)
					break
				}
				add(t)
			}
		}
	}
	for id := range p.tracked {
		if !got[id] {
			p.get(ctx, id, add, fail)
		}
	}
	for _, id := range wanted {
		if !got[id] {
			p.get(ctx, id, add, fail)
		}
	}
	p.track(res.traces, got)
	p.rounds++
	return res
}

// get reads one trace by id; a trace the server does not know is no
// longer tracked.
func (p *poller) get(ctx context.Context, id tracing.TraceID, add func(tracing.FlowTrace), fail func(error)) {
	t, err := p.c.GetTrace(ctx, id)
	switch {
	case err != nil:
		fail(err)
	case t == nil:
		delete(p.tracked, id)
	default:
		add(*t)
	}
}

// track updates the traces to poll by id from those just read: a running
// trace is tracked, an ended one no longer, and an earlier segment of a
// trace with a later one is read once more (its last store may trail the
// next segment's first) and then dropped.
func (p *poller) track(traces []tracing.FlowTrace, got map[tracing.TraceID]bool) {
	for id, t := range p.tracked {
		if t.last && got[id] {
			delete(p.tracked, id)
		}
	}
	newest := map[tracing.TraceID]int{}
	for i := range traces {
		t := &traces[i]
		logical, seg := segmentOf(t)
		newest[logical] = max(newest[logical], seg)
		if ended(t.Status) {
			delete(p.tracked, t.TraceID)
		} else if _, ok := p.tracked[t.TraceID]; !ok {
			p.tracked[t.TraceID] = &tracked{logical: logical, segment: seg}
		}
	}
	for _, t := range p.tracked {
		if n, ok := newest[t.logical]; ok && n > t.segment {
			t.last = true
		}
	}
}

// segmentOf returns the trace that t is a segment of (t's own id for a
// whole trace or a first segment) and its segment number.
func segmentOf(t *tracing.FlowTrace) (tracing.TraceID, int) {
	of, ok := t.Metadata.Tags[wire.TagSegmentOf]
	if !ok {
		return t.TraceID, 0
	}
	id, err := tracing.ParseTraceID(of)
	if err != nil {
		return t.TraceID, 0
	}
	n, _ := strconv.Atoi(t.Metadata.Tags[wire.TagSegment])
	return id, n
}

// ended reports whether a trace of status s records nothing more.
func ended(s tracing.ExecutionStatus) bool {
	return s.Kind != tracing.StatusRunning && s.Kind != tracing.StatusPending
}
