package batch

import (
	"reflect"
	"sync/atomic"
)

// cacheLine is the padding unit that keeps fields written by different
// goroutines on different cache lines.
const cacheLine = 64

// closedBit is set in a lane's tail by Close. A producer that sees it gives
// up, so after Close the tail (without the bit) is final.
const closedBit = uint64(1) << 63

// claimResult says why a producer could not claim a slot.
type claimResult uint8

const (
	claimed claimResult = iota
	laneFull
	laneClosed
)

// lane is one bounded multi-producer single-consumer ring of values stored in
// place. A Queue has one lane for critical items and one or more routine
// lanes; each producer goroutine has its own routine lane (several
// goroutines may share one), so that producers running in parallel mostly
// write different cache lines.
//
// Positions count up forever; position p lives in slot p&mask and belongs to
// lap p>>shift. A producer claims position t with one CAS on tail (after
// checking t-head < size, so it never claims a slot the consumer still
// holds), copies its value into slots[t&mask] with plain writes, then
// publishes it by storing lap(t)+1 into seq[t&mask] atomically.
//
// The consumer keeps its own copy of head (chead) and counts the published
// positions that follow it (ready). It finds them with atomic loads of seq,
// stopping at the first position whose seq is not lap(p)+1: a claimed but
// unpublished slot is never skipped, and a slot of an earlier lap (value
// lap(p)) is never mistaken for a published one. After handle returns it
// releases a whole run with one atomic store of head.
//
// Happens-before: the producer's slot write is sequenced before its seq
// store; the consumer's seq load that observes it synchronizes with that
// store, so the consumer's read of the slot happens after the write. In the
// other direction, the consumer's reads (inside handle) are sequenced before
// its head store, and a producer claims a slot of the next lap only after a
// head load that observes that store, so its overwrite happens after the
// reads. No slot is ever accessed by two goroutines without one of these
// edges, which is what the race detector checks. Lanes share nothing but
// the consumer and its sleeping flag, so these edges hold per lane.
type lane[T any] struct {
	// Read-only after init; read by every put.
	slots []T
	seq   []atomic.Uint32
	// marks[i] is the mark the fill of PutReuse returned for the item in
	// slots[i], or 0 (see Queue.PutReuse). Producers only, under the same
	// ownership as the slot.
	marks []uint8
	size  uint64
	mask  uint64
	shift uint
	bit   uint64 // the lane's bit in Queue.fullMask; 0 for the priority lane
	// owner is the producerID of the goroutine that holds the lane, or 0
	// (see Queue.pickLane). Read by every put; written once.
	owner atomic.Uintptr
	_     [2*cacheLine - 112]byte

	tail atomic.Uint64 // next position to claim | closedBit; CAS by producers
	_    [cacheLine - 8]byte

	head atomic.Uint64 // first position the consumer still holds; stored once per batch
	_    [cacheLine - 8]byte

	// Written by the lane's producers when its last slot is taken and a
	// put finds it full.
	yieldHead atomic.Uint64 // head when a producer last yielded for this full lane
	_         [cacheLine - 8]byte

	// Stored by the consumer before it parks; read by producers of this
	// lane only while it is parked.
	wakeAt atomic.Uint64 // a publish at a position >= wakeAt wakes it
	gapAt  atomic.Uint64 // ... and so does one at gapAt
	_      [cacheLine - 16]byte

	// Consumer goroutine only, on a line of their own so that the
	// consumer's writes don't evict what producers read.
	chead uint64 // == head
	ready uint64 // published positions from chead on, contiguous
	force uint64 // hand over positions below force without waiting
	cwake uint64 // == wakeAt
	cgap  uint64 // == gapAt
	_     [cacheLine - 40]byte
}

func (l *lane[T]) init(size int) {
	l.slots = make([]T, size)
	l.seq = make([]atomic.Uint32, size)
	l.marks = make([]uint8, size)
	l.size = uint64(size)
	l.mask = uint64(size - 1)
	l.setWake(0, noGap)
	l.yieldHead.Store(noGap)
	for s := size; s > 1; s >>= 1 {
		l.shift++
	}
}

// claim reserves the next position. It never blocks: it fails when the lane
// is full or closed.
func (l *lane[T]) claim() (uint64, claimResult) {
	for {
		t := l.tail.Load()
		if t&closedBit != 0 {
			return 0, laneClosed
		}
		// h > t means t is stale: other producers claimed positions since
		// it was loaded and the consumer released them (t-h wrapped
		// around). The CAS then fails and the loop loads tail again.
		if h := l.head.Load(); t-h >= l.size && h <= t {
			return 0, laneFull
		}
		if l.tail.CompareAndSwap(t, t+1) {
			return t, claimed
		}
	}
}

// hasRoom reports whether a claim could find a free slot now.
func (l *lane[T]) hasRoom() bool {
	h := l.head.Load() // first, so that h <= t
	return l.end()-h < l.size
}

// commit makes the claimed position t, whose slot has been written,
// visible to the consumer.
func (l *lane[T]) commit(t uint64) {
	l.seq[t&l.mask].Store(uint32(t>>l.shift) + 1)
}

// end returns the number of positions claimed so far (the final count once
// the lane is closed).
func (l *lane[T]) end() uint64 { return l.tail.Load() &^ closedBit }

// len returns how many items are claimed but not yet released.
func (l *lane[T]) len() int {
	h := l.head.Load()
	return int(l.end() - h)
}

// room returns how many positions from chead on can be handed over as one
// contiguous slice: runs stop at the end of the slot array.
func (l *lane[T]) room() uint64 { return l.size - l.chead&l.mask }

// scan extends ready over newly published positions, up to limit, and
// reports whether it found any. Consumer only.
func (l *lane[T]) scan(limit uint64) bool {
	limit = min(limit, l.room())
	n := l.ready
	if n >= limit {
		return false
	}
	// The run does not wrap around, so all its positions share one lap.
	i := l.chead & l.mask
	seq := l.seq[i+n : i+limit]
	want := uint32(l.chead>>l.shift) + 1
	for j := range seq {
		if seq[j].Load() != want {
			break
		}
		n++
	}
	if n == l.ready {
		return false
	}
	l.ready = n
	return true
}

// run returns the first n ready items as a slice of the slot array.
// Consumer only.
func (l *lane[T]) run(n uint64) []T {
	i := l.chead & l.mask
	return l.slots[i : i+n : i+n]
}

// release gives the first n ready positions back to the producers.
// Consumer only.
func (l *lane[T]) release(n uint64) {
	l.chead += n
	l.ready -= n
	l.head.Store(l.chead)
}

// setWake stores the positions whose publication wakes the parked
// consumer, skipping the stores when they did not change. Consumer only.
func (l *lane[T]) setWake(wakeAt, gapAt uint64) {
	if wakeAt != l.cwake {
		l.cwake = wakeAt
		l.wakeAt.Store(wakeAt)
	}
	l.setGap(gapAt)
}

// setGap stores gapAt if it changed and reports whether it did. Consumer
// only.
func (l *lane[T]) setGap(gapAt uint64) bool {
	if gapAt == l.cgap {
		return false
	}
	l.cgap = gapAt
	l.gapAt.Store(gapAt)
	return true
}

// hasPointers reports whether values of type t contain pointers, so that
// slots must be cleared after use to let the garbage collector free what
// they reference.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	default:
		return true
	}
}
