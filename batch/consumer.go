package batch

import "time"

// noGap is gapAt's value when the consumer waits for no particular slot.
const noGap = ^uint64(0)

// run is the consumer goroutine. Each cycle it polls Flush and Close
// requests, scans all lanes for newly published items, hands over the
// batches that are due (critical items first, then one batch per due
// routine lane) and otherwise parks until a producer, the batch timer,
// Flush or Close wakes it.
//
// Parking without losing a wake-up: the consumer stores each lane's
// wakeAt, then sleeping=1, then scans the lanes once more (settle);
// a producer stores its slot's seq, then loads sleeping and its lane's
// wakeAt and gapAt. These are sequentially consistent atomics, so either
// the consumer's last scan sees the published slot or the producer sees
// sleeping=1 (and, since wakeAt was stored before sleeping, the current
// wakeAt). The producer that flips sleeping back to 0 sends one token on
// the 1-buffered wake channel; every other producer does nothing. The
// priority lane follows the same rules as the routine lanes: its items
// are handed over first, but like routine ones only as a full batch, at
// the timer, or for Flush, Close and After, so waking the consumer for
// each of them would only make it park again.
//
// wakeAt keeps the wake-ups to one per batch in a steady stream: while the
// timer is armed (from when a batch went out, or from the first item seen)
// or items are ready, it is the position that completes the lane's batch;
// otherwise, after an idle period, it is the lane's first unpublished
// position, so that the first item wakes the consumer to arm the timer. Items published below wakeAt while the
// consumer is about to park need no wake-up, so settle only gives up
// parking for an item at or after wakeAt, and a steady stream of puts does
// not keep the consumer spinning. A slot claimed but not yet published
// hides the ones after it from the scan, which may already reach wakeAt;
// so when a position at or after wakeAt has been claimed, the consumer
// stores the hidden slot's position in gapAt (and scans again), and
// publishing it wakes the consumer. Flush and Close set wakeAt to the
// first unpublished position so that every publish they wait for wakes
// them.
func (q *Queue[T]) run() {
	defer close(q.done)
	defer q.finishMarks()
	cs := &q.cs
	closeCh := q.closeCh
	c := &q.critical
	for {
		// The batch size may change between cycles (SetBatching).
		mb := q.batchLimit()
		if q.aborted.Load() {
			q.abandoned.Store(q.undelivered())
			return
		}
		closeCh = q.poll(closeCh)
		// The timer is read every cycle, not only when parking: while
		// another lane keeps handing over full batches the consumer never
		// parks, and a partial batch must still go out within Timeout. It
		// is read before the scan, so that everything published before it
		// fired is handed over now.
		if cs.armed && q.timerFired() {
			cs.armed = false
			cs.fired = true
		}
		ready, _ := q.scan(mb)
		if cs.fired {
			cs.fired = false
			c.force = max(c.force, c.chead+c.ready)
			for i := range q.lanes {
				l := &q.lanes[i]
				l.force = max(l.force, l.chead+l.ready)
			}
		}
		// After functions first: a Flush waiting for the same items then
		// sees what they did.
		if q.markN.Load() > 0 {
			q.runMarks(false)
		}
		q.satisfyFlushes()
		if cs.draining && q.undelivered() == 0 {
			q.clearAll()
			return
		}
		if ready > 0 && !cs.armed {
			// The timer bounds the wait of the items now ready, whether the
			// consumer parks next or keeps handing over other lanes' batches.
			q.timer.Reset(q.batchTimeout())
			cs.armed = true
		}
		if ready > 0 && q.deliver(mb) {
			continue
		}

		// Nothing is due: park.
		q.setWake(c, mb)
		for i := range q.lanes {
			q.setWake(&q.lanes[i], mb)
		}
		q.sleeping.Store(1)
		if !q.settle(mb) {
			q.sleeping.Store(0)
			continue
		}
		if q.onPark != nil {
			q.onPark()
		}
		q.parks.Add(1)
		var timerC <-chan time.Time
		if cs.armed {
			timerC = q.timer.C()
		}
		select {
		case <-q.wake:
		case <-timerC:
			cs.armed = false
			cs.fired = true
		case req := <-q.flushReq:
			q.addFlush(req)
		case <-closeCh:
			closeCh = nil
			q.startDrain()
		case <-q.abortCh:
		}
		q.sleeping.Store(0)
	}
}

