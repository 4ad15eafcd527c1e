package websocket

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/adapt"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/chunks"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/dial"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/spool"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/traces"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// Reasons for dropped events, the keys of Stats.Dropped.
const (
	// DropOutageBufferFull: the memory limit (WithOutageBuffer) was reached
	// and Write's context ended while it waited for room.
	DropOutageBufferFull = "outage_buffer_full"
	// DropSpoolFull: the spool had reached its byte limit.
	DropSpoolFull = "spool_full"
	// DropExpired: the record was older than the spool's age limit.
	DropExpired = "expired"
	// DropTooLarge: the event alone does not fit in a frame.
	DropTooLarge = "too_large"
	// DropRetriesExhausted: a round of reconnection attempts failed and no
	// spool was set.
	DropRetriesExhausted = "retries_exhausted"
	// DropSpoolError: writing to the spool failed.
	DropSpoolError = "spool_error"
	// DropSpoolCorrupt: the spool record holding the events was damaged on
	// disk (counted where the damaged record still tells how many events
	// it held; see Stats.SpoolCorruptRecords for the records).
	DropSpoolCorrupt = "spool_corrupt"
	// DropClosed: the sink was closed before the events were acknowledged
	// and no spool was set.
	DropClosed = "closed"
	// DropRejected: the server rejected the events with a permanent error
	// (see Stats.Rejected for the codes).
	DropRejected = "rejected"
	// DropDegraded: a routine event shed while the sink was degraded, in
	// an outage with its buffer past the WithDegradeAt fill.
	DropDegraded = "degraded"
)

// Stats are the counters of a WebSocket sink. They never contain
// secrets.
type Stats struct {
	// FramesSent counts frames written, resends included; FramesAcked the
	// frames the server acknowledged; FramesResent the frames sent again
	// after a reconnect or a retryable error.
	FramesSent, FramesAcked, FramesResent uint64
	// EventsDelivered counts events in acknowledged frames (an event resent
	// and acknowledged twice counts twice); EventsResent the events in
	// resent frames.
	EventsDelivered, EventsResent uint64
	// Rejected counts events the server rejected, by error code ("" for an
	// error without a code, "Failed" for EventRecorded success:false).
	Rejected map[string]uint64
	// Dropped counts events not delivered, by reason (the Drop constants).
	Dropped map[string]uint64
	// RawBytes counts the JSON bytes of the frames sent; WireBytes the
	// bytes of their payloads on the wire (after compression).
	RawBytes, WireBytes uint64
	// Connects counts successful connections; Reconnects those after the
	// first.
	Connects, Reconnects uint64
	// Connected tells whether a connection is up now.
	Connected bool
	// InFlightFrames are sent and not acknowledged; QueuedFrames and
	// QueuedBytes wait in memory to be sent.
	InFlightFrames, QueuedFrames int
	QueuedBytes                  int
	// SpoolBytes and SpoolRecords are on disk and not acknowledged yet.
	SpoolBytes, SpoolRecords int64
	// AckLatency is the smoothed time from sending a frame to its
	// acknowledgement (0 before the first); WindowBytes the most bytes in
	// flight now (WithMaxInFlight, widened by WithAdaptiveWindow).
	AckLatency  time.Duration
	WindowBytes int
	// Degraded tells whether the sink keeps only critical events now
	// (WithDegradeAt).
	Degraded bool
	// SpoolCorruptRecords counts the spool records found damaged (a torn
	// or corrupt record, or a damaged range that may have held several)
	// and skipped, the healthy records around them being replayed;
	// SpoolLostEvents the events in them, where a damaged record still
	// tells how many it held (also counted in Dropped under
	// DropSpoolCorrupt). A damaged segment file is never deleted: once its
	// healthy records are delivered it is renamed to NNN.spool.damaged in
	// the spool directory, logged at Warn, and left for a person to
	// inspect and remove; later sinks ignore it.
	SpoolCorruptRecords, SpoolLostEvents int64
}

