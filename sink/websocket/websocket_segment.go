package websocket

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/chunks"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/traces"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
	"go.uber.org/zap"
)

// DefaultStoreDelay is the longest an event waits in the sink before a
// StoreTrace carries it, while the trace grows slowly; see
// [WithStoreDelay].
const DefaultStoreDelay = time.Second

// traceSeg is the run of a trace's events the sink keeps under one server
// trace id. Every Reflow storage backend replaces a stored trace whole on
// each StoreTrace, so each store of a segment carries all of its events so
// far; the sink keeps their JSON until the segment's last store is
// acknowledged.
//
// Stores of a growing segment are spaced so that each carries at least as
// many new bytes as it resends (or waits at most the store delay, scaled by
// the segment's size): the bytes sent for a segment stay under three times
// its size. A segment that reaches the frame limit, or the memory limit,
// is sealed and the trace continues in the next one.
//
// Fields above the line are guarded by WebSocket.encMu, those below by
// WebSocket.mu. data is changed only with both held: its chunks are read
// with WebSocket.mu held (they are given back to the pool under it), its
// sizes with either.
type traceSeg struct {
	id      tracing.TraceID // the server trace id
	logical tracing.TraceID // the trace the events belong to
	number  int
	hdr     tracing.FlowTrace
	data    chunks.Bytes // the events' JSON, comma-separated
	n       int          // events in data
	hdrLen  int          // bytes of a store of the segment beside its events, and a margin
	crit    bool         // data holds a critical event
	v2      bool         // data holds an event in the generation-2 form
	// dirtySince is when the oldest event not carried by a store arrived
	// (Unix ns), or 0.
	dirtySince int64
	storedB    int // bytes of data carried by the newest store built

	// Guarded by WebSocket.mu.
	storedN  int    // events carried by the newest store built
	builds   int    // stores built
	ackedN   int    // events carried by the newest store acknowledged
	skippedN int    // events carried by the newest store not sent (streamed instead)
	sealed   bool   // no more events; released once resolved
	pending  *frame // newest store not taken by the sender yet
	released bool   // resolved: its events need no more stores
	// finalOut is set while the segment's last store, the only one with
	// the trace's end (status and end time), is neither acknowledged nor
	// skipped: an acknowledged store with as many events does not make it
	// unnecessary.
	finalOut bool
	// refs counts the frames whose parts are data's chunks, plus one until
	// the segment is released; the chunks go back to the pool when it
	// drops to zero.
	refs int
	// lostReason is why the events were given up ("" when spooled).
	lostReason string
	// lostN is how many of data's events the loss has accounted for
	// (dropped, or spooled): those some frame carried when it came, and
	// then those the encoder found after them (see loseTailLocked).
	lostN int
	// late is set for a segment no end is coming to seal (see segFor):
	// one opened after its trace ended, by events written after the end,
	// and in the live modes one of a joined trace. encodeDue seals it,
	// with its one store, once its first events waited the store delay.
	late bool

	// The streamed side (live modes): the connection whose StartTrace
	// opened the segment on a generation-2 server; RecordEvent frames
	// built, resolved (acknowledged or skipped) and acknowledged; EndTrace
	// frames built and resolved; events counted as delivered.
	startedOn *wsConn
	// streamedV1 is set once a RecordEvent of the segment went to a
	// generation-1 server: a generation-2 server it moves to has none of
	// its events, and a StartTrace would open it there empty.
	streamedV1               bool
	startFails               int // StartTraces of the segment the server failed for the moment
	parked                   int // frames waiting to be resent after a server error
	recN, recDone, recAcked  int
	endN, endDone, delivered int
	// recRejected counts, by error code, the RecordEvents the server
	// rejected for good while the segment's stores still carry their
	// events: if the segment is lost for another reason, those events
	// count as rejected.
	recRejected map[string]int

	// storeOnly is set when the segment continues by StoreTrace alone
	// (after a recovery); its streamed frames are then skipped.
	storeOnly atomic.Bool
	// recovering is set (guarded by WebSocket.mu) from the start of a
	// recovery until its store is queued: the events must be kept for it.
	recovering bool
	// watching is set (guarded by WebSocket.mu) while a recovery that
	// stored the segment before the server stored the old connection's
	// copy watches for that copy replacing the store (see watchReply):
	// the events must be kept to store them again.
	watching bool

	// lost is set once the segment's unacknowledged events were given up
	// (dropped or spooled); its frames are then not sent again.
	lost atomic.Bool
}

