package testserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/reflowtrace/reflowtrace-go/internal/cork"
	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/internal/lz4block"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// replyCompressMin is the reply size above which a server configured with
// lz4 compresses its replies, as the reference server does.
const replyCompressMin = 1024

// Option configures a Server.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	addr     string
	lz4      bool
	fastScan bool
	tls      *tls.Config
	keyHdr   string
	key      string
}

// WithAddr listens on addr (a loopback host:port) instead of
// 127.0.0.1:0, for example to come back on the port of a stopped server.
func WithAddr(addr string) Option { return optionFunc(func(c *config) { c.addr = addr }) }

// WithLZ4 configures the server's compression algorithm as lz4: it accepts
// binary frames holding a size-prefixed LZ4 block and compresses replies
// longer than 1024 bytes as a raw LZ4 block without the prefix. Default:
// off (binary frames are rejected as invalid, replies are text).
func WithLZ4(on bool) Option { return optionFunc(func(c *config) { c.lz4 = on }) }

// WithFastScan skips decoding StoreTrace and RecordEvent messages: the
// server only counts the "event_id" values it finds and replies. For
// benchmarks, where a full decode would make the server the bottleneck.
// Stored and Recorded stay empty; Events and Live count.
func WithFastScan(on bool) Option { return optionFunc(func(c *config) { c.fastScan = on }) }

// WithTLS serves wss:// with cfg.
func WithTLS(cfg *tls.Config) Option { return optionFunc(func(c *config) { c.tls = cfg }) }

// WithAPIKey requires header to carry key on the upgrade request and
// answers 401 otherwise.
func WithAPIKey(header, key string) Option {
	return optionFunc(func(c *config) { c.keyHdr, c.key = header, key })
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

// Server is a Reflow tracing server for tests: it speaks PROTOCOL.md like
// the reference server (replies in order, StoreTrace persists events by id,
// RecordEvent is forwarded to subscribers, legacy error shape for invalid
// messages) and injects faults on command. All methods are safe for
// concurrent use.
type Server struct {
	cfg config

	lmu   sync.Mutex // guards ln, srv, addr, stopped
	ln    net.Listener
	srv   *http.Server
	addr  string
	serve sync.WaitGroup // Serve goroutines and connection handlers

	mu           sync.Mutex
	changed      chan struct{}
	conns        map[*conn]struct{}
	events       map[tracing.EventID]int // StoreTrace receipts per event id
	live         map[tracing.EventID]int // RecordEvent receipts per event id
	stored       map[tracing.EventID]tracing.TraceEvent
	recorded     []tracing.TraceEvent
	traces       map[tracing.TraceID]*tracing.FlowTrace
	order        []tracing.TraceID
	messages     int // data messages (StoreTrace, RecordEvent) received
	total        int // messages of any kind received
	connects     int
	refused      int
	normalCloses int
	headers      []http.Header
	dropAfter    int // drop the connection when this many more messages arrive
	dropAck      int // drop the connection instead of replying to this message
	errEvery     int
	errCount     int
	errCode      tracing.ErrorCode
	errMsg       string
	refuseN      int
	refuseAll    bool
	refuseHow    RefuseMode
	gate         <-chan struct{}
	delay        time.Duration
	stall        chan struct{}
}

// Start starts a server on 127.0.0.1:0 (or WithAddr). Close it when done.
func Start(ctx context.Context, opts ...Option) (*Server, error) {
	s := &Server{
		changed: make(chan struct{}),
		conns:   make(map[*conn]struct{}),
		events:  make(map[tracing.EventID]int),
		live:    make(map[tracing.EventID]int),
		stored:  make(map[tracing.EventID]tracing.TraceEvent),
		traces:  make(map[tracing.TraceID]*tracing.FlowTrace),
	}
	s.cfg.addr = "127.0.0.1:0"
	for _, o := range opts {
		o.apply(&s.cfg)
	}
	if err := s.listen(ctx, s.cfg.addr); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) listen(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("testserver: listen %s: %w", addr, err)
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

// Stop closes the listener and every connection abruptly, as a killed
// server would; the recorded state is kept. Restart listens again.
func (s *Server) Stop() {
	s.lmu.Lock()
	srv := s.srv
	s.srv, s.ln = nil, nil
	s.lmu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
	s.KillConnections()
}

// Restart listens again on the address of a stopped server.
func (s *Server) Restart(ctx context.Context) error {
	s.lmu.Lock()
	running := s.srv != nil
	s.lmu.Unlock()
	if running {
		return errors.New("testserver: restart: still running")
	}
	return s.listen(ctx, s.Addr())
}

// Close stops the server and waits for its goroutines.
func (s *Server) Close() {
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
// frame.
func (s *Server) KillConnections() {
	s.mu.Lock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.kill()
	}
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
func (s *Server) ErrorEvery(k int, code tracing.ErrorCode, message string) {
	s.mu.Lock()
	s.errEvery, s.errCount, s.errCode, s.errMsg = k, 0, code, message
	s.mu.Unlock()
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
// SetAckGate.
func (s *Server) SetAckDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
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

// SetLZ4 switches the server's lz4 compression on or off.
func (s *Server) SetLZ4(on bool) {
	s.mu.Lock()
	s.cfg.lz4 = on
	s.mu.Unlock()
}

// Events returns how many times each event id arrived in a StoreTrace.
func (s *Server) Events() map[tracing.EventID]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[tracing.EventID]int, len(s.events))
	for k, v := range s.events {
		out[k] = v
	}
	return out
}

// Live returns how many times each event id arrived in a RecordEvent.
func (s *Server) Live() map[tracing.EventID]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[tracing.EventID]int, len(s.live))
	for k, v := range s.live {
		out[k] = v
	}
	return out
}