// Sink is a tracing.Sink that ships events to a Reflow tracing server
// over one WebSocket connection, speaking the Reflow tracing protocol, and
// keeps every event on servers of both generations, whose storage replaces
// a stored trace whole on every store.
//
// In store mode (the default) each trace's events are kept, as the JSON
// they were encoded to once, in segments: every StoreTrace of a segment
// carries all its events so far, so resends are harmless and nothing stored
// is replaced by less. Stores are spaced so that the bytes sent stay under
// three times the events' size, and a trace longer than one frame goes on
// in linked segments (wire.TagSegmentOf, wire.TagSegment). In the live modes each
// event is also one RecordEvent; on a generation-2 server the sink opens
// the trace with StartTrace and ends it with EndTrace, and recovers a trace
// after a reconnect. DESIGN.md tells the whole design.
//
// Write adds a batch to its segments and queues the frames that are due;
// it returns once they are queued, waiting only while the memory limit
// (WithOutageBuffer) is reached. A background goroutine keeps the
// connection (probing the server's generation and compression), writes
// queued frames with a bounded window of unacknowledged ones, and a read
// goroutine matches the server's replies with the frames in order. Frames
// not acknowledged when a connection is lost are resent on the next one; a
// frame answered with a retryable error is resent alone after a short
// backoff. While the server is unreachable frames wait in memory; when
// reconnecting gives up, and at Close, they go to the spool (WithSpoolDir)
// or are dropped and counted.
//
// # Concurrency
//
// Write is called by one goroutine at a time (the tracing client's
// consumer); Flush, Close, Stats and ObserveTrace are safe for concurrent
// use with it and with each other.
//
// # Shutdown
//
// Close sends what is queued, waits for the acknowledgements until its
// context ends, spools what is left when a spool is set, closes the
// connection with a normal closure and reports what was not delivered.
// After Close, Write and Flush return errors wrapping tracing.ErrClosed.
type Sink struct {
	cfg      *wsConfig
	log      *zap.Logger
	shownURL string         // without credentials or query, for logs and errors
	dialers  []*dial.Dialer // the server, then the failover servers

	encMu   sync.Mutex // guards enc, comp, segs, touched, evBuf
	enc     wire.Encoder
	codecs  compress.Codecs               // compresses frames
	compOut []byte                        // what codecs compress stores into
	segs    map[tracing.TraceID]*traceSeg // the current segment of each trace
	touched []*traceSeg
	evBuf   []byte
	free    chunks.Buffers
	deftr   tracing.FlowTrace
	headers traces.Cache

	spool *spool.Spool

	mu          sync.Mutex
	ctlEnc      wire.Encoder  // for frames the sender builds; guarded by mu
	changed     chan struct{} // closed and replaced on a change when waiters > 0
	waiters     int
	conn        *wsConn
	connected   bool
	resend      fifo                      // frames sent on a lost connection, sent first
	queue       fifo                      // frames not sent yet
	inflight    fifo                      // frames sent on conn and not acknowledged
	parked      map[*frame]*time.Timer    // answered with a retryable error, waiting to be resent
	watches     map[*traceSeg]*time.Timer // the next GetTrace of each watch (see watchReply)
	polls       map[*frame]*time.Timer    // the next GetTrace of each recovery, by its last (see recoveryReply)
	epoch       uint64
	outstanding map[uint64]int // frames per epoch not acknowledged, spooled or dropped
	permErr     error          // a permanent connection failure
	gaveUp      uint64         // rounds of reconnection attempts that gave up
	stopping    bool
	closed      atomic.Bool
	rejected    map[string]uint64
	dropped     map[string]uint64
	droppedN    atomic.Uint64 // sum of dropped, for Close's report
	reportedN   uint64        // of droppedN, what a Flush or Close already returned; guarded by mu
	unreachable error         // why the last round of reconnection attempts failed, until a drop report gives it; guarded by mu

	// compAlg is the compress.Algorithm frames are compressed with now,
	// or -1 for text frames (compression off, not found yet by the auto
	// probe, or refused by the server).
	compAlg atomic.Int32
	// autoNext is the next algorithm the auto probe tries (guarded by mu).
	autoNext compress.Algorithm
	// sendCodecs serve the sender goroutine (see writeFrames).
	sendCodecs compress.Codecs
	// retried counts frames resent after a retryable error; retryLogAt is
	// when that was last logged (Unix ns).
	retried    atomic.Uint64
	retryLogAt atomic.Int64
	// knownGen is the transport.Protocol the last probe found (ProtocolAuto
	// before the first); events are encoded in its form.
	knownGen atomic.Uint32

	// retained counts the capacity of the chunks the segments hold (see
	// package chunks); chunks keeps those of released segments for
	// reuse (guarded by mu); scratch is what compression keeps: the
	// buffers codecs join a frame's parts in and compOut.
	retained atomic.Int64
	chunks   chunks.Pool
	scratch  atomic.Int64
	// parkedMem is the memory of the parked frames (guarded by mu).
	parkedMem int
	// acked counts distinct events acknowledged (for the client's
	// Delivered); progressAt is the last ack or connection (Unix ns).
	acked      atomic.Uint64
	progressAt atomic.Int64
	// reachable is set while the last dial reached a server (which may
	// have dropped the connection since): a sink that reaches its server
	// is not in an outage (see degradingLocked).
	reachable atomic.Bool

	// link is the acknowledgement latency, the window of bytes in flight
	// and whether Write sheds routine events (see websocket_adapt.go).
	link *adapt.Link
	// critical holds the critical events of a batch Write sheds, since
	// the batch is the caller's (Write only; see keepCritical).
	critical []tracing.TraceEvent

	framesSent, framesAcked, framesResent atomic.Uint64
	eventsDelivered, eventsResent         atomic.Uint64
	rawBytes, wireBytes                   atomic.Uint64
	connects                              atomic.Uint64

	runCtx     context.Context
	cancel     context.CancelFunc
	dialCtx    context.Context // ends when Close stops dialing
	dialCancel context.CancelFunc
	done       chan struct{}
	bg         sync.WaitGroup // run and storeLoop
	// storing is held (a 1-buffered semaphore) while the store loop, Flush
	// or Close builds stores and queues them, so that Flush and Close
	// also wait for the frames the loop built just before them.
	storing chan struct{}
	// closing is set by the first Close; closed when it returns.
	closing   atomic.Bool
	closeDone chan struct{}
}

var (
	_ tracing.Sink          = (*Sink)(nil)
	_ tracing.TraceObserver = (*Sink)(nil)
	_ tracing.ServerSink    = (*Sink)(nil)
)

