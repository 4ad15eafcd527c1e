package tracing

import (
	"context"
	"errors"
	"fmt"

	"github.com/reflowtrace/reflowtrace-go/batch"
	"github.com/reflowtrace/reflowtrace-go/internal/clock"
	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// Record records ev and returns its id (see TracingClient for what recording
// guarantees; it is safe for concurrent use). It does not allocate; the event's
// byte slices, dependency chain and attributes beyond the inline ones are
// shared with the queue until the sinks have written it, so don't modify
// them afterwards.
func (c *TracingClient) Record(ctx context.Context, ev TraceEvent) EventID {
	if !c.Enabled() {
		c.off()
		return EventID{}
	}
	return c.record(ctx, &ev)
}

// RecordWait records ev like Record but, under the Block queue policy, waits
// for room in the queue until ctx ends; it then puts every event, critical
// or not, in the queue's routine lane. Under DropNewest it never waits.
// It returns nil when the event was queued or dropped by design (filtered,
// sampled out, disabled client); an error wrapping ctx's error when ctx
// ended first; one wrapping ErrQueueFull when the queue is full under
// DropNewest; one wrapping ErrClosed after Close. Every event it does not
// queue is counted in Metrics like Record's. A nil ctx never ends.
func (c *TracingClient) RecordWait(ctx context.Context, ev TraceEvent) error {
	if !c.Enabled() {
		if c.off() {
			return fmt.Errorf("tracing: record: %w", ErrClosed)
		}
		return nil
	}
	if c.prepare(ctx, &ev) {
		return nil
	}
	if !c.blockWait {
		var ok bool
		if c.isCritical(ev.Type.Kind) {
			ok = c.queue.PutCritical(&ev)
		} else {
			ok = c.queue.Put(&ev)
		}
		switch {
		case ok:
			return nil
		case c.closed.Load():
			return fmt.Errorf("tracing: record: %w", ErrClosed)
		}
		return fmt.Errorf("tracing: record: %w", ErrQueueFull)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	// PutWait counts what it does not queue.
	err := c.queue.PutWait(ctx, &ev)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, batch.ErrClosed):
		return fmt.Errorf("tracing: record: %w", ErrClosed)
	case errors.Is(err, batch.ErrFull):
		return fmt.Errorf("tracing: record: %w", ErrQueueFull)
	}
	return fmt.Errorf("tracing: record: waiting for room: %w", err)
}

// off counts a recording by a closed client and reports whether the client
// was enabled and is now closed.
func (c *TracingClient) off() bool {
	if c != nil && c.queue != nil && c.closed.Load() {
		c.dropClosed.Add(1)
		return true
	}
	return false
}

// begin reports whether a per-kind method should build an event of kind for
// actorID: the client is enabled and the configured kind and actor filters
// do not reject it. Checking the filters before building the event means a
// filtered-out event costs neither an id nor a clock read; it is counted as
// filtered.
func (c *TracingClient) begin(kind EventKind, actorID string) bool {
	if !c.Enabled() {
		c.off()
		return false
	}
	if c.sel.rejects(kind, actorID) {
		c.dropFiltered.Add(1)
		return false
	}
	return true
}

// record fills, selects and enqueues ev, which must not escape.
func (c *TracingClient) record(ctx context.Context, ev *TraceEvent) EventID {
	if c.prepare(ctx, ev) {
		return ev.EventID
	}
	// The queue counts what it refuses (full or closed).
	if c.isCritical(ev.Type.Kind) {
		c.queue.PutCritical(ev)
	} else {
		c.queue.Put(ev)
	}
	return ev.EventID
}

