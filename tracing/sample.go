package tracing

import (
	"fmt"
	"math/rand/v2"

	"github.com/reflowtrace/reflowtrace-go/internal/sampling"
)

// Sampler decides which routine events are kept. The client asks it once
// per event that passed the filters, before the event is queued, with the
// queue's fill fraction in [0, 1]; false drops the event and counts it as
// sampled out. Events of critical kinds (see TracingConfig.CriticalKinds)
// and events carrying an error are never passed to a Sampler: they are
// always kept.
//
// An event that is sampled out still has its id (the recording methods
// return it), and the events recorded with it as cause name it as their
// parent, though no sink ever receives it. Where parents are resolved, as
// in the spans the OTLP sink (module sink/otlp) exports, those events then
// have a missing parent; no sink re-parents them. A Sampler that keeps or
// drops whole traces, as SamplingConfig.PerTrace makes the built-in
// strategies do, leaves no kept event with a sampled-out parent.
//
// Sample is called concurrently from every goroutine that records, on the
// hot path: it must be safe for concurrent use, must not block and should
// not allocate. It must not modify ev.
type Sampler interface {
	Sample(ev *TraceEvent, queueFill float64) bool
}

// builtin is the Sampler of a strategy of TracingConfig.Sampling: it asks
// d, per trace (with a hash of the event's TraceID, so that every event of
// a trace is kept or dropped together, in every process that uses the same
// rate) or per event. Events with a zero TraceID get a random decision at
// d's rate.
type builtin struct {
	d        sampling.Decider
	perTrace bool
}

func (b *builtin) Sample(ev *TraceEvent, queueFill float64) bool {
	switch {
	case !b.perTrace:
		return b.d.Keep(queueFill)
	case ev.TraceID.IsZero():
		return b.d.KeepHash(rand.Uint64(), queueFill)
	}
	return b.d.KeepHash(sampling.Hash(ev.TraceID), queueFill)
}

// sample calls s.Sample without letting ev escape: the built-in samplers
// are called through their concrete type (which does not keep ev), any
// other through a scratch copy of the event.
func sample(s Sampler, ev *TraceEvent, queueFill float64) bool {
	if b, ok := s.(*builtin); ok {
		return b.Sample(ev, queueFill)
	}
	sc := getScratch(ev)
	defer putScratch(sc)
	return s.Sample(sc, queueFill)
}

// samplerFromConfig returns the Sampler c describes, or nil when it keeps
// everything.
func samplerFromConfig(c *SamplingConfig) (Sampler, error) {
	s := &builtin{perTrace: c.PerTrace}
	switch c.Strategy {
	case "", "always":
		return nil, nil
	case "percentage":
		s.d = sampling.Percentage(c.Rate)
	case "every_nth":
		if c.N < 1 {
			return nil, fmt.Errorf("%w: Sampling.N = %d: must be at least 1 with strategy \"every_nth\"", ErrInvalidConfig, c.N)
		}
		s.d = sampling.EveryNth(c.N)
	case "adaptive":
		s.d = sampling.Adaptive(sampling.Load{BaseRate: c.Rate, MaxRate: c.MaxRate, LoadThreshold: c.LoadThreshold})
	default:
		return nil, fmt.Errorf("%w: Sampling.Strategy = %q: unknown strategy", ErrInvalidConfig, c.Strategy)
	}
	return s, nil
}