// New returns a sink for the server at rawURL (ws:// or wss://)
// and starts connecting in the background; it does not wait for the
// connection. It fails for a malformed URL, bad option values, unreadable
// TLS files and a spool directory it cannot open, saying which. Frames
// left in the spool directory by an earlier sink are replayed once
// connected.
func New(rawURL string, opts ...Option) (*Sink, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, fmt.Errorf("%w: url %q: want ws://host:port or wss://host:port", sink.ErrInvalidOption, dial.ShowURL(rawURL))
	}
	if err := checkURL(u); err != nil {
		return nil, err
	}
	cfg, err := newWSConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.tls != nil && u.Scheme != "wss" {
		return nil, fmt.Errorf("%w: WithTLS needs a wss:// url, got %q", sink.ErrInvalidOption, dial.ShowURL(rawURL))
	}
	tlsCfg, err := buildTLS(cfg.tls)
	if err != nil {
		return nil, err
	}
	s := &Sink{
		cfg:         cfg,
		log:         cfg.log.Named("sink.websocket"),
		shownURL:    dial.ShowURL(rawURL),
		changed:     make(chan struct{}),
		outstanding: make(map[uint64]int),
		rejected:    make(map[string]uint64),
		dropped:     make(map[string]uint64),
		done:        make(chan struct{}),
		closeDone:   make(chan struct{}),
		free:        chunks.NewBuffers(cfg.outageB),
		segs:        make(map[tracing.TraceID]*traceSeg),
		parked:      make(map[*frame]*time.Timer),
		watches:     make(map[*traceSeg]*time.Timer),
		polls:       make(map[*frame]*time.Timer),
		storing:     make(chan struct{}, 1),
		link: adapt.New(adapt.Config{
			Window: cfg.inflightB, Adaptive: cfg.adaptiveWindow, Buffer: cfg.outageB, DegradeFill: cfg.degradeFill,
		}),
	}
	s.progressAt.Store(cfg.now().UnixNano())
	s.compAlg.Store(-1)
	if cfg.compress && cfg.alg != transport.CompressionAuto {
		s.compAlg.Store(int32(cfg.alg)) // the same numbering as compress.Algorithm
	}
	if s.dialers, err = newDialers(u, cfg, tlsCfg, s.log); err != nil {
		return nil, err
	}
	s.deftr = tracing.FlowTrace{
		TraceID:     tracing.NewTraceID(),
		FlowID:      cfg.flowID,
		ExecutionID: cfg.execID,
		Version:     cfg.version,
		StartTime:   cfg.now().UTC(),
		Status:      tracing.ExecutionStatus{Kind: tracing.StatusRunning},
		Metadata:    cfg.meta,
	}
	if cfg.spoolDir != "" {
		sp, err := spool.Open(cfg.spoolDir, cfg.spoolSync, cfg.spoolMaxB, cfg.now)
		if err != nil {
			return nil, err
		}
		s.spool = sp
		if st := sp.Stats(); st.RecoveredRecords > 0 || st.CorruptRecords > 0 {
			s.log.Info("spool recovered",
				zap.String("dir", cfg.spoolDir),
				zap.Int64("records", st.RecoveredRecords),
				zap.Int64("corrupt_records", st.CorruptRecords))
		}
	}
	s.runCtx, s.cancel = context.WithCancel(context.Background())
	s.dialCtx, s.dialCancel = context.WithCancel(s.runCtx)
	s.bg.Add(1)
	go s.run()
	s.bg.Add(1)
	go s.storeLoop()
	return s, nil
}

// newDialers returns the dialers of the server u and of the failover
// servers (WithFailover), checking the failover URLs, and logs one Warn
// naming every URL over which credentials would cross the network
// unencrypted (see dial.PlaintextCredentials).
func newDialers(u *url.URL, cfg *wsConfig, tlsCfg *tls.Config, log *zap.Logger) ([]*dial.Dialer, error) {
	urls := []*url.URL{u}
	for _, raw := range cfg.failover {
		fu, err := url.Parse(raw)
		if err != nil || (fu.Scheme != "ws" && fu.Scheme != "wss") || fu.Host == "" {
			return nil, fmt.Errorf("%w: WithFailover url %q: want ws://host:port or wss://host:port", sink.ErrInvalidOption, dial.ShowURL(raw))
		}
		if err := checkURL(fu); err != nil {
			return nil, fmt.Errorf("WithFailover: %w", err)
		}
		if cfg.tls != nil && fu.Scheme != "wss" {
			return nil, fmt.Errorf("%w: WithTLS needs wss:// urls, WithFailover has %q", sink.ErrInvalidOption, dial.ShowURL(raw))
		}
		urls = append(urls, fu)
	}
	dcfg := cfg.dialConfig(tlsCfg)
	dialers := make([]*dial.Dialer, 0, len(urls))
	var plainURLs, plain []string
	for _, du := range urls {
		d := dial.New(du, dcfg)
		dialers = append(dialers, d)
		if names := dial.PlaintextCredentials(du, dcfg); len(names) > 0 {
			plainURLs = append(plainURLs, d.URL())
			for _, n := range names {
				if !slices.Contains(plain, n) {
					plain = append(plain, n)
				}
			}
		}
	}
	if len(plainURLs) > 0 {
		log.Warn("credentials will cross the network unencrypted: use wss://",
			zap.Strings("urls", plainURLs), zap.Strings("credentials", plain))
	}
	return dialers, nil
}

// storeLoop sends the stores of segments whose events waited the store
// delay, and the last frames of traces that ended, until the sink stops.
func (s *Sink) storeLoop() {
	defer s.bg.Done()
	t := time.NewTicker(max(s.cfg.storeDelay/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.runCtx.Done():
			return
		case <-s.dialCtx.Done():
			return
		case <-t.C:
		}
		select {
		case s.storing <- struct{}{}:
		case <-s.runCtx.Done():
			return
		}
		if s.closed.Load() {
			<-s.storing
			return
		}
		s.mu.Lock()
		s.chunks.Trim() // the chunks kept for reuse go once the sink no longer needs them
		s.mu.Unlock()
		_ = s.admitAll(s.runCtx, s.encodeEnded(time.Time{}))
		_ = s.admitAll(s.runCtx, s.encodeDue(false))
		<-s.storing
	}
}