// Stored returns the persisted events by id (empty with WithFastScan).
func (s *Server) Stored() map[tracing.EventID]tracing.TraceEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[tracing.EventID]tracing.TraceEvent, len(s.stored))
	for k, v := range s.stored {
		out[k] = v
	}
	return out
}

// Recorded returns the events received in RecordEvent messages, in order
// (not persisted by the protocol; kept for tests). Empty with WithFastScan.
func (s *Server) Recorded() []tracing.TraceEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]tracing.TraceEvent(nil), s.recorded...)
}

// Trace returns the stored trace with its events, or nil.
func (s *Server) Trace(id tracing.TraceID) *tracing.FlowTrace {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.traces[id]
	if !ok {
		return nil
	}
	c := *t
	c.Events = append([]tracing.TraceEvent(nil), t.Events...)
	return &c
}

// Stats are the server's counters.
type Stats struct {
	// Messages counts StoreTrace and RecordEvent messages; Total every
	// message; Connects the accepted connections; Refused the refused ones.
	Messages, Total, Connects, Refused int
	// Headers are the upgrade requests' headers, in order.
	Headers []http.Header
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Messages: s.messages, Total: s.total, Connects: s.connects, Refused: s.refused,
		Headers: append([]http.Header(nil), s.headers...)}
}

// WaitFor waits until cond, called with the server's state locked through
// the Server's getters' data, returns true, or ctx ends. cond must only
// call the View's methods.
func (s *Server) WaitFor(ctx context.Context, cond func(v View) bool) error {
	for {
		s.mu.Lock()
		ok := cond(View{s})
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("testserver: wait: %w", ctx.Err())
		}
	}
}

// View reads the server's state inside WaitFor.
type View struct{ s *Server }

// Distinct returns how many distinct event ids arrived in StoreTrace.
func (v View) Distinct() int { return len(v.s.events) }

// DistinctLive returns how many distinct event ids arrived in RecordEvent.
func (v View) DistinctLive() int { return len(v.s.live) }

// Messages returns the StoreTrace and RecordEvent messages received.
func (v View) Messages() int { return v.s.messages }

// Connects returns the connections accepted.
func (v View) Connects() int { return v.s.connects }

