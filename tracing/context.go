package tracing

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync/atomic"

	"github.com/reflowtrace/reflowtrace-go/internal/clock"
)

// MaxDependencyChain is the most ancestors an event's
// CausalityInfo.DependencyChain lists: the most recent ones, oldest first.
const MaxDependencyChain = 16

// ErrForeignTrace is returned (wrapped) by EndTrace for a trace the client
// did not start: one from another client or from another process (see
// ContextWithTrace).
var ErrForeignTrace = errors.New("tracing: trace not started by this client")

// TraceRef identifies a trace: what a context carries of it and what
// propagation sends to another process. The zero TraceRef is no trace.
type TraceRef struct {
	ID          TraceID
	FlowID      FlowID
	ExecutionID ExecutionID
}

// IsZero reports whether r is the zero TraceRef (no trace id).
func (r TraceRef) IsZero() bool { return r.ID.IsZero() }

// traceState is a trace as a context carries it. ref and start are
// immutable; ended turns true once.
type traceState struct {
	ref TraceRef
	// client started the trace; nil for a trace from elsewhere
	// (ContextWithTrace), which has no start header either.
	client   *TracingClient
	start    FlowTrace
	implicit bool
	ended    atomic.Bool
	// used turns true once an event is recorded into the implicit trace.
	used atomic.Bool
	// joinedBy is the last client that joined the trace (see adopt).
	joinedBy atomic.Pointer[TracingClient]
}

// causeNode is what a context carries for recording: the trace its events
// belong to (nil: the client's implicit trace) and the event that causes
// them, with what its children need (zero id: none). It is immutable once
// built, so children share chain read-only. Both live in one context value
// so that recording reads them with one Value call.
type causeNode struct {
	trace *traceState
	id    EventID
	root  EventID
	// chain is the dependency chain of the node's children: the node's
	// ancestors and the node itself, oldest first, at most
	// MaxDependencyChain long.
	chain []EventID
}

type causeKey struct{}

// ContextWithEvent returns a copy of ctx that carries id as the cause of the
// events recorded with it: they get id as their parent, the root cause of
// ctx's chain (or id, if ctx carries none) as their root cause, and the
// chain of ancestors, oldest first, as their dependency chain. The trace
// ctx carries, if any, is kept. id is assumed to have been recorded with
// ctx, so its own causes are the ones ctx carries. A zero id returns ctx
// unchanged. It allocates once per call, the context with its chain; the
// events recorded with the result share the chain and do not allocate. A
// nil ctx stands for context.Background().
func ContextWithEvent(ctx context.Context, id EventID) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	if id.IsZero() {
		return ctx
	}
	c := &eventCtx{Context: ctx}
	n := &c.node
	n.id, n.root = id, id
	var chain []EventID
	if p := nodeFrom(ctx); p != nil {
		n.trace = p.trace
		if !p.id.IsZero() {
			n.root = p.root
			chain = p.chain[len(p.chain)-min(len(p.chain), MaxDependencyChain-1):]
		}
	}
	if len(chain) < len(c.chain) {
		k := copy(c.chain[:], chain)
		c.chain[k] = id
		n.chain = c.chain[: k+1 : k+1]
	} else {
		n.chain = appendChain(chain, id)
	}
	return c
}

// appendChain returns a new slice: the last MaxDependencyChain-1 ids of
// chain, then id.
func appendChain(chain []EventID, id EventID) []EventID {
	keep := min(len(chain), MaxDependencyChain-1)
	out := make([]EventID, keep+1)
	copy(out, chain[len(chain)-keep:])
	out[keep] = id
	return out
}

// eventCtx is the context ContextWithEvent returns: its parent, the cause
// it carries and, up to inlineChain ids long, that cause's chain, in one
// allocation (context.WithValue and the chain would take three).
type eventCtx struct {
	context.Context
	node  causeNode
	chain [inlineChain]EventID
}

// inlineChain is the longest chain an eventCtx holds itself: 4 ids make it
// 144 bytes; a longer chain is allocated apart.
const inlineChain = 4