// newSegLocked opens segment number of the logical trace whose header is
// hdr. s.encMu must be held.
func (s *Sink) newSegLocked(hdr tracing.FlowTrace, number int) *traceSeg {
	g := &traceSeg{logical: hdr.TraceID, number: number, id: hdr.TraceID, refs: 1}
	if number > 0 {
		g.id = tracing.NewTraceID()
		tags := make(map[string]string, len(hdr.Metadata.Tags)+2)
		for k, v := range hdr.Metadata.Tags {
			tags[k] = v
		}
		tags[wire.TagSegmentOf] = hdr.TraceID.String()
		tags[wire.TagSegment] = strconv.Itoa(number)
		hdr.Metadata.Tags = tags
		hdr.TraceID = g.id
	}
	g.hdr = hdr
	g.hdrLen = len(s.enc.AppendStoreTrace(nil, &g.hdr, []tracing.TraceEvent{})) + 64
	return g
}

// segFor returns the open segment of trace id, opening the next one when
// the current one is sealed or lost. s.encMu must be held.
func (s *Sink) segFor(id tracing.TraceID, start int64) *traceSeg {
	g := s.segs[id]
	if g != nil && !g.lost.Load() && !s.isSealed(g) {
		return g
	}
	if g != nil && g.lost.Load() {
		s.mu.Lock()
		s.loseTailLocked(g)
		s.mu.Unlock()
	}
	number := 0
	if g != nil {
		number = g.number + 1
	} else {
		number = s.headers.Next(id) // 0 unless its last segment was forgotten
	}
	hdr := s.headers.Get(id, &s.deftr, start)
	joined := hdr.Metadata.Tags[wire.TagJoined] != ""
	if number == 0 && joined {
		// A trace started elsewhere: its id holds the other process's
		// events, which a store under it would replace.
		number = 1
	}
	if number > 0 && start != 0 {
		// Each segment starts with its first event, so that the segments
		// of a trace sort (and page) in order by start time.
		hdr.StartTime = unixTime(start)
	}
	ng := s.newSegLocked(hdr, number)
	// No end comes to seal a segment opened after its trace ended, nor,
	// in the live modes, one of a trace this process joined (whose end
	// the other process records): a generation-2 server would keep such
	// a segment as its StartTrace opened it, without the tags that link
	// it to its trace.
	ng.late = traces.Ended(hdr.Status) || joined && s.cfg.mode.live()
	s.segs[id] = ng
	return ng
}

func (s *Sink) isSealed(g *traceSeg) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return g.sealed
}

// segCap is the most event JSON g holds: what fits in a frame with its
// header, and no more than a quarter of the memory limit, so that a
// segment, the store being sent and the next one fit in it together.
func (s *Sink) segCap(g *traceSeg) int {
	return max(min(s.cfg.maxFrame-g.hdrLen, s.cfg.outageB/4), 1)
}

