package sink

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// DefaultMultiQueueBatches is how many batches a Multi sink queues for each
// of its sinks before it drops batches for that sink.
const DefaultMultiQueueBatches = 64

// ErrQueueFull is wrapped by the error a sink returns when it dropped a
// batch because its queue was full.
var ErrQueueFull = errors.New("sink: queue full")

// Multi is a sink that fans each batch out to several sinks, so that a
// failing or slow sink does not hold back the others.
//
// Each sink has its own goroutine and a queue of DefaultMultiQueueBatches
// batches. Write copies the batch once (deeply, like Memory), enqueues the
// copy for every sink without blocking, and returns. When a sink's queue is
// full, that sink misses the batch and the drop is counted in its
// MultiSinkStats; the other sinks are not affected. The copy is shared by
// the sinks: a sink must not modify the events it is given.
//
// Errors of the background writes have no caller: they are counted in
// Stats and returned, with the sink's index, by the next Flush or Close.
//
// A Multi is safe for concurrent use. Each sink sees its batches in the
// order of the Write calls, from a single goroutine. Close must be called
// to stop the goroutines; after it, Write and Flush return an error
// wrapping tracing.ErrClosed.
type Multi struct {
	sinks []*multiSink

	mu      sync.RWMutex // held for reading while enqueueing; for writing to close the queues
	closed  bool
	closing chan struct{} // closed when Close starts, to wake blocked Flush calls
	once    sync.Once

	// ctx is the context of background writes; cancelled when a Close
	// runs out of time, so that stuck writes give up.
	ctx    context.Context
	cancel context.CancelFunc

	// testHookFlushWait, if set, is called by Flush before it waits for
	// the sink with index i.
	testHookFlushWait func(i int)
}

var (
	_ tracing.Sink          = (*Multi)(nil)
	_ tracing.TraceObserver = (*Multi)(nil)
	_ tracing.ServerSink    = (*Multi)(nil)
)

// ObserveTrace passes the trace's start or end to every sink that
// implements tracing.TraceObserver, directly (not through the queues), so
// a sink may see it before batches still queued for it. It does nothing
// after Close.
func (m *Multi) ObserveTrace(trace tracing.FlowTrace) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return
	}
	for _, s := range m.sinks {
		if o, ok := s.sink.(tracing.TraceObserver); ok {
			o.ObserveTrace(trace)
		}
	}
}

// MultiSinkStats are the counters of one sink of a Multi.
type MultiSinkStats struct {
	// Batches and Events count what the sink's Write accepted.
	Batches, Events uint64
	// DroppedBatches and DroppedEvents count what the sink never got: its
	// queue was full, or the Multi was closed before it was written.
	DroppedBatches, DroppedEvents uint64
	// FailedBatches and FailedEvents count what the sink's Write returned
	// an error for.
	FailedBatches, FailedEvents uint64
	// Queued is how many batches wait in the sink's queue.
	Queued int
	// LastError is the sink's most recent Write or Flush error, or nil.
	LastError error
}

type multiSink struct {
	index int
	sink  tracing.Sink
	queue chan multiItem
	done  chan struct{} // closed when the goroutine has exited

	batches, events               atomic.Uint64
	droppedBatches, droppedEvents atomic.Uint64
	failedBatches, failedEvents   atomic.Uint64
	newDrops                      atomic.Uint64 // events dropped since the last report

	mu       sync.Mutex
	lastErr  error
	newFails uint64 // failed batches since the last report
	newErr   error  // the last error since the last report
}

// multiItem is a batch to write or, when flush is set, a flush request.
type multiItem struct {
	batch []tracing.TraceEvent
	flush *multiFlush
}

type multiFlush struct {
	ctx  context.Context // the Flush caller's, handed over for the sink's Flush
	done chan error      // buffered; receives the sink's report
}

