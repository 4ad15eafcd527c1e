package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// DefaultCapacity is how many events a Memory sink keeps by default.
const DefaultCapacity = 100_000

// Option configures a Memory sink. Options are created by the
// WithX functions that return an Option.
type Option interface{ applyMemory(*memoryConfig) }

type memoryOptionFunc func(*memoryConfig)

func (f memoryOptionFunc) applyMemory(c *memoryConfig) { f(c) }

type memoryConfig struct {
	capacity int
}

// WithCapacity bounds how many events a Memory sink keeps. When it is full,
// each new event evicts the oldest one, and the eviction is counted in
// Stats.Evicted. It must be at least 1: New rejects anything
// else. Default: DefaultCapacity.
func WithCapacity(n int) Option {
	return memoryOptionFunc(func(c *memoryConfig) { c.capacity = n })
}

// Query selects events held by a Memory sink. A zero field places no
// constraint; the non-zero fields must all match.
type Query struct {
	// TraceID keeps events of this trace.
	TraceID tracing.TraceID
	// ActorID keeps events of this actor.
	ActorID string
	// Kinds keeps events whose Type.Kind is one of these.
	Kinds []tracing.EventKind
	// From keeps events whose Timestamp is at or after From.
	From time.Time
	// To keeps events whose Timestamp is before To.
	To time.Time
}

func (q *Query) match(ev *tracing.TraceEvent) bool {
	if !q.TraceID.IsZero() && ev.TraceID != q.TraceID {
		return false
	}
	if q.ActorID != "" && ev.ActorID != q.ActorID {
		return false
	}
	if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, ev.Type.Kind) {
		return false
	}
	if !q.From.IsZero() && ev.Timestamp.Before(q.From) {
		return false
	}
	if !q.To.IsZero() && !ev.Timestamp.Before(q.To) {
		return false
	}
	return true
}

// Stats are a Memory sink's counters since it was created or last
// Reset.
type Stats struct {
	// Written is how many events Write accepted.
	Written uint64
	// Evicted is how many of them were dropped to make room for newer ones.
	Evicted uint64
	// Batches is how many Write calls succeeded, empty ones included.
	Batches uint64
}

// Sink is a sink that keeps the most recent events in memory, in arrival
// order, for tests and for in-process inspection.
//
// Write stores a deep copy of each event: the batch slice, the events' byte
// slices, dependency chains and custom attributes (nested arrays and objects
// included) may be reused by the caller afterwards. The events returned by
// Events and Query are deep copies too.
//
// A Sink is safe for concurrent use. After Close, Write and Flush return
// an error wrapping tracing.ErrClosed, while Events, Query, Len, Stats and
// Reset keep working on what was stored. Make one with New: the zero Sink
// is not ready to use.
type Sink struct {
	capacity int

	mu      sync.Mutex
	buf     []tracing.TraceEvent // grows up to capacity, then is a ring
	head    int                  // index of the oldest event once buf is full
	stats   Stats
	closed  bool
	changed chan struct{} // closed and replaced on every change WaitFor cares about
}

var _ tracing.Sink = (*Sink)(nil)

// New returns an empty Memory sink. It returns an error wrapping
// sink.ErrInvalidOption, naming the option and its value, for an out-of-range
// option, as file.New and websocket.New do; it never substitutes a default
// for a value given.
func New(opts ...Option) (*Sink, error) {
	cfg := memoryConfig{capacity: DefaultCapacity}
	for _, o := range opts {
		if o != nil {
			o.applyMemory(&cfg)
		}
	}
	if cfg.capacity < 1 {
		return nil, fmt.Errorf("sink: memory: WithCapacity(%d): want at least 1: %w", cfg.capacity, sink.ErrInvalidOption)
	}
	return &Sink{capacity: cfg.capacity, changed: make(chan struct{})}, nil
}

// Capacity returns the most events m keeps.
func (m *Sink) Capacity() int { return m.capacity }

// Write stores a deep copy of each event of batch, evicting the oldest
// events when m is full. A nil or empty batch is counted as a batch and
// stores nothing. It returns an error wrapping ctx's error if ctx has
// already ended, and one wrapping tracing.ErrClosed after Close.
func (m *Sink) Write(ctx context.Context, batch []tracing.TraceEvent) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sink: memory: write: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("sink: memory: write: %w", tracing.ErrClosed)
	}
	for i := range batch {
		if len(m.buf) < m.capacity {
			m.buf = append(m.buf, tracing.TraceEvent{})
			cloneEventInto(&m.buf[len(m.buf)-1], &batch[i])
			continue
		}
		cloneEventInto(&m.buf[m.head], &batch[i])
		m.head++
		if m.head == m.capacity {
			m.head = 0
		}
		m.stats.Evicted++
	}
	m.stats.Written += uint64(len(batch))
	m.stats.Batches++
	if len(batch) > 0 {
		m.broadcastLocked()
	}
	return nil
}