// Value returns the cause for causeKey{} and asks the parent for any other
// key.
func (c *eventCtx) Value(key any) any {
	if _, ok := key.(causeKey); ok {
		return &c.node
	}
	return c.Context.Value(key)
}

// String describes the context as context.WithValue's do.
func (c *eventCtx) String() string {
	return fmt.Sprintf("%v.WithEvent(%v)", c.Context, c.node.id)
}

// eventFromContext returns the event ctx carries as a cause (see
// ContextWithEvent) and whether there is one.
func eventFromContext(ctx context.Context) (EventID, bool) {
	if n := nodeFrom(ctx); n != nil && !n.id.IsZero() {
		return n.id, true
	}
	return EventID{}, false
}

// JoinTrace returns a copy of ctx that carries ref, a trace started
// elsewhere (typically in another process: see package propagation), as
// ContextWithTrace does, and tells the sinks at once that this process only
// joins it: its header (flow id and execution id from ref, Running) is
// tagged wire.TagJoined. A sink that stores a trace whole on every store (the
// WebSocket sink) then keeps this process's events of the trace in
// segments of their own, linked to the trace by wire.TagSegmentOf, so that
// neither process's stores replace the other's events. The client cannot
// end such a trace (EndTrace returns an error wrapping ErrForeignTrace).
// It remembers at least the last 4096 joined traces, telling the sinks
// once of each; a disabled client only returns the ctx.
func (c *TracingClient) JoinTrace(ctx context.Context, ref TraceRef) context.Context {
	ctx = ContextWithTrace(ctx, ref)
	if c.Enabled() && !ref.IsZero() {
		c.join(ref)
	}
	return ctx
}

// join tells the sinks, the first time for each of the last maxJoined
// traces at least, that this client only joins trace ref (see
// JoinTrace). A caller that finds the announcement under way waits for
// it, so that none records into the trace before the sinks heard of it.
func (c *TracingClient) join(ref TraceRef) {
	c.joinMu.Lock()
	announced, seen := c.joined[ref.ID]
	if !seen {
		announced, seen = c.joinedOld[ref.ID]
	}
	if !seen {
		if len(c.joined) >= maxJoined {
			// Two generations: the last maxJoined are always remembered.
			c.joinedOld, c.joined = c.joined, nil
		}
		if c.joined == nil {
			c.joined = make(map[TraceID]chan struct{})
		}
		announced = make(chan struct{})
		c.joined[ref.ID] = announced
	}
	c.joinMu.Unlock()
	c.explicit.Store(true)
	if seen {
		<-announced
		return
	}
	defer close(announced)
	meta := c.meta
	meta.Tags = maps.Clone(meta.Tags)
	if meta.Tags == nil {
		meta.Tags = make(map[string]string, 1)
	}
	meta.Tags[tagJoined] = "true"
	flow := ref.FlowID
	if flow == "" {
		flow = c.cfg.FlowID
	}
	c.observe(FlowTrace{
		TraceID: ref.ID, FlowID: flow, ExecutionID: ref.ExecutionID,
		StartTime: clock.Now(), Status: ExecutionStatus{Kind: StatusRunning}, Metadata: meta,
	})
}

// adopt joins the trace n carries (see JoinTrace) when this client did not
// start it: a trace from ContextWithTrace, or one another client of this
// process started. It does so once per trace state, before the first event
// recorded into it is queued, so that no sink ever stores this client's
// events under the trace's own id, which holds the other recorder's.
func (c *TracingClient) adopt(n *causeNode) {
	if n == nil || n.trace == nil {
		return
	}
	if t := n.trace; t.client != c && t.joinedBy.Load() != c {
		c.join(t.ref)
		t.joinedBy.Store(c)
	}
}

// maxJoined is how many joined traces a client remembers at least (and
// twice as many at most).
const maxJoined = 4096

// ContextWithTrace returns a copy of ctx that carries ref as the trace of
// the events recorded with it, and no cause: a trace started elsewhere,
// typically in another process (see package propagation), which the
// events recorded here join. A client that records the first event with
// it joins the trace as JoinTrace does, before the event is queued, so
// that its sinks keep its events apart from the other recorder's; it
// cannot end such a trace (EndTrace returns an error wrapping
// ErrForeignTrace). A zero ref returns ctx unchanged; a nil ctx stands
// for context.Background(). It allocates the context and the trace.
func ContextWithTrace(ctx context.Context, ref TraceRef) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	if ref.IsZero() {
		return ctx
	}
	return context.WithValue(ctx, causeKey{}, &causeNode{trace: &traceState{ref: ref}})
}

