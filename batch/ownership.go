package batch

// Which routine lane a goroutine puts into.
//
// A goroutine's home lane is a hash of its identity (producerID). Two
// producers that hash to the same lane would claim its slots in turn, and
// every put would then move the lane's cache lines between their cores:
// with two producers on eight lanes that happens in one run out of eight
// and makes puts several times slower. So a producer takes a lane for
// itself: the first lane of its window (the home lane and the next ones,
// windowLanes in all) that it already owns, else the first one nobody
// owns, else, when every lane of the window is held by others, its home
// lane, shared.
//
// A lane is never given back. Freeing lanes safely would need to know
// that no goroutine still has items in the lane it would leave, and a
// goroutine that changed lanes with items queued could see later items
// overtake them. So once a goroutine has its lane, or shares its home
// lane because its window was taken, it keeps putting there, and the
// order of its items is kept. The cost is that lanes taken by goroutines
// that have exited stay taken: a later goroutine reuses one when the
// runtime gives it the exited goroutine's descriptor (it has the same
// identity), and otherwise shares its home lane as if there were no
// ownership.
//
// Ownership only picks a lane: a put is correct in any lane, so a stale
// owner costs speed, never items.

// windowLanes is how many lanes, from its home lane on, a producer looks
// at for one it owns or can take.
const windowLanes = 4

// hashBuckets is the number of values hashID returns.
const hashBuckets = 1 << 6

// hashID spreads producer ids over the lanes, the drop counters and
// laneHint; the top 6 bits of a Fibonacci hash.
func hashID(id uintptr) uint {
	return uint((uint64(id) * 0x9e3779b97f4a7c15) >> (64 - 6))
}

// pickLane returns the index of the routine lane the calling goroutine
// puts into. A goroutine that owns a lane finds it with two loads: the
// lane that the last producer of its hash was given (laneHint), and that
// lane's owner.
func (q *Queue[T]) pickLane() uint {
	if q.laneMask == 0 {
		return 0
	}
	id := producerID()
	hh := hashID(id)
	if k := uint(q.laneHint[hh].Load()) & q.laneMask; q.lanes[k].owner.Load() == id {
		return k
	}
	k := q.pickLaneFor(id, hh&q.laneMask)
	if uint(q.laneHint[hh].Load()) != k {
		q.laneHint[hh].Store(uint32(k))
	}
	return k
}

// pickLaneFor returns the lane of the producer id whose home lane is home,
// taking a free lane of its window if it owns none. When another producer
// takes the free lane first, it looks again rather than falling back to
// home: a producer that shared its home lane now and found a free lane on
// its next put would move with an item still queued behind it.
func (q *Queue[T]) pickLaneFor(id uintptr, home uint) uint {
	window := uint(min(windowLanes, len(q.lanes)))
	for {
		free, found := uint(0), false
		for i := range window {
			k := (home + i) & q.laneMask
			switch q.lanes[k].owner.Load() {
			case id:
				return k
			case 0:
				if !found {
					free, found = k, true
				}
			}
		}
		if !found {
			return home // every lane of the window is taken for good
		}
		if q.lanes[free].owner.CompareAndSwap(0, id) {
			return free
		}
	}
}
