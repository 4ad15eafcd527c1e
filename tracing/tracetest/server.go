package tracetest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/internal/cork"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// Limits of the reference server (PROTOCOL.md, "Transport limits").
const (
	// replyCompressMin is the reply size above which a server with
	// compression on sends the reply compressed, in a binary frame.
	replyCompressMin = 1024
	// maxFrame is the largest frame the server reads. Clients send one
	// message per frame, so it is enforced on whole messages: a message over
	// it drops the connection.
	maxFrame = 16 << 20
	// maxMessage bounds a decompressed message.
	maxMessage = 64 << 20
)

// Generation is the generation of the reference server a Server behaves
// like (PROTOCOL.md, "Two generations").
type Generation int

// The server generations.
const (
	// Gen1 is Reflow 0.2's server: StartTrace picks an id and stores
	// nothing, RecordEvent is only forwarded to subscribers, only StoreTrace
	// keeps events (the default).
	Gen1 Generation = 1
	// Gen2 is the newer server: client-owned StartTrace ids, RecordEvent
	// appended to in-flight traces, EndTrace, request ids.
	Gen2 Generation = 2
)

// String returns "gen1" or "gen2".
func (g Generation) String() string {
	switch g {
	case Gen1:
		return "gen1"
	case Gen2:
		return "gen2"
	}
	return fmt.Sprintf("Generation(%d)", int(g))
}

// ErrInvalidOption is wrapped by Start's error for an option value it
// cannot use.
var ErrInvalidOption = errors.New("tracetest: invalid option")

// Option configures a Server.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	addr        string
	gen         Generation
	compression bool
	algorithm   transport.CompressionAlgorithm
	maxTraces   int
	fastScan    bool
	tls         *tls.Config
	keyHdr      string
	key         string
}

// WithAddr listens on addr (a loopback host:port) instead of
// 127.0.0.1:0, for example to come back on the port of a stopped server.
func WithAddr(addr string) Option { return optionFunc(func(c *config) { c.addr = addr }) }

// WithGeneration makes the server behave like the reference server of
// generation g. Default: Gen1.
func WithGeneration(g Generation) Option { return optionFunc(func(c *config) { c.gen = g }) }

// WithCompression configures the server's compression algorithm (one of
// transport.CompressionZstd, CompressionLZ4, CompressionGzip,
// CompressionBrotli; CompressionAuto is invalid): binary frames are
// decompressed with it, and direct replies longer than 1024 bytes are sent
// compressed with it in binary frames (lz4 without the size prefix). A
// binary frame that does not decompress gets no reply and drops the
// connection. Default: compression off, where a binary frame is read as
// uncompressed JSON text, as the reference server does.
func WithCompression(alg transport.CompressionAlgorithm) Option {
	return optionFunc(func(c *config) { c.compression, c.algorithm = true, alg })
}

// WithMaxTraces bounds the stored traces: storing one more evicts the
// stored trace with the oldest start time. Default: DefaultMaxTraces, the
// reference memory backend's capacity.
func WithMaxTraces(n int) Option { return optionFunc(func(c *config) { c.maxTraces = n }) }

// WithFastScan skips the full decode of StoreTrace and RecordEvent
// messages: the server reads only their trace id and event ids, for
// benchmarks where a full decode would make the server the bottleneck. The
// storage semantics are the same (a StoreTrace replaces the stored trace
// whole; on Gen2 a RecordEvent appends to its in-flight trace), so Kept
// and KeptInTrace still tell what the server keeps; the traces returned
// (and sent in replies) carry only the event ids, and StoreTrace keeps
// only the trace id of its trace. Invalid messages are not detected.
func WithFastScan(on bool) Option { return optionFunc(func(c *config) { c.fastScan = on }) }

// WithTLS serves wss:// with cfg.
func WithTLS(cfg *tls.Config) Option { return optionFunc(func(c *config) { c.tls = cfg }) }

// WithAPIKey requires header to carry key on the upgrade request and
// answers 401 otherwise.
func WithAPIKey(header, key string) Option {
	return optionFunc(func(c *config) { c.keyHdr, c.key = header, key })
}

func (c *config) validate() error {
	if c.gen != Gen1 && c.gen != Gen2 {
		return fmt.Errorf("%w: generation %d: want Gen1 or Gen2", ErrInvalidOption, int(c.gen))
	}
	if c.maxTraces < 1 {
		return fmt.Errorf("%w: max traces %d: want at least 1", ErrInvalidOption, c.maxTraces)
	}
	if c.compression {
		if _, err := newCodec(c.algorithm); err != nil {
			return fmt.Errorf("tracetest: compression: %w", err)
		}
	}
	return nil
}

// RefuseMode is how the server refuses a connection.
type RefuseMode uint8