// storeAll queues the last stores of the traces that ended and the stores
// of every segment with events not stored yet, after the store loop's own
// (see storing); it gives up waiting for the loop when ctx ends.
func (s *Sink) storeAll(ctx context.Context) error {
	select {
	case s.storing <- struct{}{}:
		defer func() { <-s.storing }()
	case <-ctx.Done():
	}
	if err := s.admitAll(ctx, s.encodeEnded(time.Time{})); err != nil {
		return err
	}
	return s.admitAll(ctx, s.encodeDue(true))
}

// notifyLocked wakes everyone waiting for a change. s.mu must be held.
func (s *Sink) notifyLocked() {
	if s.waiters == 0 {
		return // nobody holds the channel
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// watchLocked returns the channel closed at the next change and counts the
// caller as a waiter until it calls s.unwatchLocked. s.mu must be held.
func (s *Sink) watchLocked() chan struct{} {
	s.waiters++
	return s.changed
}

func (s *Sink) unwatchLocked() { s.waiters-- }

// waitChangeLocked waits, with s.mu released, for the next change or the
// end of ctx. s.mu must be held; it is held again on return.
func (s *Sink) waitChangeLocked(ctx context.Context) {
	ch := s.watchLocked()
	s.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
	s.mu.Lock()
	s.unwatchLocked()
}

// report logs err at level and passes it to the error handler.
func (s *Sink) report(err error, msg string, fields ...zap.Field) {
	s.log.Warn(msg, append(fields, zap.Error(err))...)
	if s.cfg.onError != nil {
		s.cfg.onError(err)
	}
}

// SendsToServer returns true: s sends to a Reflow tracing server, so the
// server settings of a tracing.TracingConfig apply to it (see
// OptionsFromConfig and tracing.ServerSink).
func (s *Sink) SendsToServer() bool { return true }

// ObserveTrace records the header of a trace the client started or ended,
// so StoreTrace messages for its events carry its flow, execution, version
// and metadata. An ended trace gets its last store (or EndTrace), with the
// final status, at the next Write or Flush, or within the store delay; an
// event of it written afterwards opens the trace's next segment, which is
// why the tracing client reports an end only after the events recorded
// before it were written. Safe for concurrent use; it does not block on
// I/O.
func (s *Sink) ObserveTrace(trace tracing.FlowTrace) {
	s.headers.Put(trace)
}

// Write adds batch to its traces' segments and queues the frames that are
// due; it copies what it keeps, and leaves batch as it is (also when it
// drops some of its events). It waits while the memory limit
// (WithOutageBuffer) is reached and, when ctx ends first, drops the
// batch's routine events (counted) and keeps its critical ones. While
// connected it also waits for room when the window and as much again are
// queued; if ctx ends then, the connection is closed (it is stuck) and the
// frames wait for the next one. An event too large for any frame is
// dropped, counted and reported without failing the batch. It returns an
// error wrapping tracing.ErrClosed after Close.
func (s *Sink) Write(ctx context.Context, batch []tracing.TraceEvent) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if s.closed.Load() {
		return fmt.Errorf("sink: websocket write: %w", tracing.ErrClosed)
	}
	defer s.forgetCritical()
	if s.degrading() {
		batch = s.shed(batch)
	}
	// The traces that ended before batch are complete: their last stores
	// go now rather than at the store loop's next tick, so that a network
	// that ends traces quickly does not hold a tick's worth of them.
	if err := s.admitAll(ctx, s.encodeEnded(time.Time{})); err != nil {
		return err
	}
	batch = s.reserve(ctx, batch)
	return s.admitAll(ctx, s.encodeBatch(batch))
}

// reserve makes room in memory for batch's events: while the segments
// hold more than the memory limit it waits (the consumer then backs up
// into the client's queue, whose policy decides) until ctx ends. When
// there is still no room, routine events are dropped and counted, and
// critical ones kept. It returns what is left of batch.
func (s *Sink) reserve(ctx context.Context, batch []tracing.TraceEvent) []tracing.TraceEvent {
	limit := int64(s.cfg.outageB)
	if s.held() < limit {
		return batch
	}
	s.sealForRoom(ctx, true)
	// A degraded sink admits only critical events, and they may use a
	// reserve above the limit, so that they go on at once while the
	// memory stays bounded.
	reserve := limit + limit/criticalReserve
	s.mu.Lock()
	degraded := false
	sealedAt := time.Now() // sealForRoom just ran
	for s.heldLocked() >= limit && !s.stopping && ctx.Err() == nil {
		// Segments acknowledged in full while Write waits are sealed too:
		// their traces may have ended with the end not yet told (the
		// client tells it only after this Write), and nothing else would
		// free their memory. At most once a millisecond: a wait may be
		// woken by every acknowledgement.
		if now := time.Now(); now.Sub(sealedAt) >= time.Millisecond {
			sealedAt = now
			s.mu.Unlock()
			s.sealForRoom(ctx, false)
			s.mu.Lock()
			if s.heldLocked() < limit {
				break
			}
		}
		// An outage that starts while Write waits degrades the sink: its
		// routine events are shed at once.
		if !degraded && s.degradingLocked() {
			degraded = true
			s.mu.Unlock()
			batch = s.shed(batch)
			s.mu.Lock()
		}
		if len(batch) == 0 || (degraded && s.heldLocked() < reserve) {
			break
		}
		if degraded || s.cfg.degradeFill <= 0 || s.spool != nil {
			s.waitChangeLocked(ctx)
			continue
		}
		// An outage begins when the grace runs out, with nothing
		// changing: look again by then.
		wctx, cancel := context.WithTimeout(ctx, adapt.DegradeGrace/4)
		s.waitChangeLocked(wctx)
		cancel()
	}
	s.mu.Unlock()
	if held := s.held(); len(batch) == 0 || held < limit || (degraded && held < reserve) {
		return batch
	}
	kept, dropped := s.keepCritical(batch)
	if dropped > 0 {
		s.mu.Lock()
		s.dropped[DropOutageBufferFull] += uint64(dropped)
		s.droppedN.Add(uint64(dropped))
		s.notifyLocked()
		s.mu.Unlock()
		s.log.Warn("events dropped", zap.String("reason", DropOutageBufferFull), zap.Int("events", dropped))
	}
	return kept
}

// held is the memory the sink holds for events, by capacity: the
// segments' chunks of event JSON (each counted once, however many frames
// refer to it), what the frames waiting to be sent or acknowledged hold of
// their own (headers, compressed bytes, RecordEvents, spooled records) and
// the compression scratch buffer. The chunks kept for reuse are not
// counted: they never outnumber the most chunks in use, which held bounds.
func (s *Sink) held() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heldLocked()
}

