package websocket

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/traces"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// ErrEventTooLarge is wrapped by the error reported for an event that does
// not fit on its own in a frame (WithMaxFrameBytes) or in a quarter of the
// memory limit (WithOutageBuffer); the event is dropped and counted, and
// the error names the limit it is over.
var ErrEventTooLarge = errors.New("sink: event too large for a frame")

// encodeBatch turns batch into frames. Each event joins its trace's
// segment (see traceSeg). In store mode the segments that are due get a
// StoreTrace carrying all their events; in the live modes each event is
// also one RecordEvent (see websocket_stream.go).
func (s *Sink) encodeBatch(batch []tracing.TraceEvent) []*frame {
	if len(batch) == 0 {
		return nil
	}
	s.encMu.Lock()
	defer s.encMu.Unlock()
	// The generation-2 form (null for what was not measured) only for a
	// server known to read it; the generation-1 form every server reads.
	s.enc.Protocol = s.cfg.protocol
	if s.enc.Protocol == transport.ProtocolAuto {
		s.enc.Protocol = transport.Protocol(s.knownGen.Load())
	}
	var frames []*frame
	now := s.cfg.now().UnixNano()
	live := s.cfg.mode.live()
	touched := s.touched[:0]
	var chunk []byte
	for i := range batch {
		ev := &batch[i]
		id := s.traceOf(ev)
		js := s.enc.AppendEvent(s.evBuf[:0], ev)
		s.evBuf = js
		if g := s.segFor(id, ev.Timestamp.UnixNano()); len(js) > s.segCap(g) {
			s.tooLarge(ev, len(js), g)
			continue
		}
		var g *traceSeg
		g, frames = s.appendToSeg(id, ev, js, now, frames)
		if s.stores(g) && !slices.Contains(touched, g) {
			touched = append(touched, g)
		}
		if live && !g.storeOnly.Load() {
			var f *frame
			f, chunk = s.recordFrame(g, js, ev.Type.Kind.Critical(), now, chunk, len(batch)-i)
			frames = append(frames, f)
		}
	}
	for _, g := range touched {
		if s.storeDue(g, now) {
			frames = append(frames, s.buildStore(g, now))
		}
	}
	clear(touched)
	s.touched = touched[:0]
	return frames
}

// encodeDue returns stores of the segments whose events waited long
// enough (every one with events not stored yet, when all is set), and
// seals the segments no end comes to seal (traceSeg.late) whose
// first events waited the store delay (all of them, when all is set).
// When all is set (Flush, Close) it also seals, in the live modes, every
// segment after its trace's first that holds events, so that what was
// written is kept where a reader of the trace finds it.
func (s *Sink) encodeDue(all bool) []*frame {
	s.encMu.Lock()
	defer s.encMu.Unlock()
	now := s.cfg.now().UnixNano()
	var frames []*frame
	for _, g := range s.segs {
		if g.lost.Load() {
			s.mu.Lock()
			s.loseTailLocked(g)
			s.mu.Unlock()
			continue
		}
		if all && s.streamedAfterFirst(g) {
			// A reader finds the segment through its tags, which only a
			// store carries, and in the live modes a generation-2 server
			// keeps it as its StartTrace opened it until its EndTrace:
			// sealed, it has both; the trace goes on in the next one.
			if !s.isSealed(g) {
				frames = s.sealLocked(g, now, frames)
			}
			continue
		}
		if g.dirtySince == 0 {
			continue
		}
		switch {
		case g.late && (all || now-g.dirtySince >= int64(s.cfg.storeDelay)):
			if !s.isSealed(g) {
				frames = s.sealLocked(g, now, frames)
			}
		case s.stores(g) && (all || s.storeDue(g, now)):
			frames = append(frames, s.buildStore(g, now))
		}
	}
	return frames
}

// streamedAfterFirst reports whether g is a segment after its trace's first
// that is streamed (the live modes), holds events, and may be kept by a
// generation-2 server: one not known to be of generation 1, or one whose
// events went out in the generation-2 form. A generation-1 server keeps
// nothing streamed, and each store of g carries its tags, so sealing g
// there would only split the trace into more segments. s.encMu must be
// held.
func (s *Sink) streamedAfterFirst(g *traceSeg) bool {
	if !s.cfg.mode.live() || g.storeOnly.Load() || g.number == 0 || g.n == 0 {
		return false
	}
	gen := s.cfg.protocol
	if gen == transport.ProtocolAuto {
		gen = transport.Protocol(s.knownGen.Load())
	}
	return gen != transport.ProtocolV1 || g.v2
}

