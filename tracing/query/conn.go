package query

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// closeTimeout bounds the wait for the server's close frame: the reference
// server sends none back.
const closeTimeout = time.Second

// conn is one WebSocket connection to the server, with the calls waiting
// for their replies in the order they were sent.
type conn struct {
	ws   *websocket.Conn
	sock net.Conn // ws's TCP connection, nil if unknown
	gen  transport.Protocol
	log  *zap.Logger

	// wsem holds a token while a request is built, registered and
	// written: it orders the pending list with the writes, and, being a
	// channel, lets a caller stop waiting for it when its ctx ends.
	wsem   chan struct{}
	writes sync.WaitGroup // the goroutines writing a request
	enc    wire.Encoder
	buf    []byte

	pmu     sync.Mutex
	pending []*call
	err     error // why the connection ended; set once

	detect compress.Detect // used by the one reading goroutine
}

// call is a request waiting for its reply.
type call struct {
	rid wire.RequestID
	ch  chan reply // capacity 1: the reader never waits
}

type reply struct {
	resp wire.TracingResponse
	err  error
}

// newConn returns the conn of ws, not yet read.
func newConn(ws *websocket.Conn, sock net.Conn, log *zap.Logger) *conn {
	return &conn{ws: ws, sock: sock, log: log, wsem: make(chan struct{}, 1)}
}

// send writes the request build returns and registers its call. build runs
// with the write token held, so requests that depend on shared state (the
// subscription filters) are written in the order that state changed. It
// returns ctx's error when ctx ends first, waiting for another call's
// write or for its own: a write is not abandoned (that would end the
// connection every call shares), it goes on within writeTimeout, and the
// call's reply, if one comes, is discarded.
func (cn *conn) send(ctx context.Context, writeTimeout time.Duration, build func(wire.RequestID) wire.TracingRequest) (*call, error) {
	select {
	case cn.wsem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	cl := &call{rid: wire.NewRequestID(), ch: make(chan reply, 1)}
	req := build(cl.rid)
	cn.pmu.Lock()
	if cn.err != nil {
		err := cn.err
		cn.pmu.Unlock()
		<-cn.wsem
		return nil, err
	}
	cn.pending = append(cn.pending, cl)
	cn.pmu.Unlock()
	cn.buf = cn.enc.AppendRequest(cn.buf[:0], req)
	written := make(chan error, 1)
	cn.writes.Add(1)
	go func() {
		defer cn.writes.Done()
		defer func() { <-cn.wsem }()
		written <- cn.write(writeTimeout, cn.buf)
	}()
	select {
	case err := <-written:
		if err != nil {
			return nil, err
		}
		return cl, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// write writes one request, within writeTimeout rather than the caller's
// ctx, whose end would close the connection; a failed write ends the
// connection.
func (cn *conn) write(writeTimeout time.Duration, frame []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := cn.ws.Write(ctx, websocket.MessageText, frame); err != nil {
		err = fmt.Errorf("%w: write: %w", ErrConnectionLost, err)
		cn.fail(err)
		_ = cn.ws.CloseNow()
		return err
	}
	return nil
}

// wait returns the reply of cl, or the end of ctx. An abandoned call stays
// registered; its reply is discarded when it comes.
func (cl *call) wait(ctx context.Context) (wire.TracingResponse, error) {
	select {
	case r := <-cl.ch:
		return r.resp, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// readFrame reads and decodes the next message of the server.
func (cn *conn) readFrame(ctx context.Context) (wire.TracingResponse, error) {
	typ, data, err := cn.ws.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: read: %w", ErrConnectionLost, err)
	}
	if typ == websocket.MessageBinary {
		if data, _, err = cn.detect.DecodeReply(nil, data); err != nil {
			return nil, fmt.Errorf("query: compressed reply: %w", err)
		}
	}
	resp, err := wire.DecodeResponse(data)
	if err != nil {
		return nil, fmt.Errorf("query: reply: %w", err)
	}
	return resp, nil
}

// deliver hands resp to the call it answers: the one whose request id the
// reply echoes, else the oldest one.
func (cn *conn) deliver(resp wire.TracingResponse) {
	rid := replyID(resp)
	cn.pmu.Lock()
	defer cn.pmu.Unlock()
	i := 0
	if !rid.IsZero() {
		for j, cl := range cn.pending {
			if cl.rid == rid {
				i = j
				break
			}
		}
	}
	if len(cn.pending) == 0 {
		cn.log.Warn("reply to no request", zap.String("reply", fmt.Sprintf("%T", resp)))
		return
	}
	cl := cn.pending[i]
	cn.pending = append(cn.pending[:i], cn.pending[i+1:]...)
	cl.ch <- reply{resp: resp}
}

// fail ends the connection's calls with err; later sends return it.
func (cn *conn) fail(err error) {
	cn.pmu.Lock()
	defer cn.pmu.Unlock()
	if cn.err != nil {
		return
	}
	if !errors.Is(err, ErrConnectionLost) && !errors.Is(err, ErrClosed) {
		err = fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	cn.err = err
	for _, cl := range cn.pending {
		cl.ch <- reply{err: err}
	}
	cn.pending = nil
}

// dead reports whether the connection has failed (its reader may not have
// noticed yet).
func (cn *conn) dead() bool {
	cn.pmu.Lock()
	defer cn.pmu.Unlock()
	return cn.err != nil
}

// close ends the connection with a normal closure, bounded by
// closeTimeout, or at once while a request's write is in flight (the
// close frame would wait for it, up to 5 s).
func (cn *conn) close() {
	cn.fail(ErrClosed)
	select {
	case cn.wsem <- struct{}{}:
		defer func() { <-cn.wsem }()
	default:
		_ = cn.ws.CloseNow()
		cn.writes.Wait()
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cn.ws.Close(websocket.StatusNormalClosure, "")
	}()
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		// The library's CloseNow waits for the Close under way, which
		// waits 5 s for the reply: closing the socket ends it now.
		if cn.sock != nil {
			_ = cn.sock.Close()
		} else {
			_ = cn.ws.CloseNow()
		}
		<-done
	}
}

// replyID is the request id a reply echoes, or zero.
func replyID(resp wire.TracingResponse) wire.RequestID {
	switch r := resp.(type) {
	case wire.TraceData:
		return r.RequestID
	case wire.QueryResults:
		return r.RequestID
	}
	return wire.RequestID{}
}