// The refuse modes.
const (
	// RefuseClose closes the TCP connection without an HTTP answer.
	RefuseClose RefuseMode = iota
	// Refuse503 answers 503 Service Unavailable.
	Refuse503
)

// Server is a Reflow tracing server for tests with the semantics of the
// reference server of one generation (see the package documentation), plus
// fault injection on command. All methods are safe for concurrent use.
type Server struct {
	cfg config
	pid uint32

	lmu   sync.Mutex // guards ln, srv, addr
	ln    net.Listener
	srv   *http.Server
	addr  string
	serve sync.WaitGroup // Serve goroutines and connection handlers

	mu      sync.Mutex
	closed  bool
	changed chan struct{}
	conns   map[*conn]struct{}
	store   store
	live    map[tracing.EventID]int // RecordEvent receipts per event id
	byKind  map[string]int          // messages received by kind
	metrics serverMetrics

	messages     int // data messages (StoreTrace, RecordEvent) received
	total        int // messages of any kind received
	connects     int
	refused      int
	normalCloses int
	headers      []http.Header

	dropAfter int // drop the connection when this many more messages arrive
	dropAck   int // drop the connection instead of replying to this message
	errEvery  int
	errCount  int
	errCode   wire.ErrorCode
	errMsg    string
	errNext   map[string]errNext // by message kind (see ErrorNext)
	refuseN   int
	refuseAll bool
	refuseHow RefuseMode
	gate      <-chan struct{}
	delay     time.Duration
	latency   func() time.Duration
	stall     chan struct{}

	closeDelay time.Duration
	lateCloses map[*conn]*time.Timer // closed connections whose close is not applied yet
}

// serverMetrics are the reference server's counters, answered to
// GetMetrics.
type serverMetrics struct {
	connectionsActive, connectionsTotal, messagesReceived, messagesSent uint64
	errorsTotal, tracesStored, tracesQueried                            uint64
}

// Start starts a server on 127.0.0.1:0 (or WithAddr). Close it when done.
// It returns an error wrapping ErrInvalidOption or ErrUnsupportedCompression
// for an option it cannot use.
func Start(ctx context.Context, opts ...Option) (*Server, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	s := &Server{
		changed: make(chan struct{}),
		conns:   make(map[*conn]struct{}),
		live:    make(map[tracing.EventID]int),
		byKind:  make(map[string]int),
		pid:     uint32(os.Getpid()),
	}
	s.cfg.addr = "127.0.0.1:0"
	s.cfg.gen = Gen1
	s.cfg.maxTraces = DefaultMaxTraces
	for _, o := range opts {
		o.apply(&s.cfg)
	}
	if err := s.cfg.validate(); err != nil {
		return nil, err
	}
	s.store = newStore(s.cfg.maxTraces)
	if err := s.listen(ctx, s.cfg.addr); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) listen(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("tracetest: listen %s: %w", addr, err)
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.addr = ln.Addr().String()
	ln = corkListener{ln}
	if s.cfg.tls != nil {
		ln = tls.NewListener(ln, s.cfg.tls)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.handle),
		ReadHeaderTimeout: 10 * time.Second,
		// Failed handshakes are what TLS tests provoke; tests read the
		// client's error, not the server's log.
		ErrorLog: log.New(io.Discard, "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	srv := s.srv
	s.serve.Add(1)
	go func() {
		defer s.serve.Done()
		_ = srv.Serve(ln)
	}()
	return nil
}

// URL returns ws://127.0.0.1:port (wss:// with TLS).
func (s *Server) URL() string {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.cfg.tls != nil {
		return "wss://" + s.addr
	}
	return "ws://" + s.addr
}

// Addr returns the host:port the server listens (or listened) on.
func (s *Server) Addr() string {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	return s.addr
}

// Stop closes the listener and every connection abruptly, as a network
// outage would, or the restart of a server whose storage persists: the
// recorded state is kept, and a generation-2 server finalises the traces
// the closed connections started, as on any disconnect. (A real server
// killed with the memory backend, its default, loses everything; a test
// of that starts a new Server.) It returns once the handlers
// of the connections it closed are done, so that a message they had
// already read is counted and kept before Stop returns, never after: what
// Stats and the readers show no longer changes until Restart. A
// connection whose handshake was under way is dropped too. Restart
// listens again.
func (s *Server) Stop() {
	s.lmu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.lmu.Unlock()
	if srv != nil {
		_ = srv.Close()
		// Close closes only the listeners Serve has started on: the port is
		// free for Restart when Stop returns, even if Serve has not begun.
		_ = ln.Close()
	}
	for _, c := range s.killConnections() {
		<-c.gone
	}
	// The closes SetCloseDelay holds back are applied now, so that the
	// state no longer changes until Restart.
	s.mu.Lock()
	for c, t := range s.lateCloses {
		if t.Stop() {
			s.serve.Done() // its callback will not run
		}
		s.disconnectLocked(c)
	}
	clear(s.lateCloses)
	s.notifyLocked()
	s.mu.Unlock()
}

// Restart listens again on the address of a stopped server.
func (s *Server) Restart(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s.lmu.Lock()
	running := s.srv != nil
	s.lmu.Unlock()
	if running {
		return errors.New("tracetest: restart: still running")
	}
	return s.listen(ctx, s.Addr())
}

// Close stops the server and waits for its goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.Stop()
	s.mu.Lock()
	if s.stall != nil {
		close(s.stall)
		s.stall = nil
	}
	s.gate = nil
	s.notifyLocked()
	s.mu.Unlock()
	s.serve.Wait()
}