// Refused returns the connection attempts refused.
func (v View) Refused() int { return v.s.refused }

// NormalCloses returns the connections the client closed with
// StatusNormalClosure.
func (v View) NormalCloses() int { return v.s.normalCloses }

// Conns returns the connections open now.
func (v View) Conns() int { return len(v.s.conns) }

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
	ws.SetReadLimit(lz4block.MaxMessageSize + 1<<20)
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{s: s, ws: ws, ctx: ctx, cancel: cancel, out: make(chan outMsg, 1024), wdone: make(chan struct{})}
	c.cork, _ = r.Context().Value(connKey{}).(*cork.Conn) // nil under TLS
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.serve.Add(1)
	s.notifyLocked()
	s.mu.Unlock()
	defer s.serve.Done()
	c.run()
	s.mu.Lock()
	delete(s.conns, c)
	s.notifyLocked()
	s.mu.Unlock()
}

// conn is one client connection.
type conn struct {
	s      *Server
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	enc    tracing.Encoder
	comp   lz4block.Compressor
	wmu    sync.Mutex // guards enc and comp
	cork   *cork.Conn
	out    chan outMsg
	wdone  chan struct{}

	omu     sync.Mutex // guards oclosed and sending on out
	oclosed bool

	smu sync.Mutex // guards sub
	sub *tracing.SubscriptionFilters
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
	var dec []byte
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
		if _, err := buf.ReadFrom(r); err != nil {
			return
		}
		data := buf.Bytes()
		if !c.handle(typ, data, &dec) {
			return
		}
	}
}

// handle serves one message; false closes the connection.
func (c *conn) handle(typ websocket.MessageType, data []byte, dec *[]byte) bool {
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
	lz4on := s.cfg.lz4
	s.mu.Unlock()

	if typ == websocket.MessageBinary {
		if !lz4on {
			return c.reply(tracing.ErrorResponse{Message: "Invalid message format"}, false)
		}
		out, err := lz4block.DecodePrefixed((*dec)[:0], data)
		if err != nil {
			return c.reply(tracing.ErrorResponse{Message: "Invalid message format"}, false)
		}
		*dec = out
		data = out
	}
	resp := c.serveMessage(data)
	return c.reply(resp, dropAck)
}

var (
	prefixStore  = []byte(`{"StoreTrace":`)
	prefixRecord = []byte(`{"RecordEvent":`)
	keyEventID   = []byte(`{"event_id":"`)
	keyTraceID   = []byte(`"trace_id":"`)
)

