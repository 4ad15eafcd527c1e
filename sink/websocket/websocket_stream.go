package websocket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/dial"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// The live modes stream a trace as RecordEvents. A generation-1 server only
// forwards them to its subscribers. A generation-2 server also appends them
// to the trace, once a StartTrace on the connection opened it, and stores
// the trace at EndTrace or when that connection closes. So on a
// generation-2 connection the sender puts a StartTrace (a text frame, since
// a trace started in a binary frame is not the connection's) before the
// first RecordEvent of each trace, and the EndTrace the sink queues when
// the trace ends or its segment is full goes out; on a generation-1
// connection the EndTrace is skipped.
//
// A reconnect must not let the server replace what it keeps with less: the
// old connection's trace is stored as it was when that connection closed,
// and a StartTrace with the same id would open a new, empty trace that
// replaces it at EndTrace. So a trace started on an earlier connection is
// recovered instead. The server stores a connection's traces when it
// notices the close, which may be much later (a loaded server, a
// half-open connection), and then replaces whatever is stored under their
// ids. So the sender ends the old connection's in-flight copy itself, with
// an EndTrace on the new connection (the server ends a trace by id, not by
// connection, and its late close then finds nothing in flight to store),
// asks for the trace (GetTrace) until the server has stored that copy,
// then stores all its events with one StoreTrace (the sink keeps them for
// this), and from then on the trace continues by StoreTrace, as in store
// mode. Frames of the old connection that the server reads only after
// that EndTrace open the id again; the sender watches the trace a while
// after the store, and ends and stores it again when it finds it so (see
// watchReply).

// recoveryPolls bounds the GetTraces that wait for the server to store a
// trace of a closed connection; recoveryPollEvery spaces them.
const (
	recoveryPolls     = 100
	recoveryPollEvery = 20 * time.Millisecond
)

// watchEvery spaces the GetTraces of a watch (see watchReply), which lasts
// at most watchFor.
const (
	watchEvery = 200 * time.Millisecond
	watchFor   = 30 * time.Second
)

// streamAction is what the sender does with a frame of a streamed trace.
type streamAction uint8

const (
	streamSend    streamAction = iota // send it
	streamSkip                        // resolve it without sending
	streamStart                       // send a StartTrace first, then it
	streamRecover                     // recover the trace first; skip it
	streamWait                        // send nothing more now
)

// streamActionLocked decides what to do with f, a RecordEvent or EndTrace
// of a streamed segment, on c. s.mu must be held.
func (s *Sink) streamActionLocked(c *wsConn, f *frame) streamAction {
	g := f.stream
	if g.storeOnly.Load() {
		return streamSkip // a StoreTrace carries its events
	}
	// A segment that moves between servers of different generations
	// (failover, or a server replaced) is recovered as after any
	// reconnect: from then on StoreTraces of all its events carry it. A
	// generation-1 server forwards RecordEvents without keeping them in
	// the live modes, and in ModeBoth gets no store of a segment while a
	// generation-2 server kept it; a generation-2 server has none of the
	// events a generation-1 server got.
	if c.gen != transport.ProtocolV2 {
		if g.startedOn != nil {
			return streamRecover
		}
		g.streamedV1 = true
		if f.kind == frameEnd {
			return streamSkip // generation 1 has no EndTrace
		}
		return streamSend
	}
	switch g.startedOn {
	case c:
		if f.kind == frameEnd && (g.parked > 0 || g.recDone < g.recN) {
			// Its RecordEvents first, all of them answered: one answered
			// with an error after the EndTrace would reopen the trace.
			return streamWait
		}
		return streamSend
	case nil:
		if g.streamedV1 {
			return streamRecover
		}
		return streamStart
	}
	return streamRecover
}

// doneStreamLocked resolves a streamed frame of g as acknowledged (acked)
// or skipped. s.mu must be held.
func (s *Sink) doneStreamLocked(c *wsConn, f *frame, acked bool) {
	g := f.stream
	switch f.kind {
	case frameRecord:
		g.recDone++
		// A lost segment's events were counted as dropped when it was
		// given up (a StartTrace rejected for good, say): an answer to a
		// RecordEvent already on the wire does not count them again.
		if acked && !g.lost.Load() && (c.gen == transport.ProtocolV2 || !s.cfg.mode.store()) {
			g.recAcked++
			s.deliveredLocked(g)
		}
	case frameEnd:
		g.endDone++
	}
	s.resolveSegLocked(g)
}