// prepare fills ev's ids, time and causality and runs the selector. It
// reports whether the event was dropped (and counted) by the selector.
func (c *TracingClient) prepare(ctx context.Context, ev *TraceEvent) (dropped bool) {
	if ev.EventID.IsZero() {
		now := clock.UnixNano()
		hi, lo := uuid.V7(now)
		uuid.Put((*[16]byte)(&ev.EventID), hi, lo)
		if ev.Causality.RootCauseEventID.IsZero() {
			uuid.Put((*[16]byte)(&ev.Causality.RootCauseEventID), hi, lo)
		}
		if ev.Timestamp.IsZero() {
			ev.Timestamp = unixUTC(now)
		}
	} else if ev.Timestamp.IsZero() {
		ev.Timestamp = clock.Now()
	}
	n := nodeFrom(ctx)
	if ev.TraceID.IsZero() {
		c.adopt(n)
		ev.TraceID = c.traceID(n)
	}
	if ev.Causality.ParentEventID.IsZero() {
		setCause(n, ev)
	}
	if ev.Causality.RootCauseEventID.IsZero() {
		ev.Causality.RootCauseEventID = ev.EventID
	}
	if c.sel == nil {
		return false
	}
	// Only a sampler reads the fill, which costs reads of cache lines the
	// producers and the consumer write.
	fill := 0.0
	if c.sel.sampler != nil {
		fill = c.queueFill()
	}
	switch c.sel.admit(ev, fill) {
	case dropFiltered:
		c.dropFiltered.Add(1)
		return true
	case dropSampled:
		c.dropSampled.Add(1)
		return true
	}
	return false
}

func (c *TracingClient) isCritical(k EventKind) bool {
	return int(k) < numKinds && c.critical[k]
}

// clearFor clears, in a queue slot whose mark is mark, what the event
// the slot holds may have set beyond what stamp and emit always write.
func clearFor(ev *TraceEvent, mark uint8) {
	switch mark {
	case markHead:
		clearHead(ev)
	case markStep:
		clearStep(ev)
	default:
		*ev = TraceEvent{}
	}
}

// queueFill returns the queue's fill fraction in [0, 1].
func (c *TracingClient) queueFill() float64 {
	return min(float64(c.queue.Len())/c.queueCap, 1)
}

// The per-kind methods below each record one event of their kind. Like
// Record, each is safe for concurrent use and gives the guarantees of
// TracingClient's "Recording" section.

// ActorCreated records that actorID was created.
func (c *TracingClient) ActorCreated(ctx context.Context, actorID string) EventID {
	return c.emit(ctx, KindActorCreated, actorID, nil)
}

// ActorStarted records that actorID started a run.
func (c *TracingClient) ActorStarted(ctx context.Context, actorID string) EventID {
	return c.emit(ctx, KindActorStarted, actorID, nil)
}

// ActorCompleted records that actorID completed a run.
func (c *TracingClient) ActorCompleted(ctx context.Context, actorID string) EventID {
	return c.emit(ctx, KindActorCompleted, actorID, nil)
}

// ActorFailed records that actorID failed with err (a nil err is recorded
// with an empty message).
func (c *TracingClient) ActorFailed(ctx context.Context, actorID string, err error) EventID {
	return c.emit(ctx, KindActorFailed, actorID, func(ev *TraceEvent) {
		if err != nil {
			ev.Data.Error = err.Error()
		}
	})
}

// MessageSent records that actorID sent a message of the given type and
// size on port.
func (c *TracingClient) MessageSent(ctx context.Context, actorID, port, msgType string, size uint64) EventID {
	return c.emit(ctx, KindMessageSent, actorID, func(ev *TraceEvent) {
		setMessage(ev, port, msgType, size)
	})
}

// MessageReceived records that actorID received a message of the given
// type and size on port.
func (c *TracingClient) MessageReceived(ctx context.Context, actorID, port, msgType string, size uint64) EventID {
	return c.emit(ctx, KindMessageReceived, actorID, func(ev *TraceEvent) {
		setMessage(ev, port, msgType, size)
	})
}

