package tracing

import (
	"context"
	"errors"
	"fmt"

	"github.com/reflowtrace/reflowtrace-go/batch"
	"github.com/reflowtrace/reflowtrace-go/internal/clock"
	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
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
	if ev.TraceID.IsZero() {
		ev.TraceID = c.trace.Load().id
	}
	if ev.Causality.ParentEventID.IsZero() {
		setCause(ctx, ev)
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

// queueFill returns the queue's fill fraction in [0, 1].
func (c *TracingClient) queueFill() float64 {
	return min(float64(c.queue.Len())/c.queueCap, 1)
}

// ActorCreated records that actorID was created.
// It is safe for concurrent use; see TracingClient for what recording
// guarantees.
func (c *TracingClient) ActorCreated(ctx context.Context, actorID string) EventID {
	if !c.begin(KindActorCreated, actorID) {
		return EventID{}
	}
	var ev TraceEvent
	stamp(&ev, KindActorCreated, actorID)
	return c.record(ctx, &ev)
}

// ActorStarted records that actorID started a run.
// It is safe for concurrent use; see TracingClient for what recording
// guarantees.
func (c *TracingClient) ActorStarted(ctx context.Context, actorID string) EventID {
	if !c.begin(KindActorStarted, actorID) {
		return EventID{}
	}
	var ev TraceEvent
	stamp(&ev, KindActorStarted, actorID)
	return c.record(ctx, &ev)
}

// ActorCompleted records that actorID completed a run.
// It is safe for concurrent use; see TracingClient for what recording
// guarantees.
func (c *TracingClient) ActorCompleted(ctx context.Context, actorID string) EventID {
	if !c.begin(KindActorCompleted, actorID) {
		return EventID{}
	}
	var ev TraceEvent
	stamp(&ev, KindActorCompleted, actorID)
	return c.record(ctx, &ev)
}

// ActorFailed records that actorID failed with err (a nil err is recorded
// with an empty message).
// It is safe for concurrent use; see TracingClient for what recording
// guarantees.
func (c *TracingClient) ActorFailed(ctx context.Context, actorID string, err error) EventID {
	if !c.begin(KindActorFailed, actorID) {
		return EventID{}
	}
	var ev TraceEvent
	stamp(&ev, KindActorFailed, actorID)
	if err != nil {
		ev.Data.Error = err.Error()
	}
	return c.record(ctx, &ev)
}

// MessageSent records that actorID sent a message of the given type and
// size on port.
// It is safe for concurrent use; see TracingClient for what recording
// guarantees.
func (c *TracingClient) MessageSent(ctx context.Context, actorID, port, msgType string, size uint64) EventID {
	if !c.begin(KindMessageSent, actorID) {
		return EventID{}
	}
	var ev TraceEvent
	stampMessage(&ev, KindMessageSent, actorID, port, msgType, size)
	return c.record(ctx, &ev)
}

// MessageReceived records that actorID received a message of the given
// type and size on port.
// It is safe for concurrent use; see TracingClient for what recording
// guarantees.
func (c *TracingClient) MessageReceived(ctx context.Context, actorID, port, msgType string, size uint64) EventID {
	if !c.begin(KindMessageReceived, actorID) {
		return EventID{}
	}
	var ev TraceEvent
	stampMessage(&ev, KindMessageReceived, actorID, port, msgType, size)
	return c.record(ctx, &ev)
}

// StateChanged records a change of actorID's state; a diff with no DiffType
// is recorded as DiffFull. The diff's byte slices are kept until the sinks
// have written the event (and dropped before the queue unless
// TracingConfig.Privacy.CaptureContent is set): don't modify them
// afterwards.
// It is safe for concurrent use; see TracingClient for what recording
// guarantees.
func (c *TracingClient) StateChanged(ctx context.Context, actorID string, diff StateDiff) EventID {
	if !c.begin(KindStateChanged, actorID) {
		return EventID{}
	}
	var ev TraceEvent
	stamp(&ev, KindStateChanged, actorID)
	if diff.DiffType == 0 {
		diff.DiffType = DiffFull
	}
	ev.Data.StateDiff = diff
	return c.record(ctx, &ev)
}

// PortConnected records that actorID's port was connected.
// It is safe for concurrent use; see TracingClient for what recording
// guarantees.
func (c *TracingClient) PortConnected(ctx context.Context, actorID, port string) EventID {
	if !c.begin(KindPortConnected, actorID) {
		return EventID{}
	}
	var ev TraceEvent
	stamp(&ev, KindPortConnected, actorID)
	ev.Data.Port = port
	return c.record(ctx, &ev)
}

// PortDisconnected records that actorID's port was disconnected.
// It is safe for concurrent use; see TracingClient for what recording
// guarantees.
func (c *TracingClient) PortDisconnected(ctx context.Context, actorID, port string) EventID {
	if !c.begin(KindPortDisconnected, actorID) {
		return EventID{}
	}
	var ev TraceEvent
	stamp(&ev, KindPortDisconnected, actorID)
	ev.Data.Port = port
	return c.record(ctx, &ev)
}

// DataFlow records that a message of the given type and size flowed from
// fromActor's fromPort to toActor's toPort.
// It is safe for concurrent use; see TracingClient for what recording
// guarantees.
func (c *TracingClient) DataFlow(ctx context.Context, fromActor, fromPort, toActor, toPort, msgType string, size uint64) EventID {
	if !c.begin(KindDataFlow, fromActor) {
		return EventID{}
	}
	var ev TraceEvent
	stampMessage(&ev, KindDataFlow, fromActor, fromPort, msgType, size)
	ev.Type.ToActor = toActor
	ev.Type.ToPort = toPort
	return c.record(ctx, &ev)
}

// NetworkEvent records a network-level event with the given attributes.
// Up to four attributes are held without allocating.
// It is safe for concurrent use; see TracingClient for what recording
// guarantees.
func (c *TracingClient) NetworkEvent(ctx context.Context, actorID string, attrs ...Attr) EventID {
	if !c.begin(KindNetworkEvent, actorID) {
		return EventID{}
	}
	var ev TraceEvent
	stamp(&ev, KindNetworkEvent, actorID)
	ev.Data.CustomAttributes.Add(attrs...)
	return c.record(ctx, &ev)
}

// Custom records a user-named event with the given attributes (written as
// a NetworkEvent whose "event_subtype" is name). Up to four attributes are
// held without allocating.
// It is safe for concurrent use; see TracingClient for what recording
// guarantees.
func (c *TracingClient) Custom(ctx context.Context, actorID, name string, attrs ...Attr) EventID {
	if !c.begin(KindCustom, actorID) {
		return EventID{}
	}
	var ev TraceEvent
	stamp(&ev, KindCustom, actorID)
	ev.Type.Name = name
	ev.Data.CustomAttributes.Add(attrs...)
	return c.record(ctx, &ev)
}

func stampMessage(ev *TraceEvent, kind EventKind, actorID, port, msgType string, size uint64) {
	stamp(ev, kind, actorID)
	ev.Data.Port = port
	ev.Data.Message.MessageType = msgType
	ev.Data.Message.SizeBytes = size
	ev.Data.HasMessage = true
}