// Flush returns nil: a Memory sink buffers nothing. After Close it returns
// an error wrapping tracing.ErrClosed.
func (m *Sink) Flush(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("sink: memory: flush: %w", tracing.ErrClosed)
	}
	return nil
}

// Close stops m accepting events and wakes every WaitFor. The stored events
// stay readable. A second Close returns nil.
func (m *Sink) Close(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		m.broadcastLocked()
	}
	return nil
}

func (m *Sink) broadcastLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// Len returns how many events m holds.
func (m *Sink) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.buf)
}

// Stats returns m's counters.
func (m *Sink) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Events returns deep copies of the events m holds, oldest first.
func (m *Sink) Events() []tracing.TraceEvent {
	return m.Query(Query{})
}

// Query returns deep copies of the events m holds that match q, oldest
// first. It returns an empty, non-nil slice when nothing matches.
func (m *Sink) Query(q Query) []tracing.TraceEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]tracing.TraceEvent, 0, m.countLocked(&q))
	m.eachLocked(func(ev *tracing.TraceEvent) {
		if q.match(ev) {
			out = append(out, tracing.TraceEvent{})
			cloneEventInto(&out[len(out)-1], ev)
		}
	})
	return out
}

func (m *Sink) countLocked(q *Query) int {
	if q.TraceID.IsZero() && q.ActorID == "" && len(q.Kinds) == 0 && q.From.IsZero() && q.To.IsZero() {
		return len(m.buf)
	}
	n := 0
	m.eachLocked(func(ev *tracing.TraceEvent) {
		if q.match(ev) {
			n++
		}
	})
	return n
}

// eachLocked calls f for each held event, oldest first.
func (m *Sink) eachLocked(f func(*tracing.TraceEvent)) {
	for i := m.head; i < len(m.buf); i++ {
		f(&m.buf[i])
	}
	for i := 0; i < m.head; i++ {
		f(&m.buf[i])
	}
}

// WaitFor blocks until m has accepted at least n events in total (as
// counted by Stats.Written, evicted ones included), and returns nil.
// It returns an error wrapping ctx's error when ctx ends first, and one
// wrapping tracing.ErrClosed when m is closed with fewer events. It is
// meant for tests: wait for the events a client delivers in the
// background, with a deadline, instead of sleeping.
func (m *Sink) WaitFor(ctx context.Context, n int) error {
	if ctx == nil {
		ctx = context.Background()
	}
	for {
		m.mu.Lock()
		written, closed, changed := m.stats.Written, m.closed, m.changed
		m.mu.Unlock()
		if n <= 0 || written >= uint64(n) {
			return nil
		}
		if closed {
			return fmt.Errorf("sink: memory: wait for %d events: %d written: %w", n, written, tracing.ErrClosed)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("sink: memory: wait for %d events: %d written: %w", n, written, ctx.Err())
		}
	}
}

// Reset removes every stored event and zeroes the counters. It does not
// reopen a closed sink.
func (m *Sink) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buf = nil
	m.head = 0
	m.stats = Stats{}
	m.broadcastLocked()
}

// cloneEventInto sets *dst to a copy of *src that shares no mutable memory
// with it: byte slices, the dependency chain and custom attributes (with
// their nested arrays and objects) are copied. Strings are immutable and
// shared.
func cloneEventInto(dst, src *tracing.TraceEvent) {
	*dst = *src
	d := &dst.Data
	d.Message.SerializedData = cloneBytes(src.Data.Message.SerializedData)
	d.StateDiff.Before = cloneBytes(src.Data.StateDiff.Before)
	d.StateDiff.After = cloneBytes(src.Data.StateDiff.After)
	if src.Causality.DependencyChain != nil {
		dst.Causality.DependencyChain = slices.Clone(src.Causality.DependencyChain)
	}
	d.CustomAttributes = attr.Set{}
	for a := range src.Data.CustomAttributes.All {
		d.CustomAttributes.Set(attr.KeyValue{Key: a.Key, Value: cloneValue(a.Value)})
	}
}

// cloneBytes copies b, keeping nil as nil and empty as empty.
func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// cloneValue copies the arrays and objects of v, recursively. Scalars and
// strings need no copy.
func cloneValue(v attr.Value) attr.Value {
	switch v.Kind() {
	case attr.KindArray:
		src := v.Array()
		vs := make([]attr.Value, len(src))
		for i := range src {
			vs[i] = cloneValue(src[i])
		}
		return attr.ArrayValue(vs...)
	case attr.KindObject:
		src := v.Object()
		as := make([]attr.KeyValue, len(src))
		for i := range src {
			as[i] = attr.KeyValue{Key: src[i].Key, Value: cloneValue(src[i].Value)}
		}
		return attr.ObjectValue(as...)
	}
	return v
}
