package websocket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	cws "github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/internal/cork"
	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/dial"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// ErrPermanent is wrapped by connection failures that retrying cannot fix:
// the server refused the credentials (401, 403) or TLS failed (untrusted
// or mismatched certificate, refused client certificate).
var ErrPermanent = dial.ErrPermanent

// ErrRedirectRefused is wrapped, together with ErrPermanent, by the dial
// error when the server redirected the upgrade request to another scheme or
// host (host:port), or more than 10 times in a row. The sink never follows
// such a redirect.
var ErrRedirectRefused = dial.ErrRedirectRefused

var (
	errStopping   = errors.New("sink: websocket stopping")
	errRetryLater = errors.New("sink: websocket: waiting before resending")
)

// readLimit bounds a reply read, compressed or not: the protocol's largest
// message, with room for the frame around it.
const readLimit = compress.MaxMessageSize + 1<<20

// wsConn is one WebSocket connection and the goroutines that serve it.
type wsConn struct {
	c      *cws.Conn
	cork   *cork.Conn
	d      *dial.Dialer // the dialer that opened it
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	dead   chan struct{}
	once   sync.Once
	// retryLater is set (under WebSocket.mu) when the server answered a
	// retryable error: the next dial waits first. redialAfter, when set
	// instead (a StartTrace the server failed for the moment), is how
	// long: the server is up and answering, and the dial backoff would
	// hold every trace for a second or more.
	retryLater  bool
	redialAfter time.Duration
	// gen is the server's protocol generation, learned by probe before
	// any frame is sent.
	gen transport.Protocol
	// acks counts the replies that acknowledged a frame.
	acks atomic.Uint64
	// detect decodes the server's compressed replies (read loop only).
	detect compress.Detect
}

// run owns the connection: it dials with the retry policy, serves each
// connection until it is lost and redials, until Close stops it.
func (s *Sink) run() {
	defer s.bg.Done()
	defer close(s.done)
	waitFirst := false
	// Connections that deliver nothing (a server that accepts and then
	// drops them, or drops the first compressed frame) back off as dial
	// failures do, across rounds: only an acknowledgement resets it.
	idle := s.cfg.policy.NewBackOff(s.dialCtx)
	cur, refusedForGood := 0, 0 // the server dialed next; servers in a row that refused for good
	for {
		if s.isStopping() {
			return
		}
		var c *wsConn
		skip := waitFirst
		err := s.cfg.policy.Do(s.dialCtx, func(ctx context.Context) error {
			if s.isStopping() {
				return retry.Permanent(errStopping)
			}
			if skip {
				skip = false
				return errRetryLater
			}
			var err error
			d := s.dialers[cur]
			c, err = s.open(ctx, d)
			s.reachable.Store(err == nil)
			if err == nil || len(s.dialers) == 1 {
				if errors.Is(err, ErrPermanent) {
					return retry.Permanent(err)
				}
				return err
			}
			// Fail over: the next dial goes to the next server. A server
			// that refuses for good is permanent only when all do.
			cur = (cur + 1) % len(s.dialers)
			if errors.Is(err, ErrPermanent) {
				if refusedForGood++; refusedForGood >= len(s.dialers) {
					return retry.Permanent(err)
				}
			} else {
				refusedForGood = 0
			}
			s.log.Warn("failing over", zap.String("from", d.URL()), zap.String("to", s.dialers[cur].URL()), zap.Error(err))
			return err
		}, append([]retry.Option{retry.WithLogger(s.log)}, s.cfg.retryOpts...)...)
		if err != nil {
			if s.isStopping() || s.dialCtx.Err() != nil {
				return
			}
			if errors.Is(err, ErrPermanent) {
				s.failPermanently(err)
				<-s.dialCtx.Done()
				return
			}
			s.giveUp(err)
			waitFirst = false
			continue
		}
		waitFirst = s.serve(c)
		refusedForGood = 0
		s.mu.Lock()
		redial := c.redialAfter
		s.mu.Unlock()
		if redial > 0 {
			t := time.NewTimer(redial)
			select {
			case <-t.C:
			case <-s.dialCtx.Done():
				t.Stop()
			}
			waitFirst = false
			continue
		}
		if len(s.dialers) > 1 && !s.isStopping() {
			// The connection was lost: the next server takes over.
			s.log.Warn("failing over", zap.String("from", s.dialers[cur].URL()), zap.String("to", s.dialers[(cur+1)%len(s.dialers)].URL()))
			cur = (cur + 1) % len(s.dialers)
		}
		if c.acks.Load() > 0 {
			idle.Reset()
			continue
		}
		d := idle.NextBackOff()
		if d == backoff.Stop {
			d = s.cfg.policy.DelayLimit()
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-s.dialCtx.Done():
			t.Stop()
		}
		waitFirst = false
	}
}