func (s *Sink) heldLocked() int64 {
	return s.retained.Load() + s.scratch.Load() +
		int64(s.queue.mem+s.resend.mem+s.inflight.mem+s.parkedMem)
}

// sealForRoom seals the open segments whose events are all acknowledged
// (their memory is released at once) and, if that is not enough and
// largest is set, the largest one (released once its last store is
// acknowledged), so that many open traces do not hold the memory limit
// between them. Their stores are queued as Write's frames are, under
// Write's ctx.
func (s *Sink) sealForRoom(ctx context.Context, largest bool) {
	frames := func() []*frame {
		s.encMu.Lock()
		defer s.encMu.Unlock()
		now := s.cfg.now().UnixNano()
		var frames []*frame
		var big *traceSeg
		for _, g := range s.segs {
			s.mu.Lock()
			open := !g.sealed && !g.lost.Load()
			// Done: every event answered and kept, by a store or, on a
			// generation-2 server, by RecordEvents (whose segment skips
			// its stores).
			done := open && g.recDone >= g.recN &&
				(g.delivered >= g.n || (g.dirtySince == 0 || !s.stores(g)) && g.ackedN >= g.storedN)
			s.mu.Unlock()
			if done {
				frames = s.sealLocked(g, now, frames)
			} else if open && (big == nil || g.data.Len() > big.data.Len()) {
				big = g
			}
		}
		if largest && big != nil && s.held() >= int64(s.cfg.outageB) {
			frames = s.sealLocked(big, now, frames)
		}
		return frames
	}()
	_ = s.admitAll(ctx, frames)
}

func (s *Sink) admitAll(ctx context.Context, frames []*frame) error {
	for i, f := range frames {
		if f.seg != nil && !s.queueStore(f) {
			continue
		}
		if err := s.admit(ctx, f); err != nil {
			for _, g := range frames[i+1:] {
				s.drop(g, DropClosed)
			}
			return err
		}
	}
	return nil
}

// admit queues f, spools it or drops it, as the connection state says.
func (s *Sink) admit(ctx context.Context, f *frame) error {
	s.mu.Lock()
	for {
		if s.stopping {
			s.mu.Unlock()
			s.drop(f, DropClosed)
			return fmt.Errorf("sink: websocket write: %w", tracing.ErrClosed)
		}
		if s.connected {
			if s.queue.len()+s.resend.len() < s.cfg.inflight && s.queue.bytes+s.resend.bytes < s.link.Window() ||
				s.queue.len()+s.resend.len() == 0 {
				s.track(f)
				s.queue.push(f)
				s.notifyLocked()
				s.mu.Unlock()
				return nil
			}
			ch, c := s.watchLocked(), s.conn
			s.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				s.teardown(c, fmt.Errorf("sink: websocket write: server too slow: %w", ctx.Err()))
			}
			s.mu.Lock()
			s.unwatchLocked()
			continue
		}
		// Disconnected: f waits in memory, which reserve bounds; the
		// spool takes what is left when reconnecting gives up or at
		// Close.
		s.track(f)
		s.queue.push(f)
		s.notifyLocked()
		s.mu.Unlock()
		return nil
	}
}

// track counts f as outstanding for Flush. s.mu must be held.
func (s *Sink) track(f *frame) { s.trackAtLocked(f, s.epoch) }

// trackAtLocked counts f as outstanding for the Flushes waiting for
// epoch. s.mu must be held.
func (s *Sink) trackAtLocked(f *frame, epoch uint64) {
	if f.tracked {
		return
	}
	f.tracked = true
	f.epoch = epoch
	s.outstanding[epoch]++
}

// untrack marks f resolved (acknowledged, spooled or dropped). s.mu must
// be held.
func (s *Sink) untrackLocked(f *frame) {
	if !f.tracked {
		return
	}
	f.tracked = false
	if n := s.outstanding[f.epoch] - 1; n > 0 {
		s.outstanding[f.epoch] = n
	} else {
		delete(s.outstanding, f.epoch)
	}
	s.notifyLocked()
}

