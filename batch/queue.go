package batch

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Queue is a bounded multi-producer single-consumer queue with a batching
// loop: one consumer goroutine, started by New and stopped by Close, hands
// the queued items to a handle function in batches. Routine items (Put,
// PutWait) go to the routine lanes and critical ones (PutCritical) to a
// smaller priority lane whose items are handed over first.
//
// The routine capacity is split into several lanes when GOMAXPROCS > 1, or
// when a single lane's slots would take more than a core's cache holds
// (256 KiB), and the queue is large enough (up to 16 lanes, each holding at
// least 256 slots and one full batch). Each goroutine puts into its own
// lane, so that producers running in parallel do not contend on one tail,
// and so that a producer the consumer keeps up with reuses a few hundred
// slots that stay in its cache rather than the whole ring: a goroutine
// takes a free lane near the one its identity hashes to and keeps it; when
// the lanes near it are taken, goroutines share lanes. When its lane is
// full, a put takes a slot in the next lane that has room, so one goroutine
// can still fill the whole capacity.
//
// All methods are safe for concurrent use. Put, PutCritical and their With
// variants take no lock, never block and never allocate.
type Queue[T any] struct {
	lanes    []lane[T] // the routine lanes; len is a power of two
	laneMask uint      // len(lanes) - 1
	allLanes uint64    // every routine lane's bit: fullMask when all are full
	critical lane[T]
	drops    []dropCounter   // routine puts refused, by producer (see dropCounter)
	_        [cacheLine]byte // the Queue may not start on a cache line

	// Written by the consumer when it parks, read by producers after every
	// publish.
	sleeping atomic.Uint32 // 1 while the consumer is parked or about to park
	_        [cacheLine - 4]byte

	// A bit per routine lane (lane.bit) that a producer found full; the
	// consumer clears it when it releases items of the lane. Spilling
	// puts skip the lanes whose bit is set, so a put refused because
	// every lane is full reads this line instead of every lane's. Set and
	// cleared only when a lane fills or drains, read by refused puts.
	fullMask atomic.Uint64
	_        [cacheLine - 8]byte

	// laneHint[h] is the lane pickLane last gave a producer whose identity
	// hashes to h (hashID); written only when that changes, read by every
	// routine put.
	laneHint [hashBuckets]atomic.Uint32
	_        [cacheLine]byte

	// Drops of PutWait and of the priority lane; routine puts count their
	// drops in drops (see dropCounter).
	droppedFull      atomic.Uint64
	droppedClosed    atomic.Uint64
	droppedNil       atomic.Uint64
	spills           atomic.Uint64 // routine puts that went to another goroutine's lane (tests)
	criticalFallback atomic.Uint64
	waiters          atomic.Int64 // PutWait calls waiting for room
	closing          atomic.Bool
	aborted          atomic.Bool
	_                [cacheLine]byte

	// Written by the consumer once per batch.
	delivered atomic.Uint64
	batches   atomic.Uint64
	abandoned atomic.Uint64
	parks     atomic.Uint64 // times the consumer parked (tests)
	wakeSends atomic.Uint64 // wake-ups sent by producers (tests)

	cfg        Config
	handle     func([]T)
	clearSlots bool // the consumer clears slots after handle
	// clearOnReuse: T has pointers and Config.ClearOnReuse is set, so the
	// slots are cleared only on reuse and at the end of Close's drain.
	clearOnReuse bool
	wake         chan struct{} // 1-buffered: producers to the parked consumer

	// After functions waiting for their items (see After).
	markMu    sync.Mutex
	marks     []mark
	markN     atomic.Int64 // len(marks), read by the consumer without the lock
	marksDone bool         // the consumer returned: After refuses
	flushReq  chan flushRequest
	closeCh   chan struct{} // closed by Close: stop intake, drain
	abortCh   chan struct{} // closed when Close's ctx ends: stop now
	done      chan struct{} // closed when the consumer goroutine returns
	spaceMu   sync.Mutex
	spaceCh   chan struct{} // closed and replaced when room appears while PutWait waits
	timer     timer
	abortMu   sync.Mutex
	abortErr  error  // why the drain was cut short; set before abortCh is closed
	onPark    func() // test hook, called on the consumer goroutine before it parks
	cs        consumerState
	tune      tuning // SetBatching
}

