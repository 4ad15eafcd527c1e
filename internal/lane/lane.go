// Package lane is a FIFO served by a goroutine of its own, bounded by the
// weight of what it holds rather than by its length.
//
// A Lane hands its items, in the order they were pushed, to a serve
// function that runs on the lane's goroutine, one at a time. Each item
// carries a weight (the events of a batch, say). A push of positive weight
// is refused while the lane holds some weight and would go past its limit,
// so a lane that holds none takes an item of any weight; the caller may
// instead wait for room. Items of weight 0 are always taken while the lane
// is open. After Close the lane takes nothing, serves what it holds, and
// its goroutine returns. The lane keeps no reference to an item once it is
// handed to serve.
package lane

import "sync"

// Result says what Push did with an item.
type Result uint8

const (
	// Pushed means the lane took the item; serve will be called with it.
	Pushed Result = iota
	// Full means the lane had no room for the item's weight and the
	// caller did not wait; the item was not taken.
	Full
	// Closed means the lane was closed, or the wait for room was given
	// up; the item was not taken.
	Closed
)

// Lane is a FIFO of weighted items served in order by a goroutine of its
// own, which New starts. Push and Close may be called from any goroutine.
type Lane[T any] struct {
	limit int
	serve func(T)

	mu     sync.Mutex
	items  []entry[T] // items[head:] wait to be served
	head   int
	weight int // the weight of items[head:]
	closed bool

	wake  chan struct{} // capacity 1: an item was added or the lane closed
	space chan struct{} // capacity 1: an item of positive weight was taken out
	done  chan struct{} // closed when the goroutine has returned
}

type entry[T any] struct {
	item   T
	weight int
}

// New returns a lane that holds a weight of limit at most and starts its
// goroutine, which calls serve with each item in turn until the lane is
// closed and empty. The caller must call Close for the goroutine to end.
func New[T any](limit int, serve func(T)) *Lane[T] {
	l := newLane(limit, serve)
	go l.run()
	return l
}

func newLane[T any](limit int, serve func(T)) *Lane[T] {
	return &Lane[T]{
		limit: limit,
		serve: serve,
		wake:  make(chan struct{}, 1),
		space: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
}

// Push appends it, of weight weight (0 or more), unless the lane is
// closed (Closed) or it has positive weight and the lane holds some weight
// and would then hold more than its limit. In that case, with wait nil,
// Push returns Full at once; otherwise it waits for serve to take items
// out until there is room, or until wait is closed, and then returns
// Closed.
func (l *Lane[T]) Push(it T, weight int, wait <-chan struct{}) Result {
	for {
		l.mu.Lock()
		switch {
		case l.closed:
			l.mu.Unlock()
			return Closed
		case weight > 0 && l.weight > 0 && l.weight+weight > l.limit:
			l.mu.Unlock()
			if wait == nil {
				return Full
			}
			select {
			case <-l.space:
				continue
			case <-wait:
				return Closed
			}
		}
		l.items = append(l.items, entry[T]{it, weight})
		l.weight += weight
		l.mu.Unlock()
		select {
		case l.wake <- struct{}{}:
		default:
		}
		return Pushed
	}
}

// Close stops intake: Push returns Closed from then on. The goroutine
// serves what the lane holds and then returns. Close may be called more
// than once.
func (l *Lane[T]) Close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Done returns a channel that is closed once the lane's goroutine has
// returned: after Close, when every item taken has been served.
func (l *Lane[T]) Done() <-chan struct{} { return l.done }

// pop returns the oldest item, waiting for one; ok is false once the lane
// is closed and empty.
func (l *Lane[T]) pop() (it T, ok bool) {
	for {
		l.mu.Lock()
		if l.head < len(l.items) {
			e := l.items[l.head]
			l.items[l.head] = entry[T]{}
			l.head++
			switch {
			case l.head == len(l.items):
				l.items, l.head = l.items[:0], 0
			case l.head >= 64 && 2*l.head >= len(l.items):
				// A lane that never empties would otherwise grow for ever.
				n := copy(l.items, l.items[l.head:])
				clear(l.items[n:])
				l.items, l.head = l.items[:n], 0
			}
			l.weight -= e.weight
			l.mu.Unlock()
			if e.weight > 0 {
				select {
				case l.space <- struct{}{}:
				default:
				}
			}
			return e.item, true
		}
		closed := l.closed
		l.mu.Unlock()
		if closed {
			return it, false
		}
		<-l.wake
	}
}

// run is the lane's goroutine.
func (l *Lane[T]) run() {
	defer close(l.done)
	for {
		it, ok := l.pop()
		if !ok {
			return
		}
		l.serve(it)
	}
}
