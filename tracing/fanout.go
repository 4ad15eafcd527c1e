package tracing

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/reflowtrace/reflowtrace-go/internal/lane"
)

// A client with several sinks feeds each one from a lane of its own: a
// FIFO of batches, trace ends and flush requests, and a goroutine that
// writes them to the sink. The consumer copies each batch once into a
// fanBatch shared by the lanes and hands it to every lane without
// blocking, so a sink that is slow, hangs until its export timeout or
// fails never holds back the others. A lane holds at most
// TracingConfig.QueueSize events; a batch that would take it past that is
// missed by that sink alone and counted (SinkStats.QueueFull,
// DropCounts.SinkQueueFull), unless the queue policy is Block: then the
// consumer waits for room, and the slowest sink sets the pace. A client
// with one sink has no lane: its consumer writes to the sink itself, and
// the client's queue is the only buffer.

// fanBatch is a batch copied for the lanes. The copy is shallow: the
// queue reuses its slots once the consumer returns, but what the events
// refer to (content, dependency chains, attribute slices) the client
// never modifies after recording.
type fanBatch struct {
	events []TraceEvent
	began  int64 // Unix ns when the consumer handed it to the lanes
	// pending counts the lanes that still hold the batch; the lane that
	// brings it to 0 settles the batch (finishFan).
	pending     atomic.Int32
	writeFailed atomic.Bool // a sink's Write failed
	missed      atomic.Bool // a lane had no room for it
}

var fanBatches = sync.Pool{New: func() any { return new(fanBatch) }}

// laneItem is one entry of a lane: a batch to write, a trace end to
// observe, or a flush request.
type laneItem struct {
	batch *fanBatch
	trace *FlowTrace
	flush *laneFlush
}

// laneFlush is a Flush waiting for a lane: the lane calls the sink's
// Flush with ctx once it has written what was queued before, and sends
// the result on done (buffered for every sink).
type laneFlush struct {
	ctx  context.Context
	done chan<- laneFlushed
}

// laneFlushed is the result of one lane's flush.
type laneFlushed struct {
	index int
	err   error
}

// startLanes gives every sink a lane and starts its goroutine; Close
// stops them (closeLanes).
func (c *TracingClient) startLanes() {
	for i := range c.sinks {
		c.sinks[i].lane = lane.New(c.cfg.QueueSize, func(it laneItem) { c.serveLane(i, it) })
	}
}

// fanOut copies events into a fanBatch and hands it to every lane. It
// runs on the consumer goroutine.
func (c *TracingClient) fanOut(events []TraceEvent) {
	fb := fanBatches.Get().(*fanBatch)
	fb.events = append(fb.events[:0], events...)
	fb.began = c.now().UnixNano()
	fb.pending.Store(int32(len(c.sinks)))
	fb.writeFailed.Store(false)
	fb.missed.Store(false)
	n := len(events)
	c.fanHeld.Add(int64(n))
	// Under Block a lane without room holds the consumer until Close
	// gives up (exportCtx ends).
	var wait <-chan struct{}
	if c.blockWait {
		wait = c.exportCtx.Done()
	}
	for i := range c.sinks {
		s := &c.sinks[i]
		switch s.lane.Push(laneItem{batch: fb}, n, wait) {
		case lane.Pushed:
		case lane.Full:
			s.queueFull.Add(uint64(n))
			fb.missed.Store(true)
			c.finishFan(fb)
		case lane.Closed:
			// Close gave up while the consumer was still handing out:
			// the batch is abandoned (finishFan sees exportCtx ended).
			fb.missed.Store(true)
			c.finishFan(fb)
		}
	}
}

// finishFan releases fb for one lane; the last one settles the batch:
// delivered when every sink wrote it, else dropped for one reason
// (abandoned by Close, a write error, or a lane without room, in that
// order).
func (c *TracingClient) finishFan(fb *fanBatch) {
	if fb.pending.Add(-1) != 0 {
		return
	}
	n := uint64(len(fb.events))
	switch {
	case !fb.writeFailed.Load() && !fb.missed.Load():
		c.delivered.Add(n)
		c.failingSince.Store(0)
	case c.exportCtx.Err() != nil:
		c.dropAbandon.Add(n)
	case fb.writeFailed.Load():
		c.dropWrite.Add(n)
		c.failingSince.CompareAndSwap(0, fb.began)
	default:
		c.dropSinkQueue.Add(n)
	}
	c.fanHeld.Add(-int64(n))
	clear(fb.events)
	fb.events = fb.events[:0]
	fanBatches.Put(fb)
}

