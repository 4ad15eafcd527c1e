package deliver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reflowtrace/reflowtrace-go/internal/lane"
)

// ErrClosed is the error Flush reports for a sink whose lane Close has
// closed.
var ErrClosed = errors.New("deliver: closed")

// protect calls method (a sink's Write, Flush, Close or ObserveTrace,
// named method) and returns, in place of a panic, an error that names the
// method and holds the panic's value: a sink's bug fails its call, counted
// and reported as any failure is, instead of ending the process from a
// goroutine the user's code cannot recover on.
func protect(method string, call func() error) (err error) {
	return Protect(method, call)
}

// Protect is protect, for the sink calls a Group does not make.
func Protect(method string, call func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sink %s panicked: %v", method, r)
		}
	}()
	return call()
}

// Sink receives batches of events of type E. A Group calls Write from one
// goroutine at a time; Flush and Close may come concurrently with it.
// Write must not keep or modify batch: the Group reuses the slice once
// Write returns and, with several sinks, gives every sink the same events,
// concurrently. Write must honor ctx.
type Sink[E any] interface {
	Write(ctx context.Context, batch []E) error
	Flush(ctx context.Context) error
	Close(ctx context.Context) error
}

// Observer is implemented by sinks that want the marks of type T passed to
// Group.Observe (for the SDK, the ends of traces).
type Observer[T any] interface {
	ObserveTrace(mark T)
}

// Outcome says how a batch ended once every sink was done with it. When
// several apply, the first in this list after Delivered is given.
type Outcome uint8

const (
	// Delivered means every sink wrote the batch without error.
	Delivered Outcome = iota
	// Abandoned means Cancel came before every sink had written the batch.
	Abandoned
	// WriteFailed means a sink's Write returned an error.
	WriteFailed
	// Missed means a sink's lane had no room for the batch.
	Missed
)

// Config is what New needs. Sinks and Settled are required.
type Config[E any] struct {
	// Sinks are the sinks, one or more; their index in Sinks names them
	// in every report.
	Sinks []Sink[E]
	// Timeout bounds every Write.
	Timeout time.Duration
	// LaneSize is the number of events a lane holds at most, with several
	// sinks; a lane that holds none takes a batch of any size.
	LaneSize int
	// Block makes Write wait for room in a lane that has none, until
	// Cancel, rather than miss the batch for that sink.
	Block bool
	// Now is the clock of Counts.WritingSince and of Settled's began;
	// time.Now when nil.
	Now func() time.Time
	// Settled is called once for every batch given to Write, when every
	// sink is done with it, with the number of its events, how it ended
	// and when Write took it (Unix ns of Now). It runs on the goroutine
	// of Write, or of the lane that finished last, so it must not block.
	Settled func(n int, o Outcome, began int64)
	// WriteFailed, if set, is called with i, the number of events and the
	// error when sink i's Write failed, on the goroutine that wrote.
	WriteFailed func(i, n int, err error)
	// Flushed, if set, is called with i once sink i's Flush, asked for by
	// Group.Flush, has returned and its result has been handed to that
	// Flush.
	Flushed func(i int)
	// ClosedLate, if set, is called with i and the errors of sink i's
	// Flush and Close at Close when they returned after Close gave up on
	// the sink (see Close), on the goroutine that called them.
	ClosedLate func(i int, e CloseErrors)
	// ObserveFailed, if set, is called with i and the error when sink i's
	// ObserveTrace panicked, on the goroutine that called it; the mark is
	// then lost for that sink only.
	ObserveFailed func(i int, err error)
}

// Counts is what a Group counted of the Writes to a sink, from New.
type Counts struct {
	// Batches and Events count what Write accepted without error.
	Batches, Events uint64
	// WriteErrors counts the Writes that failed.
	WriteErrors uint64
	// WriteTime is the time spent in Write, summed over every Write.
	WriteTime time.Duration
	// QueueFull counts the events the sink missed because its lane had no
	// room (Missed); always 0 with one sink.
	QueueFull uint64
	// WritingSince is when the Write in progress began (Unix ns of
	// Config.Now), 0 between Writes.
	WritingSince int64
}

// CloseErrors are the errors of one sink's Flush and Close at Close; nil
// when they succeeded.
type CloseErrors struct {
	Flush, Close error
	// Busy is set when Close gave up on the sink while it was still
	// writing, flushing or closing; Flush and Close are nil then.
	Busy bool
}

