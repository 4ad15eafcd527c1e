package sampling

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"sync/atomic"
)

// rateOne is the threshold of the rate 1: every 53-bit number is below it.
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

// kind is the strategy of a Decider.
type kind uint8

const (
	percentage kind = iota
	everyNth
	adaptive
)

// Decider is one built-in strategy. Keep decides from a random draw (or a
// counter), KeepHash from a 64-bit hash such as Hash of a trace id, so
// that every event of a trace gets the same answer. The zero Decider keeps
// nothing. Copies of a Decider share its state; it is safe for concurrent
// use. Deciders are comparable: equal ones decide alike.
type Decider struct {
	kind      kind
	threshold uint64         // percentage
	n         uint64         // everyNth
	count     *atomic.Uint64 // everyNth: the events Keep was asked about
	load      Load           // adaptive
}

// Percentage returns a Decider that keeps each event with probability p (a
// fraction: 0.25 keeps a quarter). p <= 0 (and NaN) keeps nothing, p >= 1
// keeps everything.
func Percentage(p float64) Decider { return Decider{kind: percentage, threshold: threshold(p)} }

// EveryNth returns a Decider whose Keep keeps the first event it is asked
// about and then every n'th: with n = 3 the 1st, 4th, 7th, … Events are
// counted with one atomic counter shared by all goroutines (and copies), so
// under concurrency it keeps exactly one event in n but not a particular
// one. KeepHash keeps the hashes that are multiples of n: one trace in n.
// n = 0 behaves like n = 1 (keep everything).
func EveryNth(n uint64) Decider {
	return Decider{kind: everyNth, n: max(n, 1), count: new(atomic.Uint64)}
}

// Adaptive returns a Decider that keeps events at the rate l gives for the
// queue's fill.
func Adaptive(l Load) Decider { return Decider{kind: adaptive, load: l} }

// Keep decides about one event from a random draw (every n'th: from the
// shared count) at the queue's fill fraction queueFill, in [0, 1].
func (d *Decider) Keep(queueFill float64) bool {
	switch d.kind {
	case everyNth:
		return (d.count.Add(1)-1)%d.n == 0
	case adaptive:
		return d.keepAdaptive(rand.Uint64(), queueFill)
	}
	return rand.Uint64()>>11 < d.threshold
}

// KeepHash decides about one event from h, a well-distributed 64-bit hash,
// at the queue's fill fraction queueFill: the same h and rate always give
// the same answer, and an h kept at one rate is kept at every higher one.
func (d *Decider) KeepHash(h uint64, queueFill float64) bool {
	switch d.kind {
	case everyNth:
		return h%d.n == 0
	case adaptive:
		return d.keepAdaptive(h, queueFill)
	}
	return h>>11 < d.threshold
}

// keepAdaptive decides for an Adaptive Decider from h, a random or hashed
// 64-bit number.
func (d *Decider) keepAdaptive(h uint64, queueFill float64) bool {
	return h>>11 < threshold(d.load.Rate(queueFill))
}

// Load is the rate of an Adaptive Decider, which follows the load of the
// client's queue like Reflow's SamplingStrategy::Adaptive (whose rates are
// in percent; these are fractions in [0, 1]). While the queue's fill
// fraction is below LoadThreshold it keeps MaxRate of the events; above it
// the rate falls linearly to BaseRate as the queue fills up to 1, and it
// rises the same way as the queue drains. A LoadThreshold of 1 or more
// keeps MaxRate until the queue is full. The zero Load keeps nothing.
type Load struct {
	BaseRate      float64
	MaxRate       float64
	LoadThreshold float64
}

// Rate returns the fraction of events kept at the given queue fill.
func (l Load) Rate(queueFill float64) float64 {
	switch {
	case !(queueFill >= l.LoadThreshold): // also NaN
		return l.MaxRate
	case queueFill >= 1 || l.LoadThreshold >= 1:
		return l.BaseRate
	}
	t := (queueFill - l.LoadThreshold) / (1 - l.LoadThreshold)
	return l.MaxRate + (l.BaseRate-l.MaxRate)*t
}

// Hash mixes the 16 bytes of a trace id into 64 well-distributed bits for
// KeepHash. Version 7 ids start with a timestamp, so both halves are folded
// and then finalised (the splitmix64 finaliser) to spread every input bit.
func Hash(id [16]byte) uint64 {
	h := binary.LittleEndian.Uint64(id[8:]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(id[:8]), 31)
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