// NewMulti returns a sink that writes to each of sinks, and starts one
// goroutine per sink. Nil sinks are ignored. With no sinks, Write, Flush
// and Close do nothing but the closed-state checks.
func NewMulti(sinks ...tracing.Sink) *Multi {
	ctx, cancel := context.WithCancel(context.Background())
	m := &Multi{closing: make(chan struct{}), ctx: ctx, cancel: cancel}
	for _, s := range sinks {
		if s == nil {
			continue
		}
		ms := &multiSink{
			index: len(m.sinks),
			sink:  s,
			queue: make(chan multiItem, DefaultMultiQueueBatches),
			done:  make(chan struct{}),
		}
		m.sinks = append(m.sinks, ms)
		go m.run(ms)
	}
	return m
}

// Len returns how many sinks m writes to.
func (m *Multi) Len() int { return len(m.sinks) }

// SendsToServer reports whether one of m's sinks sends to a Reflow
// tracing server (see tracing.ServerSink).
func (m *Multi) SendsToServer() bool {
	for _, s := range m.sinks {
		if ss, ok := s.sink.(tracing.ServerSink); ok && ss.SendsToServer() {
			return true
		}
	}
	return false
}

// run is the goroutine of one sink: it writes the queued batches in order
// and answers flush requests, until the queue is closed and drained.
func (m *Multi) run(s *multiSink) {
	defer close(s.done)
	for it := range s.queue {
		if it.flush != nil {
			err := s.sink.Flush(it.flush.ctx)
			if err != nil {
				s.mu.Lock()
				s.lastErr = err
				s.mu.Unlock()
			}
			it.flush.done <- s.report(err)
			continue
		}
		n := uint64(len(it.batch))
		if m.ctx.Err() != nil {
			s.droppedBatches.Add(1)
			s.droppedEvents.Add(n)
			s.newDrops.Add(n)
			continue
		}
		if err := s.sink.Write(m.ctx, it.batch); err != nil {
			s.failedBatches.Add(1)
			s.failedEvents.Add(n)
			s.mu.Lock()
			s.lastErr, s.newErr = err, err
			s.newFails++
			s.mu.Unlock()
			continue
		}
		s.batches.Add(1)
		s.events.Add(n)
	}
}

// report returns the sink's problems since the previous report, joined
// with err, or nil when there were none.
func (s *multiSink) report(err error) error {
	var errs []error
	s.mu.Lock()
	if s.newFails > 0 {
		errs = append(errs, fmt.Errorf("%d batches failed, last: %w", s.newFails, s.newErr))
		s.newFails, s.newErr = 0, nil
	}
	s.mu.Unlock()
	if n := s.newDrops.Swap(0); n > 0 {
		errs = append(errs, fmt.Errorf("%d events dropped: %w", n, ErrQueueFull))
	}
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("sink: multi: sink %d (%T): %w", s.index, s.sink, errors.Join(errs...))
}

// Write copies batch and enqueues the copy for every sink without
// blocking. It returns nil when at least one sink took the batch, or when
// batch is empty (empty batches are not forwarded). When every sink's queue
// is full it returns an error wrapping ErrQueueFull. After Close it returns
// an error wrapping tracing.ErrClosed. ctx is not used: nothing blocks.
func (m *Multi) Write(_ context.Context, batch []tracing.TraceEvent) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return fmt.Errorf("sink: multi: write: %w", tracing.ErrClosed)
	}
	if len(batch) == 0 || len(m.sinks) == 0 {
		return nil
	}
	cp := make([]tracing.TraceEvent, len(batch))
	for i := range batch {
		cloneEventInto(&cp[i], &batch[i])
	}
	n := uint64(len(cp))
	taken := 0
	for _, s := range m.sinks {
		select {
		case s.queue <- multiItem{batch: cp}:
			taken++
		default:
			s.droppedBatches.Add(1)
			s.droppedEvents.Add(n)
			s.newDrops.Add(n)
		}
	}
	if taken == 0 {
		return fmt.Errorf("sink: multi: write %d events: every sink: %w", n, ErrQueueFull)
	}
	return nil
}

