package query

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// Sentinel errors of the package, for errors.Is.
var (
	// ErrClosed is wrapped by the errors of calls on a closed Client and
	// is the Err of the subscriptions it ended.
	ErrClosed = errors.New("query: client closed")
	// ErrConnectionLost is wrapped by the error of a call whose connection
	// dropped before its reply came, more often than it may be resent.
	ErrConnectionLost = errors.New("query: connection lost")
	// ErrUnexpectedReply is wrapped by the error of a call the server
	// answered with a reply of the wrong type.
	ErrUnexpectedReply = errors.New("query: unexpected reply")
)

// maxSends is how many times a call is sent, on as many connections,
// before it fails with ErrConnectionLost.
const maxSends = 3

// Client reads traces from a Reflow tracing server and subscribes to its
// event stream. It is safe for concurrent use; see the package doc. Make
// one with Dial: the zero Client is not ready to use.
type Client struct {
	url   string // redacted, for logs and errors
	dialU string
	cfg   *config
	log   *zap.Logger

	mu       sync.Mutex
	cur      *conn // the ready connection, nil while reconnecting or down
	gen      transport.Protocol
	downErr  error         // why the last reconnection gave up
	changed  chan struct{} // closed and replaced when cur or downErr changes
	closed   bool
	subs     map[*Subscription]struct{}
	reconnec chan struct{} // asks the reader to try again after giving up

	stop     context.Context
	stopFunc context.CancelFunc
	done     chan struct{} // closed when the reader goroutine exits
}

// Dial connects to the server at rawURL (ws:// or wss://) and learns its
// generation. It makes one attempt, bounded by ctx and WithDialTimeout;
// later reconnections follow the retry policy. The Client must be closed.
func Dial(ctx context.Context, rawURL string, opts ...Option) (*Client, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: url: %w", ErrInvalidOption, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("%w: url %s: scheme %q, want ws or wss", ErrInvalidOption, u.Redacted(), u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w: url %s: no host", ErrInvalidOption, u.Redacted())
	}
	c := &Client{
		url:      u.Redacted(),
		dialU:    u.String(),
		cfg:      cfg,
		log:      cfg.log.With(zap.String("url", u.Redacted())),
		changed:  make(chan struct{}),
		subs:     map[*Subscription]struct{}{},
		reconnec: make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	c.stop, c.stopFunc = context.WithCancel(context.Background())
	c.cur, c.gen = cn, cn.gen
	c.log.Info("connected", zap.Stringer("generation", cn.gen))
	go c.run(cn)
	return c, nil
}

// Protocol reports the generation of the server, as learned by the probe
// of the newest connection: transport.ProtocolV1 or transport.ProtocolV2.
func (c *Client) Protocol() transport.Protocol {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// Close closes the connection, ends every subscription (their Err is
// ErrClosed) and stops the reader goroutine; calls waiting for a reply
// return an error wrapping ErrClosed. Safe to call more than once; later
// calls return nil.
func (c *Client) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cn := c.cur
	c.broadcastLocked()
	for s := range c.subs {
		c.endSubLocked(s, ErrClosed)
	}
	c.mu.Unlock()
	c.stopFunc()
	if cn != nil {
		cn.close()
	}
	<-c.done
	c.log.Info("closed")
	return nil
}

// dial opens a WebSocket connection.
func (c *Client) dial(ctx context.Context) (*websocket.Conn, net.Conn, error) {
	tlsCfg := c.cfg.tls
	if tlsCfg == nil {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	var sock net.Conn // the TCP connection, under TLS if any
	nd := &net.Dialer{}
	tr := &http.Transport{
		TLSClientConfig:   tlsCfg,
		ForceAttemptHTTP2: false,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := nd.DialContext(ctx, network, addr)
			sock = nc
			return nc, err
		},
	}
	defer tr.CloseIdleConnections()
	ws, resp, err := websocket.Dial(ctx, c.dialU, &websocket.DialOptions{
		HTTPClient: &http.Client{
			Transport: tr,
			// A redirect could carry the credentials elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		HTTPHeader: c.cfg.header,
	})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return nil, nil, retry.Permanent(fmt.Errorf("query: dial %s: %s: %w", c.url, resp.Status, err))
		}
		return nil, nil, fmt.Errorf("query: dial %s: %w", c.url, err)
	}
	ws.SetReadLimit(compress.MaxMessageSize + 1<<20)
	return ws, sock, nil
}

// connect dials, probes the generation and renews the subscriptions, all
// within the dial timeout. It reads the connection itself until then: the
// reader loop starts once the connection is ready.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.dialTimeout)
	defer cancel()
	ws, sock, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	cn := newConn(ws, sock, c.log)
	fail := func(what string, err error) (*conn, error) {
		_ = ws.CloseNow()
		return nil, fmt.Errorf("query: %s %s: %w", what, c.url, err)
	}
	// The probe: GetTrace of the zero id reads and changes nothing; a
	// generation-2 server echoes the request id.
	rid := wire.NewRequestID()
	resp, err := c.exchange(ctx, cn, wire.GetTrace{RequestID: rid})
	if err != nil {
		return fail("probe", err)
	}
	td, ok := resp.(wire.TraceData)
	if !ok {
		return fail("probe", fmt.Errorf("%w %T", ErrUnexpectedReply, resp))
	}
	cn.gen = transport.ProtocolV1
	if td.RequestID == rid {
		cn.gen = transport.ProtocolV2
	}
	if req := c.subscriptionRequest(); req != nil {
		resp, err := c.exchange(ctx, cn, req)
		if err == nil {
			err = checkAck(resp)
		}
		if err != nil {
			return fail("resubscribe", err)
		}
		c.mu.Lock()
		for s := range c.subs {
			if s.acked { // not one whose Subscribe still waits
				s.resubscribed.Add(1)
			}
		}
		c.mu.Unlock()
	}
	return cn, nil
}