// consumerState is owned by the consumer goroutine.
type consumerState struct {
	armed    bool // timer running for the current batch
	fired    bool // timer fired: hand over what is ready
	draining bool // Close called: hand over everything, then return
	next     int  // routine lane that deliver visits first
	reqs     []flushRequest
}

// mark is one After call waiting for the consumer.
type mark struct {
	at flushRequest // the lane ends when After was called (done unused)
	fn func()
}

// flushRequest is one Flush call waiting for the consumer.
type flushRequest struct {
	r    []uint64      // routine lane ends when Flush was called
	c    uint64        // critical lane end when Flush was called
	done chan struct{} // closed once every lane was released up to its end
}

// timer is the consumer's batch timer; tests replace it.
type timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// realTimer relies on Go 1.23 timer semantics: after Stop or Reset no stale
// value is received.
type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time   { return r.t.C }
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }
func (r realTimer) Stop()                 { r.t.Stop() }

// hooks holds what tests replace.
type hooks struct {
	newTimer func() timer
	onPark   func()
	lanes    int // number of routine lanes, if not 0
}

// Sharding of the routine lane.
const (
	// maxLanes is the most routine lanes New creates.
	maxLanes = 16
	// minLaneSize is the fewest slots of a routine lane when there are
	// several: smaller queues keep a single lane.
	minLaneSize = 256
	// laneBytes is the most bytes of slots a lane is given when the
	// capacity allows it: about what one core's second-level cache holds.
	// A producer that the consumer keeps up with reuses the slots of its
	// own lane lap after lap, so they stay in its cache; a lane larger
	// than the cache would have every put fetch its slot from memory.
	laneBytes = 256 << 10
)

// laneCount returns how many routine lanes a queue of items of itemSize
// bytes gets. With procs > 1, the next power of two >= 4*procs, so that
// producers running in parallel do not contend on one lane; then, up to
// maxLanes in all, as many more as it takes for a lane's slots to fit in
// laneBytes (for large items even with procs 1: a single producer then
// cycles through its own lane only); fewer if a lane would hold less than
// minLaneSize slots or less than one full batch.
func laneCount(capacity, maxBatch, procs int, itemSize uintptr) int {
	n := 1
	if procs > 1 {
		n = min(ceilPow2(4*procs), maxLanes)
	}
	per := uint64(itemSize) + slotOverhead
	for n < maxLanes && uint64(capacity/n)*per > laneBytes {
		n <<= 1
	}
	for n > 1 && (capacity/n < minLaneSize || capacity/n < maxBatch) {
		n >>= 1
	}
	return n
}

// New validates cfg and starts the consumer goroutine, which calls handle
// with each batch. An error names the bad Config field and wraps
// ErrInvalidConfig; a nil handle is an error too, and so is a Config whose
// slots for T would take more than MaxMemory (cfg.MemoryBytes).
//
// handle runs on the consumer goroutine only, one call at a time. Its slice
// aliases the queue's own slots (no copy) and is valid only during the call:
// handle must not keep it, and must not call Flush or Close of the same
// queue. Critical items are handed over before routine ones. Items of one
// lane put by one goroutine arrive in the order they were put: all routine
// items of a goroutine go to the same routine lane unless it is full, in
// which case they spill into another lane and may then reach handle before
// items the goroutine put earlier. (On architectures other than amd64 and
// arm64 a goroutine is told apart by its stack address, which also changes
// when the runtime moves the stack.)
//
// Each batch holds items of one lane. A lane's batch is handed over when
// it holds MaxBatch items or when the timer armed at the first item seen
// in any lane has run for Timeout, whichever comes first, and without
// waiting during Flush and Close. A batch never wraps around the end of a
// lane, so one may be shorter than MaxBatch. The caller must call Close to
// stop the goroutine.
func New[T any](cfg Config, handle func(batch []T)) (*Queue[T], error) {
	return newQueue(cfg, handle, hooks{})
}