// Flush waits until every sink has written the batches enqueued before the
// call and has flushed. It returns the joined errors of the sinks, each
// naming the sink's index and type: Write errors and drops since the
// previous Flush, Flush errors, and, for each sink that did not finish
// before ctx ended, ctx's error. It never waits past ctx. After Close it
// returns an error wrapping tracing.ErrClosed.
func (m *Multi) Flush(ctx context.Context) error {
	reqs, errs := m.enqueueFlush(ctx)
	for i, req := range reqs {
		if req == nil {
			continue
		}
		if m.testHookFlushWait != nil {
			m.testHookFlushWait(i)
		}
		var err error
		select {
		case err = <-req.done:
		case <-ctx.Done():
			select {
			case err = <-req.done: // finished after all
			default:
				s := m.sinks[i]
				err = fmt.Errorf("sink: multi: flush sink %d (%T): %w", s.index, s.sink, ctx.Err())
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// enqueueFlush puts a flush request in every sink's queue, waiting for room
// until ctx ends or m closes.
func (m *Multi) enqueueFlush(ctx context.Context) ([]*multiFlush, []error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, []error{fmt.Errorf("sink: multi: flush: %w", tracing.ErrClosed)}
	}
	reqs := make([]*multiFlush, len(m.sinks))
	var errs []error
	for i, s := range m.sinks {
		req := &multiFlush{ctx: ctx, done: make(chan error, 1)}
		select {
		case s.queue <- multiItem{flush: req}:
			reqs[i] = req
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("sink: multi: flush sink %d (%T): queue full: %w", s.index, s.sink, ctx.Err()))
		case <-m.closing:
			errs = append(errs, fmt.Errorf("sink: multi: flush: %w", tracing.ErrClosed))
			return reqs, errs
		}
	}
	return reqs, errs
}

// Close stops intake, lets every sink write what is queued for it, then
// closes every sink with ctx, concurrently. If ctx ends first, the pending
// writes are cancelled and the batches still queued are dropped (counted),
// but every goroutine still exits before Close returns. It returns the
// joined errors of the sinks, each naming the sink's index, plus ctx's
// error if it ended. A second Close returns nil.
//
// A sink whose Write or Close ignores its context can make Close wait for
// it indefinitely.
func (m *Multi) Close(ctx context.Context) error {
	var err error
	m.once.Do(func() { err = m.close(ctx) })
	return err
}

func (m *Multi) close(ctx context.Context) error {
	close(m.closing)
	m.mu.Lock()
	m.closed = true
	for _, s := range m.sinks {
		close(s.queue)
	}
	m.mu.Unlock()

	errs := make([]error, len(m.sinks))
	var wg sync.WaitGroup
	for i, s := range m.sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-s.done:
			case <-ctx.Done():
				m.cancel() // stuck writes give up; the rest of the queue is dropped
				<-s.done
			}
			var cerr error
			if err := s.sink.Close(ctx); err != nil {
				cerr = fmt.Errorf("close: %w", err)
			}
			errs[i] = s.report(cerr)
		}()
	}
	wg.Wait()
	m.cancel()
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("sink: multi: close: %w", err))
	}
	return errors.Join(errs...)
}

// Stats returns the counters of each sink, in the order given to NewMulti
// (nil sinks excluded).
func (m *Multi) Stats() []MultiSinkStats {
	out := make([]MultiSinkStats, len(m.sinks))
	for i, s := range m.sinks {
		s.mu.Lock()
		last := s.lastErr
		s.mu.Unlock()
		out[i] = MultiSinkStats{
			Batches:        s.batches.Load(),
			Events:         s.events.Load(),
			DroppedBatches: s.droppedBatches.Load(),
			DroppedEvents:  s.droppedEvents.Load(),
			FailedBatches:  s.failedBatches.Load(),
			FailedEvents:   s.failedEvents.Load(),
			Queued:         len(s.queue),
			LastError:      last,
		}
	}
	return out
}