// clearAll clears every slot of a queue whose items have pointers and
// whose slots are cleared on reuse (Config.ClearOnReuse), once Close has
// handed everything over: no slot will be reused, and every producer that
// claimed one has published it. Consumer only.
func (q *Queue[T]) clearAll() {
	if !q.clearOnReuse {
		return
	}
	for i := range q.lanes {
		clear(q.lanes[i].slots)
	}
	clear(q.critical.slots)
}

// timerFired reports, without blocking, whether the armed batch timer has
// fired, and consumes the firing if so.
func (q *Queue[T]) timerFired() bool {
	select {
	case <-q.timer.C():
		return true
	default:
		return false
	}
}

// setWake stores the position of l whose publication wakes the parked
// consumer (see run): the one that completes l's batch while the timer is
// armed or items are ready, else the first unpublished one.
func (q *Queue[T]) setWake(l *lane[T], mb uint64) {
	w := l.chead + l.ready
	if !q.forced(l) && (l.ready > 0 || q.cs.armed) {
		w = l.chead + min(mb, l.room()) - 1
	}
	l.setWake(w, noGap)
}

// settle is called once sleeping is set. It scans the lanes again and
// reports whether the consumer may park: false if an item at or after a
// lane's wakeAt was published in the meantime (its producer may have seen
// sleeping still 0). New items below wakeAt need no wake-up. A position
// at or after wakeAt can also be published but hidden from the scan by an
// earlier claimed, unpublished position p; then settle stores p in gapAt,
// so that publishing p wakes the consumer, and scans again in case p was
// published before the store.
func (q *Queue[T]) settle(mb uint64) bool {
	for {
		moved := false
		for i := -1; i < len(q.lanes); i++ {
			l := &q.critical
			if i >= 0 {
				l = &q.lanes[i]
			}
			l.scan(mb)
			p := l.chead + l.ready // first position not handed over or ready
			if p > l.cwake {
				return false
			}
			if l.end() > l.cwake && l.setGap(p) {
				moved = true
			}
		}
		if !moved {
			return true
		}
	}
}

// scan extends every lane's ready run, up to mb items each, and returns
// how many items are ready in all lanes and whether it found new ones.
func (q *Queue[T]) scan(mb uint64) (ready uint64, found bool) {
	found = q.critical.scan(mb)
	ready = q.critical.ready
	for i := range q.lanes {
		l := &q.lanes[i]
		if l.scan(mb) {
			found = true
		}
		ready += l.ready
	}
	return ready, found
}

// undelivered returns how many claimed positions have not been released.
func (q *Queue[T]) undelivered() uint64 {
	n := q.critical.end() - q.critical.chead
	for i := range q.lanes {
		n += q.lanes[i].end() - q.lanes[i].chead
	}
	return n
}

// forced reports whether l's ready items must be handed over without
// waiting for a full batch.
func (q *Queue[T]) forced(l *lane[T]) bool {
	return q.cs.draining || l.chead < l.force
}

// due reports whether l's ready run must be handed over now: it is a full
// batch, reaches the end of the slot array, or is forced.
func (q *Queue[T]) due(l *lane[T], mb uint64) bool {
	return l.ready > 0 && (l.ready >= mb || l.ready == l.room() || q.forced(l))
}

// poll takes pending Flush and Close requests without blocking and returns
// closeCh, or nil once Close has been seen.
func (q *Queue[T]) poll(closeCh chan struct{}) chan struct{} {
	for {
		select {
		case req := <-q.flushReq:
			q.addFlush(req)
		case <-closeCh:
			q.startDrain()
			return nil
		default:
			return closeCh
		}
	}
}

func (q *Queue[T]) addFlush(req flushRequest) {
	q.cs.reqs = append(q.cs.reqs, req)
	for i := range q.lanes {
		q.lanes[i].force = max(q.lanes[i].force, req.r[i])
	}
	q.critical.force = max(q.critical.force, req.c)
}

// startDrain is called once Close has set the closed bits, so the lane ends
// are final.
func (q *Queue[T]) startDrain() {
	q.cs.draining = true
	for i := range q.lanes {
		q.lanes[i].force = q.lanes[i].end()
	}
	q.critical.force = q.critical.end()
}

