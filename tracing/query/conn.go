package query

import (
	"context"
	"errors"
	"fmt"
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
	ws  *websocket.Conn
	gen transport.Protocol
	log *zap.Logger

	wmu sync.Mutex // orders the pending list with the writes
	enc wire.Encoder
	buf []byte

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

// send writes the request build returns and registers its call. build runs
// with the write lock held, so requests that depend on shared state (the
// subscription filters) are written in the order that state changed.
func (cn *conn) send(writeTimeout time.Duration, build func(wire.RequestID) wire.TracingRequest) (*call, error) {
	cl := &call{rid: wire.NewRequestID(), ch: make(chan reply, 1)}
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	req := build(cl.rid)
	cn.pmu.Lock()
	if cn.err != nil {
		err := cn.err
		cn.pmu.Unlock()
		return nil, err
	}
	cn.pending = append(cn.pending, cl)
	cn.pmu.Unlock()
	cn.buf = cn.enc.AppendRequest(cn.buf[:0], req)
	// The write does not use the caller's ctx: its end would close the
	// connection every other call shares.
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := cn.ws.Write(ctx, websocket.MessageText, cn.buf); err != nil {
		err = fmt.Errorf("%w: write: %w", ErrConnectionLost, err)
		cn.fail(err)
		_ = cn.ws.CloseNow()
		return nil, err
	}
	return cl, nil
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
// closeTimeout.
func (cn *conn) close() {
	cn.fail(ErrClosed)
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
		_ = cn.ws.CloseNow()
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