// open dials d and serves the connection with the sink's goroutines.
func (s *Sink) open(ctx context.Context, d *dial.Dialer) (*wsConn, error) {
	c, cc, err := d.Dial(ctx)
	if err != nil {
		return nil, err
	}
	// A reply may be larger than any frame the sink sends: a generation-2
	// server answers a GetTrace with every snapshot field (about 14% more
	// for data flows than the sink writes), and a trace stored by others
	// may be larger still. The limit is the protocol's largest message.
	c.SetReadLimit(readLimit)
	wc := &wsConn{c: c, cork: cc, d: d, dead: make(chan struct{})}
	wc.ctx, wc.cancel = context.WithCancel(s.runCtx)
	return wc, nil
}

func (s *Sink) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// failPermanently records a failure retrying cannot fix: Flush returns it,
// and frames stay queued (or spooled) until Close.
func (s *Sink) failPermanently(err error) {
	s.mu.Lock()
	s.permErr = err
	s.notifyLocked()
	s.mu.Unlock()
	s.log.Error("giving up connecting", zap.Error(err))
	if s.cfg.onError != nil {
		s.cfg.onError(err)
	}
}

// giveUp handles a failed round of reconnection attempts: frames waiting
// in memory are spooled or dropped (frames read from the spool stay).
func (s *Sink) giveUp(err error) {
	reach := fmt.Errorf("sink: websocket: cannot reach %s: %w", s.shownURL, err)
	s.mu.Lock()
	s.gaveUp++ // a Close waiting for the spool to drain stops waiting
	s.unreachable = reach
	s.notifyLocked()
	var frames []*frame
	for _, q := range []*fifo{&s.resend, &s.queue} {
		for _, f := range q.drain() {
			if f.spool.Valid() {
				s.resend.push(f)
				continue
			}
			frames = append(frames, f)
		}
	}
	events := 0 // read under s.mu: a store's count grows as its segment does
	for _, f := range frames {
		events += f.events
	}
	s.mu.Unlock()
	// Report before counting, so that whoever sees the drops in Stats also
	// finds the reason reported.
	s.report(reach, "reconnection attempts exhausted", zap.Int("events", events))
	for _, f := range frames {
		if s.spool != nil {
			s.spoolFrame(f)
			continue
		}
		s.drop(f, DropRetriesExhausted)
	}
}

// serve writes queued frames to c until c is lost or the sink stops. It
// reports whether the next dial should wait first (the server answered a
// retryable error).
func (s *Sink) serve(c *wsConn) (backoff bool) {
	s.mu.Lock()
	s.conn, s.connected = c, true
	s.notifyLocked()
	s.mu.Unlock()
	s.progress()
	if err := s.probeCompression(c); err != nil {
		if errors.Is(err, errCompressionRefused) {
			err = nil // reported once already, naming the algorithm
		}
		s.teardown(c, err)
		return true
	}
	if err := s.probe(c); err != nil {
		s.teardown(c, err)
		return true // a server that drops the probe is not redialed at once
	}
	if n := s.connects.Add(1); n > 1 {
		s.log.Warn("reconnected", zap.String("url", c.d.URL()), zap.Uint64("connections", n))
	} else {
		s.log.Info("connected", zap.String("url", c.d.URL()))
	}
	c.wg.Add(1)
	go s.readLoop(c)
	if s.cfg.keepalive > 0 {
		c.wg.Add(1)
		go s.keepalive(c)
	}
	defer func() {
		s.teardown(c, nil)
		c.wg.Wait()
		s.mu.Lock()
		backoff = c.retryLater
		s.mu.Unlock()
	}()
	var batch []*frame
	for {
		s.mu.Lock()
		if s.conn != c {
			s.mu.Unlock()
			return
		}
		if s.stopping {
			s.mu.Unlock()
			s.closeGracefully(c)
			return
		}
		// While the spool has records to replay, queued frames wait: they
		// are newer, and must not overtake a replayed record of their
		// trace. Records are read one at a time, once the last is taken.
		spoolFirst := s.spool != nil && s.spool.HasUnreplayed()
		batch = s.takeLocked(c, batch[:0], spoolFirst)
		room := s.windowRoomLocked()
		if len(batch) == 0 && spoolFirst && room && s.resend.len() == 0 {
			s.mu.Unlock()
			s.replay()
			continue
		}
		if len(batch) == 0 {
			ch := s.watchLocked()
			s.mu.Unlock()
			select {
			case <-ch:
			case <-c.dead:
			}
			s.mu.Lock()
			s.unwatchLocked()
			s.mu.Unlock()
			continue
		}
		s.mu.Unlock()
		if err := s.writeFrames(c, batch); err != nil {
			s.teardown(c, err)
			return
		}
		clear(batch)
	}
}