// Group writes the batches given to it to every sink of its Config; see
// the package documentation. Its methods are safe for concurrent use,
// except Write, which must be called from one goroutine at a time.
type Group[E, T any] struct {
	cfg    Config[E]
	now    func() time.Time
	sinks  []sink[E, T]
	lanes  bool
	ctx    context.Context // the parent of every Write's; Cancel ends it
	cancel context.CancelFunc
	held   atomic.Int64 // events copied for the lanes and not settled yet
	pool   sync.Pool    // of *shared[E]
}

// sink is a sink, its lane (with several sinks) and its counters.
type sink[E, T any] struct {
	sink     Sink[E]
	observer Observer[T]
	lane     *lane.Lane[item[E, T]]

	batches      atomic.Uint64
	events       atomic.Uint64
	writeErrors  atomic.Uint64
	writeTime    atomic.Int64
	queueFull    atomic.Uint64
	writingSince atomic.Int64
}

// shared is a batch copied for the lanes. The copy is shallow: what the
// events refer to, the caller never modifies after Write.
type shared[E any] struct {
	events []E
	began  int64 // Unix ns when Write handed it to the lanes
	// pending counts the lanes that still hold the batch; the lane that
	// brings it to 0 settles the batch (finish).
	pending     atomic.Int32
	writeFailed atomic.Bool // a sink's Write failed
	missed      atomic.Bool // a lane had no room for it, or Cancel came first
}

// item is one entry of a lane: a batch to write, a mark to observe or a
// flush request.
type item[E, T any] struct {
	batch *shared[E]
	mark  *T
	flush *flushRequest
}

// flushRequest is a Flush waiting for a lane: the lane calls the sink's
// Flush with ctx once it has written what was queued before, and sends
// the result on done (buffered for every sink).
type flushRequest struct {
	ctx  context.Context
	done chan<- flushed
}

// flushed is the result of one lane's flush.
type flushed struct {
	index int
	err   error
}

// New returns a Group for cfg. With several sinks it starts a goroutine
// per sink, which Close stops. The caller calls Cancel once it is done with
// the Group.
func New[E, T any](cfg Config[E]) *Group[E, T] {
	g := &Group[E, T]{cfg: cfg, now: cfg.Now, sinks: make([]sink[E, T], len(cfg.Sinks)), lanes: len(cfg.Sinks) > 1}
	if g.now == nil {
		g.now = time.Now
	}
	g.pool.New = func() any { return new(shared[E]) }
	g.ctx, g.cancel = context.WithCancel(context.Background())
	for i, s := range cfg.Sinks {
		g.sinks[i].sink = s
		g.sinks[i].observer, _ = s.(Observer[T])
		if g.lanes {
			g.sinks[i].lane = lane.New(cfg.LaneSize, func(it item[E, T]) { g.serve(i, it) })
		}
	}
	return g
}

// Write writes events to every sink and settles them (Config.Settled).
// With one sink it writes on the caller's goroutine and returns when the
// sink's Write has. With several it copies events once, hands the copy to
// every lane and returns without waiting for the writes; a lane without
// room misses the batch, or, under Config.Block, Write waits for room
// until Cancel. Either way the caller may reuse events once Write returns.
// After Cancel the batch is abandoned, and after Close missed.
func (g *Group[E, T]) Write(events []E) {
	if !g.lanes {
		began := g.now().UnixNano()
		o := Delivered
		if err := g.write(0, events); err != nil {
			o = WriteFailed
			if g.Canceled() {
				o = Abandoned
			}
		}
		g.cfg.Settled(len(events), o, began)
		return
	}
	b := g.pool.Get().(*shared[E])
	b.events = append(b.events[:0], events...)
	b.began = g.now().UnixNano()
	b.pending.Store(int32(len(g.sinks)))
	b.writeFailed.Store(false)
	b.missed.Store(false)
	n := len(events)
	g.held.Add(int64(n))
	var wait <-chan struct{}
	if g.cfg.Block {
		wait = g.ctx.Done()
	}
	for i := range g.sinks {
		s := &g.sinks[i]
		switch s.lane.Push(item[E, T]{batch: b}, n, wait) {
		case lane.Pushed:
		case lane.Full:
			s.queueFull.Add(uint64(n))
			b.missed.Store(true)
			g.finish(b)
		case lane.Closed:
			// Closed, or Cancel ended the wait for room.
			b.missed.Store(true)
			g.finish(b)
		}
	}
}