// KillConnections closes every open connection at once, without a close
// frame. It does not wait for their handlers: a message a connection had
// already read may still be counted and kept after it returns (Stop
// waits).
func (s *Server) KillConnections() { s.killConnections() }

// killConnections closes every open connection and returns them.
func (s *Server) killConnections() []*conn {
	s.mu.Lock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.kill()
	}
	return cs
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// DropAfter closes the connection abruptly when the (n+1)-th message from
// now arrives, without handling it. One shot.
func (s *Server) DropAfter(n int) {
	s.mu.Lock()
	s.dropAfter = n + 1
	s.mu.Unlock()
}

// DropBeforeAck handles the n-th message from now (n ≥ 1; StoreTrace
// persists it) and closes the connection instead of replying. One shot.
func (s *Server) DropBeforeAck(n int) {
	s.mu.Lock()
	s.dropAck = n
	s.mu.Unlock()
}

// ErrorEvery answers every k-th StoreTrace or RecordEvent (counted from
// now) with an Error reply of the given code (the legacy shape when code is
// ""), without handling it. k ≤ 0 stops.
func (s *Server) ErrorEvery(k int, code wire.ErrorCode, message string) {
	s.mu.Lock()
	s.errEvery, s.errCount, s.errCode, s.errMsg = k, 0, code, message
	s.mu.Unlock()
}

// ErrorNext answers the next n messages of the given kind (its tag, such
// as "StartTrace" or "GetTrace") with an Error reply of the given code
// (the legacy shape when code is ""), without handling them. n ≤ 0 stops.
func (s *Server) ErrorNext(kind string, n int, code wire.ErrorCode, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.errNext == nil {
		s.errNext = make(map[string]errNext)
	}
	if n <= 0 {
		delete(s.errNext, kind)
		return
	}
	s.errNext[kind] = errNext{n: n, code: code, msg: message}
}

// errNext is what ErrorNext set for a kind of message.
type errNext struct {
	n    int
	code wire.ErrorCode
	msg  string
}

// RefuseNext refuses the next n connection attempts.
func (s *Server) RefuseNext(n int, how RefuseMode) {
	s.mu.Lock()
	s.refuseN, s.refuseHow = n, how
	s.mu.Unlock()
}

// SetRefusing refuses every connection attempt while on.
func (s *Server) SetRefusing(on bool, how RefuseMode) {
	s.mu.Lock()
	s.refuseAll, s.refuseHow = on, how
	s.mu.Unlock()
}

// SetAckGate makes the server receive from gate before sending each reply
// (nil removes it): a test releases acks one by one or all by closing it.
func (s *Server) SetAckGate(gate <-chan struct{}) {
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
}

// SetAckDelay waits d before sending each reply. For demos; tests use
// SetAckGate. The connection reads nothing while it waits, so a server
// with an ack delay answers at most one message per d on each connection,
// like a slow server; SetReplyLatency models a slow link instead.
func (s *Server) SetAckDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// SetReplyLatency delays every reply by what latency returns when it is
// called, once per reply as the message is handled, like a link whose
// round trip takes that long: the server goes on reading and handling the
// messages behind it (what it keeps changes at once), and each reply
// leaves no earlier than latency() after its message was handled, in
// order, so a reply never overtakes an earlier one. Pushed notifications
// queue behind the replies. latency may change what it returns at any
// time (to step the latency during a run) and is called from the
// connections' goroutines, so it must be safe for concurrent use; a nil
// latency, or one that returns zero or less, removes the delay.
func (s *Server) SetReplyLatency(latency func() time.Duration) {
	s.mu.Lock()
	s.latency = latency
	s.mu.Unlock()
}

// SetCloseDelay makes a generation-2 server notice the close of a
// connection d late, like a server under load or on the far side of a
// network partition: the traces the connection started stay in flight
// (GetTrace answers them as Running) for d after it ended, and are then
// stored as Completed, replacing whatever was stored under their ids
// meanwhile. It applies to the connections that end from now on; d ≤ 0
// removes the delay for them, and closes already held back are applied
// at their time. Stop and Close apply the held-back closes at once.
func (s *Server) SetCloseDelay(d time.Duration) {
	s.mu.Lock()
	s.closeDelay = d
	s.mu.Unlock()
}