func newQueue[T any](cfg Config, handle func(batch []T), h hooks) (*Queue[T], error) {
	c, err := cfg.withDefaults()
	if err == nil {
		err = c.checkMemory(unsafe.Sizeof(*new(T)))
	}
	if handle == nil {
		err = errors.Join(err, &configError{msg: "batch: handle must not be nil"})
	}
	if err != nil {
		return nil, err
	}
	ptrs := hasPointers(reflect.TypeFor[T]())
	q := &Queue[T]{
		cfg:          c,
		handle:       handle,
		clearSlots:   !c.ClearOnReuse && ptrs,
		clearOnReuse: c.ClearOnReuse && ptrs,
		wake:         make(chan struct{}, 1),
		flushReq:     make(chan flushRequest),
		closeCh:      make(chan struct{}),
		abortCh:      make(chan struct{}),
		done:         make(chan struct{}),
		spaceCh:      make(chan struct{}),
		onPark:       h.onPark,
	}
	n := h.lanes
	if n == 0 {
		n = laneCount(c.Capacity, c.MaxBatch, runtime.GOMAXPROCS(0), unsafe.Sizeof(*new(T)))
	}
	q.lanes = make([]lane[T], n)
	q.laneMask = uint(n - 1)
	q.allLanes = uint64(1)<<n - 1
	for i := range q.lanes {
		q.lanes[i].init(c.Capacity / n)
		q.lanes[i].bit = 1 << i
	}
	q.drops = make([]dropCounter, 1)
	if n > 1 {
		q.drops = make([]dropCounter, hashBuckets)
	}
	q.critical.init(c.CriticalCapacity)
	if h.newTimer != nil {
		q.timer = h.newTimer()
	} else {
		t := time.NewTimer(time.Hour)
		t.Stop()
		q.timer = realTimer{t}
	}
	go q.run()
	return q, nil
}

// Put copies *v into the calling goroutine's routine lane, or into another
// routine lane if that one is full. It never blocks, never allocates and
// takes no lock; when it finds its own lane full it may yield the
// processor once (runtime.Gosched) so that the consumer can run, but not
// again until the consumer has released items of that lane, so refusals
// while the consumer cannot progress stay cheap and contention-free (see
// the package documentation). It returns false, and counts the item in
// Stats, if every routine lane is full (DroppedFull) or the queue is
// closed (DroppedClosed). A nil v is refused the same way, counted in
// Stats.DroppedNil, before any slot is claimed. Safe for concurrent use.
func (q *Queue[T]) Put(v *T) bool {
	if v == nil {
		q.droppedNil.Add(1)
		return false
	}
	if q.everyLaneFull() {
		q.refuseFull()
		return false
	}
	// The calling goroutine's own lane; claimRoutine written out, so that
	// the claim is inlined.
	h := uint(0)
	if q.laneMask != 0 {
		h = q.pickLane()
	}
	l := &q.lanes[h]
	t, res := l.claim()
	if res == laneFull {
		l, t, res = q.claimFull(h)
	}
	if res != claimed {
		q.countDrop(res)
		return false
	}
	q.publishRoutine(l, t, v)
	return true
}

// PutWith is Put that builds the item in place: it claims a slot in the
// calling goroutine's routine lane (or another, like Put), calls fill with
// a pointer to it and then publishes it, so the item is written once,
// where the consumer reads it. The slot holds T's zero value when fill is
// called. fill runs on the calling goroutine; it must return promptly and
// must not call the queue, because until it returns the consumer cannot
// hand over the items put after it in the same lane. If fill panics the
// slot is published as fill left it. PutWith returns false without
// calling fill, counted in Stats, when Put would; a nil fill is refused
// too, counted in Stats.DroppedNil, before any slot is claimed. It never
// blocks, takes no lock and does not allocate. Safe for concurrent use.
func (q *Queue[T]) PutWith(fill func(*T)) bool {
	if fill == nil {
		q.droppedNil.Add(1)
		return false
	}
	return q.PutReuse(q.cleared(fill))
}