// write writes events to sink i under the timeout and counts the write. It
// runs on Write's goroutine or on sink i's lane.
func (g *Group[E, T]) write(i int, events []E) error {
	s := &g.sinks[i]
	ctx, cancel := context.WithTimeout(g.ctx, g.cfg.Timeout)
	start := time.Now()
	s.writingSince.Store(g.now().UnixNano())
	err := protect("Write", func() error { return s.sink.Write(ctx, events) })
	s.writingSince.Store(0)
	cancel()
	s.writeTime.Add(int64(time.Since(start)))
	if err != nil {
		s.writeErrors.Add(1)
		if f := g.cfg.WriteFailed; f != nil {
			f(i, len(events), err)
		}
		return err
	}
	s.batches.Add(1)
	s.events.Add(uint64(len(events)))
	return nil
}

// finish releases b for one lane; the last one settles the batch.
func (g *Group[E, T]) finish(b *shared[E]) {
	if b.pending.Add(-1) != 0 {
		return
	}
	o := Delivered
	switch {
	case !b.writeFailed.Load() && !b.missed.Load():
	case g.Canceled():
		o = Abandoned
	case b.writeFailed.Load():
		o = WriteFailed
	default:
		o = Missed
	}
	n := len(b.events)
	g.cfg.Settled(n, o, b.began)
	g.held.Add(-int64(n))
	clear(b.events)
	b.events = b.events[:0]
	g.pool.Put(b)
}

// serve is the work of sink i's lane, on the lane's goroutine: it writes
// the batches to the sink in order, passes marks on and answers flush
// requests. After Cancel the batches left are abandoned, not written.
func (g *Group[E, T]) serve(i int, it item[E, T]) {
	s := &g.sinks[i]
	switch {
	case it.flush != nil:
		it.flush.done <- flushed{index: i, err: protect("Flush", func() error { return s.sink.Flush(it.flush.ctx) })}
		if f := g.cfg.Flushed; f != nil {
			f(i)
		}
	case it.mark != nil:
		g.observe(i, *it.mark)
	default:
		b := it.batch
		if g.Canceled() {
			b.missed.Store(true)
		} else if err := g.write(i, b.events); err != nil {
			b.writeFailed.Store(true)
		}
		g.finish(b)
	}
}

// Observe passes mark to every sink that implements Observer[T]: with one
// sink at once, on the caller's goroutine; with several through each
// sink's lane, after the batches Write handed it before. A lane that is
// closed does not pass it on.
func (g *Group[E, T]) Observe(mark T) {
	for i := range g.sinks {
		s := &g.sinks[i]
		switch {
		case s.observer == nil:
		case g.lanes:
			s.lane.Push(item[E, T]{mark: &mark}, 0, nil)
		default:
			g.observe(i, mark)
		}
	}
}

// Announce passes mark to every sink that implements Observer[T] at once,
// on the caller's goroutine, ahead of what the lanes hold: for a mark that
// must reach the sinks before anything written after it.
func (g *Group[E, T]) Announce(mark T) {
	for i := range g.sinks {
		if g.sinks[i].observer != nil {
			g.observe(i, mark)
		}
	}
}

// observe passes mark to sink i's ObserveTrace; a panic there is reported
// (Config.ObserveFailed) rather than passed on.
func (g *Group[E, T]) observe(i int, mark T) {
	o := g.sinks[i].observer
	err := protect("ObserveTrace", func() error {
		o.ObserveTrace(mark)
		return nil
	})
	if err != nil && g.cfg.ObserveFailed != nil {
		g.cfg.ObserveFailed(i, err)
	}
}

// Flush calls every sink's Flush with ctx and waits for them all, or for
// ctx. With several sinks each lane calls it once it has written what was
// handed to it before, all lanes at once. It returns one error per sink,
// in their order: nil when its Flush succeeded, else Flush's error; ctx's
// error for a sink that had not answered when ctx ended (a lane, or the
// one sink's Flush, which then returns on its own goroutine); ErrClosed
// for a lane that Close has closed.
func (g *Group[E, T]) Flush(ctx context.Context) []error {
	errs := make([]error, len(g.sinks))
	if !g.lanes {
		errs[0] = g.flushOne(ctx)
		return errs
	}
	done := make(chan flushed, len(g.sinks))
	pending := make([]bool, len(g.sinks))
	waiting := 0
	for i := range g.sinks {
		if g.sinks[i].lane.Push(item[E, T]{flush: &flushRequest{ctx: ctx, done: done}}, 0, nil) != lane.Pushed {
			errs[i] = ErrClosed
			continue
		}
		pending[i] = true
		waiting++
	}
	take := func(r flushed) {
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
	for i := range errs {
		if pending[i] {
			errs[i] = ctx.Err()
		}
	}
	return errs
}

// flushOne calls the one sink's Flush and waits for it, or for ctx: a
// sink whose Flush ignores ctx does not hold the caller past it.
func (g *Group[E, T]) flushOne(ctx context.Context) error {
	s := &g.sinks[0]
	if ctx.Done() == nil {
		err := protect("Flush", func() error { return s.sink.Flush(ctx) })
		if f := g.cfg.Flushed; f != nil {
			f(0)
		}
		return err
	}
	done := make(chan error, 1)
	go func() {
		done <- protect("Flush", func() error { return s.sink.Flush(ctx) })
		if f := g.cfg.Flushed; f != nil {
			f(0)
		}
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done: // answered as ctx ended
			return err
		default:
			return ctx.Err()
		}
	}
}