// closeWait bounds the wait for the server to end a connection closed
// with a normal closure: the reference server sends no close frame back,
// and a server that keeps the socket open would hold Close for the 5 s
// the WebSocket library waits.
const closeWait = time.Second

// closeGracefully ends c with a normal closure, waiting for the server's
// side at most closeWait, or until the sink is cancelled (Close's ctx
// ended); then it closes the TCP connection.
func (s *Sink) closeGracefully(c *wsConn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.c.Close(cws.StatusNormalClosure, "")
	}()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	case <-s.runCtx.Done():
	}
	// The library's CloseNow waits for the Close under way; closing the
	// socket ends both its write and its wait for the reply.
	if nc := c.socket(); nc != nil {
		_ = nc.Close()
	} else {
		_ = c.c.CloseNow()
	}
	<-done
}

// socket returns c's TCP connection, under TLS if any, or nil when the
// dialer gave none.
func (c *wsConn) socket() net.Conn {
	if c.cork == nil {
		return nil
	}
	nc := c.cork.Conn
	if t, ok := nc.(interface{ NetConn() net.Conn }); ok { // TLS
		nc = t.NetConn()
	}
	return nc
}

// windowRoomLocked reports whether another frame may be sent. s.mu must be
// held.
func (s *Sink) windowRoomLocked() bool {
	return s.inflight.len() < s.cfg.inflight && s.inflight.bytes < s.link.Window()
}

// streamedOnlyLocked reports whether f, a store of a streamed segment,
// is skipped on c: in ModeBoth, generation 2 keeps the streamed trace and
// a store would only be replaced at its EndTrace, so only the last one,
// after it, is sent; in ModeLive only that last one exists, and only
// generation 2 gets it, since generation 1 keeps nothing in live mode.
// s.mu must be held.
func (s *Sink) streamedOnlyLocked(c *wsConn, f *frame) bool {
	switch s.cfg.mode {
	case ModeBoth:
		return !f.final && c.gen == transport.ProtocolV2
	case ModeLive:
		return c.gen != transport.ProtocolV2
	}
	return false
}