// PutReuse is PutWith for items built over the item their slot held
// before, which saves clearing the whole slot at each put when T is large
// and fill writes a few of its fields. fill gets the claimed slot as the
// last item in it left it, not cleared, and that item's mark; it must
// leave the slot holding the new item alone, and returns the new item's
// mark. A mark is fill's own note of what an item may hold, so that the
// next fill of the slot knows what it has to clear; it is 0 for a slot
// whose last item was copied in whole (by Put, PutCritical or PutWait),
// whose fill panicked, or that has held no item yet, and then fill must
// write or clear every field. Clearing a slot (see Config.ClearOnReuse)
// keeps its mark, so a mark must say which fields may be set, which stays
// true of a cleared slot. Otherwise PutReuse is PutWith: it returns false
// without calling fill, counted in Stats, when Put would, and refuses a
// nil fill (Stats.DroppedNil). It never blocks, takes no lock and does
// not allocate. Safe for concurrent use.
func (q *Queue[T]) PutReuse(fill func(v *T, mark uint8) uint8) bool {
	if fill == nil {
		q.droppedNil.Add(1)
		return false
	}
	if q.everyLaneFull() {
		q.refuseFull()
		return false
	}
	l, t, res := q.claimRoutine()
	if res != claimed {
		q.countDrop(res)
		return false
	}
	defer q.publishRoutine(l, t, nil)
	reuse(l, t, fill)
	return true
}

// reuse calls fill on the claimed position t of l with the slot's mark,
// and keeps the mark it returns. The mark reads 0 while fill runs, so a
// fill that panics leaves 0.
func reuse[T any](l *lane[T], t uint64, fill func(v *T, mark uint8) uint8) {
	i := t & l.mask
	m := &l.marks[i]
	last := *m
	*m = 0
	*m = fill(&l.slots[i], last)
}

// cleared returns the fill of PutWith and PutCriticalWith for PutReuse:
// it hands fill a slot holding T's zero value and leaves mark 0, since
// fill may write any field. The consumer clears the slots of types with
// pointers after use, unless Config.ClearOnReuse is set; other slots are
// cleared here.
func (q *Queue[T]) cleared(fill func(*T)) func(*T, uint8) uint8 {
	return func(v *T, _ uint8) uint8 {
		if !q.clearSlots {
			var zero T
			*v = zero
		}
		fill(v)
		return 0
	}
}

// claimFull claims a position for a routine put whose own lane h was
// found full: in lane h again if it has room after the consumer got a
// chance to run, else in the first other lane with room (spill).
//
// A producer that finds its lane full yields the processor once
// (runtime.Gosched) before it spills or drops, unless the lane has not
// been released since a producer last yielded for it. The consumer is
// usually runnable then (the put that filled the lane woke it) but queued
// behind the producer on its processor, and a producer that drops
// without blocking would keep it from running until the scheduler
// preempts it, some milliseconds later: under overload almost everything
// would be dropped. Yielding once per release lets the consumer hand the
// lane over, and keeps a refusal cheap while the consumer cannot make
// progress (it is inside handle).
func (q *Queue[T]) claimFull(h uint) (*lane[T], uint64, claimResult) {
	l := &q.lanes[h]
	if hd := l.head.Load(); l.yieldHead.Load() != hd {
		l.yieldHead.Store(hd)
		runtime.Gosched()
		if t, res := l.claim(); res != laneFull {
			return l, t, res
		}
	}
	full := q.markFull(l)
	if q.laneMask == 0 {
		return l, 0, laneFull
	}
	return q.spill(h, full)
}

