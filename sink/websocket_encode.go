package sink

import (
	"errors"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// ErrEventTooLarge is wrapped by the error reported for an event that does
// not fit in a frame on its own; the event is dropped and counted.
var ErrEventTooLarge = errors.New("sink: event too large for a frame")

type groupKey struct {
	trace    tracing.TraceID
	critical bool
}

// encodeBatch turns batch into frames: in store mode one StoreTrace per
// trace id, split to fit the frame limit; in live mode one RecordEvent per
// event. With split (set while the server is unreachable, when frames may
// have to be dropped), critical and routine events of a trace go to
// separate StoreTrace frames, so that routine events can be dropped before
// critical ones.
func (s *WebSocket) encodeBatch(batch []tracing.TraceEvent, split bool) []*frame {
	if len(batch) == 0 {
		return nil
	}
	s.encMu.Lock()
	defer s.encMu.Unlock()
	var frames []*frame
	now := s.cfg.now().UnixNano()
	if s.cfg.mode.store() {
		key := func(ev *tracing.TraceEvent) groupKey {
			return groupKey{s.traceOf(ev), split && ev.Type.Kind.Critical()}
		}
		var keys []groupKey
		for i := range batch {
			if k := key(&batch[i]); !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			evs := batch
			if len(keys) > 1 {
				evs = s.scratch[:0]
				for i := range batch {
					if key(&batch[i]) == k {
						evs = append(evs, batch[i])
					}
				}
			}
			critical := k.critical
			if !split {
				// A mixed frame is kept as long as critical ones.
				critical = slices.ContainsFunc(evs, func(ev tracing.TraceEvent) bool { return ev.Type.Kind.Critical() })
			}
			hdr := s.headers.get(k.trace, &s.deftr, batch[0].Timestamp.UnixNano())
			frames = s.encodeStore(frames, &hdr, evs, critical, now)
			if len(keys) > 1 {
				clear(evs)
				s.scratch = evs[:0]
			}
		}
	}
	if s.cfg.mode.live() {
		frames = s.encodeLive(frames, batch, now)
	}
	return frames
}

func (s *WebSocket) traceOf(ev *tracing.TraceEvent) tracing.TraceID {
	if ev.TraceID.IsZero() {
		return s.deftr.TraceID
	}
	return ev.TraceID
}

// encodeStore appends the StoreTrace frames for events, halving the group
// until each frame fits.
func (s *WebSocket) encodeStore(frames []*frame, hdr *tracing.FlowTrace, events []tracing.TraceEvent, critical bool, now int64) []*frame {
	buf := s.free.get()
	// Size the buffer from the previous frames so that encoding does not
	// grow it step by step.
	if want := s.evSize*len(events)*9/8 + 4096; cap(*buf) < want {
		*buf = slices.Grow((*buf)[:0], min(want, s.cfg.maxFrame+4096))
	}
	b := s.enc.AppendStoreTrace((*buf)[:0], hdr, events)
	if len(events) > 0 {
		s.evSize = (s.evSize + len(b)/len(events) + 1) / 2
	}
	if len(b) <= s.cfg.maxFrame {
		*buf = b
		return append(frames, s.finish(buf, frameStore, len(events), critical, now))
	}
	s.free.put(buf)
	if len(events) == 1 {
		s.tooLarge(&events[0], len(b))
		return frames
	}
	half := len(events) / 2
	frames = s.encodeStore(frames, hdr, events[:half], critical, now)
	return s.encodeStore(frames, hdr, events[half:], critical, now)
}

// encodeLive appends one RecordEvent frame per event. Small frames share
// chunks of memory.
func (s *WebSocket) encodeLive(frames []*frame, batch []tracing.TraceEvent, now int64) []*frame {
	var chunk []byte
	tmp := s.free.get()
	defer s.free.put(tmp)
	for i := range batch {
		ev := &batch[i]
		b := s.enc.AppendRecordEvent((*tmp)[:0], s.traceOf(ev), ev)
		*tmp = b
		if len(b) > s.cfg.maxFrame {
			s.tooLarge(ev, len(b))
			continue
		}
		critical := ev.Type.Kind.Critical()
		if s.cfg.compress && len(b) >= s.cfg.compressMin {
			own := s.free.get()
			*own = append((*own)[:0], b...)
			frames = append(frames, s.finish(own, frameRecord, 1, critical, now))
			continue
		}
		if cap(chunk)-len(chunk) < len(b) {
			chunk = make([]byte, 0, max(min(256<<10, len(b)*(len(batch)-i)*9/8), len(b)))
		}
		start := len(chunk)
		chunk = append(chunk, b...)
		frames = append(frames, &frame{
			kind: frameRecord, wire: chunk[start:len(chunk):len(chunk)], rawLen: len(b),
			events: 1, critical: critical, created: now,
		})
	}
	return frames
}

// finish makes a frame of the JSON in buf, compressing it when that is on
// and worth it.
func (s *WebSocket) finish(buf *[]byte, kind frameKind, events int, critical bool, now int64) *frame {
	raw := *buf
	f := &frame{kind: kind, wire: raw, rawLen: len(raw), events: events, critical: critical, created: now, buf: buf}
	if !s.cfg.compress || len(raw) < s.cfg.compressMin {
		return f
	}
	cbuf := s.free.get()
	c, err := s.comp.AppendPrefixed((*cbuf)[:0], raw)
	if err != nil || len(c) >= len(raw) {
		s.free.put(cbuf)
		return f
	}
	*cbuf = c
	s.free.put(buf)
	f.wire, f.buf, f.binary = c, cbuf, true
	return f
}

func (s *WebSocket) tooLarge(ev *tracing.TraceEvent, n int) {
	err := fmt.Errorf("%w: event %s encodes to %d bytes, the frame limit is %d", ErrEventTooLarge, ev.EventID, n, s.cfg.maxFrame)
	s.mu.Lock()
	s.dropped[DropTooLarge]++
	s.notifyLocked()
	s.mu.Unlock()
	s.droppedN.Add(1)
	s.report(err, "event too large", zap.Int("bytes", n))
}

// encodeEnded returns header-only StoreTrace frames carrying the final
// status of traces that ended since the last call (store mode only).
func (s *WebSocket) encodeEnded() []*frame {
	if !s.cfg.mode.store() {
		return nil
	}
	ended := s.headers.takeDirty()
	if len(ended) == 0 {
		return nil
	}
	s.encMu.Lock()
	defer s.encMu.Unlock()
	now := s.cfg.now().UnixNano()
	frames := make([]*frame, 0, len(ended))
	for i := range ended {
		buf := s.free.get()
		*buf = s.enc.AppendStoreTrace((*buf)[:0], &ended[i], []tracing.TraceEvent{})
		frames = append(frames, s.finish(buf, frameStore, 0, true, now))
	}
	return frames
}