// closeLateLocked applies c's close (see disconnectLocked) d from now. The
// timer's callback counts in serve, so that Close waits for one that
// runs. s.mu must be held.
func (s *Server) closeLateLocked(c *conn, d time.Duration) {
	if s.lateCloses == nil {
		s.lateCloses = make(map[*conn]*time.Timer)
	}
	s.serve.Add(1)
	s.lateCloses[c] = time.AfterFunc(d, func() {
		defer s.serve.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.lateCloses[c]; !ok {
			return // applied by Stop
		}
		delete(s.lateCloses, c)
		s.disconnectLocked(c)
		s.notifyLocked()
	})
}

// SetStalled stops (on) or resumes (off) reading from every connection: a
// stalled server answers neither messages nor pings, like a dead peer.
func (s *Server) SetStalled(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.stall == nil:
		s.stall = make(chan struct{})
	case !on && s.stall != nil:
		close(s.stall)
		s.stall = nil
	}
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	refuse := s.refuseAll || s.refuseN > 0
	if s.refuseN > 0 {
		s.refuseN--
	}
	how := s.refuseHow
	if refuse {
		s.refused++
		s.notifyLocked()
	}
	s.headers = append(s.headers, r.Header.Clone())
	s.mu.Unlock()
	if refuse {
		if how == Refuse503 {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	if s.cfg.key != "" && r.Header.Get(s.cfg.keyHdr) != s.cfg.key {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	// Count the connection before the handshake answers the client, so that
	// a client whose dial returned sees it in Stats.
	s.mu.Lock()
	s.connects++
	s.mu.Unlock()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		s.mu.Lock()
		s.connects--
		s.mu.Unlock()
		return
	}
	// The frame limit is applied by the reader, which drops the connection
	// without a close frame as the reference server does; this limit only
	// bounds what the library buffers.
	ws.SetReadLimit(maxFrame + 1)
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{s: s, ws: ws, ctx: ctx, cancel: cancel, out: make(chan outMsg, 1024), wdone: make(chan struct{}), gone: make(chan struct{})}
	if s.cfg.gen == Gen2 {
		// Replies in the generation-2 form: null for a metric that was not
		// measured, and every snapshot field, unset ones as their
		// defaults, so that a reply is as long as the reference server's
		// and crosses the compression threshold where its does.
		c.enc.Protocol = transport.ProtocolV2
		c.nenc.Protocol = transport.ProtocolV2
		c.enc.AllSnapshotFields = true
		c.nenc.AllSnapshotFields = true
	}
	if s.cfg.compression {
		c.codec, _ = newCodec(s.cfg.algorithm) // validated by Start
	}
	c.cork, _ = r.Context().Value(connKey{}).(*cork.Conn) // nil under TLS
	// A connection whose handshake ran while Stop closed its server is
	// refused here, under the lock Stop takes first, so that Stop either
	// sees it in conns or it never starts: none outlives the Stop.
	s.lmu.Lock()
	s.mu.Lock()
	if s.closed || s.srv == nil || s.srv != r.Context().Value(http.ServerContextKey) {
		s.mu.Unlock()
		s.lmu.Unlock()
		_ = ws.CloseNow()
		cancel()
		return
	}
	s.conns[c] = struct{}{}
	s.metrics.connectionsTotal++
	s.metrics.connectionsActive++
	s.serve.Add(1)
	s.notifyLocked()
	s.mu.Unlock()
	s.lmu.Unlock()
	defer s.serve.Done()
	c.run()
	s.mu.Lock()
	delete(s.conns, c)
	s.metrics.connectionsActive--
	if s.closeDelay > 0 && s.cfg.gen == Gen2 && len(c.started) > 0 {
		s.closeLateLocked(c, s.closeDelay)
	} else {
		s.disconnectLocked(c)
	}
	s.notifyLocked()
	s.mu.Unlock()
	close(c.gone)
}

// disconnectLocked applies generation 2's rule for a closed connection:
// every trace id it started (in text frames) that is in flight now is
// stored with status Completed. As on the reference server, this goes by
// id, whoever holds the in-flight trace now: when another connection
// started the same id again, or events opened it lazily, before c's close
// was seen, c's close stores that trace as it stands and later events of
// the id open a new one.
func (s *Server) disconnectLocked(c *conn) {
	if s.cfg.gen != Gen2 {
		return
	}
	now := time.Now().UTC()
	for _, id := range c.started {
		if s.store.end(id, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}, now) {
			s.metrics.tracesStored++
		}
	}
	c.started = nil
}

type corkListener struct{ net.Listener }

func (l corkListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return cork.New(c), nil
}

type connKey struct{}