// deliveredLocked counts g's newly acknowledged events once, whether a
// store or RecordEvents acknowledged them. s.mu must be held.
func (s *Sink) deliveredLocked(g *traceSeg) {
	if n := max(g.ackedN, g.recAcked); n > g.delivered {
		s.acked.Add(uint64(n - g.delivered))
		g.delivered = n
	}
}

// startFrameLocked builds the StartTrace that opens g on c. s.mu must be
// held.
func (s *Sink) startFrameLocked(c *wsConn, g *traceSeg) *frame {
	g.startedOn = c
	b := s.ctlEnc.AppendRequest(nil, wire.StartTrace{TraceID: g.id, FlowID: g.hdr.FlowID, Version: g.hdr.Version})
	return &frame{kind: frameStart, wire: b, rawLen: len(b), critical: true, created: s.cfg.now().UnixNano(), stream: g}
}

// queryFrameLocked builds the GetTrace of a recovery of g. s.mu must be
// held.
func (s *Sink) queryFrameLocked(g *traceSeg, polls int) *frame {
	b := s.ctlEnc.AppendRequest(nil, wire.GetTrace{TraceID: g.id, RequestID: wire.NewRequestID()})
	return &frame{kind: frameQuery, wire: b, rawLen: len(b), critical: true, created: s.cfg.now().UnixNano(), stream: g, attempts: polls}
}

// releaseFrameLocked builds the EndTrace that ends, on a generation-2
// server, the in-flight trace an earlier connection left under g's id, so
// that the server's close of that connection cannot store it later over
// the sink's store. Its status is Running: the store that follows carries
// the trace's own. It is a frame of no segment, and the server answers it
// whether or not the id is in flight. s.mu must be held.
func (s *Sink) releaseFrameLocked(g *traceSeg) *frame { return s.releaseFrameForLocked(g.id) }

// releaseFrameForLocked is releaseFrameLocked for the trace id. s.mu must
// be held.
func (s *Sink) releaseFrameForLocked(id tracing.TraceID) *frame {
	b := s.ctlEnc.AppendRequest(nil, wire.EndTrace{TraceID: id, Status: tracing.ExecutionStatus{Kind: tracing.StatusRunning}})
	return &frame{kind: frameRelease, wire: b, rawLen: len(b), critical: true, created: s.cfg.now().UnixNano()}
}

// storeTracePrefix starts a StoreTrace as the SDK's encoder writes it, the
// trace's id first.
var storeTracePrefix = []byte(`{"StoreTrace":{"trace":{"trace_id":"`)

// storedTraceID returns the id of the trace a StoreTrace's JSON stores.
func storedTraceID(js []byte) (tracing.TraceID, bool) {
	rest, ok := bytes.CutPrefix(js, storeTracePrefix)
	if !ok || len(rest) < 36 {
		return tracing.TraceID{}, false
	}
	id, err := tracing.ParseTraceID(string(rest[:36]))
	return id, err == nil
}

// recoverLocked starts the recovery of g, started on an earlier
// connection: it returns the frames to send, which end the old
// connection's copy and then ask the server for the trace. s.mu must be
// held.
func (s *Sink) recoverLocked(g *traceSeg) (release, query *frame) {
	g.storeOnly.Store(true)
	g.recovering = true
	s.log.Info("recovering a trace started on an earlier connection", zap.Stringer("trace_id", g.id))
	q := s.queryFrameLocked(g, 0)
	// Every Flush waits for the recovery's store, also one that began
	// before the recovery did (the frames that started it are skipped).
	s.trackAtLocked(q, 0)
	return s.releaseFrameLocked(g), q
}