// Cause is the causal position a context carries: the trace and the event
// that causes what is recorded with it, with the event's root cause and
// ancestors. It lets causality cross a channel or a process: take it from
// the sender's context with CauseFromContext, send it with the message
// (see Envelope), and restore it on the receiving side with
// ContextWithCause, so the receiver's events join the sender's trace and
// keep the whole chain. It is an immutable value, safe to copy and to
// share between goroutines. The zero Cause carries nothing.
type Cause struct{ n *causeNode }

// NewCause returns the Cause of event id, with root as its root cause (zero:
// the first of ancestors, or id) and ancestors, oldest first, as the
// events that led to it; only the last MaxDependencyChain-1 are kept. It
// carries no trace: ContextWithCause keeps the trace of the ctx it is given.
// It is how a cause received from elsewhere (see package propagation) is
// rebuilt. A zero id returns the zero Cause. It allocates the chain.
func NewCause(id, root EventID, ancestors []EventID) Cause {
	if id.IsZero() {
		return Cause{}
	}
	if root.IsZero() {
		root = id
		if len(ancestors) > 0 {
			root = ancestors[0]
		}
	}
	return Cause{&causeNode{id: id, root: root, chain: appendChain(ancestors, id)}}
}

// CauseFromContext returns the cause ctx carries, with its trace; the zero
// Cause if ctx carries neither.
func CauseFromContext(ctx context.Context) Cause { return Cause{nodeFrom(ctx)} }

// ContextWithCause returns a copy of ctx that carries cause, as the context
// cause came from did: its trace and its event. A cause without a trace
// (see NewCause) keeps the trace ctx carries. A zero cause returns ctx
// unchanged; a nil ctx stands for context.Background(). It allocates the
// context only, and the node too for a cause without a trace given a ctx
// with one.
func ContextWithCause(ctx context.Context, cause Cause) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	n := cause.n
	if n == nil {
		return ctx
	}
	if n.trace == nil {
		if p := nodeFrom(ctx); p != nil && p.trace != nil {
			cp := *n
			cp.trace = p.trace
			n = &cp
		}
	}
	return context.WithValue(ctx, causeKey{}, n)
}

// IsZero reports whether c carries neither a trace nor an event.
func (c Cause) IsZero() bool { return c.n == nil }

// EventID returns the event of the cause; zero if it carries none.
func (c Cause) EventID() EventID {
	if c.n == nil {
		return EventID{}
	}
	return c.n.id
}

// Root returns the root cause of the cause's event; zero if it carries no
// event.
func (c Cause) Root() EventID {
	if c.n == nil {
		return EventID{}
	}
	return c.n.root
}

// Chain returns the dependency chain the cause gives its children: the
// event's ancestors and the event itself, oldest first, at most
// MaxDependencyChain long; nil if it carries no event. The slice is
// shared: don't modify it.
func (c Cause) Chain() []EventID {
	if c.n == nil {
		return nil
	}
	return c.n.chain
}

// Trace returns the trace the cause belongs to and whether it names one:
// CauseFromContext(ctx).Trace() is the trace ctx carries (see StartTrace
// and ContextWithTrace). A ctx that carries none records into the
// client's implicit trace (see CurrentTrace).
func (c Cause) Trace() (TraceRef, bool) {
	if c.n == nil || c.n.trace == nil {
		return TraceRef{}, false
	}
	return c.n.trace.ref, true
}

// nodeFrom returns the node ctx carries, or nil. Comparing ctx with
// context.Background() first would cost more than the lookup it saves:
// the empty contexts answer Value with one call.
func nodeFrom(ctx context.Context) *causeNode {
	if ctx == nil {
		return nil
	}
	n, _ := ctx.Value(causeKey{}).(*causeNode)
	return n
}