// serveMessage applies one request and returns its reply.
func (c *conn) serveMessage(data []byte) tracing.TracingResponse {
	s := c.s
	data = bytes.TrimSpace(data)
	isData := bytes.HasPrefix(data, prefixStore) || bytes.HasPrefix(data, prefixRecord)
	if isData {
		s.mu.Lock()
		inject := false
		if s.errEvery > 0 {
			s.errCount++
			if s.errCount%s.errEvery == 0 {
				inject = true
			}
		}
		code, msg := s.errCode, s.errMsg
		s.mu.Unlock()
		if inject {
			return tracing.ErrorResponse{Message: msg, Code: code}
		}
		if s.cfg.fastScan {
			return c.scan(data)
		}
	}
	req, err := tracing.DecodeRequest(data)
	if err != nil || usesCustomEventType(req) {
		return tracing.ErrorResponse{Message: "Invalid message format"}
	}
	switch r := req.(type) {
	case tracing.StoreTrace:
		s.mu.Lock()
		s.messages++
		t, ok := s.traces[r.Trace.TraceID]
		if !ok {
			t = &tracing.FlowTrace{}
			s.traces[r.Trace.TraceID] = t
			s.order = append(s.order, r.Trace.TraceID)
		}
		events := t.Events
		*t = r.Trace
		t.Events = events
		for _, ev := range r.Trace.Events {
			s.events[ev.EventID]++
			if _, dup := s.stored[ev.EventID]; dup {
				for i := range t.Events {
					if t.Events[i].EventID == ev.EventID {
						t.Events[i] = ev
					}
				}
			} else {
				t.Events = append(t.Events, ev)
			}
			s.stored[ev.EventID] = ev
		}
		s.notifyLocked()
		s.mu.Unlock()
		return tracing.TraceStored{TraceID: r.Trace.TraceID}
	case tracing.RecordEvent:
		s.mu.Lock()
		s.messages++
		s.live[r.Event.EventID]++
		s.recorded = append(s.recorded, r.Event)
		s.notifyLocked()
		subs := make([]*conn, 0, len(s.conns))
		for o := range s.conns {
			subs = append(subs, o)
		}
		s.mu.Unlock()
		for _, o := range subs {
			o.notify(r.TraceID, &r.Event)
		}
		return tracing.EventRecorded{Success: true}
	case tracing.StartTrace:
		return tracing.TraceStarted{TraceID: tracing.NewTraceID()}
	case tracing.GetTrace:
		if t := s.Trace(r.TraceID); t != nil {
			return tracing.TraceData{Trace: t}
		}
		return tracing.TraceData{}
	case tracing.QueryTraces:
		return s.query(&r.Query)
	case tracing.GetFlowVersions:
		return tracing.ErrorResponse{Message: "Flow versions not implemented", Code: tracing.CodeNotFound}
	case tracing.Ping:
		return tracing.Pong{}
	case tracing.Subscribe:
		f := r.Filters
		c.smu.Lock()
		c.sub = &f
		c.smu.Unlock()
		return tracing.EventRecorded{Success: true}
	case tracing.Unsubscribe:
		c.smu.Lock()
		c.sub = nil
		c.smu.Unlock()
		return tracing.EventRecorded{Success: true}
	case tracing.GetMetrics:
		st := s.Stats()
		data, _ := json.Marshal(map[string]int{
			"messages": st.Messages, "total": st.Total, "connections": st.Connects,
			"events": len(s.Events()),
		})
		return tracing.Metrics{Data: data}
	}
	return tracing.ErrorResponse{Message: "Invalid message format"}
}

// scan counts the event ids of a StoreTrace or RecordEvent without
// decoding it.
func (c *conn) scan(data []byte) tracing.TracingResponse {
	s := c.s
	store := bytes.HasPrefix(data, prefixStore)
	var traceID tracing.TraceID
	if store {
		if i := bytes.Index(data, keyTraceID); i >= 0 {
			traceID, _ = parseID(data[i+len(keyTraceID):])
		}
	}
	var ids [64]tracing.EventID
	n := 0
	flush := func() {
		s.mu.Lock()
		for _, id := range ids[:n] {
			if store {
				s.events[id]++
			} else {
				s.live[id]++
			}
		}
		s.mu.Unlock()
		n = 0
	}
	rest := data
	for {
		i := bytes.Index(rest, keyEventID)
		if i < 0 {
			break
		}
		rest = rest[i+len(keyEventID):]
		id, ok := parseID(rest)
		if !ok {
			continue
		}
		ids[n] = id
		n++
		if n == len(ids) {
			flush()
		}
	}
	flush()
	s.mu.Lock()
	s.messages++
	s.notifyLocked()
	s.mu.Unlock()
	if store {
		return tracing.TraceStored{TraceID: traceID}
	}
	return tracing.EventRecorded{Success: true}
}

// parseID reads a hyphenated UUID at the start of b.
func parseID(b []byte) ([16]byte, bool) {
	if len(b) < uuid.TextLen {
		return [16]byte{}, false
	}
	id, err := uuid.Parse(b[:uuid.TextLen])
	return id, err == nil
}