// exchange sends req on a connection the reader loop does not read yet
// and reads until its reply, dispatching notifications.
func (c *Client) exchange(ctx context.Context, cn *conn, req wire.TracingRequest) (wire.TracingResponse, error) {
	cn.buf = cn.enc.AppendRequest(cn.buf[:0], req)
	if err := cn.ws.Write(ctx, websocket.MessageText, cn.buf); err != nil {
		return nil, err
	}
	for {
		resp, err := cn.readFrame(ctx)
		if err != nil {
			return nil, err
		}
		if n, ok := resp.(wire.EventNotification); ok {
			c.dispatch(&n)
			continue
		}
		return resp, nil
	}
}

// run is the reader goroutine: it reads the ready connection, and
// reconnects when it drops, until Close.
func (c *Client) run(cn *conn) {
	defer close(c.done)
	for {
		if h := c.cfg.onConnect; h != nil {
			h()
		}
		err := c.read(cn)
		// Unpublish the connection before failing its calls, so that they
		// wait for the next one rather than find this one again.
		c.mu.Lock()
		if c.cur == cn {
			c.cur = nil
			c.broadcastLocked()
		}
		closed := c.closed
		c.mu.Unlock()
		cn.fail(err)
		_ = cn.ws.CloseNow()
		cn.writes.Wait() // they end with the connection
		if closed {
			return
		}
		c.log.Warn("connection lost; reconnecting", zap.Error(err))
		if cn = c.reconnect(); cn == nil {
			return
		}
	}
}

// read dispatches the connection's messages until it fails.
func (c *Client) read(cn *conn) error {
	for {
		resp, err := cn.readFrame(context.Background())
		if err != nil {
			return err
		}
		if n, ok := resp.(wire.EventNotification); ok {
			c.dispatch(&n)
			continue
		}
		cn.deliver(resp)
	}
}

// reconnect connects again with the retry policy; when the policy gives up
// it ends the subscriptions and waits for a call to ask again. It returns
// the ready connection, or nil after Close.
func (c *Client) reconnect() *conn {
	for {
		var cn *conn
		err := c.cfg.policy.Do(c.stop, func(ctx context.Context) error {
			var err error
			cn, err = c.connect(ctx)
			return err
		}, append([]retry.Option{retry.WithLogger(c.log)}, c.cfg.retryOpts...)...)
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			if cn != nil {
				cn.close()
			}
			return nil
		}
		if err == nil {
			c.cur, c.gen, c.downErr = cn, cn.gen, nil
			c.broadcastLocked()
			c.mu.Unlock()
			c.log.Info("reconnected", zap.Stringer("generation", cn.gen))
			return cn
		}
		c.downErr = fmt.Errorf("query: reconnect: %w", err)
		for s := range c.subs {
			c.endSubLocked(s, c.downErr)
		}
		c.broadcastLocked()
		c.mu.Unlock()
		c.log.Error("reconnecting failed", zap.Error(err))
		select {
		case <-c.reconnec:
		case <-c.stop.Done():
			return nil
		}
	}
}

// broadcastLocked wakes the calls waiting for a connection. c.mu must be
// held.
func (c *Client) broadcastLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// ready returns the ready connection, waiting while the client reconnects.
// After the retry policy gave up, the first wait asks for another round;
// if that gives up too, ready returns its error.
func (c *Client) ready(ctx context.Context) (*conn, error) {
	asked := false
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return nil, ErrClosed
		case c.cur != nil && !c.cur.dead():
			cn := c.cur
			c.mu.Unlock()
			return cn, nil
		case c.downErr != nil && asked:
			err := c.downErr
			c.mu.Unlock()
			return nil, err
		case c.downErr != nil:
			asked = true
			c.downErr = nil
			select {
			case c.reconnec <- struct{}{}:
			default:
			}
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// roundTrip sends the request build returns and waits for its reply; when
// the connection drops first, it sends it again on the next one.
func (c *Client) roundTrip(ctx context.Context, build func(wire.RequestID) wire.TracingRequest) (wire.TracingResponse, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var last error
	for range maxSends {
		cn, err := c.ready(ctx)
		if err != nil {
			if last != nil && ctx.Err() != nil {
				return nil, fmt.Errorf("%w: %w", err, last)
			}
			return nil, err
		}
		cl, err := cn.send(ctx, c.cfg.writeTimeout, build)
		if err == nil {
			var resp wire.TracingResponse
			if resp, err = cl.wait(ctx); err == nil {
				if e, ok := resp.(wire.ErrorResponse); ok {
					return nil, e.Err()
				}
				return resp, nil
			}
		}
		if !errors.Is(err, ErrConnectionLost) {
			return nil, err
		}
		last = err
	}
	return nil, last
}