// takeLocked moves the frames that fit in the window from resend (first)
// and queue (unless the spool goes first) to inflight, putting in the
// frames a streamed trace needs on c first (see websocket_stream.go).
// s.mu must be held.
func (s *Sink) takeLocked(c *wsConn, batch []*frame, spoolFirst bool) []*frame {
	// With frames in flight, wait until a quarter of the window is free, so
	// that frames leave in turns rather than one per acknowledgement.
	win := s.link.Window()
	if n := s.inflight.len(); n > 0 && (s.cfg.inflight-n < (s.cfg.inflight+3)/4 || win-s.inflight.bytes < win/4) {
		return batch
	}
	for {
		q := &s.resend
		if q.len() == 0 {
			if spoolFirst {
				break
			}
			q = &s.queue
		}
		f := q.peek()
		if f == nil {
			break
		}
		if superseded(f) {
			// A newer store of its segment carries its events.
			s.skipStoreLocked(q, f)
			continue
		}
		if g := f.seg; g != nil && g.recovering {
			// The recovery's store, built once the server has stored the
			// old connection's copy, carries f's events (and end); sent
			// now, f would be replaced by that copy, which may hold fewer.
			s.skipStoreLocked(q, f)
			continue
		}
		if g := f.seg; g != nil && !g.storeOnly.Load() && s.streamedOnlyLocked(c, f) {
			g.skippedN = max(g.skippedN, f.upto)
			if f.final {
				g.finalOut = false
			}
			s.skipStoreLocked(q, f)
			s.resolveSegLocked(g)
			continue
		}
		if f.stream != nil && (f.kind == frameRecord || f.kind == frameEnd) {
			switch s.streamActionLocked(c, f) {
			case streamSkip:
				q.pop()
				s.doneStreamLocked(c, f, false)
				s.untrackLocked(f)
				s.releaseLocked(f)
				continue
			case streamStart:
				st := s.startFrameLocked(c, f.stream)
				s.inflight.push(st)
				batch = append(batch, st)
				continue
			case streamRecover:
				rel, r := s.recoverLocked(f.stream)
				if c.gen == transport.ProtocolV2 {
					// Generation 1 has no EndTrace, and no trace in
					// flight to end.
					s.inflight.push(rel)
					batch = append(batch, rel)
				}
				s.inflight.push(r)
				batch = append(batch, r)
				continue // f is skipped on the next turn
			case streamWait:
				return s.tookLocked(batch)
			}
		}
		if s.inflight.len() >= s.cfg.inflight ||
			s.inflight.len() > 0 && s.inflight.bytes+f.size() > win {
			break
		}
		q.pop()
		if f.binary && int32(f.alg) != s.compAlg.Load() {
			// Compressed with an algorithm the server turned out not to
			// take: send its JSON as text.
			s.decompressLocked(f)
		}
		if f.sent {
			s.framesResent.Add(1)
			s.eventsResent.Add(uint64(f.events))
		}
		f.sent = true
		if f.seg != nil && f.seg.pending == f {
			f.seg.pending = nil
		}
		if f.spool.Valid() && f.kind == frameStore && c.gen == transport.ProtocolV2 {
			// A replayed store may be of a trace streamed on a connection
			// the server has not seen close yet: end that copy first, as
			// a recovery does, or the close would store it over f.
			if id, ok := storedTraceID(f.wire); ok {
				rel := s.releaseFrameForLocked(id)
				s.inflight.push(rel)
				batch = append(batch, rel)
			}
		}
		s.inflight.push(f)
		batch = append(batch, f)
	}
	return s.tookLocked(batch)
}

// skipStoreLocked removes f, a store of its segment at the head of q, without
// sending it. s.mu must be held.
func (s *Sink) skipStoreLocked(q *fifo, f *frame) {
	q.pop()
	if g := f.seg; g != nil && g.pending == f {
		g.pending = nil
	}
	s.untrackLocked(f)
	s.releaseLocked(f)
}

// decompressLocked turns binary f into a text frame of its JSON: its
// parts, or its wire bytes decompressed (f stays as it is when they do
// not decode). f must be in no queue. s.mu must be held.
func (s *Sink) decompressLocked(f *frame) {
	if f.parts != nil {
		s.dropZLocked(f)
		return
	}
	if raw, err := s.sendCodecs.Get(f.alg).DecodeRequest(nil, f.wire); err == nil {
		if f.buf != nil {
			s.free.Put(f.buf)
			f.buf = nil
		}
		f.wire, f.binary = raw, false
	}
}

func (s *Sink) tookLocked(batch []*frame) []*frame {
	if len(batch) > 0 {
		now := s.cfg.now().UnixNano()
		for _, f := range batch {
			f.sentAt = now // for the acknowledgement latency
		}
		s.notifyLocked() // room in the queue for Write
	}
	return batch
}