// appendToSeg adds one encoded event to its trace's segment, sealing the
// segment (and appending its last store to frames) and opening the next
// when it is full. s.encMu must be held.
func (s *Sink) appendToSeg(id tracing.TraceID, ev *tracing.TraceEvent, js []byte, now int64, frames []*frame) (*traceSeg, []*frame) {
	for {
		g := s.segFor(id, ev.Timestamp.UnixNano())
		if g.n > 0 && g.data.Len()+1+len(js) > s.segCap(g) {
			frames = s.sealLocked(g, now, frames)
			continue
		}
		s.mu.Lock()
		if g.sealed || g.lost.Load() {
			// Given up since segFor looked: the next segment takes it.
			s.mu.Unlock()
			continue
		}
		grown := 0
		if g.n > 0 {
			grown = g.data.Append(comma, &s.chunks)
		}
		grown += g.data.Append(js, &s.chunks)
		s.retained.Add(int64(grown)) // what the chunks hold, not only what they use
		s.mu.Unlock()
		g.n++
		if ev.Type.Kind.Critical() {
			g.crit = true
		}
		if s.enc.Protocol == transport.ProtocolV2 {
			g.v2 = true
		}
		if g.dirtySince == 0 {
			g.dirtySince = now
		}
		return g, frames
	}
}

var comma = []byte{','}

// sealLocked marks g as taking no more events, appending its last store
// to frames when it has events no store carries yet. s.encMu must be
// held.
func (s *Sink) sealLocked(g *traceSeg, now int64, frames []*frame) []*frame {
	// The EndTrace first: on a generation-2 server it stores the trace a
	// StartTrace opened, whose header has no execution id or metadata; the
	// last store then replaces it with the full header.
	if s.cfg.mode.live() && !g.storeOnly.Load() {
		frames = append(frames, s.endFrame(g, now))
	}
	// In live mode too: the EndTrace kept the streamed segment without its
	// header's execution id and tags, which link the segments of a long
	// trace; this store replaces it with them (a generation-1 connection,
	// which keeps nothing streamed, skips it).
	if g.dirtySince != 0 || s.cfg.mode.live() && g.n > 0 {
		if g.dirtySince == 0 {
			g.dirtySince = now
		}
		f := s.buildStore(g, now)
		f.final = true
		frames = append(frames, f)
		s.mu.Lock()
		g.finalOut = true
		s.mu.Unlock()
	}
	s.mu.Lock()
	g.sealed = true
	s.resolveSegLocked(g)
	s.mu.Unlock()
	return frames
}

// stores reports whether g is kept by StoreTrace: in store mode, and
// after a recovery.
func (s *Sink) stores(g *traceSeg) bool { return s.cfg.mode.store() || g.storeOnly.Load() }

// storeDue reports whether g should be stored now: its first events, or
// at least as many new bytes as the last store carried, or events that
// waited the store delay (scaled by the segment's size in MiB, so that a
// slow trace does not resend a large segment every second).
func (s *Sink) storeDue(g *traceSeg, now int64) bool {
	if g.dirtySince == 0 || !s.stores(g) || g.late {
		return false // a late segment's one store is its last (encodeDue)
	}
	if g.storedB == 0 || g.data.Len()-g.storedB >= g.storedB {
		return true
	}
	wait := int64(s.cfg.storeDelay) * int64(max(1, g.storedB>>20))
	return now-g.dirtySince >= wait
}

// buildStore makes a StoreTrace of g carrying all its events, and records
// it as g's newest store. The frame refers to g's chunks rather than
// copying them (see frame.parts); it is compressed when compression is on.
// A segment whose chunks were given up (lost since the caller looked) gets
// a frame without events, which queueStore drops. s.encMu must be held.
func (s *Sink) buildStore(g *traceSeg, now int64) *frame {
	hb := s.enc.AppendStoreTrace(make([]byte, 0, g.hdrLen), &g.hdr, []tracing.TraceEvent{})
	// The events go into the header's empty event list. In the encoder's
	// output the first `"events":[]` is the field itself: any such text
	// inside a string would have its quotes escaped.
	at := bytes.Index(hb, eventsEmpty) + len(eventsEmpty) - 1
	f := &frame{kind: frameStore, critical: g.crit, created: now, seg: g, v2: g.v2}
	g.storedB = g.data.Len()
	g.dirtySince = 0
	s.mu.Lock()
	if !g.released {
		f.hbuf = hb
		f.parts = g.data.View(append(make([][]byte, 0, g.data.NumChunks()+2), hb[:at:at]))
		f.parts = append(f.parts, hb[at:])
		f.rawLen = len(hb) + g.data.Len()
		g.refs++
	}
	f.upto = g.n
	f.events = g.n - g.storedN
	g.storedN = g.n
	g.builds++
	f.build = g.builds
	// A store built after the last one (a recovery's) carries the trace's
	// end too, and takes the last one's place.
	f.final = g.finalOut
	s.mu.Unlock()
	if f.parts != nil {
		s.compressStore(f)
	}
	return f
}