func (s *Sink) traceOf(ev *tracing.TraceEvent) tracing.TraceID {
	if ev.TraceID.IsZero() {
		return s.deftr.TraceID
	}
	return ev.TraceID
}

// finish makes a frame of the JSON in buf, compressing it when that is on
// and worth it.
func (s *Sink) finish(buf *[]byte, kind frameKind, events int, critical bool, now int64) *frame {
	raw := *buf
	f := &frame{kind: kind, wire: raw, rawLen: len(raw), events: events, critical: critical, created: now, buf: buf}
	alg := s.compAlg.Load()
	if alg < 0 || len(raw) < s.cfg.compressMin {
		return f
	}
	cbuf := s.free.Get()
	c, err := s.codecs.Get(compress.Algorithm(alg)).AppendRequest((*cbuf)[:0], raw)
	if err != nil || len(c) >= len(raw) {
		s.free.Put(cbuf)
		return f
	}
	*cbuf = c
	s.free.Put(buf)
	f.wire, f.buf, f.binary, f.alg = c, cbuf, true, compress.Algorithm(alg)
	return f
}

// tooLarge drops ev, which encodes to n bytes, more than segment g may
// hold (segCap), and reports it, naming the limit that applied.
func (s *Sink) tooLarge(ev *tracing.TraceEvent, n int, g *traceSeg) {
	limit := s.segCap(g)
	why := fmt.Sprintf("the frame limit, WithMaxFrameBytes(%d), less the trace header", s.cfg.maxFrame)
	if limit == s.cfg.outageB/4 {
		why = fmt.Sprintf("a quarter of the memory limit, WithOutageBuffer(%d)", s.cfg.outageB)
	}
	err := fmt.Errorf("%w: event %s encodes to %d bytes, more than the %d one event may take: %s", ErrEventTooLarge, ev.EventID, n, limit, why)
	s.mu.Lock()
	s.dropped[DropTooLarge]++
	s.notifyLocked()
	s.mu.Unlock()
	s.droppedN.Add(1)
	s.report(err, "event too large", zap.Int("bytes", n))
}

// encodeEnded returns the last stores (or EndTraces) of traces that ended
// since the last call, and before the given time unless it is zero: each
// carries the trace's final status and all the events of its last
// segment. The tracing client reports a trace's end after writing the
// events recorded before it; an event written after the end opens the
// trace's next segment.
func (s *Sink) encodeEnded(before time.Time) []*frame {
	ended := s.headers.TakeEnded(before)
	if len(ended) == 0 {
		return nil
	}
	s.encMu.Lock()
	defer s.encMu.Unlock()
	now := s.cfg.now().UnixNano()
	frames := make([]*frame, 0, len(ended))
	for i := range ended {
		hdr := &ended[i]
		g := s.segFor(hdr.TraceID, hdr.StartTime.UnixNano())
		g.hdr.Status, g.hdr.EndTime = hdr.Status, hdr.EndTime
		g.crit = true
		if g.dirtySince == 0 {
			g.dirtySince = now
		}
		// The sealed segment stays in the map, so that a late event of
		// the trace opens the next segment instead of replacing this one.
		frames = s.sealLocked(g, now, frames)
	}
	s.pruneSegsLocked()
	return frames
}

// pruneSegsLocked forgets the oldest released segments when the map of
// segments grows past a bound. s.encMu must be held.
func (s *Sink) pruneSegsLocked() {
	if len(s.segs) <= 2*traces.Max {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, g := range s.segs {
		s.loseTailLocked(g)
		if g.released {
			// The trace's next events go on in the next segment, not in
			// segment 0 again: those of a trace sealed before its end,
			// and those written after the end.
			s.headers.SetNext(id, g.number+1)
			delete(s.segs, id)
		}
		if len(s.segs) <= traces.Max {
			return
		}
	}
}