func (s *Server) query(q *tracing.TraceQuery) tracing.TracingResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []tracing.FlowTrace
	for _, id := range s.order {
		t := s.traces[id]
		if q.FlowID != "" && t.FlowID != q.FlowID {
			continue
		}
		if !q.ExecutionID.IsZero() && t.ExecutionID != q.ExecutionID {
			continue
		}
		if q.HasTimeRange && (t.StartTime.Before(q.TimeRange[0]) || t.StartTime.After(q.TimeRange[1])) {
			continue
		}
		if q.Status != nil && t.Status.Kind != q.Status.Kind {
			continue
		}
		c := *t
		c.Events = append([]tracing.TraceEvent{}, t.Events...)
		all = append(all, c)
	}
	total := uint64(len(all))
	off := min(q.Offset, total)
	all = all[off:]
	if q.Limit > 0 && uint64(len(all)) > q.Limit {
		all = all[:q.Limit]
	}
	if all == nil {
		all = []tracing.FlowTrace{}
	}
	return tracing.QueryResults{Traces: all, TotalCount: total}
}

// notify pushes ev to c if c subscribed with matching filters.
func (c *conn) notify(traceID tracing.TraceID, ev *tracing.TraceEvent) {
	c.smu.Lock()
	f := c.sub
	c.smu.Unlock()
	if f == nil || !matches(f, ev) {
		return
	}
	_ = c.write(tracing.EventNotification{TraceID: traceID, Event: *ev})
}

func matches(f *tracing.SubscriptionFilters, ev *tracing.TraceEvent) bool {
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
			if t.Kind == ev.Type.Kind && t.ToActor == ev.Type.ToActor && t.ToPort == ev.Type.ToPort && t.Name == ev.Type.Name {
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

// reply waits for the ack gate or delay, then sends resp, or drops the
// connection when drop is set.
func (c *conn) reply(resp tracing.TracingResponse, drop bool) bool {
	s := c.s
	s.mu.Lock()
	gate, delay := s.gate, s.delay
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
	return c.write(resp) == nil
}

// write queues resp for the connection's writer, compressed when the
// server uses lz4 and it is long.
func (c *conn) write(resp tracing.TracingResponse) error {
	c.s.mu.Lock()
	lz4on := c.s.cfg.lz4
	c.s.mu.Unlock()
	c.wmu.Lock()
	b := c.enc.AppendResponse(nil, resp)
	typ := websocket.MessageText
	if lz4on && len(b) > replyCompressMin {
		out, err := c.comp.AppendRaw(nil, b)
		if err != nil {
			c.wmu.Unlock()
			return err
		}
		b, typ = out, websocket.MessageBinary
	}
	c.wmu.Unlock()
	c.omu.Lock()
	defer c.omu.Unlock()
	if c.oclosed {
		return errors.New("testserver: connection closing")
	}
	select {
	case c.out <- outMsg{typ, b}:
		return nil
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

type outMsg struct {
	typ  websocket.MessageType
	data []byte
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

// writeLoop sends the queued replies in order, as many as are queued in
// one corked write.
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
	for m := range c.out {
		if c.cork != nil {
			c.cork.Cork(time.Now().Add(10 * time.Second))
		}
		send(m)
	drain:
		for {
			select {
			case m2, ok := <-c.out:
				if !ok {
					break drain
				}
				send(m2)
			default:
				break drain
			}
		}
		if c.cork != nil && c.cork.Uncork() != nil && !failed {
			failed = true
			c.kill()
		}
	}
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

// usesCustomEventType reports whether req holds a {"Custom":"name"} event
// type. The reference server has no such variant, so it cannot read the
// message at all; the decoder accepts it for servers that do, so this
// server rejects it itself.
func usesCustomEventType(req tracing.TracingRequest) bool {
	switch r := req.(type) {
	case tracing.StoreTrace:
		for i := range r.Trace.Events {
			if r.Trace.Events[i].Type.Kind == tracing.KindCustom {
				return true
			}
		}
	case tracing.RecordEvent:
		return r.Event.Type.Kind == tracing.KindCustom
	case tracing.Subscribe:
		for _, t := range r.Filters.EventTypes {
			if t.Kind == tracing.KindCustom {
				return true
			}
		}
	}
	return false
}
