package tracing

import (
	"context"
	"fmt"

	"github.com/reflowtrace/reflowtrace-go/internal/clock"
)

// MaxDependencyChain is the most ancestors an event's
// CausalityInfo.DependencyChain lists: the most recent ones, oldest first.
const MaxDependencyChain = 16

// causeNode is the event a context carries, with what its children need.
// It is immutable once built, so children share chain read-only.
type causeNode struct {
	id   EventID
	root EventID
	// chain is the dependency chain of the node's children: the node's
	// ancestors and the node itself, oldest first, at most
	// MaxDependencyChain long.
	chain []EventID
}

type causeKey struct{}

// ContextWithEvent returns a copy of ctx that carries id as the cause of the
// events recorded with it: they get id as their parent, the root cause of
// ctx's chain (or id, if ctx carries none) as their root cause, and the
// chain of ancestors, oldest first, as their dependency chain. id is
// assumed to have been recorded with ctx, so its own causes are the ones
// ctx carries. A zero id returns ctx unchanged. Building the chain allocates
// once per call; the events recorded with the result share it and do not
// allocate. A nil ctx stands for context.Background().
func ContextWithEvent(ctx context.Context, id EventID) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	if id.IsZero() {
		return ctx
	}
	n := &causeNode{id: id, root: id}
	if p := nodeFrom(ctx); p != nil {
		n.root = p.root
		keep := min(len(p.chain), MaxDependencyChain-1)
		n.chain = make([]EventID, keep+1)
		copy(n.chain, p.chain[len(p.chain)-keep:])
		n.chain[keep] = id
	} else {
		n.chain = []EventID{id}
	}
	return context.WithValue(ctx, causeKey{}, n)
}

// EventFromContext returns the event ctx carries as a cause (see
// ContextWithEvent) and whether there is one.
func EventFromContext(ctx context.Context) (EventID, bool) {
	if n := nodeFrom(ctx); n != nil {
		return n.id, true
	}
	return EventID{}, false
}

// Cause is the causal position a context carries: an event with its root
// cause and ancestors. It lets causality cross a channel: take it from the
// sender's context with CauseFromContext, send it with the message, and
// restore it on the receiving side with ContextWithCause, so the receiver's
// events keep the whole chain. It is an immutable value, safe to copy and
// to share between goroutines. The zero Cause carries no event.
type Cause struct{ n *causeNode }

// CauseFromContext returns the cause ctx carries; the zero Cause if none.
func CauseFromContext(ctx context.Context) Cause { return Cause{nodeFrom(ctx)} }

// ContextWithCause returns a copy of ctx that carries cause, as the context
// cause came from did. A zero cause returns ctx unchanged; a nil ctx stands
// for context.Background(). It allocates the context only.
func ContextWithCause(ctx context.Context, cause Cause) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	if cause.n == nil {
		return ctx
	}
	return context.WithValue(ctx, causeKey{}, cause.n)
}

// EventID returns the event of the cause; zero for the zero Cause.
func (c Cause) EventID() EventID {
	if c.n == nil {
		return EventID{}
	}
	return c.n.id
}

// nodeFrom returns the cause ctx carries, or nil. Comparing ctx with
// context.Background() first would cost more than the lookup it saves:
// the empty contexts answer Value with one call.
func nodeFrom(ctx context.Context) *causeNode {
	if ctx == nil {
		return nil
	}
	n, _ := ctx.Value(causeKey{}).(*causeNode)
	return n
}

// CurrentTrace returns the id of the trace events are recorded in: the last
// one started, or the implicit one New started. The zero TraceID for a
// disabled client.
func (c *TracingClient) CurrentTrace() TraceID {
	if !c.Enabled() {
		return TraceID{}
	}
	return c.trace.Load().id
}