// satisfyFlushes completes the Flush calls whose items have all been
// released.
func (q *Queue[T]) satisfyFlushes() {
	reqs := q.cs.reqs[:0]
	for _, req := range q.cs.reqs {
		if q.released(req) {
			close(req.done)
		} else {
			reqs = append(reqs, req)
		}
	}
	clear(q.cs.reqs[len(reqs):])
	q.cs.reqs = reqs
}

// released reports whether every lane was released up to req's ends.
func (q *Queue[T]) released(req flushRequest) bool {
	for i := range q.lanes {
		if q.lanes[i].chead < req.r[i] {
			return false
		}
	}
	return q.critical.chead >= req.c
}

// deliver hands over, if any lane is due, the ready critical run and then
// the run of every due routine lane, each up to mb items. It reports
// whether it handed anything over.
func (q *Queue[T]) deliver(mb uint64) bool {
	c := &q.critical
	due := q.due(c, mb)
	for i := 0; i < len(q.lanes) && !due; i++ {
		due = q.due(&q.lanes[i], mb)
	}
	if !due {
		return false
	}
	if n := min(c.ready, mb); n > 0 {
		q.handOver(c, n)
		if q.aborted.Load() {
			return true
		}
	}
	released := false
	for i := range q.lanes {
		l := &q.lanes[(q.cs.next+i)&int(q.laneMask)]
		if !q.due(l, mb) {
			continue
		}
		q.handOver(l, min(l.ready, mb))
		released = true
		if q.aborted.Load() {
			return true
		}
	}
	q.cs.next++
	if released && q.waiters.Load() > 0 {
		// Pairs with PutWait raising waiters before its last attempt.
		q.spaceMu.Lock()
		close(q.spaceCh)
		q.spaceCh = make(chan struct{})
		q.spaceMu.Unlock()
	}
	if q.readyCount() == 0 && !q.cs.draining {
		// Everything ready was handed over. Items usually keep coming, so
		// the timer is armed now for the next batch: the consumer then
		// parks until that batch is full or the timer fires, instead of
		// being woken by the next item only to arm the timer. Items put
		// later still wait at most Timeout. If none come, the timer fires
		// once and the consumer parks without it.
		q.timer.Reset(q.batchTimeout())
		q.cs.armed = true
	}
	return true
}

// readyCount returns how many items are ready in all lanes.
func (q *Queue[T]) readyCount() uint64 {
	n := q.critical.ready
	for i := range q.lanes {
		n += q.lanes[i].ready
	}
	return n
}

// handOver calls handle with the first n ready items of l, then releases
// them.
func (q *Queue[T]) handOver(l *lane[T], n uint64) {
	s := l.run(n)
	q.handle(s)
	if q.clearSlots {
		clear(s)
	}
	l.release(n)
	if l.bit != 0 && q.fullMask.Load()&l.bit != 0 {
		// Pairs with markFull's check after setting the bit.
		q.fullMask.And(^l.bit)
	}
	q.delivered.Add(n)
	q.batches.Add(1)
}

// runMarks runs the After functions whose items have all been released
// (all of them when every is set), in the order of the After calls, and
// hastens the items the others wait for: they are handed over as if a
// Flush had asked, so that no function waits for a partial batch's
// timeout (in another lane, perhaps, than the items it follows).
func (q *Queue[T]) runMarks(every bool) {
	q.markMu.Lock()
	var due []func()
	keep := q.marks[:0]
	for _, m := range q.marks {
		if every || q.released(m.at) {
			due = append(due, m.fn)
		} else {
			keep = append(keep, m)
		}
	}
	clear(q.marks[len(keep):])
	q.marks = keep
	q.markN.Store(int64(len(keep)))
	if len(keep) > 0 {
		// Later marks wait for at least the items earlier ones do.
		last := keep[len(keep)-1].at
		for i := range q.lanes {
			q.lanes[i].force = max(q.lanes[i].force, last.r[i])
		}
		q.critical.force = max(q.critical.force, last.c)
	}
	q.markMu.Unlock()
	for _, fn := range due {
		fn()
	}
}

// finishMarks runs, as the consumer returns, the After functions still
// waiting (their items were handed over or abandoned), and makes later
// After calls refuse.
func (q *Queue[T]) finishMarks() {
	q.markMu.Lock()
	q.marksDone = true
	q.markMu.Unlock()
	q.runMarks(true)
}
