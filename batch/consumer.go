package batch

import "time"

// noGap is gapAt's value when the consumer waits for no particular slot.
const noGap = ^uint64(0)

// run is the consumer goroutine. Each cycle it polls Flush and Close
// requests, scans both lanes for newly published items, hands over a batch
// if one is due (critical items first) and otherwise parks until a producer,
// the batch timer, Flush or Close wakes it.
//
// Parking without losing a wake-up: the consumer stores wakeAt, then
// sleeping=1, then scans the lanes once more; a producer stores its slot's
// seq, then loads sleeping. These are sequentially consistent atomics, so
// either the consumer's last scan sees the published slot or the producer
// sees sleeping=1 (and, since wakeAt was stored before sleeping, the
// current wakeAt). The producer that flips sleeping back to 0 sends one
// token on the 1-buffered wake channel; every other producer does nothing.
//
// wakeAt keeps the wake-ups to about two per batch: while no routine item is
// ready it is the first unpublished position (the first item of a batch
// wakes the consumer, which arms the timer); while a batch is filling it is
// the position that completes the batch. A slot claimed but not yet
// published hides the ones after it from the scan, which may already reach
// wakeAt; so when the consumer parks behind such a slot it also stores its
// position in gapAt, and publishing it wakes the consumer. Flush and Close
// set wakeAt to the first unpublished position so that every publish they
// wait for wakes them.
func (q *Queue[T]) run() {
	defer close(q.done)
	cs := &q.cs
	closeCh := q.closeCh
	mb := uint64(q.cfg.MaxBatch)
	r, c := &q.routine, &q.critical
	for {
		if q.aborted.Load() {
			q.abandoned.Store(r.end() - r.chead + c.end() - c.chead)
			return
		}
		closeCh = q.poll(closeCh)
		c.scan(mb)
		r.scan(mb)
		if cs.fired {
			cs.fired = false
			cs.forceR = max(cs.forceR, r.chead+r.ready)
			cs.forceC = max(cs.forceC, c.chead+c.ready)
		}
		q.satisfyFlushes()
		if cs.draining && r.chead == r.end() && c.chead == c.end() {
			return
		}
		forced := cs.draining || r.chead < cs.forceR || c.chead < cs.forceC
		ready := r.ready + c.ready
		if ready > 0 && (forced || ready >= mb ||
			r.ready > 0 && r.ready == r.room() || c.ready > 0 && c.ready == c.room()) {
			q.deliver(mb)
			continue
		}

		// Nothing is due: park.
		if ready > 0 && !cs.armed {
			q.timer.Reset(q.cfg.Timeout)
			cs.armed = true
		} else if ready == 0 && cs.armed {
			q.timer.Stop()
			cs.armed = false
		}
		w, gap := r.chead+r.ready, noGap
		if !forced && r.ready > 0 {
			limit := min(mb-min(c.ready, mb-1), r.room())
			w = r.chead + limit - 1
			if r.end() > r.chead+r.ready {
				// A producer claimed the next position but has not
				// published it yet; what it publishes may complete
				// the batch.
				gap = r.chead + r.ready
			}
		}
		q.gapAt.Store(gap)
		q.wakeAt.Store(w)
		q.sleeping.Store(1)
		foundC := c.scan(mb)
		foundR := r.scan(mb)
		if foundC || foundR {
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
	q.cs.forceR = max(q.cs.forceR, req.r)
	q.cs.forceC = max(q.cs.forceC, req.c)
}

// startDrain is called once Close has set the closed bits, so the lane ends
// are final.
func (q *Queue[T]) startDrain() {
	q.cs.draining = true
	q.cs.forceR = q.routine.end()
	q.cs.forceC = q.critical.end()
}

// satisfyFlushes completes the Flush calls whose items have all been
// released.
func (q *Queue[T]) satisfyFlushes() {
	reqs := q.cs.reqs[:0]
	for _, req := range q.cs.reqs {
		if q.routine.chead >= req.r && q.critical.chead >= req.c {
			close(req.done)
		} else {
			reqs = append(reqs, req)
		}
	}
	clear(q.cs.reqs[len(reqs):])
	q.cs.reqs = reqs
}

// deliver hands over the ready critical run, then the ready routine run,
// each up to mb items.
func (q *Queue[T]) deliver(mb uint64) {
	if n := min(q.critical.ready, mb); n > 0 {
		q.handOver(&q.critical, n)
		if q.aborted.Load() {
			return
		}
	}
	if n := min(q.routine.ready, mb); n > 0 {
		q.handOver(&q.routine, n)
		if q.waiters.Load() > 0 {
			// Pairs with PutWait raising waiters before its last attempt.
			q.spaceMu.Lock()
			close(q.spaceCh)
			q.spaceCh = make(chan struct{})
			q.spaceMu.Unlock()
		}
	}
	if q.cs.armed && q.critical.ready+q.routine.ready == 0 {
		q.timer.Stop()
		q.cs.armed = false
	}
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
	q.delivered.Add(n)
	q.batches.Add(1)
}