// spill claims a position in the first routine lane after lane h that is
// not full, for a put whose own lane h is full; full is fullMask as the
// caller last read it. It skips the lanes marked in full and marks the
// full ones it finds, so that when every lane is full it returns after
// one load.
func (q *Queue[T]) spill(h uint, full uint64) (*lane[T], uint64, claimResult) {
	n := uint(len(q.lanes))
	all := uint64(1)<<n - 1
	for {
		// The candidates, rotated so that bit 0 is lane h+1.
		free := ^full & all &^ q.lanes[h].bit
		free = (free>>(h+1) | free<<(n-h-1)) & all
		if free == 0 {
			return nil, 0, laneFull
		}
		l := &q.lanes[(h+1+uint(bits.TrailingZeros64(free)))&q.laneMask]
		t, res := l.claim()
		if res != laneFull {
			if res == claimed {
				q.spills.Add(1)
			}
			return l, t, res
		}
		full = q.markFull(l) | full | l.bit
	}
}

// markFull sets l's bit in fullMask, for a lane a producer found full.
// Then it checks the lane again and clears the bit if the consumer has
// released items meanwhile: the consumer clears the bit after its release
// only if it sees it set, so without the check a bit set just after the
// consumer looked would stay set with the lane empty. (Either the
// consumer's load of fullMask, after its store of head, sees the bit, or
// this load of head, after setting the bit, sees the release.) A bit
// cleared while the lane is full again only costs a spilling put a look
// at the lane. It returns fullMask as it found it.
func (q *Queue[T]) markFull(l *lane[T]) uint64 {
	full := q.fullMask.Load()
	if full&l.bit != 0 {
		return full
	}
	full = q.fullMask.Or(l.bit)
	if l.hasRoom() {
		q.fullMask.And(^l.bit)
	}
	return full
}

// PutCritical copies *v into the priority lane, whose items are handed over
// before routine ones and are not dropped when only the routine lanes are
// full. If the priority lane is full it falls back to Put (counted in
// Stats.CriticalFallback). It never blocks, never allocates and takes no
// lock; it returns false, counted, if all lanes are full or the queue is
// closed, or if v is nil (Stats.DroppedNil). Safe for concurrent use.
func (q *Queue[T]) PutCritical(v *T) bool {
	if v == nil {
		q.droppedNil.Add(1)
		return false
	}
	t, res := q.critical.claim()
	switch res {
	case claimed:
		q.publishCritical(t, v)
		return true
	case laneFull:
		if q.Put(v) {
			q.criticalFallback.Add(1)
			return true
		}
		return false
	default:
		q.droppedClosed.Add(1)
		return false
	}
}

// PutCriticalWith is PutCritical that builds the item in place, like
// PutWith: if the priority lane is full it falls back to PutWith (counted
// in Stats.CriticalFallback). It returns false without calling fill,
// counted, if all lanes are full or the queue is closed, and false if fill
// is nil (Stats.DroppedNil). It never blocks, takes no lock and does not
// allocate. Safe for concurrent use.
func (q *Queue[T]) PutCriticalWith(fill func(*T)) bool {
	if fill == nil {
		q.droppedNil.Add(1)
		return false
	}
	return q.PutCriticalReuse(q.cleared(fill))
}

// PutCriticalReuse is PutCritical that builds the item over the one its
// slot held, like PutReuse: if the priority lane is full it falls back to
// PutReuse (counted in Stats.CriticalFallback). It returns false without
// calling fill, counted, if all lanes are full or the queue is closed, and
// false if fill is nil (Stats.DroppedNil). It never blocks, takes no lock
// and does not allocate. Safe for concurrent use.
func (q *Queue[T]) PutCriticalReuse(fill func(v *T, mark uint8) uint8) bool {
	if fill == nil {
		q.droppedNil.Add(1)
		return false
	}
	t, res := q.critical.claim()
	switch res {
	case claimed:
		defer q.publishCritical(t, nil)
		reuse(&q.critical, t, fill)
		return true
	case laneFull:
		if q.PutReuse(fill) {
			q.criticalFallback.Add(1)
			return true
		}
		return false
	default:
		q.droppedClosed.Add(1)
		return false
	}
}