// laneObserve passes a trace's end to every TraceObserver sink through
// its lane, after the batches queued for it before; a lane that is closed
// already does not observe it.
func (c *TracingClient) laneObserve(t FlowTrace) {
	for i := range c.sinks {
		s := &c.sinks[i]
		if s.observer != nil {
			s.lane.Push(laneItem{trace: &t}, 0, nil)
		}
	}
}

// flushLanes asks every lane to flush its sink once it has written what
// was queued before, and waits for them all or for ctx. It returns the
// errors, each naming its sink, in the order of the sinks.
func (c *TracingClient) flushLanes(ctx context.Context) []error {
	done := make(chan laneFlushed, len(c.sinks))
	errs := make([]error, len(c.sinks))
	pending := make([]bool, len(c.sinks))
	waiting := 0
	for i := range c.sinks {
		if c.sinks[i].lane.Push(laneItem{flush: &laneFlush{ctx: ctx, done: done}}, 0, nil) != lane.Pushed {
			errs[i] = ErrClosed
			continue
		}
		pending[i] = true
		waiting++
	}
	take := func(r laneFlushed) {
		errs[r.index], pending[r.index] = r.err, false
		waiting--
	}
wait:
	for waiting > 0 {
		select {
		case r := <-done:
			take(r)
		case <-ctx.Done():
			break wait
		}
	}
	// ctx ended: take the answers already given; the other lanes have not
	// finished, and report ctx's error.
	for waiting > 0 {
		select {
		case r := <-done:
			take(r)
			continue
		default:
		}
		break
	}
	var out []error
	for i, err := range errs {
		if pending[i] {
			err = ctx.Err()
		}
		if err != nil {
			out = append(out, fmt.Errorf("tracing: flush sink %d (%s): %w", i, c.sinks[i].name, err))
		}
	}
	return out
}

// closeLanes stops intake of every lane, lets each write what it holds
// and then flushes and closes its sink, all lanes at once. When ctx ends
// first it cancels the exports, so that what is left is abandoned, and
// still waits for every lane's goroutine. It returns the sinks' errors in
// the order of the sinks.
func (c *TracingClient) closeLanes(ctx context.Context) []error {
	errs := make([][]error, len(c.sinks))
	var wg sync.WaitGroup
	for i := range c.sinks {
		s := &c.sinks[i]
		s.lane.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-s.lane.Done():
			case <-ctx.Done():
				c.cancelExport()
				<-s.lane.Done()
			}
			if err := s.sink.Flush(ctx); err != nil {
				errs[i] = append(errs[i], fmt.Errorf("tracing: close: flush sink %d (%s): %w", i, s.name, err))
			}
			if err := s.sink.Close(ctx); err != nil {
				errs[i] = append(errs[i], fmt.Errorf("tracing: close: sink %d (%s): %w", i, s.name, err))
			}
		}()
	}
	wg.Wait()
	var out []error
	for _, e := range errs {
		out = append(out, e...)
	}
	return out
}

// serveLane is the work of sink i's lane, on the lane's goroutine: it
// writes the batches to the sink in order, passes trace ends on and
// answers flush requests. Once Close has given up (exportCtx ended) the
// batches left are abandoned, not written.
func (c *TracingClient) serveLane(i int, it laneItem) {
	s := &c.sinks[i]
	switch {
	case it.flush != nil:
		it.flush.done <- laneFlushed{index: i, err: s.sink.Flush(it.flush.ctx)}
		if h := c.testHookLaneFlushed; h != nil {
			h(i)
		}
	case it.trace != nil:
		s.observer.ObserveTrace(*it.trace)
	default:
		fb := it.batch
		if c.exportCtx.Err() != nil {
			fb.missed.Store(true)
		} else if err := c.writeSink(i, fb.events); err != nil {
			fb.writeFailed.Store(true)
		}
		c.finishFan(fb)
	}
}