var eventsEmpty = []byte(`"events":[]`)

// compressStore compresses store f's parts when compression is on and
// worth it; the frame keeps its parts for the spool. The codec compresses
// into a scratch buffer the sink keeps (and counts, with the codec's own,
// in held), and the frame gets the compressed bytes in chunks of the pool,
// so that neither the frames nor the collector are left buffers sized for
// the uncompressed JSON. s.encMu must be held.
func (s *Sink) compressStore(f *frame) {
	alg := s.compAlg.Load()
	if alg < 0 || f.rawLen < s.cfg.compressMin {
		return
	}
	out, err := s.codecs.Get(compress.Algorithm(alg)).AppendRequestParts(s.compOut[:0], f.parts)
	if cap(out) > cap(s.compOut) {
		s.compOut = out[:0]
	}
	s.scratch.Store(int64(s.codecs.Retained() + cap(s.compOut)))
	if err != nil || len(out) >= f.rawLen {
		return
	}
	s.mu.Lock()
	for rest := out; len(rest) > 0; {
		c := s.chunks.Get(len(rest))
		c = append(c, rest[:min(len(rest), cap(c))]...)
		rest = rest[len(c):]
		f.zparts = append(f.zparts, c)
	}
	s.mu.Unlock()
	f.zlen, f.binary, f.alg = len(out), true, compress.Algorithm(alg)
}

// queueStore hands f, a store of its segment, to the sender: it replaces
// the segment's pending store if the sender has not taken it yet, and
// reports whether f must still be admitted as a new frame.
func (s *Sink) queueStore(f *frame) (admit bool) {
	g := f.seg
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.lost.Load() {
		// Given up while f was built: its events that the loss did not
		// account for share that fate.
		s.loseUptoLocked(g, f.upto)
		s.releaseLocked(f)
		return false
	}
	if f.build < g.builds {
		// A newer store of the segment was built while f waited to be
		// queued (the store loop and Write build stores concurrently): it
		// carries f's events, and perhaps the trace's end, and f must not
		// replace it.
		if p := g.pending; p != nil && !p.sent && p.tracked {
			p.events += f.events
			p.critical = p.critical || f.critical
		}
		s.releaseLocked(f)
		return false
	}
	if p := g.pending; p != nil && !p.sent && p.tracked {
		// Not sent yet: the newer store replaces it in place, and takes
		// over f's reference to the segment.
		s.releaseLocked(p)
		p.wire, p.buf, p.binary, p.alg, p.rawLen = f.wire, f.buf, f.binary, f.alg, f.rawLen
		p.parts, p.hbuf, p.zparts, p.zlen = f.parts, f.hbuf, f.zparts, f.zlen
		p.upto, p.build, p.final, p.critical = f.upto, f.build, f.final, p.critical || f.critical
		p.events += f.events
		p.recount()
		f.buf, f.wire, f.parts, f.hbuf, f.zparts = nil, nil, nil, nil, nil
		s.notifyLocked()
		return false
	}
	g.pending = f
	return true
}

