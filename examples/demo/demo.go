// Package demo generates the trace of a small actor pipeline for the
// examples: source → parser → validator → enricher → writer, where the
// validator rejects some records. Every event carries its causality (the
// event that led to it and the chain back to the record's first event) and
// its duration, on a simulated clock, so the trace is the same for a seed.
package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
)

// Actors are the pipeline's actors, in data-flow order.
var Actors = []string{"source", "parser", "validator", "enricher", "writer"}

// Pipeline describes one run. The zero value is a run of 0 messages.
type Pipeline struct {
	// Messages is how many records pass through.
	Messages int
	// FailEvery makes the validator reject every FailEvery-th record;
	// 0 never.
	FailEvery int
	// Start is the simulated clock's start. Default: time.Now().
	Start time.Time
	// Pace waits this long in real time between records (live demos);
	// each record then starts at the real time.
	Pace time.Duration
	// Seed seeds the simulated durations.
	Seed uint64
}

// mean work per actor, in microseconds.
var work = map[string]int{"source": 40, "parser": 250, "validator": 120, "enricher": 600, "writer": 300}

// Run emits the events of the run through record, in order, until done or
// ctx ends. It returns how many records failed.
func (p Pipeline) Run(ctx context.Context, record func(tracing.TraceEvent)) (failed int) {
	rng := rand.New(rand.NewPCG(p.Seed, 0x5eed))
	now := p.Start
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	var tick *time.Ticker
	if p.Pace > 0 {
		tick = time.NewTicker(p.Pace)
		defer tick.Stop()
	}
	emit := func(ev tracing.TraceEvent, chain []tracing.EventID) tracing.EventID {
		ev.EventID = tracing.NewEventID()
		ev.Timestamp = now
		if len(chain) > 0 {
			ev.Causality.ParentEventID = chain[len(chain)-1]
			ev.Causality.RootCauseEventID = chain[0]
			ev.Causality.DependencyChain = append([]tracing.EventID(nil), chain...)
		}
		record(ev)
		return ev.EventID
	}
	for _, a := range Actors {
		emit(event.ActorCreated(a), nil)
	}
	for i := range p.Messages {
		if tick != nil {
			select {
			case <-tick.C:
				now = time.Now().UTC()
			case <-ctx.Done():
				return failed
			}
		} else if ctx.Err() != nil {
			return failed
		}
		var chain []tracing.EventID // the causes of the next event, oldest first
		for k, a := range Actors {
			started := append(chain, emit(event.ActorStarted(a), chain))
			d := time.Duration(work[a]/2+rng.IntN(work[a])) * time.Microsecond
			if rng.IntN(50) == 0 { // the odd slow one
				d *= 8
			}
			now = now.Add(d)
			if a == "validator" && p.FailEvery > 0 && (i+1)%p.FailEvery == 0 {
				ev := event.ActorFailed(a, fmt.Sprintf("record %d: schema mismatch: field %q missing", i+1, "amount"))
				ev.Data.PerformanceMetrics.ExecutionTimeNs = uint64(d)
				emit(ev, started)
				failed++
				break
			}
			if k+1 < len(Actors) {
				ev := event.DataFlow(a, "out", Actors[k+1], "in", "Record", uint64(64+rng.IntN(512)))
				ev.Data.PerformanceMetrics.ExecutionTimeNs = uint64(d)
				ev.Data.PerformanceMetrics.QueueDepth = uint64(rng.IntN(4))
				chain = append(started, emit(ev, started))
			}
			done := event.ActorCompleted(a)
			done.Data.PerformanceMetrics.ExecutionTimeNs = uint64(d)
			emit(done, started)
			now = now.Add(time.Duration(5+rng.IntN(20)) * time.Microsecond)
		}
	}
	return failed
}
