package tracing

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sync/atomic"
)

// Sampler decides which routine events are kept. The client asks it once
// per event that passed the filters, before the event is queued, with the
// queue's fill fraction in [0, 1]; false drops the event and counts it as
// sampled out. Events of critical kinds (see TracingConfig.CriticalKinds)
// and events carrying an error are never passed to a Sampler: they are
// always kept.
//
// Sample is called concurrently from every goroutine that records, on the
// hot path: it must be safe for concurrent use, must not block and should
// not allocate. It must not modify ev.
type Sampler interface {
	Sample(ev *TraceEvent, queueFill float64) bool
}

// Rates are compared as 53-bit fixed-point numbers: a decision keeps an
// event when a uniformly random (or hashed) 53-bit number is below
// threshold(rate).
const rateOne = 1 << 53

// threshold converts a rate in [0, 1] to its 53-bit threshold; rates below
// 0 (and NaN) keep nothing and rates above 1 keep everything.
func threshold(rate float64) uint64 {
	switch {
	case !(rate > 0):
		return 0
	case rate >= 1:
		return rateOne
	}
	return uint64(rate * rateOne)
}

// random53 returns a uniformly random 53-bit number from the per-thread
// generator of math/rand/v2: lock-free and allocation-free.
func random53() uint64 { return rand.Uint64() >> 11 }

// traceSampler is implemented by the samplers that perTraceSampler can make
// deterministic: given a 64-bit hash of the trace id, decide as Sample
// would for a random draw.
type traceSampler interface {
	Sampler
	sampleHash(h uint64, queueFill float64) bool
}

// percentageSampler returns a Sampler that keeps each event with probability p
// (a fraction: 0.25 keeps a quarter; Reflow's SamplingStrategy::Percentage
// takes percent). p <= 0 keeps no routine event, p >= 1 keeps every event.
// Decisions are independent random draws from math/rand/v2's per-thread
// generator; wrap the result in perTraceSampler to keep or drop whole traces.
// The Sampler is safe for concurrent use, lock-free and does not allocate.
func percentageSampler(p float64) Sampler { return percentage{threshold: threshold(p)} }

type percentage struct{ threshold uint64 }

func (s percentage) Sample(*TraceEvent, float64) bool { return random53() < s.threshold }

func (s percentage) sampleHash(h uint64, _ float64) bool { return h>>11 < s.threshold }

// everyNthSampler returns a Sampler that keeps the first event it is asked about
// and then every n'th: with n = 3 it keeps the 1st, 4th, 7th, … Events are
// counted with one atomic counter shared by all goroutines, so under
// concurrency it keeps exactly one event in n but not a particular one.
// n = 0 behaves like n = 1 (keep everything). Under perTraceSampler it keeps one
// trace in n, chosen by the trace id's hash. The Sampler is safe for
// concurrent use, lock-free and does not allocate.
func everyNthSampler(n uint64) Sampler {
	if n == 0 {
		n = 1
	}
	return &everyNth{n: n}
}

type everyNth struct {
	n     uint64
	count atomic.Uint64
}

func (s *everyNth) Sample(*TraceEvent, float64) bool { return (s.count.Add(1)-1)%s.n == 0 }

func (s *everyNth) sampleHash(h uint64, _ float64) bool { return h%s.n == 0 }

// adaptiveSampler is a Sampler whose rate follows the load of the client's queue,
// like Reflow's SamplingStrategy::Adaptive (whose rates are in percent;
// these are fractions). While the queue's fill fraction is below
// LoadThreshold it keeps MaxRate of the events; above it the rate falls
// linearly to BaseRate as the queue fills up to 1, and it rises the same
// way as the queue drains. Rates are fractions in [0, 1]; a LoadThreshold
// of 1 or more keeps MaxRate until the queue is full.
//
// adaptiveSampler is a plain value: the zero one keeps nothing. It is safe
// for concurrent use, lock-free and does not allocate.
type adaptiveSampler struct {
	BaseRate      float64
	MaxRate       float64
	LoadThreshold float64
}