// StartTrace starts a new trace, a run of flowID ("" means
// TracingConfig.FlowID) at version, and makes it the current one: events
// recorded from now on without a TraceID carry its id. It tells the sinks
// that implement TraceObserver (Status Running, with this process's
// metadata). Safe for concurrent use; the last trace started wins. A
// disabled client returns a new id and does nothing else; a closed one an
// error wrapping ErrClosed. ctx is for correlation only.
func (c *TracingClient) StartTrace(ctx context.Context, flowID FlowID, version FlowVersion) (TraceID, error) {
	_ = ctx
	if c == nil || !c.cfg.Enabled {
		return NewTraceID(), nil
	}
	if !c.on.Load() {
		return TraceID{}, fmt.Errorf("tracing: start trace: %w", ErrClosed)
	}
	if flowID == "" {
		flowID = c.cfg.FlowID
	}
	return c.startTrace(flowID, version, false), nil
}

func (c *TracingClient) startTrace(flowID FlowID, version FlowVersion, implicit bool) TraceID {
	c.traceMu.Lock()
	defer c.traceMu.Unlock()
	t := &traceState{
		id:       NewTraceID(),
		implicit: implicit,
		trace: FlowTrace{
			FlowID:      flowID,
			ExecutionID: NewExecutionID(),
			Version:     version,
			StartTime:   clock.Now(),
			Status:      ExecutionStatus{Kind: StatusRunning},
			Metadata:    c.meta,
		},
	}
	t.trace.TraceID = t.id
	c.trace.Store(t)
	c.observe(t.trace)
	return t.id
}

// EndTrace ends the current trace with status (StatusCompleted,
// FailedStatus(msg), …) and tells the sinks that implement TraceObserver
// (with EndTime set). Events recorded afterwards still carry the ended
// trace's id until StartTrace starts another. Ending a trace twice is a
// no-op. A disabled client does nothing; a closed one returns an error
// wrapping ErrClosed. ctx is for correlation only.
func (c *TracingClient) EndTrace(ctx context.Context, status ExecutionStatus) error {
	_ = ctx
	if c == nil || !c.cfg.Enabled {
		return nil
	}
	if !c.on.Load() {
		return fmt.Errorf("tracing: end trace: %w", ErrClosed)
	}
	c.endTrace(status, false)
	return nil
}

// endTrace ends the current trace, if it is not ended yet and, when
// onlyImplicit is set, if it is the implicit one.
func (c *TracingClient) endTrace(status ExecutionStatus, onlyImplicit bool) {
	c.traceMu.Lock()
	defer c.traceMu.Unlock()
	cur := c.trace.Load()
	if cur.ended || (onlyImplicit && !cur.implicit) {
		return
	}
	t := *cur
	t.ended = true
	t.trace.EndTime = clock.Now()
	t.trace.Status = status
	c.trace.Store(&t)
	// The sinks hear of the end after the trace's events recorded before
	// it, so that a sink which stores a trace whole on its end (as the
	// WebSocket sink does) has them all.
	ended := t.trace
	if c.queue == nil || !c.queue.After(func() { c.observe(ended) }) {
		c.observe(ended)
	}
}

// endImplicitTrace completes the implicit trace at Close, if it is still
// the current one.
func (c *TracingClient) endImplicitTrace() {
	c.endTrace(ExecutionStatus{Kind: StatusCompleted}, true)
}

// observe tells the TraceObserver sinks about t. Called with traceMu held,
// so observers see a trace's start before its end.
func (c *TracingClient) observe(t FlowTrace) {
	for i := range c.sinks {
		if o := c.sinks[i].observer; o != nil {
			o.ObserveTrace(t)
		}
	}
}

// setCause sets ev's causality from the event ctx carries, if any.
func setCause(ctx context.Context, ev *TraceEvent) {
	if n := nodeFrom(ctx); n != nil {
		ev.Causality.ParentEventID = n.id
		ev.Causality.RootCauseEventID = n.root
		ev.Causality.DependencyChain = n.chain
	}
}