// publishCritical publishes the claimed position t of the priority lane,
// copying *v into its slot first unless v is nil (the slot was filled in
// place), and wakes the consumer if it is parked.
func (q *Queue[T]) publishCritical(t uint64, v *T) {
	if v != nil {
		q.critical.slots[t&q.critical.mask] = *v
		q.critical.marks[t&q.critical.mask] = 0
	}
	c := &q.critical
	c.commit(t)
	if q.sleeping.Load() != 0 && (t >= c.wakeAt.Load() || t == c.gapAt.Load()) {
		q.wakeConsumer()
	}
}

// PutWait copies *v into a routine lane like Put. If every routine lane is
// full, under the Block policy it waits until there is room, ctx ends (it
// returns ctx's error wrapped) or the queue is closed (ErrClosed); under
// DropNewest it returns ErrFull at once. Under the Block policy it also
// yields the processor once (runtime.Gosched) when the caller's own lane
// is full, before trying the others, so that the consumer gets to run. An
// item PutWait does not enqueue is counted in Stats (DroppedFull or
// DroppedClosed). A nil v returns ErrNilItem at once, counted in
// Stats.DroppedNil. It does not allocate unless it has to wait. Safe for
// concurrent use.
func (q *Queue[T]) PutWait(ctx context.Context, v *T) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if v == nil {
		q.droppedNil.Add(1)
		return ErrNilItem
	}
	if q.cfg.Policy == Block && q.laneMask != 0 {
		// The caller may wait, so when its own lane is full it first
		// yields its P, usually to the consumer, which a producer that
		// never blocks would keep from running. Spreading into the other
		// lanes right away instead keeps every lane full and makes each
		// put scan them and write cache lines the other producers own.
		l := &q.lanes[q.pickLane()]
		t, res := l.claim()
		if res == claimed {
			q.publishRoutine(l, t, v)
			return nil
		}
		if res == laneFull {
			runtime.Gosched()
		}
	}
	err := q.tryPut(v)
	if err == nil {
		return nil
	}
	if err != ErrFull || q.cfg.Policy != Block { //nolint:errorlint // tryPut returns the sentinels themselves
		return q.countErr(err)
	}
	q.waiters.Add(1)
	defer q.waiters.Add(-1)
	for {
		q.spaceMu.Lock()
		space := q.spaceCh
		q.spaceMu.Unlock()
		// waiters was raised before this attempt, so a release the attempt
		// missed will close space.
		if err := q.tryPut(v); err != ErrFull { //nolint:errorlint // tryPut returns the sentinels themselves
			return q.countErr(err)
		}
		select {
		case <-space:
		case <-q.closeCh:
		case <-ctx.Done():
			q.droppedFull.Add(1)
			return fmt.Errorf("batch: put: %w", ctx.Err())
		}
	}
}

// claimRoutine claims a position in the calling goroutine's own routine
// lane or, if that one is full, like claimFull.
func (q *Queue[T]) claimRoutine() (*lane[T], uint64, claimResult) {
	h := uint(0)
	if q.laneMask != 0 {
		h = q.pickLane()
	}
	l := &q.lanes[h]
	t, res := l.claim()
	if res == laneFull {
		l, t, res = q.claimFull(h)
	}
	return l, t, res
}

// tryPut is Put without counting drops; it returns nil, ErrFull or
// ErrClosed itself, never wrapped.
func (q *Queue[T]) tryPut(v *T) error {
	h := uint(0)
	if q.laneMask != 0 {
		h = q.pickLane()
	}
	l := &q.lanes[h]
	t, res := l.claim()
	if res == laneFull && q.laneMask != 0 {
		// PutWait yields itself, before its first try.
		l, t, res = q.spill(h, q.markFull(l))
	}
	switch res {
	case laneFull:
		return ErrFull
	case laneClosed:
		return ErrClosed
	}
	q.publishRoutine(l, t, v)
	return nil
}

func (q *Queue[T]) countErr(err error) error {
	switch {
	case errors.Is(err, ErrFull):
		q.droppedFull.Add(1)
	case errors.Is(err, ErrClosed):
		q.droppedClosed.Add(1)
	}
	return err
}