// traceID returns the id of the trace an event recorded with n belongs
// to: n's, or else the implicit trace's.
func (c *TracingClient) traceID(n *causeNode) TraceID {
	if n != nil && n.trace != nil {
		return n.trace.ref.ID
	}
	t := c.trace.Load()
	if !t.used.Load() {
		t.used.Store(true)
	}
	return t.ref.ID
}

// CurrentTrace returns the trace events recorded with ctx belong to: the
// one ctx carries (see StartTrace), or else the client's implicit trace.
// The zero TraceRef for a disabled or closed client. Safe for concurrent
// use.
func (c *TracingClient) CurrentTrace(ctx context.Context) TraceRef {
	if !c.Enabled() {
		return TraceRef{}
	}
	if ref, ok := CauseFromContext(ctx).Trace(); ok {
		return ref
	}
	return c.trace.Load().ref
}

// StartTrace starts a new trace, a run of flowID ("" means
// TracingConfig.FlowID) at version, with a new ExecutionID, and returns a
// copy of ctx that carries it, with its id: the events recorded with that
// ctx, or with one derived from it (ContextWithEvent, the middleware),
// belong to it, and EndTrace with it ends it. Any number of traces may be
// open at once, each with its own flow, version, execution and status;
// events recorded with a ctx that carries none belong to the client's
// implicit trace. The returned ctx carries no cause: the trace's first
// events are roots. If ctx already carried a trace, the new one's metadata
// names it under wire.TagLinkedTrace.
//
// It tells the sinks that implement TraceObserver (Status Running, with
// this process's metadata) before it returns. Safe for concurrent use. A
// disabled client returns a ctx carrying a new id and does nothing else; a
// closed one returns ctx unchanged, the zero id and an error wrapping
// ErrClosed. It allocates the trace and the context.
func (c *TracingClient) StartTrace(ctx context.Context, flowID FlowID, version FlowVersion) (context.Context, TraceID, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if c == nil || !c.cfg.Enabled {
		ref := TraceRef{ID: NewTraceID(), FlowID: flowID, ExecutionID: NewExecutionID()}
		return ContextWithTrace(ctx, ref), ref.ID, nil
	}
	if !c.on.Load() {
		return ctx, TraceID{}, fmt.Errorf("tracing: start trace: %w", ErrClosed)
	}
	if flowID == "" {
		flowID = c.cfg.FlowID
	}
	meta := c.meta
	if parent, ok := CauseFromContext(ctx).Trace(); ok {
		meta.Tags = maps.Clone(meta.Tags)
		if meta.Tags == nil {
			meta.Tags = make(map[string]string, 1)
		}
		meta.Tags[tagLinkedTrace] = parent.ID.String()
	}
	t := c.newTrace(flowID, version, meta, false)
	c.explicit.Store(true)
	// No lock: only this call knows t yet, and its end, which needs the
	// returned ctx, is told after this start.
	c.observe(t.start)
	return context.WithValue(ctx, causeKey{}, &causeNode{trace: t}), t.ref.ID, nil
}

func (c *TracingClient) newTrace(flowID FlowID, version FlowVersion, meta TraceMetadata, implicit bool) *traceState {
	t := &traceState{
		ref:      TraceRef{ID: NewTraceID(), FlowID: flowID, ExecutionID: NewExecutionID()},
		client:   c,
		implicit: implicit,
	}
	t.start = FlowTrace{
		TraceID:     t.ref.ID,
		FlowID:      flowID,
		ExecutionID: t.ref.ExecutionID,
		Version:     version,
		StartTime:   clock.Now(),
		Status:      ExecutionStatus{Kind: StatusRunning},
		Metadata:    meta,
	}
	return t
}

// startImplicitTrace starts a new implicit trace and tells the sinks.
func (c *TracingClient) startImplicitTrace() {
	c.traceMu.Lock()
	defer c.traceMu.Unlock()
	t := c.newTrace(c.cfg.FlowID, FlowVersion{}, c.meta, true)
	// Announced before it is published: no event of it reaches a sink
	// that has not heard of it.
	c.observe(t.start)
	c.trace.Store(t)
}