// replay reads spooled records into the resend queue while the window has
// room.
func (s *Sink) replay() {
	var cutoff time.Time
	if s.cfg.spoolMaxAge > 0 {
		cutoff = s.cfg.now().Add(-s.cfg.spoolMaxAge)
	}
	rec, ref, expired, ok := s.spool.Next(cutoff)
	s.noteSpoolLoss()
	if expired > 0 {
		s.mu.Lock()
		s.dropped[DropExpired] += uint64(expired)
		s.notifyLocked()
		s.mu.Unlock()
		s.droppedN.Add(uint64(expired))
		s.log.Warn("events dropped", zap.String("reason", DropExpired), zap.Int("events", expired))
	}
	if !ok {
		return
	}
	f := &frame{
		kind: frameStore, wire: rec.Data, rawLen: len(rec.Data), events: rec.Events,
		critical: rec.Critical, created: rec.Created.UnixNano(), spool: ref, binary: rec.Binary,
		v2: true, // written for a server of either generation
	}
	if bytes.HasPrefix(rec.Data, []byte(`{"RecordEvent"`)) {
		f.kind = frameRecord
	}
	if rec.Compressed {
		// Written by an earlier version: a size-prefixed LZ4 block.
		f.binary, f.alg, f.rawLen = true, compress.LZ4, 0
		raw, err := s.sendCodecs.Get(f.alg).DecodeRequest(nil, f.wire)
		if err != nil {
			s.report(fmt.Errorf("sink: spool: undecodable record: %w", err), "spool record dropped")
			s.drop(f, DropSpoolError)
			return
		}
		f.wire, f.rawLen, f.binary = raw, len(raw), false
	}
	s.mu.Lock()
	s.resend.push(f)
	s.mu.Unlock()
}

// writeFrames writes batch to c in one corked turn.
func (s *Sink) writeFrames(c *wsConn, batch []*frame) error {
	ctx, cancel := context.WithTimeout(c.ctx, s.cfg.writeTimeout)
	defer cancel()
	if c.cork != nil {
		c.cork.Cork(time.Now().Add(s.cfg.writeTimeout))
	}
	for _, f := range batch {
		typ := cws.MessageText
		if f.binary {
			typ = cws.MessageBinary
		}
		var err error
		if f.v2 && c.gen != transport.ProtocolV2 {
			err = s.writeV1(ctx, c, f)
		} else {
			err = writeFrame(ctx, c.c, typ, f)
		}
		if err != nil {
			if c.cork != nil {
				_ = c.cork.Uncork()
			}
			return fmt.Errorf("write: %w", err)
		}
		s.framesSent.Add(1)
		s.rawBytes.Add(uint64(f.rawLen))
		s.wireBytes.Add(uint64(f.size()))
	}
	if c.cork != nil {
		if err := c.cork.Uncork(); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}

// writeV1 writes f, which may hold events in the generation-2 form, to
// c's generation-1 server as a text message in the generation-1 form (see
// v1Form); f itself is left as it is, for a later connection or the
// spool. A frame that does not decode is written as it is: the server's
// error reply then counts its events.
func (s *Sink) writeV1(ctx context.Context, c *wsConn, f *frame) error {
	js, err := s.v1Form(f)
	if err != nil {
		s.report(fmt.Errorf("sink: websocket: rewriting a frame for a generation-1 server: %w", err), "frame not rewritten")
		typ := cws.MessageText
		if f.binary {
			typ = cws.MessageBinary
		}
		return writeFrame(ctx, c.c, typ, f)
	}
	return c.c.Write(ctx, cws.MessageText, js)
}

// v1Form returns f's request in the generation-1 form, which every server
// reads: the sink learned its server's generation after f was built, or
// f is sent to a server of the other generation than the one before (a
// failover server, an upgrade, a downgrade). It decodes and encodes the
// whole request, which only such a change of server costs. Only the
// sender goroutine calls it.
func (s *Sink) v1Form(f *frame) ([]byte, error) {
	var raw []byte
	switch {
	case f.parts != nil:
		raw = bytes.Join(f.parts, nil)
	case f.binary:
		var err error
		if raw, err = s.sendCodecs.Get(f.alg).DecodeRequest(nil, f.wire); err != nil {
			return nil, err
		}
	default:
		raw = f.wire
	}
	req, err := wire.DecodeRequest(raw)
	if err != nil {
		return nil, err
	}
	var enc wire.Encoder // the generation-1 form
	return enc.AppendRequest(raw[:0:0], req), nil
}

// writeFrame writes f as one message of type typ: its wire bytes, or its
// parts (or compressed parts) in turn, one WebSocket frame each, which the
// server joins into the message, so that a store is never copied into one
// buffer.
func writeFrame(ctx context.Context, c *cws.Conn, typ cws.MessageType, f *frame) error {
	parts := f.parts
	switch {
	case f.zparts != nil:
		parts = f.zparts
	case f.wire != nil:
		return c.Write(ctx, typ, f.wire)
	}
	w, err := c.Writer(ctx, typ)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if len(p) == 0 {
			continue
		}
		if _, err := w.Write(p); err != nil {
			_ = w.Close()
			return err
		}
	}
	return w.Close()
}