// publishRoutine publishes the claimed position t of routine lane l,
// copying *v into its slot first unless v is nil (the slot was filled in
// place), and wakes the consumer if it is parked waiting for t.
func (q *Queue[T]) publishRoutine(l *lane[T], t uint64, v *T) {
	if v != nil {
		l.slots[t&l.mask] = *v
		l.marks[t&l.mask] = 0
	}
	l.commit(t)
	if q.sleeping.Load() != 0 && (t >= l.wakeAt.Load() || t == l.gapAt.Load()) {
		q.wakeConsumer()
	}
}

// wakeConsumer wakes the parked consumer. Only the producer that flips
// sleeping from 1 to 0 sends, and the send never blocks.
func (q *Queue[T]) wakeConsumer() {
	if q.sleeping.CompareAndSwap(1, 0) {
		q.wakeSends.Add(1)
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// After arranges for fn to run on the consumer goroutine once handle has
// returned for every item put before the call, in every lane (or the item
// was abandoned by a Close whose ctx ended). Unlike Flush it does not
// wait; like Flush it hastens those items: the consumer hands them over
// without waiting for their batches to fill or time out. Functions run in
// the order of their After calls, and must not block for long: they hold
// up the consumer. It reports false, and fn never runs, once the consumer
// has returned.
func (q *Queue[T]) After(fn func()) bool {
	m := mark{at: flushRequest{r: make([]uint64, len(q.lanes))}, fn: fn}
	q.markMu.Lock()
	if q.marksDone {
		q.markMu.Unlock()
		return false
	}
	for i := range q.lanes {
		m.at.r[i] = q.lanes[i].end()
	}
	m.at.c = q.critical.end()
	q.marks = append(q.marks, m)
	q.markN.Store(int64(len(q.marks)))
	q.markMu.Unlock()
	select {
	case q.wake <- struct{}{}: // a parked consumer looks again
	default:
	}
	return true
}

// Flush returns once every item put before the call has been handed to
// handle and handle has returned. If ctx ends first it returns ctx's error
// wrapped (the items are still delivered later). After Close it returns
// ErrClosed. Safe for concurrent use; it must not be called from handle.
func (q *Queue[T]) Flush(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("batch: flush: %w", err)
	}
	if q.closing.Load() {
		return ErrClosed
	}
	req := flushRequest{r: make([]uint64, len(q.lanes)), done: make(chan struct{})}
	for i := range q.lanes {
		req.r[i] = q.lanes[i].end()
	}
	req.c = q.critical.end()
	select {
	case q.flushReq <- req:
	case <-q.done:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("batch: flush: %w", ctx.Err())
	}
	select {
	case <-req.done:
		return nil
	case <-q.done:
		select {
		case <-req.done: // the final drain delivered it
			return nil
		default:
			return ErrClosed
		}
	case <-ctx.Done():
		return fmt.Errorf("batch: flush: %w", ctx.Err())
	}
}

// Close stops intake (later puts return false or ErrClosed and are counted
// in Stats.DroppedClosed), hands everything queued to handle, and waits for
// the consumer goroutine to return. If ctx ends first, the consumer stops
// as soon as the handle call in progress returns, the items it did not hand
// over are counted in Stats.Abandoned, and Close returns ctx's error
// wrapped without waiting further (Done reports when the goroutine has
// returned).
//
// Close may be called more than once, also concurrently. The first call
// stops intake and runs the drain under its ctx; every call returns only
// when the drain is over, so once any Close has returned nil,
// Stats.Enqueued equals Stats.Delivered. A later call returns nil if
// everything was handed over, or an error wrapping the first call's ctx
// error if that call cut the drain short and items were abandoned; if its
// own ctx ends before the drain is over, it returns that ctx's error
// wrapped, and the drain carries on. Safe for concurrent use; it must not
// be called from handle.
func (q *Queue[T]) Close(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if !q.closing.CompareAndSwap(false, true) {
		select {
		case <-q.done:
			return q.drainResult()
		case <-ctx.Done():
			select {
			case <-q.done: // finished as ctx ended
				return q.drainResult()
			default:
			}
			return fmt.Errorf("batch: close: %w", ctx.Err())
		}
	}
	for i := range q.lanes {
		q.lanes[i].tail.Or(closedBit)
	}
	q.critical.tail.Or(closedBit)
	q.fullMask.Or(closedMask)
	close(q.closeCh)
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		select {
		case <-q.done: // finished as ctx ended
			return nil
		default:
		}
	}
	q.abortMu.Lock()
	q.abortErr = ctx.Err()
	q.abortMu.Unlock()
	q.aborted.Store(true)
	close(q.abortCh)
	return fmt.Errorf("batch: close: %w", ctx.Err())
}