// recoveryReply handles the server's answer to a recovery GetTrace q: while
// the trace is still the old connection's (running, not ended) it asks
// again a little later; then it stores all of g's events.
func (s *Sink) recoveryReply(c *wsConn, q *frame, resp any) {
	if q.watchUntil != 0 {
		s.watchReply(q, resp)
		return
	}
	g := q.stream
	td, ok := resp.(wire.TraceData)
	// Generation 1 keeps no trace in flight: a running trace it answers
	// is a stored one.
	inFlight := c.gen == transport.ProtocolV2 && ok && td.Trace != nil && td.Trace.Status.Kind == tracing.StatusRunning && td.Trace.EndTime.IsZero()
	if inFlight && q.attempts < recoveryPolls {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.stopping {
			s.untrackLocked(q)
			return
		}
		// Close stops the timer.
		s.polls[q] = time.AfterFunc(recoveryPollEvery, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if _, ok := s.polls[q]; !ok {
				return // stopped by Close
			}
			delete(s.polls, q)
			defer s.untrackLocked(q)
			if s.stopping {
				return
			}
			// Whichever connection is up next ends what opened the id
			// again and asks again.
			nq := s.queryFrameLocked(g, q.attempts+1)
			s.trackAtLocked(nq, q.epoch)
			s.resend.push(s.releaseFrameLocked(g))
			s.resend.push(nq)
			s.notifyLocked()
		})
		return
	}
	if inFlight {
		s.report(fmt.Errorf("sink: websocket: trace %s of a closed connection still not stored after %d polls; storing it anyway", g.id, recoveryPolls),
			"recovery wait exhausted")
	}
	// The encoder stays locked until the store is queued and the
	// recovery over: the sender skips every store of g built while g
	// recovers, so one built meanwhile (a Flush's, the trace end's) would
	// be skipped, and this one, older, dropped as superseded by it.
	s.encMu.Lock()
	defer s.encMu.Unlock()
	var f *frame
	if !g.lost.Load() {
		if g.dirtySince == 0 {
			g.dirtySince = s.cfg.now().UnixNano()
		}
		f = s.buildStore(g, s.cfg.now().UnixNano())
	}
	queued := f != nil && s.queueStore(f)
	s.mu.Lock()
	defer s.mu.Unlock()
	if queued {
		s.trackAtLocked(f, q.epoch)
		s.resend.push(f)
	}
	if !g.lost.Load() && c.gen == transport.ProtocolV2 {
		// Frames of the old connection the server reads late may open
		// the id again, and the server's close of it then stores them
		// over this store.
		s.watchLaterLocked(g, s.cfg.now().Add(watchFor).UnixNano())
	}
	g.recovering = false
	s.untrackLocked(q)
	s.resolveSegLocked(g)
	s.notifyLocked()
}

// watchLaterLocked asks the server for g again after watchEvery, for the
// watch that ends at until (Unix ns); g's events are kept meanwhile. s.mu
// must be held.
func (s *Sink) watchLaterLocked(g *traceSeg, until int64) {
	g.watching = true
	if t := s.watches[g]; t != nil {
		t.Stop()
	}
	s.watches[g] = time.AfterFunc(watchEvery, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.watches[g]; !ok {
			return // ended by Close
		}
		delete(s.watches, g)
		if s.stopping || g.lost.Load() {
			s.endWatchLocked(g)
			return
		}
		// Not tracked: a Flush waits for the store a watch queues, not
		// for the watch. Whichever connection is up next asks.
		q := s.queryFrameLocked(g, 0)
		q.watchUntil = until
		s.resend.push(q)
		s.notifyLocked()
	})
}

// endWatchLocked ends g's watch; its events are released once nothing
// else needs them. s.mu must be held.
func (s *Sink) endWatchLocked(g *traceSeg) {
	if t := s.watches[g]; t != nil {
		t.Stop()
		delete(s.watches, g)
	}
	g.watching = false
	s.resolveSegLocked(g)
	s.notifyLocked()
}

