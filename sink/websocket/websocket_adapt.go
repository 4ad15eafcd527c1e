package websocket

import (
	"time"

	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/adapt"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// Adapting to the link: the sink measures how long the server takes to
// acknowledge a frame (AckLatency in Stats and SinkStats, which the
// tracing client's adaptive batching reads), widens its window of bytes in
// flight with that latency (WithAdaptiveWindow), and, during an outage
// with its buffer past a fill fraction, keeps only critical events
// (WithDegradeAt). Package adapt decides; the sink tells it what it sees.

const (
	// DefaultDegradeFill is the outage-buffer fill fraction past which a
	// sink in an outage keeps only critical events (see WithDegradeAt).
	DefaultDegradeFill = 0.5
	// criticalReserve sets the room above the memory limit that a
	// degraded sink's critical events may use: a quarter of the limit.
	criticalReserve = 4
)

// noteAckLatency tells the link the time f took from its last write to
// its acknowledgement. It is called by the read loop of the connection f
// was acknowledged on.
func (s *Sink) noteAckLatency(f *frame) {
	if f.sentAt != 0 {
		s.link.NoteAck(time.Duration(s.cfg.now().UnixNano() - f.sentAt))
	}
}

// degrading reports whether Write keeps only critical events now (see
// adapt.Link.Degrade). A sink with a spool never degrades: what memory
// cannot hold goes to disk. The state changes only in Write: at its
// start, and while it waits for room (reserve).
func (s *Sink) degrading() bool {
	if s.cfg.degradeFill <= 0 || s.spool != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.degradingLocked()
}

// degradingLocked is degrading with s.mu held.
func (s *Sink) degradingLocked() bool {
	if s.cfg.degradeFill <= 0 || s.spool != nil {
		return false
	}
	held := s.heldLocked()
	degraded, changed := s.link.Degrade(adapt.State{
		Connected:   s.connected,
		Reachable:   s.reachable.Load(),
		Outstanding: len(s.outstanding) > 0,
		Idle:        time.Duration(s.cfg.now().UnixNano() - s.progressAt.Load()),
		Held:        held,
		Backlog:     int64(s.queue.bytes + s.resend.bytes + s.inflight.bytes),
	})
	switch {
	case changed && degraded:
		s.log.Warn("outage: keeping critical events only",
			zap.Int64("held_bytes", held), zap.Float64("degrade_fill", s.cfg.degradeFill))
	case changed:
		s.log.Info("link back: keeping every event again")
	}
	return degraded
}

// shed drops batch's routine events, counted as DropDegraded, and returns
// the critical ones (see adapt.Critical), in order, in s.critical: batch
// is the caller's, which Write must not change. Only Write calls it.
func (s *Sink) shed(batch []tracing.TraceEvent) []tracing.TraceEvent {
	kept, n := s.keepCritical(batch)
	if n > 0 {
		s.mu.Lock()
		s.dropped[DropDegraded] += uint64(n)
		s.droppedN.Add(uint64(n))
		s.notifyLocked()
		s.mu.Unlock()
	}
	return kept
}

// maxCritical bounds the events s.critical keeps room for between Writes.
const maxCritical = 1024

// keepCritical copies batch's critical events, in order, to s.critical
// and returns them, with how many routine events it left out. batch may be
// s.critical itself (what an earlier call returned). Only Write calls it;
// forgetCritical clears s.critical when Write is done with it.
func (s *Sink) keepCritical(batch []tracing.TraceEvent) ([]tracing.TraceEvent, int) {
	kept, n := adapt.AppendCritical(s.critical[:0], batch)
	s.critical = kept
	return kept, n
}

// forgetCritical clears s.critical, which must not hold on to the events'
// memory after Write returns, and lets it go if a large batch grew it.
func (s *Sink) forgetCritical() {
	if cap(s.critical) > maxCritical {
		s.critical = nil
		return
	}
	clear(s.critical)
	s.critical = s.critical[:0]
}
