package batch

import (
	"runtime"
	"sync/atomic"
)

// Counting refused puts.
//
// A put refused because every routine lane is full must cost little, since
// under overload producers make nothing else, and it must be counted
// exactly (Stats.DroppedFull). One shared counter would be written by every
// refusing producer, and its cache line would move between their cores on
// every refusal. So refusals are counted in hashBuckets counters, each on a
// cache line of its own, chosen by the producer's identity (producerID, the
// same hash that picks its home lane), and Stats sums them. Producers
// running in parallel then write different lines, unless two of them hash
// to the same counter; that only costs speed.

// yieldEveryDrops is how often the producers of one drop counter yield
// while their puts are refused (a power of two).
const yieldEveryDrops = 1024

// closedMask is set in Queue.fullMask by Close, so that fullMask never
// equals allLanes afterwards and puts take the path that tells a closed
// queue from a full one.
const closedMask = uint64(1) << 63

// dropCounter counts the refused routine puts of the producers that hash
// to it.
type dropCounter struct {
	full   atomic.Uint64
	closed atomic.Uint64
	_      [cacheLine - 16]byte
}

// dropCounter returns the calling producer's drop counter.
func (q *Queue[T]) dropCounter() *dropCounter {
	if len(q.drops) == 1 {
		return &q.drops[0]
	}
	return &q.drops[hashID(producerID())]
}

// refuseFull counts a routine put refused because the lanes are full, and
// yields the processor every yieldEveryDrops refusals of the counter.
// Producers yield once when their lane fills (Queue.claimFull), but the
// consumer can also be woken onto a processor whose producer then only
// spills and is refused; it would wait there until the scheduler preempts
// the producer. Yielding now and then bounds that wait at a fraction of a
// nanosecond per refusal.
func (q *Queue[T]) refuseFull() {
	if q.dropCounter().full.Add(1)&(yieldEveryDrops-1) == 0 {
		runtime.Gosched()
	}
}

// countDrop counts a routine put refused by claim.
func (q *Queue[T]) countDrop(res claimResult) {
	if res == laneClosed {
		q.dropCounter().closed.Add(1)
	} else {
		q.refuseFull()
	}
}

// everyLaneFull reports whether a producer found every routine lane full
// and none has been released since, so that a routine put can be refused
// without looking at a lane: one load of a line that only changes when a
// lane fills or is released. It is false once Close has been called.
func (q *Queue[T]) everyLaneFull() bool {
	return q.fullMask.Load() == q.allLanes
}