// watchReply handles the server's answer to a watch's GetTrace q. The
// recovery stored q's segment, but frames of the old connection that the
// server read late may have opened the id again (an in-flight trace that
// is not the segment's own), and the server's close of that connection
// stores it in place of the sink's store; no later store of the segment
// may come to replace it (the trace may have ended). So when the server
// answers such a trace in flight, the sender ends it and stores all the
// segment's events again, in that order on one connection; when it
// answers a stored trace that is not the segment's own, it stores them
// again; either way it goes on watching. Once the server answers the
// segment's own execution, the watch ends; it also ends at q.watchUntil.
func (s *Sink) watchReply(q *frame, resp any) {
	g := q.stream
	now := s.cfg.now().UnixNano()
	s.encMu.Lock()
	exec := g.hdr.ExecutionID
	s.encMu.Unlock()
	var t *tracing.FlowTrace
	if td, ok := resp.(wire.TraceData); ok {
		t = td.Trace
	}
	own := t != nil && t.ExecutionID == exec
	if own || now >= q.watchUntil {
		s.mu.Lock()
		s.endWatchLocked(g)
		s.mu.Unlock()
		return
	}
	if t == nil {
		s.mu.Lock()
		s.watchLaterLocked(g, q.watchUntil)
		s.mu.Unlock()
		return
	}
	inFlight := t.Status.Kind == tracing.StatusRunning && t.EndTime.IsZero()
	s.log.Info("storing again a recovered trace that an earlier connection's frames replaced", zap.Stringer("trace_id", g.id), zap.Bool("in_flight", inFlight))
	var f *frame
	s.encMu.Lock()
	if !g.lost.Load() {
		s.mu.Lock()
		// It repeats a store that was acknowledged: it must not be
		// skipped as superseded by it if its connection is lost.
		g.finalOut = true
		if inFlight {
			s.resend.push(s.releaseFrameLocked(g))
			// The store must follow the release, not replace an
			// earlier one in place.
			g.pending = nil
		}
		s.mu.Unlock()
		if g.dirtySince == 0 {
			g.dirtySince = now
		}
		f = s.buildStore(g, now)
	}
	s.encMu.Unlock()
	queued := f != nil && s.queueStore(f)
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.lost.Load() {
		s.endWatchLocked(g)
		return
	}
	if queued {
		s.track(f)
		s.resend.push(f)
	}
	s.watchLaterLocked(g, q.watchUntil)
	s.notifyLocked()
}

// recordFrame builds the RecordEvent of the event whose JSON is js, the
// latest event of g. Small frames share chunk, sized for the rest of the
// batch (left events); it returns the chunk to pass on. s.encMu must be
// held.
func (s *Sink) recordFrame(g *traceSeg, js []byte, critical bool, now int64, chunk []byte, left int) (*frame, []byte) {
	const head, tail = len(`{"RecordEvent":{"trace_id":"00000000-0000-0000-0000-000000000000","event":`), len("}}")
	n := head + len(js) + tail
	if s.cfg.compress && n >= s.cfg.compressMin {
		buf := s.free.Get()
		*buf = appendRecord((*buf)[:0], g.id, js)
		f := s.finish(buf, frameRecord, 1, critical, now)
		f.stream, f.v2 = g, s.enc.Protocol == transport.ProtocolV2
		s.countRecord(g)
		return f, chunk
	}
	if cap(chunk)-len(chunk) < n {
		chunk = make([]byte, 0, max(min(256<<10, n*left*9/8), n))
	}
	start := len(chunk)
	chunk = appendRecord(chunk, g.id, js)
	f := &frame{
		kind: frameRecord, wire: chunk[start:len(chunk):len(chunk)], rawLen: n,
		events: 1, critical: critical, created: now, stream: g, v2: s.enc.Protocol == transport.ProtocolV2,
	}
	s.countRecord(g)
	return f, chunk
}

func (s *Sink) countRecord(g *traceSeg) {
	s.mu.Lock()
	g.recN++
	s.mu.Unlock()
}

// appendRecord appends the RecordEvent of trace id and event JSON js.
func appendRecord(dst []byte, id tracing.TraceID, js []byte) []byte {
	dst = append(dst, `{"RecordEvent":{"trace_id":"`...)
	dst = append(dst, id.String()...)
	dst = append(dst, `","event":`...)
	dst = append(dst, js...)
	return append(dst, "}}"...)
}

// endFrame builds the EndTrace that stores streamed segment g with its
// header's status. s.encMu must be held.
func (s *Sink) endFrame(g *traceSeg, now int64) *frame {
	st := g.hdr.Status
	b := s.enc.AppendRequest(nil, wire.EndTrace{TraceID: g.id, Status: st})
	f := &frame{kind: frameEnd, wire: b, rawLen: len(b), critical: true, created: now, stream: g}
	s.mu.Lock()
	g.endN++
	// A store built after this frame must follow it, not replace an
	// earlier one in place.
	g.pending = nil
	s.mu.Unlock()
	return f
}