// drainResult is what a later Close returns once the consumer goroutine
// has returned: nil if it handed everything over, else an error wrapping
// the ctx error that cut the drain short.
func (q *Queue[T]) drainResult() error {
	n := q.abandoned.Load()
	if n == 0 {
		return nil
	}
	q.abortMu.Lock()
	err := q.abortErr
	q.abortMu.Unlock()
	return fmt.Errorf("batch: close: %d items abandoned: %w", n, err)
}

// Done returns a channel that is closed when the consumer goroutine has
// returned, after Close. Safe for concurrent use.
func (q *Queue[T]) Done() <-chan struct{} { return q.done }

// Len returns the number of items in all lanes that have not been released
// by handle yet. Safe for concurrent use.
func (q *Queue[T]) Len() int {
	n := q.critical.len()
	for i := range q.lanes {
		n += q.lanes[i].len()
	}
	return n
}

// Cap returns the number of slots of all lanes (Config().Capacity +
// Config().CriticalCapacity). Safe for concurrent use.
func (q *Queue[T]) Cap() int { return q.cfg.Capacity + q.cfg.CriticalCapacity }

// Config returns the configuration in effect: defaults applied, capacities
// rounded up, MaxBatch capped. Safe for concurrent use.
func (q *Queue[T]) Config() Config { return q.cfg }

// Stats counts what went through a Queue. Each field is read atomically but
// the fields are not one consistent snapshot while producers run. Every put
// is counted once: Enqueued (accepted), DroppedFull, DroppedClosed or
// DroppedNil. Once
// Close has returned (or Done is closed), Enqueued == Delivered + Abandoned.
type Stats struct {
	Enqueued         uint64 // items accepted by Put, PutCritical and PutWait, all lanes
	CriticalEnqueued uint64 // of Enqueued, items accepted into the priority lane
	CriticalFallback uint64 // of Enqueued, PutCritical items put in a routine lane because the priority lane was full
	Delivered        uint64 // items handed to handle, handle having returned
	Batches          uint64 // handle calls
	DroppedFull      uint64 // items refused because the lanes were full (or PutWait's ctx ended)
	DroppedClosed    uint64 // items refused because the queue was closed
	DroppedNil       uint64 // puts refused because their pointer or fill function was nil
	Abandoned        uint64 // items left in the queue when Close's ctx ended
}

// Stats returns the counters. Safe for concurrent use.
func (q *Queue[T]) Stats() Stats {
	// Read what the consumer writes before what producers write, so that
	// Delivered <= Enqueued.
	s := Stats{
		Abandoned: q.abandoned.Load(),
		Delivered: q.delivered.Load(),
		Batches:   q.batches.Load(),
	}
	s.CriticalEnqueued = q.critical.end()
	s.Enqueued = s.CriticalEnqueued
	for i := range q.lanes {
		s.Enqueued += q.lanes[i].end()
	}
	s.CriticalFallback = q.criticalFallback.Load()
	s.DroppedFull = q.droppedFull.Load()
	s.DroppedClosed = q.droppedClosed.Load()
	for i := range q.drops {
		s.DroppedFull += q.drops[i].full.Load()
		s.DroppedClosed += q.drops[i].closed.Load()
	}
	s.DroppedNil = q.droppedNil.Load()
	return s
}