// teardown closes c at once and moves its unacknowledged frames to the
// front of the resend queue. Safe to call more than once.
func (s *Sink) teardown(c *wsConn, err error) {
	if c == nil {
		return
	}
	c.once.Do(func() {
		s.mu.Lock()
		unanswered := false
		if s.conn == c {
			unanswered = s.inflight.len() > 0
			s.conn, s.connected = nil, false
			if len(s.outstanding) == 0 {
				// An idle sink was delivering all along: it is stalled from
				// now, not from its last acknowledgement.
				s.progress()
			}
			rest := s.resend.drain()
			for _, f := range append(s.inflight.drain(), rest...) {
				if f.kind == frameStart {
					// Built for this connection: the next one builds its
					// own. A recovery's GetTrace is asked again.
					continue
				}
				s.resend.push(f)
			}
			s.notifyLocked()
		}
		stopping := s.stopping
		s.mu.Unlock()
		close(c.dead)
		c.cancel()
		if unanswered {
			c.resetOnClose()
		}
		_ = c.c.CloseNow()
		if err != nil && !stopping && s.runCtx.Err() == nil {
			s.report(c.d.Redact(fmt.Errorf("sink: websocket: connection to %s lost: %w", c.d.URL(), err)), "connection lost")
		}
	})
}

// resetOnClose makes the closing of c's TCP connection a reset, for a
// connection given up on with frames unanswered: the operating system
// then discards what it still holds to send, where a normal close would
// go on delivering those frames, possibly after the sink has sent them
// again on a new connection, and a late StoreTrace would replace the
// newer copy the server keeps.
func (c *wsConn) resetOnClose() {
	if t, ok := c.socket().(interface{ SetLinger(sec int) error }); ok {
		_ = t.SetLinger(0)
	}
}

// readLoop reads the server's replies on c and matches each with the
// oldest frame in flight. Pushed EventNotifications are skipped.
func (s *Sink) readLoop(c *wsConn) {
	defer c.wg.Done()
	var buf bytes.Buffer
	var dec []byte
	for {
		typ, r, err := c.c.Reader(c.ctx)
		if err != nil {
			s.teardown(c, err)
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			s.teardown(c, err)
			return
		}
		data := buf.Bytes()
		if typ == cws.MessageBinary {
			dec, _, err = c.detect.DecodeReply(dec[:0], data)
			if err != nil {
				s.teardown(c, fmt.Errorf("undecodable compressed reply: %w", err))
				return
			}
			data = dec
		}
		if err := s.handleReply(c, data); err != nil {
			s.teardown(c, err)
			return
		}
	}
}

var (
	prefixStored   = []byte(`{"TraceStored":`)
	prefixRecorded = []byte(`{"EventRecorded":{"success":true`)
	prefixStarted  = []byte(`{"TraceStarted":`)
)

// handleReply acknowledges or rejects the oldest frame in flight. An error
// closes the connection.
func (s *Sink) handleReply(c *wsConn, data []byte) error {
	if bytes.HasPrefix(data, prefixStored) || bytes.HasPrefix(data, prefixRecorded) || bytes.HasPrefix(data, prefixStarted) {
		return s.ack(c)
	}
	resp, err := wire.DecodeResponse(data)
	if err != nil {
		return fmt.Errorf("undecodable reply: %w", err)
	}
	switch r := resp.(type) {
	case wire.EventNotification:
		return nil
	case wire.TraceStored, wire.TraceStarted:
		return s.ack(c)
	case wire.TraceData:
		q, err := s.ackQuery(c)
		if err != nil {
			return err
		}
		s.recoveryReply(c, q, r)
		return nil
	case wire.EventRecorded:
		if r.Success {
			return s.ack(c)
		}
		return s.reject(c, &wire.ServerError{Code: "Failed", Message: r.Error})
	case wire.ErrorResponse:
		return s.reject(c, r.Err())
	default:
		return fmt.Errorf("unexpected reply %T to a %s", resp, "request")
	}
}