// Close flushes and closes every sink and stops the Group's goroutines.
// Each sink has a goroutine of its own for it: with one sink it calls the
// sink's Flush and then its Close; with several it stops intake of the
// sink's lane, lets it write what it holds and then flushes and closes the
// sink, all sinks at once. When ctx ends first Close cancels (Cancel), so
// that what the lanes still hold is abandoned, and waits on, until giveUp
// is closed: a sink that is still busy then (its Write, Flush or Close
// ignores ctx) is reported Busy and left to finish on its goroutine, which
// calls Config.ClosedLate when it has; its lane, if any, is then still
// running. A nil giveUp makes Close wait for every sink. It returns the
// sinks' errors in their order. Close must be called once; Write may
// still run when it is called, if Cancel was called before.
func (g *Group[E, T]) Close(ctx context.Context, giveUp <-chan struct{}) []CloseErrors {
	type closed struct {
		i int
		e CloseErrors
	}
	results := make(chan closed) // unbuffered: a sink's goroutine knows whether Close took its result
	for i := range g.sinks {
		s := &g.sinks[i]
		if g.lanes {
			s.lane.Close()
		}
		go func() {
			if g.lanes {
				select {
				case <-s.lane.Done():
				case <-ctx.Done():
					g.Cancel()
					<-s.lane.Done()
				}
			}
			r := closed{i: i, e: CloseErrors{
				Flush: protect("Flush", func() error { return s.sink.Flush(ctx) }),
				Close: protect("Close", func() error { return s.sink.Close(ctx) }),
			}}
			select {
			case results <- r:
			case <-giveUp:
				if f := g.cfg.ClosedLate; f != nil {
					f(i, r.e)
				}
			}
		}()
	}
	errs := make([]CloseErrors, len(g.sinks))
	pending := make([]bool, len(g.sinks))
	for i := range pending {
		pending[i] = true
	}
	for left := len(g.sinks); left > 0; left-- {
		select {
		case r := <-results:
			errs[r.i], pending[r.i] = r.e, false
		case <-giveUp:
			for i := range errs {
				if pending[i] {
					errs[i].Busy = true
				}
			}
			return errs
		}
	}
	return errs
}

// Cancel ends the context of the Writes in progress and makes the Group
// abandon the batches its lanes still hold, and a Write waiting for room
// give up. It may be called more than once, from any goroutine.
func (g *Group[E, T]) Cancel() { g.cancel() }

// Canceled reports whether Cancel was called.
func (g *Group[E, T]) Canceled() bool { return g.ctx.Err() != nil }

// Held returns the number of events copied for the lanes that are not
// settled yet; always 0 with one sink.
func (g *Group[E, T]) Held() int { return int(max(g.held.Load(), 0)) }

// Sink returns the counts of sink i. Each field is read atomically, the
// fields one after the other.
func (g *Group[E, T]) Sink(i int) Counts {
	s := &g.sinks[i]
	return Counts{
		Batches:      s.batches.Load(),
		Events:       s.events.Load(),
		WriteErrors:  s.writeErrors.Load(),
		WriteTime:    time.Duration(s.writeTime.Load()),
		QueueFull:    s.queueFull.Load(),
		WritingSince: s.writingSince.Load(),
	}
}

// Total returns the counts of every sink summed, with WritingSince the
// earliest of the Writes in progress (0 if none is).
func (g *Group[E, T]) Total() Counts {
	var t Counts
	for i := range g.sinks {
		c := g.Sink(i)
		t.Batches += c.Batches
		t.Events += c.Events
		t.WriteErrors += c.WriteErrors
		t.WriteTime += c.WriteTime
		t.QueueFull += c.QueueFull
		if c.WritingSince != 0 && (t.WritingSince == 0 || c.WritingSince < t.WritingSince) {
			t.WritingSince = c.WritingSince
		}
	}
	return t
}

// String returns the name of o.
func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Abandoned:
		return "abandoned"
	case WriteFailed:
		return "write failed"
	case Missed:
		return "missed"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}