// probe learns the protocol generation of c's server with a GetTrace that
// reads nothing and changes nothing: a generation-2 server echoes its
// request id. It runs before c's read loop starts. A server that does not
// answer in time is taken for generation 1, which every server reads.
// Events are encoded in the form of the generation found last; a frame
// in the generation-2 form sent on a generation-1 connection is rewritten
// first (see writeFrames).
func (s *Sink) probe(c *wsConn) error {
	if s.cfg.protocol != transport.ProtocolAuto {
		c.gen = s.cfg.protocol
		return nil
	}
	// Every connection is probed: the sink may reconnect to a server of
	// the other generation (a failover server, an upgrade or a
	// downgrade), whose form of the events it must then write.
	gen, err := dial.ProbeProtocol(c.ctx, c.c, &c.detect, s.cfg.dialTimeout)
	c.gen = gen
	s.knownGen.Store(uint32(gen))
	if err != nil {
		return err
	}
	s.log.Debug("protocol probed", zap.Stringer("protocol", gen))
	return nil
}

// errCompressionRefused is the cause of a connection the server dropped on
// the compressed Ping of probeCompression.
var errCompressionRefused = errors.New("the server dropped the connection on the first compressed frame")

// probeCompression checks, when compression is on, that c's server takes
// binary frames of the sink's algorithm: it sends a compressed "Ping",
// which a server configured with the same algorithm answers and any other
// drops the connection on. With a configured algorithm a refusal is
// reported once, naming it, and the sink sends text frames from then on;
// with CompressionAuto the next connection tries the next algorithm, and
// after the last the sink sends text frames. It returns an error when c is
// lost.
func (s *Sink) probeCompression(c *wsConn) error {
	if !s.cfg.compress {
		return nil
	}
	alg := compress.Algorithm(s.cfg.alg)
	if s.cfg.alg == transport.CompressionAuto {
		s.mu.Lock()
		alg = s.autoNext
		s.mu.Unlock()
		if alg > compress.Brotli {
			return nil // none worked: text frames
		}
	} else if s.compAlg.Load() < 0 {
		return nil // refused before: text frames
	}
	pong, err := dial.PingCompressed(c.ctx, c.c, alg, s.cfg.dialTimeout)
	if pong {
		if s.compAlg.Swap(int32(alg)) != int32(alg) {
			s.log.Info("compression", zap.Stringer("algorithm", alg))
		}
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	// The server dropped the connection (or answered something else): it
	// is not configured with alg.
	if s.cfg.alg == transport.CompressionAuto {
		s.mu.Lock()
		s.autoNext = alg + 1
		s.mu.Unlock()
		s.compAlg.Store(-1)
		if alg == compress.Brotli {
			s.log.Warn("the server takes no compressed frame; sending text frames", zap.String("url", c.d.URL()))
		}
		return fmt.Errorf("compression probe %s: %w", alg, errCompressionRefused)
	}
	s.compAlg.Store(-1)
	s.report(fmt.Errorf("sink: websocket: compression algorithm %q: %w (%v): the server is not configured with it; sending text frames",
		alg, errCompressionRefused, err), "compression refused")
	return fmt.Errorf("compression probe %s: %w", alg, errCompressionRefused)
}

// spoolStream writes f's segment to the spool as one StoreTrace of all its
// events (a RecordEvent replayed by a later sink would open a trace of its
// own on a generation-2 server) and resolves f; the segment's other
// streamed frames are then skipped. It reports whether the events are on
// disk.
func (s *Sink) spoolStream(f *frame) bool {
	g := f.stream
	var st *frame
	// The encoder stays locked from the store's build until it is on
	// disk, as in spoolFrame: a store built in between would supersede it,
	// and its events would count as on disk without being there.
	s.encMu.Lock()
	if !g.lost.Load() {
		g.storeOnly.Store(true)
		if g.dirtySince == 0 {
			g.dirtySince = s.cfg.now().UnixNano()
		}
		st = s.buildStore(g, s.cfg.now().UnixNano())
	}
	s.mu.Lock()
	s.untrackLocked(f)
	s.releaseLocked(f)
	if st != nil {
		st.events = g.unackedLocked()
	}
	s.mu.Unlock()
	if st == nil {
		s.encMu.Unlock()
		return true // the segment went to disk with an earlier frame
	}
	ok, lost, err := s.spoolStoreLocked(st)
	s.encMu.Unlock()
	if err != nil {
		s.report(err, "spool write failed", zap.Int("events", lost))
	}
	return ok
}