// StateChanged records a change of actorID's state; a diff with no DiffType
// is recorded as DiffFull. The diff's byte slices are kept until the sinks
// have written the event (and dropped before the queue unless
// TracingConfig.Privacy.CaptureContent is set): don't modify them
// afterwards.
func (c *TracingClient) StateChanged(ctx context.Context, actorID string, diff StateDiff) EventID {
	return c.emit(ctx, KindStateChanged, actorID, func(ev *TraceEvent) {
		setStateDiff(ev, diff)
	})
}

// PortConnected records that actorID's port was connected.
func (c *TracingClient) PortConnected(ctx context.Context, actorID, port string) EventID {
	return c.emit(ctx, KindPortConnected, actorID, func(ev *TraceEvent) {
		ev.Data.Port = port
	})
}

// PortDisconnected records that actorID's port was disconnected.
func (c *TracingClient) PortDisconnected(ctx context.Context, actorID, port string) EventID {
	return c.emit(ctx, KindPortDisconnected, actorID, func(ev *TraceEvent) {
		ev.Data.Port = port
	})
}

// DataFlow records that a message of the given type and size flowed from
// fromActor's fromPort to toActor's toPort.
func (c *TracingClient) DataFlow(ctx context.Context, fromActor, fromPort, toActor, toPort, msgType string, size uint64) EventID {
	return c.emit(ctx, KindDataFlow, fromActor, func(ev *TraceEvent) {
		setDataFlow(ev, fromPort, toActor, toPort, msgType, size)
	})
}

// NetworkEvent records a network-level event with the given attributes.
// Up to four attributes are held without allocating.
func (c *TracingClient) NetworkEvent(ctx context.Context, actorID string, attrs ...attr.KeyValue) EventID {
	return c.emit(ctx, KindNetworkEvent, actorID, func(ev *TraceEvent) {
		ev.Data.CustomAttributes.Add(attrs...)
	})
}

// Custom records a user-named event with the given attributes (written as
// a NetworkEvent whose "event_subtype" is name). Up to four attributes are
// held without allocating.
func (c *TracingClient) Custom(ctx context.Context, actorID, name string, attrs ...attr.KeyValue) EventID {
	return c.emit(ctx, KindCustom, actorID, func(ev *TraceEvent) {
		ev.Type.Name = name
		ev.Data.CustomAttributes.Add(attrs...)
	})
}

// emit records an event of kind for actorID, built by stamp and then by
// build (if not nil), for the per-kind methods. When nothing after the
// kind and actor checks of begin can drop the event (c.inPlace: no
// sampler, no user predicate or redactor), the event is built straight in
// its queue slot, over the event the slot held before: it clears only
// what that event may have set (see slotMark), which saves zeroing and
// copying the ~600-byte event. Otherwise it is built on the stack and
// goes through record, like an event passed to Record.
func (c *TracingClient) emit(ctx context.Context, kind EventKind, actorID string, build func(*TraceEvent)) EventID {
	if !c.begin(kind, actorID) {
		return EventID{}
	}
	if !c.inPlace {
		var ev TraceEvent
		stamp(&ev, kind, actorID)
		if build != nil {
			build(&ev)
		}
		return c.record(ctx, &ev)
	}
	n := nodeFrom(ctx)
	c.adopt(n)
	var id EventID
	fill := func(ev *TraceEvent, mark uint8) uint8 {
		clearFor(ev, mark)
		hi, lo := stamp(ev, kind, actorID)
		if build != nil {
			build(ev)
		}
		ev.TraceID = c.traceID(n)
		setCause(n, ev)
		if c.redactBuilt[kind] {
			c.sel.redactor().apply(ev)
		}
		// From registers: reading ev.EventID back as a whole right after
		// its two halves were stored stalls the CPU.
		uuid.Put((*[16]byte)(&id), hi, lo)
		return slotMark[kind]
	}
	var ok bool
	if c.isCritical(kind) {
		ok = c.queue.PutCriticalReuse(fill)
	} else {
		ok = c.queue.PutReuse(fill)
	}
	if !ok {
		// The queue counted the drop. The caller still gets an id, as
		// for every dropped event.
		return NewEventID()
	}
	return id
}
