package tracetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/internal/cork"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// conn is one client connection. Its handler goroutine (run) reads,
// serves and queues replies in order; writeLoop sends them.
type conn struct {
	s      *Server
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	codec  *codec       // nil with compression off; handler goroutine only
	enc    wire.Encoder // handler goroutine only
	cork   *cork.Conn
	out    chan outMsg
	wdone  chan struct{}
	gone   chan struct{} // closed once the handler is done with the connection

	omu     sync.Mutex // guards oclosed and sending on out
	oclosed bool

	// started are the trace ids the connection started in text frames, in
	// order (duplicates kept). Server.mu guards it.
	started []tracing.TraceID

	smu  sync.Mutex // guards sub and nenc
	sub  *wire.SubscriptionFilters
	nenc wire.Encoder // for notifications, which other connections push
}

func (c *conn) kill() {
	c.cancel()
	_ = c.ws.CloseNow()
}

func (c *conn) run() {
	go c.writeLoop()
	defer func() {
		// Send the replies queued so far, then close.
		c.closeOut()
		<-c.wdone
		c.kill()
	}()
	var buf bytes.Buffer
	for {
		c.s.mu.Lock()
		stall := c.s.stall
		c.s.mu.Unlock()
		if stall != nil {
			select {
			case <-stall:
			case <-c.ctx.Done():
				return
			}
		}
		typ, r, err := c.ws.Reader(c.ctx)
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
				c.s.mu.Lock()
				c.s.normalCloses++
				c.s.notifyLocked()
				c.s.mu.Unlock()
			}
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(io.LimitReader(r, maxFrame+1)); err != nil || buf.Len() > maxFrame {
			// Over the limit (or broken): the reference server drops the
			// connection without a close frame.
			return
		}
		if !c.handle(typ == websocket.MessageBinary, buf.Bytes()) {
			return
		}
	}
}

// handle serves one message; false drops the connection.
func (c *conn) handle(binary bool, data []byte) bool {
	s := c.s
	s.mu.Lock()
	s.total++
	if s.dropAfter > 0 {
		s.dropAfter--
		if s.dropAfter == 0 {
			s.notifyLocked()
			s.mu.Unlock()
			return false
		}
	}
	dropAck := false
	if s.dropAck > 0 {
		s.dropAck--
		dropAck = s.dropAck == 0
	}
	s.mu.Unlock()

	if binary {
		// The reference server decompresses a binary frame with its
		// algorithm (compression off: takes it as it is) and reads it as
		// UTF-8 text; when either fails it drops the connection without a
		// reply.
		if c.codec != nil {
			out, err := c.codec.decode(data)
			if err != nil || len(out) > maxMessage {
				return false
			}
			data = out
		}
	}
	if !utf8.Valid(data) {
		// Binary: as above. Text: the WebSocket library refuses a text
		// message that is not UTF-8 before the server sees it.
		return false
	}
	// Counted as the reference counts it: once it is a message to handle.
	s.mu.Lock()
	s.metrics.messagesReceived++
	s.mu.Unlock()
	resp := c.serve(data, binary)
	return c.reply(resp, dropAck)
}

// reply waits for the ack gate or delay, then queues resp to leave after
// the reply latency, or drops the connection when drop is set.
func (c *conn) reply(resp wire.TracingResponse, drop bool) bool {
	s := c.s
	s.mu.Lock()
	gate, delay, latency := s.gate, s.delay, s.latency
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-c.ctx.Done():
			return false
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return false
		}
	}
	if drop {
		return false
	}
	b := c.enc.AppendResponse(nil, resp)
	typ := websocket.MessageText
	if c.codec != nil && len(b) > replyCompressMin {
		out, err := c.codec.encode(b)
		if err != nil {
			return false
		}
		b, typ = out, websocket.MessageBinary
	}
	var due time.Time
	if latency != nil {
		if d := latency(); d > 0 {
			due = time.Now().Add(d)
		}
	}
	s.mu.Lock()
	s.metrics.messagesSent++
	s.mu.Unlock()
	return c.queue(outMsg{typ: typ, data: b, due: due}) == nil
}

// notify pushes ev to c if c subscribed with matching filters. Pushes are
// always text frames, and a push to a connection whose queue is full is
// skipped, as the reference server skips a busy subscriber.
func (c *conn) notify(traceID tracing.TraceID, ev *tracing.TraceEvent) {
	c.smu.Lock()
	f := c.sub
	var b []byte
	if f != nil && subscribed(f, ev) {
		b = c.nenc.AppendResponse(nil, wire.EventNotification{TraceID: traceID, Event: *ev})
	}
	c.smu.Unlock()
	if b == nil {
		return
	}
	c.omu.Lock()
	defer c.omu.Unlock()
	if c.oclosed {
		return
	}
	select {
	case c.out <- outMsg{typ: websocket.MessageText, data: b}:
	default:
	}
}

// subscribed applies the filters the reference server applies: actor ids
// and event types (flow ids and statuses are not checked).
func subscribed(f *wire.SubscriptionFilters, ev *tracing.TraceEvent) bool {
	if f.ActorIDs != nil {
		ok := false
		for _, a := range f.ActorIDs {
			if a == ev.ActorID {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if f.EventTypes != nil {
		ok := false
		for _, t := range f.EventTypes {
			if t == ev.Type {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// queue hands one frame to the connection's writer.
func (c *conn) queue(m outMsg) error {
	c.omu.Lock()
	defer c.omu.Unlock()
	if c.oclosed {
		return errors.New("tracetest: connection closing")
	}
	select {
	case c.out <- m:
		return nil
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

type outMsg struct {
	typ  websocket.MessageType
	data []byte
	due  time.Time // not sent before (SetReplyLatency); zero: at once
}

// closeOut stops the queue of replies; the writer sends what is queued and
// exits.
func (c *conn) closeOut() {
	c.omu.Lock()
	defer c.omu.Unlock()
	if !c.oclosed {
		c.oclosed = true
		close(c.out)
	}
}

// writeLoop sends the queued frames in order, as many as are queued (and
// due) in one corked write.
func (c *conn) writeLoop() {
	defer close(c.wdone)
	failed := false
	send := func(m outMsg) {
		if failed {
			return
		}
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		defer cancel()
		if err := c.ws.Write(ctx, m.typ, m.data); err != nil {
			failed = true
			c.kill()
		}
	}
	cork := func() {
		if c.cork != nil {
			c.cork.Cork(time.Now().Add(10 * time.Second))
		}
	}
	uncork := func() {
		if c.cork != nil && c.cork.Uncork() != nil && !failed {
			failed = true
			c.kill()
		}
	}
	for m := range c.out {
		if !c.waitDue(m.due) {
			failed = true
		}
		cork()
		send(m)
	drain:
		for {
			select {
			case m2, ok := <-c.out:
				if !ok {
					break drain
				}
				if time.Now().Before(m2.due) {
					// Send what is written before waiting for this one.
					uncork()
					if !c.waitDue(m2.due) {
						failed = true
					}
					cork()
				}
				send(m2)
			default:
				break drain
			}
		}
		uncork()
	}
}

// waitDue waits until due (at once for a zero or past time); false if the
// connection ended first.
func (c *conn) waitDue(due time.Time) bool {
	d := time.Until(due)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}