// EndTrace ends the trace ctx carries (see StartTrace) with status, such
// as ExecutionStatus{Kind: StatusCompleted} or FailedStatus(msg), and
// tells the sinks that implement TraceObserver, with EndTime set, once the
// events recorded before the call have reached them. Events recorded afterwards with ctx
// still carry the ended trace's id. Ending a trace twice is a no-op.
//
// A ctx that carries no trace ends the client's implicit trace, and a new
// implicit trace (same flow, new trace and execution ids) takes its place.
// A trace the client did not start (see ContextWithTrace) is not ended:
// the error wraps ErrForeignTrace. A disabled client does nothing; a closed
// one returns an error wrapping ErrClosed. Safe for concurrent use.
func (c *TracingClient) EndTrace(ctx context.Context, status ExecutionStatus) error {
	if c == nil || !c.cfg.Enabled {
		return nil
	}
	if !c.on.Load() {
		return fmt.Errorf("tracing: end trace: %w", ErrClosed)
	}
	if n := nodeFrom(ctx); n != nil && n.trace != nil {
		if n.trace.client != c {
			return fmt.Errorf("tracing: end trace %s: %w", n.trace.ref.ID, ErrForeignTrace)
		}
		c.endTrace(n.trace, status)
		return nil
	}
	c.traceMu.Lock()
	defer c.traceMu.Unlock()
	if c.endTrace(c.trace.Load(), status) {
		t := c.newTrace(c.cfg.FlowID, FlowVersion{}, c.meta, true)
		c.observe(t.start) // before it is published, as above
		c.trace.Store(t)
	}
	return nil
}

// endTrace ends t, unless it was ended already, and reports whether it
// did.
func (c *TracingClient) endTrace(t *traceState, status ExecutionStatus) bool {
	if !t.ended.CompareAndSwap(false, true) {
		return false
	}
	ended := t.start
	ended.EndTime = clock.Now()
	ended.Status = status
	// The sinks hear of the end after the trace's events recorded before
	// it, so that a sink which stores a trace whole on its end (as the
	// WebSocket sink does) has them all.
	if c.queue == nil || !c.queue.After(func() { c.observeEnd(ended) }) {
		c.observeEnd(ended)
	}
	return true
}

// endImplicitTrace completes the implicit trace at Close if events were
// recorded into it, or if the client never started or joined a trace: a
// client that runs its work in explicit traces, its own or another
// process's, leaves no empty implicit trace behind on a server that
// stores a trace on its end.
func (c *TracingClient) endImplicitTrace() {
	c.traceMu.Lock()
	defer c.traceMu.Unlock()
	if t := c.trace.Load(); t.used.Load() || !c.explicit.Load() {
		c.endTrace(t, ExecutionStatus{Kind: StatusCompleted})
	}
}

// observe tells the TraceObserver sinks about t at once, on the caller's
// goroutine.
func (c *TracingClient) observe(t FlowTrace) {
	if c.out != nil {
		c.out.Announce(t)
	}
}

// observeEnd tells the TraceObserver sinks that t ended: directly with one
// sink, through each sink's lane, after what was queued for it, with
// several.
func (c *TracingClient) observeEnd(t FlowTrace) {
	if c.out != nil {
		c.out.Observe(t)
	}
}

// setCause sets ev's causality from the event n carries, if any.
func setCause(n *causeNode, ev *TraceEvent) {
	if n != nil && !n.id.IsZero() {
		ev.Causality.ParentEventID = n.id
		ev.Causality.RootCauseEventID = n.root
		ev.Causality.DependencyChain = n.chain
	}
}

// ContextWithoutCause returns a copy of ctx that carries ctx's trace and
// no cause: an event recorded with it joins the trace with the causality
// it brings, or as a root of its own (package ingest records events so).
// A ctx that carries neither is returned unchanged; a nil ctx stands for
// context.Background().
func ContextWithoutCause(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	n := nodeFrom(ctx)
	switch {
	case n == nil:
		return ctx
	case n.trace != nil:
		return context.WithValue(ctx, causeKey{}, &causeNode{trace: n.trace})
	}
	return context.WithValue(ctx, causeKey{}, (*causeNode)(nil))
}