// spoolFrame writes f to the spool and resolves it; it reports whether f
// is on disk (or dropped and counted, when false).
func (s *Sink) spoolFrame(f *frame) bool {
	if f.stream != nil {
		return s.spoolStream(f)
	}
	if f.spool.Valid() {
		// Already on disk: give it back for a later replay.
		s.spool.Release(f.spool)
		s.mu.Lock()
		s.untrackLocked(f)
		s.releaseLocked(f)
		s.mu.Unlock()
		return true
	}
	// The encoder stays locked until the segment is lost (or f
	// resolved): a store of the segment built meanwhile would be written
	// into f in place while f is on its way to disk (f is still the
	// segment's pending store), or queued behind it, and either way its
	// events counted as spooled when the record holds only f's.
	s.encMu.Lock()
	ok, lost, err := s.spoolStoreLocked(f)
	s.encMu.Unlock()
	if err != nil {
		s.report(err, "spool write failed", zap.Int("events", lost))
	}
	return ok
}

// spoolStoreLocked writes f, a frame not on disk yet, or the newest store
// of its segment, to the spool, and reports whether its events are there
// (or accounted for by a newer store or the segment's loss). When they
// cannot be spooled it drops them, and returns the spool's error, if any,
// with the number of events dropped, for the caller to report once
// s.encMu is released. s.encMu must be held.
func (s *Sink) spoolStoreLocked(f *frame) (ok bool, lost int, err error) {
	if f.seg != nil {
		f = s.completeStoreLocked(f)
	}
	events := f.events
	if f.seg != nil {
		s.mu.Lock()
		events = f.seg.unackedLocked()
		gone := superseded(f) || f.parts == nil
		if gone {
			// A newer store, or the segment's loss, accounts for its
			// events.
			s.untrackLocked(f)
			s.releaseLocked(f)
		}
		s.mu.Unlock()
		if gone {
			return true, 0, nil
		}
	}
	data, err := f.plain(&s.codecs) // records hold JSON: the next sink may not compress alike
	if err == nil {
		err = s.spool.Append(spool.Record{
			Critical: f.critical,
			Events:   events,
			Created:  unixTime(f.created),
			Parts:    data,
		})
	}
	switch {
	case errors.Is(err, spool.ErrFull):
		s.drop(f, DropSpoolFull)
		return false, 0, nil
	case err != nil:
		s.drop(f, DropSpoolError)
		return false, events, err
	}
	s.mu.Lock()
	if f.seg != nil {
		s.loseSegLocked(f.seg, "")
	}
	s.untrackLocked(f)
	s.releaseLocked(f)
	s.mu.Unlock()
	return true, 0, nil
}

// completeStoreLocked returns, for store f of a segment that holds events
// written after f was built, a new store of all the segment's events and
// resolves f; otherwise f. A store on its way to the spool takes its
// segment along (its other frames are skipped from then on), so it must
// carry every event the segment holds. s.encMu must be held.
func (s *Sink) completeStoreLocked(f *frame) *frame {
	g := f.seg
	s.mu.Lock()
	stale := superseded(f) || g.released || g.n <= f.upto
	s.mu.Unlock()
	if stale {
		return f
	}
	st := s.buildStore(g, s.cfg.now().UnixNano())
	s.mu.Lock()
	s.untrackLocked(f)
	s.releaseLocked(f)
	s.mu.Unlock()
	return st
}

func (s *Sink) drop(f *frame, reason string) {
	s.mu.Lock()
	s.dropLocked(f, reason)
	s.mu.Unlock()
}

// dropLocked counts f's events as dropped for reason. s.mu must be held.
func (s *Sink) dropLocked(f *frame, reason string) {
	n := f.events
	if g := f.segment(); g != nil {
		n = s.loseSegLocked(g, reason)
	} else {
		s.dropped[reason] += uint64(n)
		s.droppedN.Add(uint64(n))
	}
	s.untrackLocked(f)
	s.notifyLocked()
	if f.spool.Valid() {
		s.spool.Ack(f.spool) // it will not be sent again
	}
	s.releaseLocked(f)
	if n > 0 {
		s.log.Warn("events dropped", zap.String("reason", reason), zap.Int("events", n))
	}
}

// Flush returns when every frame queued before it was acknowledged by the
// server, spooled or dropped (and counted), or when ctx ends (wrapping
// ctx.Err()). It also sends the final headers of traces that ended, and
// syncs the spool as its policy says (see WithSpoolSync). After a
// permanent connection failure (bad credentials, TLS) it returns that
// failure (wrapping ErrPermanent) at once, whether or not frames are
// waiting: nothing can be delivered any more. After Close it returns an
// error wrapping tracing.ErrClosed.
func (s *Sink) Flush(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if s.closed.Load() {
		return fmt.Errorf("sink: websocket flush: %w", tracing.ErrClosed)
	}
	if err := s.storeAll(ctx); err != nil {
		return err
	}
	if err := s.waitOutstanding(ctx, "flush"); err != nil {
		return err
	}
	if s.spool != nil {
		if err := s.spool.Sync(); err != nil {
			return err
		}
	}
	return s.newDrops("flush")
}

// ErrDropped is sink.ErrDropped, which the errors of Flush and Close
// wrap when they found events dropped (and counted in Stats.Dropped) since
// the previous Flush or Close returned.
//
// Deprecated: use sink.ErrDropped, the same error, which every sink's
// Flush and Close wrap.
var ErrDropped = sink.ErrDropped