// superseded reports whether f is a store of its segment that a newer
// store (or the segment's loss) makes unnecessary: a newer store was
// built, or one with all of f's events was acknowledged, unless f is the
// last store and carries the trace's end. s.mu must be held.
func superseded(f *frame) bool {
	if f.stream != nil {
		return f.stream.lost.Load()
	}
	g := f.seg
	return g != nil && (g.lost.Load() || f.build < g.builds ||
		f.upto <= g.ackedN && f.sent && !(f.final && g.finalOut))
}

// resolveSegLocked releases g once its last store is acknowledged or its
// events were given up: its chunks go back to the pool once no frame
// refers to them. s.mu must be held.
func (s *Sink) resolveSegLocked(g *traceSeg) {
	if g.released {
		return
	}
	stored := max(g.ackedN, g.skippedN) >= g.storedN && g.pending == nil && !g.finalOut
	streamed := g.recDone >= g.recN && g.endDone >= g.endN
	if !g.lost.Load() && (!(g.sealed && stored && streamed) || g.recovering || g.watching) {
		return
	}
	g.released = true
	s.unrefLocked(g)
	s.notifyLocked()
}

// unrefLocked drops a reference to g's chunks, giving them back to the
// pool with the last. s.mu must be held.
func (s *Sink) unrefLocked(g *traceSeg) {
	if g.refs--; g.refs > 0 {
		return
	}
	s.chunks.Put(g.data.Take())
	s.retained.Add(-int64(g.data.Cap()))
	s.notifyLocked()
}

// loseSegLocked gives up g's unacknowledged events for reason (counted as
// dropped, unless reason is "" for events that were spooled) and returns
// how many there were. Its other frames are then skipped. s.mu must be
// held.
func (s *Sink) loseSegLocked(g *traceSeg, reason string) int {
	if g.lost.Load() {
		return 0
	}
	g.lostReason = reason
	g.lost.Store(true)
	g.lostN = max(g.storedN, g.recN)
	n := g.unackedLocked()
	if reason != "" && n > 0 {
		rest := n
		if reason != DropRejected {
			for code, k := range g.recRejected {
				k = min(k, rest)
				s.rejected[code] += uint64(k)
				s.dropped[DropRejected] += uint64(k)
				rest -= k
			}
		}
		if rest > 0 {
			s.dropped[reason] += uint64(rest)
		}
		s.droppedN.Add(uint64(n))
	}
	g.sealed = true
	if g.pending != nil && g.pending.sent {
		g.pending = nil
	}
	s.resolveSegLocked(g)
	return n
}

// loseTailLocked counts as dropped, for the reason lost segment g was
// given up, its events that no frame carried then (written after its last
// store was built): they went with the segment, and no later frame
// carries them. It returns how many. s.encMu and s.mu must be held.
func (s *Sink) loseTailLocked(g *traceSeg) int { return s.loseUptoLocked(g, g.n) }

// loseUptoLocked counts as dropped, for the reason lost segment g was
// given up, its first upto events that the loss has not accounted for yet
// (see traceSeg.lostN), and returns how many. s.mu must be held.
func (s *Sink) loseUptoLocked(g *traceSeg, upto int) int {
	n := upto - g.lostN
	if !g.lost.Load() || n <= 0 {
		return 0
	}
	g.lostN = upto
	reason := g.lostReason
	if reason == "" {
		// Spooled, when a store carrying more was still being built
		// (the spooled store carries every event the segment held then,
		// see completeStoreLocked): at Close, or when reconnecting gave up.
		reason = DropRetriesExhausted
		if s.stopping {
			reason = DropClosed
		}
	}
	s.dropped[reason] += uint64(n)
	s.droppedN.Add(uint64(n))
	s.notifyLocked()
	s.log.Warn("events dropped", zap.String("reason", reason), zap.Int("events", n))
	return n
}

// unackedLocked counts g's events sent (or built into frames) and not yet
// acknowledged by a store or a RecordEvent. WebSocket.mu must be held.
func (g *traceSeg) unackedLocked() int {
	return max(g.storedN, g.recN) - g.delivered
}