// ack resolves the oldest frame in flight as delivered.
func (s *Sink) ack(c *wsConn) error {
	s.mu.Lock()
	if s.conn != c {
		s.mu.Unlock()
		return errStopping
	}
	f := s.inflight.pop()
	if f == nil {
		s.mu.Unlock()
		return errors.New("reply with no request in flight")
	}
	s.framesAcked.Add(1)
	c.acks.Add(1)
	s.noteAckLatency(f)
	if g := f.seg; g != nil {
		if f.final {
			g.finalOut = false
		}
		if f.upto > g.ackedN && !g.lost.Load() {
			s.eventsDelivered.Add(uint64(f.upto - g.ackedN))
			g.ackedN = f.upto
			s.deliveredLocked(g)
		}
		s.resolveSegLocked(g)
	} else if f.stream != nil {
		if f.kind == frameRecord && !f.stream.lost.Load() {
			s.eventsDelivered.Add(1)
		}
		s.doneStreamLocked(c, f, true)
	} else {
		s.eventsDelivered.Add(uint64(f.events))
		if f.kind == frameStore || !s.cfg.mode.store() {
			s.acked.Add(uint64(f.events))
		}
	}
	s.progress()
	s.settleLocked(f)
	s.notifyLocked()
	s.mu.Unlock()
	return nil
}

// settleLocked is done with f, answered by the server: its spool record
// is acknowledged, Flush stops waiting for it and its buffers go back.
// s.mu must be held.
func (s *Sink) settleLocked(f *frame) {
	if f.spool.Valid() {
		s.spool.Ack(f.spool)
	}
	s.untrackLocked(f)
	s.releaseLocked(f)
}

// ackQuery resolves the oldest frame in flight, which must be a recovery
// GetTrace, and returns it.
func (s *Sink) ackQuery(c *wsConn) (*frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c {
		return nil, errStopping
	}
	f := s.inflight.peek()
	if f == nil || f.kind != frameQuery {
		return nil, errors.New("TraceData reply to a request that is not a GetTrace")
	}
	s.inflight.pop()
	s.framesAcked.Add(1)
	s.notifyLocked()
	return f, nil
}

// reject handles an error reply to the oldest frame in flight: a retryable
// code puts the frame back and closes the connection, so it is resent after
// a backoff; any other code drops the frame and counts it.
func (s *Sink) reject(c *wsConn, serr *wire.ServerError) error {
	s.mu.Lock()
	if s.conn != c {
		s.mu.Unlock()
		return errStopping
	}
	f := s.inflight.peek()
	if f == nil {
		s.mu.Unlock()
		return fmt.Errorf("error reply with no request in flight: %w", serr)
	}
	if f.kind == frameRelease {
		// The GetTrace behind it finds out whether the id is still in
		// flight.
		s.inflight.pop()
		s.settleLocked(f)
		s.notifyLocked()
		s.mu.Unlock()
		return nil
	}
	if f.kind == frameQuery {
		// A recovery asks the server for the trace; without an answer it
		// stores the trace all the same.
		s.inflight.pop()
		s.mu.Unlock()
		s.recoveryReply(c, f, serr)
		return nil
	}
	limit, limited := s.cfg.policy.Retries()
	if serr.Retryable() && (!limited || f.attempts < limit) {
		f.attempts++
		if f.kind == frameStart {
			// The frames behind it need the trace open: start again on
			// a new connection, after a backoff. The trace was not
			// opened on this one, so it is started again there, not
			// recovered: those frames opened it lazily on a
			// generation-2 server, where it hides what is stored under
			// its id until a StartTrace replaces it.
			g := f.stream
			if g.startedOn == c {
				g.startedOn = nil
			}
			// Redial soon, doubling the wait with each StartTrace of the
			// segment that failed, up to the policy's MaxDelay.
			g.startFails++
			d := serverErrorDelay << min(g.startFails, 20)
			if m := s.cfg.policy.DelayLimit(); d > m {
				d = m
			}
			c.redialAfter = d
			s.mu.Unlock()
			return fmt.Errorf("server error, will resend: %w", serr)
		}
		// Only this frame is sent again, after a backoff; the connection
		// and the frames behind it go on.
		s.inflight.pop()
		s.parkLocked(f)
		s.mu.Unlock()
		s.logRetry(serr)
		return nil
	}
	s.inflight.pop()
	code := string(serr.Code)
	if f.stream != nil && f.kind == frameRecord {
		// One event, and its trace goes on. In ModeBoth, and in ModeLive on
		// generation 2, the segment's stores still carry the event: it
		// stays unacknowledged, so it is counted only if they are lost
		// or rejected too (loseSegLocked), as rejected. Otherwise it is
		// dropped alone.
		if !s.cfg.mode.store() && c.gen != transport.ProtocolV2 {
			s.rejected[code]++
			s.dropped[DropRejected]++
			s.droppedN.Add(1)
		} else {
			g := f.stream
			if g.recRejected == nil {
				g.recRejected = make(map[string]int, 1)
			}
			g.recRejected[code]++
		}
		s.doneStreamLocked(c, f, false)
		s.untrackLocked(f)
		s.releaseLocked(f)
		s.mu.Unlock()
		s.report(fmt.Errorf("sink: websocket: server rejected an event: %w", serr), "event rejected", zap.String("code", code))
		return nil
	}
	if g := f.seg; g != nil && f.build < g.builds && !g.lost.Load() {
		// A newer store of the segment, built before this reply came,
		// carries f's events: the server keeps the segment whole if it
		// takes that one, and its reply decides their fate.
		s.settleLocked(f)
		s.resolveSegLocked(g)
		s.notifyLocked()
		s.mu.Unlock()
		s.report(fmt.Errorf("sink: websocket: server rejected a store that a newer one replaces: %w", serr), "store rejected", zap.String("code", code))
		return nil
	}
	n := f.events
	if f.seg != nil {
		n = f.seg.unackedLocked()
		if f.seg.lost.Load() {
			n = 0
		}
	}
	s.rejected[code] += uint64(n)
	s.dropLocked(f, DropRejected)
	s.mu.Unlock()
	err := fmt.Errorf("sink: websocket: server rejected %d events: %w", n, serr)
	s.report(err, "events rejected", zap.String("code", code))
	return nil
}