// Rate returns the fraction of events a kept at the given queue fill.
func (a adaptiveSampler) Rate(queueFill float64) float64 {
	switch {
	case !(queueFill >= a.LoadThreshold): // also NaN
		return a.MaxRate
	case queueFill >= 1 || a.LoadThreshold >= 1:
		return a.BaseRate
	}
	t := (queueFill - a.LoadThreshold) / (1 - a.LoadThreshold)
	return a.MaxRate + (a.BaseRate-a.MaxRate)*t
}

// Sample keeps the event with probability a.Rate(queueFill).
func (a adaptiveSampler) Sample(_ *TraceEvent, queueFill float64) bool {
	return random53() < threshold(a.Rate(queueFill))
}

func (a adaptiveSampler) sampleHash(h uint64, queueFill float64) bool {
	return h>>11 < threshold(a.Rate(queueFill))
}

// perTraceSampler returns a Sampler that makes s's decisions deterministic per
// trace: instead of a random draw it compares a hash of the event's
// TraceID with s's rate, so every event of a trace is kept or dropped
// together, in every process that uses the same rate. Under Adaptive a
// falling rate drops whole traces (those whose hash is above the new rate)
// and keeps the others complete.
//
// perTraceSampler works with the samplers of this file; any other Sampler is returned unchanged, and it can read
// ev.TraceID itself. Events with a zero TraceID get a random decision at
// s's rate.
// The result is safe for concurrent use and does not allocate.
func perTraceSampler(s Sampler) Sampler {
	switch ts := s.(type) {
	case perTrace:
		return s
	case traceSampler:
		return perTrace{ts}
	}
	return s
}

type perTrace struct{ s traceSampler }

func (p perTrace) Sample(ev *TraceEvent, queueFill float64) bool {
	if ev.TraceID.IsZero() {
		return p.s.sampleHash(rand.Uint64(), queueFill)
	}
	return p.s.sampleHash(traceHash(ev.TraceID), queueFill)
}

// traceHash mixes the 16 bytes of a trace id into 64 well-distributed
// bits. Version 7 ids start with a timestamp, so both halves are folded
// and then finalised (the splitmix64 finaliser) to spread every input bit.
func traceHash(id TraceID) uint64 {
	h := binary.LittleEndian.Uint64(id[8:]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(id[:8]), 31)
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// sample calls s.Sample without letting ev escape: the samplers of this
// package are called through their concrete types (which do not keep ev),
// any other through a scratch copy of the event.
func sample(s Sampler, ev *TraceEvent, queueFill float64) bool {
	switch x := s.(type) {
	case percentage:
		return x.Sample(ev, queueFill)
	case adaptiveSampler:
		return x.Sample(ev, queueFill)
	case *everyNth:
		return x.Sample(ev, queueFill)
	case perTrace:
		return x.Sample(ev, queueFill)
	}
	sc := getScratch(ev)
	defer putScratch(sc)
	return s.Sample(sc, queueFill)
}

// samplerFromConfig returns the Sampler c describes, or nil when it keeps
// everything.
func samplerFromConfig(c *SamplingConfig) (Sampler, error) {
	var s Sampler
	switch c.Strategy {
	case "", "always":
		return nil, nil
	case "percentage":
		s = percentageSampler(c.Rate)
	case "every_nth":
		if c.N < 1 {
			return nil, fmt.Errorf("%w: Sampling.N = %d: must be at least 1 with strategy \"every_nth\"", ErrInvalidConfig, c.N)
		}
		s = everyNthSampler(c.N)
	case "adaptive":
		s = adaptiveSampler{BaseRate: c.Rate, MaxRate: c.MaxRate, LoadThreshold: c.LoadThreshold}
	default:
		return nil, fmt.Errorf("%w: Sampling.Strategy = %q: unknown strategy", ErrInvalidConfig, c.Strategy)
	}
	if c.PerTrace {
		s = perTraceSampler(s)
	}
	return s, nil
}
