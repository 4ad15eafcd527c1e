package websocket

import (
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

// Adapting to the link: the sink measures how long the server takes to
// acknowledge a frame (AckLatency in Stats and SinkStats, which the
// tracing client's adaptive batching reads), widens its window of bytes in
// flight with that latency (WithAdaptiveWindow), and, during an outage
// with its buffer past a fill fraction, keeps only critical events
// (WithDegradeAt).

const (
	// DefaultDegradeFill is the outage-buffer fill fraction past which a
	// sink in an outage keeps only critical events (see WithDegradeAt).
	DefaultDegradeFill = 0.5
	// windowRefLatency is the acknowledgement latency at which the
	// adaptive window is the configured one (WithMaxInFlight): it grows in
	// proportion above it, so that the bytes in flight cover the same
	// throughput (configured bytes per windowRefLatency, 800 MiB/s by
	// default) whatever the latency, up to half the outage buffer.
	windowRefLatency = 10 * time.Millisecond
	// degradeStall is how long a connected sink with frames outstanding
	// may go without an acknowledgement before it counts as in an outage
	// for WithDegradeAt (or stallLatencies times its acknowledgement
	// latency, if that is longer): a slow server still acknowledging is
	// not an outage. A dead peer is usually found sooner by the keepalive,
	// which drops the connection.
	degradeStall   = 10 * time.Second
	stallLatencies = 8
	// degradeGrace is how long a disconnected sink goes without progress
	// (an acknowledgement or a connection) before it counts as in an
	// outage: a server that is up but drops connections is reconnected
	// to within it, and back-pressure, not shedding, covers the gap.
	degradeGrace = 500 * time.Millisecond
	// ackLatencyWeight is the weight of each new acknowledgement in the
	// smoothed latency (1/ackLatencyWeight).
	ackLatencyWeight = 2
)

// noteAckLatency folds the time f took from its last write to its
// acknowledgement into the smoothed latency, and resizes the window. It is
// called by the read loop of the connection f was acknowledged on.
func (s *Sink) noteAckLatency(f *frame) {
	if f.sentAt == 0 {
		return
	}
	lat := s.cfg.now().UnixNano() - f.sentAt
	if lat < 0 {
		lat = 0
	}
	avg := s.ackLat.Load()
	if avg == 0 {
		avg = lat
	} else {
		avg += (lat - avg) / ackLatencyWeight
	}
	s.ackLat.Store(max(avg, 1))
	if s.cfg.adaptiveWindow {
		s.window.Store(int64(s.adaptedWindow(time.Duration(avg))))
	}
}

// adaptedWindow is the window of bytes in flight for an acknowledgement
// latency lat: the configured window, scaled by lat/windowRefLatency
// above it, at most half the outage buffer (and never below the
// configured window).
func (s *Sink) adaptedWindow(lat time.Duration) int {
	base := s.cfg.inflightB
	top := max(base, s.cfg.outageB/2)
	if lat <= windowRefLatency {
		return base
	}
	w := float64(base) * float64(lat) / float64(windowRefLatency)
	if w >= float64(top) {
		return top
	}
	return int(w)
}

// windowBytes is the most bytes in flight now.
func (s *Sink) windowBytes() int {
	if w := s.window.Load(); w > 0 {
		return int(w)
	}
	return s.cfg.inflightB
}

// degrading reports whether Write keeps only critical events now: from
// when the sink is in an outage (disconnected with no progress for
// degradeGrace, or connected with frames outstanding and no
// acknowledgement for degradeStall) and holds at least
// the WithDegradeAt fraction of its outage buffer, until it is connected,
// acknowledgements come again and the frames waiting to be sent or
// acknowledged take less than that fraction: the backlog of the outage
// drains before routine events compete with critical ones again. A sink
// with a spool never degrades: what memory cannot hold goes to disk.
// The state changes only in Write: at its start, and while it waits for
// room (reserve).
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
	now := s.cfg.now().UnixNano()
	stall := max(int64(degradeStall), stallLatencies*s.ackLat.Load())
	since := now - s.progressAt.Load()
	outage := !s.connected && since > int64(degradeGrace) || len(s.outstanding) > 0 && since > stall
	held := s.heldLocked()
	backlog := s.queue.bytes + s.resend.bytes + s.inflight.bytes
	fill := s.cfg.degradeFill * float64(s.cfg.outageB)
	was := s.degraded.Load()
	switch {
	case !was && outage && float64(held) >= fill:
		s.degraded.Store(true)
		s.log.Warn("outage: keeping critical events only",
			zap.Int64("held_bytes", held), zap.Float64("degrade_fill", s.cfg.degradeFill))
		return true
	case was && !outage && float64(backlog) < fill:
		s.degraded.Store(false)
		s.log.Info("link back: keeping every event again")
		return false
	}
	return was
}

// shed drops batch's routine events, counted as DropDegraded, and returns
// the critical ones (see critical), in order.
func (s *Sink) shed(batch []tracing.TraceEvent) []tracing.TraceEvent {
	kept := batch[:0]
	for i := range batch {
		if critical(&batch[i]) {
			kept = append(kept, batch[i])
		}
	}
	if n := len(batch) - len(kept); n > 0 {
		s.mu.Lock()
		s.dropped[DropDegraded] += uint64(n)
		s.droppedN.Add(uint64(n))
		s.notifyLocked()
		s.mu.Unlock()
	}
	return kept
}

// critical reports whether ev is kept while the sink is degraded: actor
// lifecycle events (ActorCreated, ActorStarted, ActorCompleted,
// ActorFailed), events carrying an error, and events whose "status"
// attribute says "failed" (any case). A trace's start and end are headers,
// not events, and are always sent.
func critical(ev *tracing.TraceEvent) bool {
	if ev.Type.Kind.Critical() || ev.Data.Error != "" {
		return true
	}
	if v, ok := ev.Data.CustomAttributes.Get("status"); ok && v.Kind() == attr.KindString {
		return strings.EqualFold(v.Str(), "failed")
	}
	return false
}