// keepalive pings the server every interval and closes c when a pong does
// not come within the timeout.
func (s *Sink) keepalive(c *wsConn) {
	defer c.wg.Done()
	t := time.NewTicker(s.cfg.keepalive)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(c.ctx, s.cfg.keepaliveTO)
		err := c.c.Ping(ctx)
		cancel()
		if err != nil {
			if c.ctx.Err() == nil {
				s.teardown(c, fmt.Errorf("keepalive: no pong within %v: %w", s.cfg.keepaliveTO, err))
			}
			return
		}
	}
}

// serverErrorDelay is the first wait before a frame answered with a
// retryable error is sent again; it grows by as much with each further
// error of the same frame, up to the retry policy's MaxDelay. It is short
// because the server is up and answering: such errors come one message at
// a time.
const serverErrorDelay = time.Millisecond

// parkLocked holds f, answered with a retryable error, for a backoff
// before it joins the resend queue. s.mu must be held.
func (s *Sink) parkLocked(f *frame) {
	d := serverErrorDelay * time.Duration(min(f.attempts, 1000))
	if m := s.cfg.policy.DelayLimit(); d > m {
		d = m
	}
	d += time.Duration(rand.Int64N(int64(d)/4 + 1)) // jitter: frames parked together spread out
	if g := f.stream; g != nil {
		g.parked++
	}
	s.parkedMem += f.mem()
	s.parked[f] = time.AfterFunc(d, func() { s.unpark(f) })
}

// unpark moves f from the parked frames to the resend queue.
func (s *Sink) unpark(f *frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.parked[f]; !ok {
		return // Close took it
	}
	delete(s.parked, f)
	if g := f.stream; g != nil {
		g.parked--
	}
	s.parkedMem -= f.mem()
	s.resend.push(f)
	s.notifyLocked()
}

// takeParkedLocked stops the parking timers and returns the parked
// frames, for Close. s.mu must be held.
func (s *Sink) takeParkedLocked() []*frame {
	out := make([]*frame, 0, len(s.parked))
	for f, t := range s.parked {
		t.Stop()
		out = append(out, f)
		if g := f.stream; g != nil {
			g.parked--
		}
	}
	clear(s.parked)
	s.parkedMem = 0
	return out
}

// retryLogEvery spaces the warnings about retryable server errors, which
// can come with every frame.
const retryLogEvery = 10 * time.Second

func (s *Sink) logRetry(serr *wire.ServerError) {
	n := s.retried.Add(1)
	now := s.cfg.now().UnixNano()
	last := s.retryLogAt.Load()
	if now-last < int64(retryLogEvery) || !s.retryLogAt.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("server errors: resending the frames after a backoff", zap.Error(serr), zap.Uint64("frames_so_far", n))
}
