package adapt

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

const (
	// windowRefLatency is the acknowledgement latency at which the
	// adaptive window is the configured one (Config.Window): it grows in
	// proportion above it, so that the bytes in flight cover the same
	// throughput (configured bytes per windowRefLatency, 800 MiB/s by
	// default) whatever the latency, up to half the outage buffer.
	windowRefLatency = 10 * time.Millisecond
	// degradeStall is how long a connected sink with frames outstanding
	// may go without an acknowledgement before it counts as in an outage
	// (or stallLatencies times its acknowledgement latency, if that is
	// longer): a slow server still acknowledging is not an outage. A dead
	// peer is usually found sooner by the keepalive, which drops the
	// connection.
	degradeStall   = 10 * time.Second
	stallLatencies = 8
	// DegradeGrace is how long a sink that cannot reach its server goes
	// without progress (an acknowledgement or a connection) before it
	// counts as in an outage. A server that is up but drops connections
	// is no outage, however long the sink backs off before it dials
	// again: back-pressure, not shedding, covers the gap.
	DegradeGrace = 500 * time.Millisecond
	// ackLatencyWeight is the weight of each new acknowledgement in the
	// smoothed latency (1/ackLatencyWeight).
	ackLatencyWeight = 2
)

// Config is what the sink's options set of its adaptation.
type Config struct {
	// Window is the configured window of bytes in flight.
	Window int
	// Adaptive widens the window with the acknowledgement latency.
	Adaptive bool
	// Buffer is the outage buffer: the most bytes the sink holds.
	Buffer int
	// DegradeFill is the fraction of Buffer a sink in an outage holds
	// from which it keeps only critical events; 0 turns that off.
	DegradeFill float64
}

// Link is what the sink knows of its link to the server: the smoothed
// acknowledgement latency, the window of bytes in flight and whether the
// sink is degraded. Build it with New; it is safe for concurrent use.
type Link struct {
	cfg Config
	// lat is the smoothed acknowledgement latency (ns, 0 before the
	// first), window the adaptive window (0: the configured one).
	lat      atomic.Int64
	window   atomic.Int64
	degraded atomic.Bool
}

// New returns the Link of a sink configured with cfg.
func New(cfg Config) *Link { return &Link{cfg: cfg} }

// NoteAck folds lat, the time a frame took from its last write to its
// acknowledgement, into the smoothed latency, and resizes the window.
func (l *Link) NoteAck(lat time.Duration) {
	lat = max(lat, 0)
	avg := l.lat.Load()
	if avg == 0 {
		avg = int64(lat)
	} else {
		avg += (int64(lat) - avg) / ackLatencyWeight
	}
	l.lat.Store(max(avg, 1))
	if l.cfg.Adaptive {
		l.window.Store(int64(l.cfg.window(time.Duration(avg))))
	}
}

// Latency is the smoothed acknowledgement latency, 0 before the first.
func (l *Link) Latency() time.Duration { return time.Duration(l.lat.Load()) }

// window is the window of bytes in flight for an acknowledgement
// latency lat: the configured window, scaled by lat/windowRefLatency
// above it, at most half the outage buffer (and never below the
// configured window).
func (c *Config) window(lat time.Duration) int {
	base := c.Window
	top := max(base, c.Buffer/2)
	if lat <= windowRefLatency {
		return base
	}
	w := float64(base) * float64(lat) / float64(windowRefLatency)
	if w >= float64(top) {
		return top
	}
	return int(w)
}

// Window is the most bytes in flight now.
func (l *Link) Window() int {
	if w := l.window.Load(); w > 0 {
		return int(w)
	}
	return l.cfg.Window
}

// Degraded reports whether the sink keeps only critical events, as the
// last Degrade decided.
func (l *Link) Degraded() bool { return l.degraded.Load() }

// State is what the sink tells Degrade of itself.
type State struct {
	// Connected tells whether a connection is up; Reachable whether the
	// last dial reached a server (which may have dropped the connection
	// since); Outstanding whether frames wait for their acknowledgement.
	Connected, Reachable, Outstanding bool
	// Idle is the time since the last acknowledgement or connection.
	Idle time.Duration
	// Held is the memory the sink holds for events; Backlog the bytes of
	// the frames waiting to be sent or acknowledged.
	Held, Backlog int64
}

// Degrade decides whether the sink keeps only critical events, and
// reports whether that changed: from when the sink is in an outage
// (disconnected, its last dial failed and no progress for DegradeGrace, or connected with
// frames outstanding and no acknowledgement for 10 s, or 8 times the
// acknowledgement latency if that is longer) and holds at least
// Config.DegradeFill of its buffer, until it is connected,
// acknowledgements come again and the frames waiting to be sent or
// acknowledged take less than that fraction: the backlog of the outage
// drains before routine events compete with critical ones again.
func (l *Link) Degrade(st State) (degraded, changed bool) {
	if l.cfg.DegradeFill <= 0 {
		return false, false
	}
	stall := max(degradeStall, stallLatencies*l.Latency())
	outage := !st.Connected && !st.Reachable && st.Idle > DegradeGrace || st.Connected && st.Outstanding && st.Idle > stall
	fill := l.cfg.DegradeFill * float64(l.cfg.Buffer)
	was := l.degraded.Load()
	switch {
	case !was && outage && float64(st.Held) >= fill:
		l.degraded.Store(true)
		return true, true
	case was && !outage && float64(st.Backlog) < fill:
		l.degraded.Store(false)
		return false, true
	}
	return was, false
}

// Critical reports whether ev is kept while the sink is degraded: actor
// lifecycle events (ActorCreated, ActorStarted, ActorCompleted,
// ActorFailed), events carrying an error, and events whose "status"
// attribute says "failed" (any case). A trace's start and end are headers,
// not events, and are always sent.
func Critical(ev *tracing.TraceEvent) bool {
	if ev.Type.Kind.Critical() || ev.Data.Error != "" {
		return true
	}
	if v, ok := ev.Data.CustomAttributes.Get("status"); ok && v.Kind() == attr.KindString {
		return strings.EqualFold(v.Str(), "failed")
	}
	return false
}

// AppendCritical appends batch's critical events (see Critical), in
// order, to dst and returns the result, with how many routine events it
// left out. It does not change batch, unless dst shares its memory (dst
// may be batch[:0] of a slice the caller owns).
func AppendCritical(dst, batch []tracing.TraceEvent) (kept []tracing.TraceEvent, dropped int) {
	kept = dst
	for i := range batch {
		if Critical(&batch[i]) {
			kept = append(kept, batch[i])
		}
	}
	return kept, len(batch) - (len(kept) - len(dst))
}