// DroppedError is sink.DroppedError, the error of a Flush or Close that
// found events dropped since the previous report; its Sink is "websocket".
//
// Deprecated: use sink.DroppedError, the same type.
type DroppedError = sink.DroppedError

// newDrops returns an error wrapping sink.ErrDropped if events were dropped
// since the last Flush or Close reported drops, so that every drop reaches
// a caller once; nil otherwise.
func (s *Sink) newDrops(op string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.droppedN.Load()
	if n == s.reportedN {
		return nil
	}
	fresh := n - s.reportedN
	s.reportedN = n
	// The outage is reported once, with the drops it caused.
	last := s.unreachable
	s.unreachable = nil
	return &sink.DroppedError{Sink: "websocket", Op: op, Events: fresh, Reasons: maps.Clone(s.dropped), Last: last}
}

func (s *Sink) waitOutstanding(ctx context.Context, op string) error {
	s.mu.Lock()
	target := s.epoch
	s.epoch++
	for {
		pending := 0
		for e, n := range s.outstanding {
			if e <= target {
				pending += n
			}
		}
		if s.permErr != nil {
			// Also with nothing waiting: nothing written from now on can
			// be delivered.
			err := s.permErr
			s.mu.Unlock()
			if pending == 0 {
				return fmt.Errorf("sink: websocket %s: %w", op, err)
			}
			return fmt.Errorf("sink: websocket %s: %d frames waiting: %w", op, pending, err)
		}
		if pending == 0 {
			s.mu.Unlock()
			return nil
		}
		if err := ctx.Err(); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("sink: websocket %s: %d frames not acknowledged: %w", op, pending, err)
		}
		s.waitChangeLocked(ctx)
	}
}

// Close sends what is queued and waits for its acknowledgement until ctx
// ends, then stops: with a spool, the frames not acknowledged are written
// to it (and replayed by the next sink opening the directory); without,
// they are lost. It also replays what is on the spool, this sink's records
// and those an earlier one left, and waits for their acknowledgement until
// ctx ends; while it is not connected yet, or is reconnecting, it waits
// for the connection, and leaves the records on disk only when ctx ends, a
// round of reconnection attempts gives up (WithRetry) or the connection
// failed for good (ErrPermanent). It closes the connection with a normal
// closure when everything was acknowledged (waiting at most a second, and
// not past ctx, for the server to close its side), and returns an error
// saying how many events were not delivered and where they are. Later
// calls wait for the first to return, as long as their own ctx allows,
// and return nil, or ctx's error when it ends first.
func (s *Sink) Close(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if !s.closing.CompareAndSwap(false, true) {
		select {
		case <-s.closeDone:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("sink: websocket close: waiting for another Close: %w", ctx.Err())
		}
	}
	defer close(s.closeDone)
	var errs []error
	// Closed once the stores are queued: the store loop, which stops
	// when it sees it, queues nothing after them.
	held := false
	select {
	case s.storing <- struct{}{}:
		held = true
	case <-ctx.Done():
	}
	if err := s.admitAll(ctx, s.encodeEnded(time.Time{})); err != nil {
		errs = append(errs, err)
	}
	if err := s.admitAll(ctx, s.encodeDue(true)); err != nil {
		errs = append(errs, err)
	}
	s.closed.Store(true)
	if held {
		<-s.storing
	}
	waitErr := s.waitOutstanding(ctx, "close")
	if waitErr == nil {
		waitErr = s.drainSpool(ctx)
	}

	// Stop the connection loop; a graceful stop closes the connection with
	// a normal closure.
	s.mu.Lock()
	s.stopping = true
	graceful := waitErr == nil
	s.notifyLocked()
	s.mu.Unlock()
	s.dialCancel()
	if !graceful {
		s.cancel()
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		// A probe or the closing handshake is still under way: end it.
		s.cancel()
		<-s.done
	}
	s.cancel()
	s.bg.Wait()

	// Whatever is left was not acknowledged.
	s.mu.Lock()
	left := append(s.inflight.drain(), s.takeParkedLocked()...)
	left = append(left, s.resend.drain()...)
	left = append(left, s.queue.drain()...)
	for g := range s.watches {
		s.endWatchLocked(g)
	}
	for q, t := range s.polls {
		t.Stop()
		delete(s.polls, q)
		s.untrackLocked(q)
	}
	s.mu.Unlock()
	var events, onDisk, lost int
	unreplayed := 0
	if s.spool != nil {
		_, _, unreplayed = s.spool.Pending()
	}
	for _, f := range left {
		s.mu.Lock()
		// A recovery's GetTrace or EndTrace is not worth keeping.
		skip := superseded(f) || f.kind == frameQuery || f.kind == frameRelease
		n := f.events
		if g := f.segment(); g != nil && !skip {
			// Spooled or dropped, f takes its segment's other events
			// with it: they are in no other frame's count, since the
			// segment's other frames are skipped from then on (a
			// streamed segment's RecordEvents hold one event each).
			n = g.unackedLocked()
		}
		if skip {
			if f.watchUntil != 0 {
				s.endWatchLocked(f.stream)
			}
			s.untrackLocked(f)
			s.releaseLocked(f)
		}
		s.mu.Unlock()
		if skip {
			continue
		}
		events += n
		if s.spool != nil && s.spoolFrame(f) {
			onDisk += n
			continue
		}
		if s.spool == nil {
			s.drop(f, DropClosed)
		}
		lost += n
	}
	// A segment can still hold events that no frame left carries: in a
	// live mode, those whose RecordEvent the server rejected, or those
	// only a recovery's store (not sent yet) would carry; and a lost
	// segment, those written after its last store was built. They go to
	// the spool as one store of the segment where there is one, and are
	// dropped otherwise (as rejected, for the RecordEvents the server
	// rejected).
	s.encMu.Lock()
	s.mu.Lock()
	var orphans []*traceSeg
	for _, g := range s.segs {
		if n := s.loseTailLocked(g); n > 0 {
			events += n
			lost += n
		}
		if g.lost.Load() || g.unackedLocked() == 0 {
			continue
		}
		if s.spool != nil && !g.released {
			orphans = append(orphans, g)
			continue
		}
		n := s.loseSegLocked(g, DropClosed)
		events += n
		lost += n
	}
	s.mu.Unlock()
	s.encMu.Unlock()
	for _, g := range orphans {
		s.encMu.Lock()
		st := s.buildStore(g, s.cfg.now().UnixNano())
		s.encMu.Unlock()
		s.mu.Lock()
		n := g.unackedLocked()
		st.events = n
		s.mu.Unlock()
		events += n
		if s.spoolFrame(st) {
			onDisk += n
		} else {
			lost += n
		}
	}
	var records int64
	spooled := onDisk + unreplayed
	if s.spool != nil {
		if err := s.spool.Close(); err != nil {
			errs = append(errs, err)
		}
		s.noteSpoolLoss()
		// What is on disk now: Close counts the records of a segment
		// removed from disk as lost (DropSpoolCorrupt).
		var left int
		_, records, left = s.spool.Pending()
		lost += spooled - left
		spooled = left
	}
	if total := events + unreplayed; total > 0 {
		msg := fmt.Sprintf("sink: websocket close: %d events not acknowledged", total)
		if s.spool != nil {
			msg += fmt.Sprintf("; %d spooled in %s (%d records)", spooled, s.cfg.spoolDir, records)
			if lost > 0 {
				msg += fmt.Sprintf(", %d lost", lost)
			}
		} else {
			msg += fmt.Sprintf("; %d lost", lost)
		}
		errs = append(errs, errors.New(msg))
	}
	if waitErr != nil && len(left) > 0 {
		errs = append(errs, waitErr)
	}
	// Every drop not reported yet, those of the lines above included.
	if err := s.newDrops("close"); err != nil {
		errs = append(errs, err)
	}
	s.log.Info("closed", zap.Int("events_not_acknowledged", events))
	return errors.Join(errs...)
}

// Stats returns the sink's counters. Safe for concurrent use, also after
// Close.
func (s *Sink) Stats() Stats {
	st := Stats{
		FramesSent:      s.framesSent.Load(),
		FramesAcked:     s.framesAcked.Load(),
		FramesResent:    s.framesResent.Load(),
		EventsDelivered: s.eventsDelivered.Load(),
		EventsResent:    s.eventsResent.Load(),
		RawBytes:        s.rawBytes.Load(),
		WireBytes:       s.wireBytes.Load(),
		Connects:        s.connects.Load(),
		Rejected:        map[string]uint64{},
		Dropped:         map[string]uint64{},
		AckLatency:      s.link.Latency(),
		WindowBytes:     s.link.Window(),
		Degraded:        s.link.Degraded(),
	}
	if st.Connects > 0 {
		st.Reconnects = st.Connects - 1
	}
	s.mu.Lock()
	for k, v := range s.rejected {
		st.Rejected[k] = v
	}
	for k, v := range s.dropped {
		st.Dropped[k] = v
	}
	st.Connected = s.connected
	st.InFlightFrames = s.inflight.len()
	st.QueuedFrames = s.queue.len() + s.resend.len()
	st.QueuedBytes = s.queue.bytes + s.resend.bytes
	s.mu.Unlock()
	if s.spool != nil {
		sp := s.spool.Stats()
		st.SpoolBytes, st.SpoolRecords, st.SpoolCorruptRecords = sp.Bytes, sp.Records, sp.CorruptRecords
		st.SpoolLostEvents = sp.LostEvents
	}
	return st
}

// SinkStats reports to the tracing client's metrics: the connection
// count, the events the server acknowledged (each once; in ModeBoth only
// the stores, which are what the server keeps), the events dropped by
// reason, the events spooled, and since when the sink has been unable to
// deliver: while it is disconnected, or has unacknowledged frames, the
// time of its last acknowledgement or connection.
func (s *Sink) SinkStats() tracing.SinkStats {
	st := tracing.SinkStats{
		Acknowledges: true,
		Acknowledged: s.acked.Load(),
		Dropped:      map[string]uint64{},
		AckLatency:   s.link.Latency(),
		Degraded:     s.link.Degraded(),
	}
	s.mu.Lock()
	if s.connected {
		st.ConnectionCount = 1
	}
	for k, v := range s.dropped {
		st.Dropped[k] = v
	}
	idle := s.connected && len(s.outstanding) == 0
	s.mu.Unlock()
	if !idle && !s.closed.Load() {
		st.StalledSince = unixTime(s.progressAt.Load())
	}
	if s.spool != nil {
		_, _, n := s.spool.Pending()
		st.Spooled = uint64(n)
	}
	return st
}

// progress notes that the sink delivered something or connected.
func (s *Sink) progress() { s.progressAt.Store(s.cfg.now().UnixNano()) }
