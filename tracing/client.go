package tracing

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/batch"
	"github.com/reflowtrace/reflowtrace-go/internal/deliver"
)

// ErrQueueFull is returned (wrapped) by RecordWait when the queue had no room
// for the event under the DropNewest policy.
var ErrQueueFull = errors.New("tracing: queue full")

// TraceObserver is implemented by sinks that need to know the trace their
// events belong to (for example to build StoreTrace messages). The client
// calls ObserveTrace when a trace starts (Status Running, no EndTime), from
// the goroutine that started it and before any of its events reach the
// sink, and when it ends (with EndTime and the final Status), from the
// consumer goroutine once every event recorded before the end was written
// to the sinks (Write returned). The trace has no Events. The call may come
// concurrently with Write and with other ObserveTrace calls (the starts of
// traces started at once, the ends), and must not block for long: a slow
// one holds back the StartTrace or the delivery that made it. The sink may keep
// the FlowTrace; the client never modifies it afterwards. A panic in
// ObserveTrace loses that start or end for this sink only: the client
// recovers it and reports it to the error handler (WithErrorHandler).
type TraceObserver interface {
	ObserveTrace(trace FlowTrace)
}

// StatsReporter is implemented by sinks that report their own state; the
// client includes it in Metrics (TracingMetrics.Sinks). A sink fills only
// the fields of SinkStats it reports (see there); the client fills the
// others. SinkStats must be safe for concurrent use.
type StatsReporter interface {
	SinkStats() SinkStats
}

// dropLogInterval is the least time between two Warn summaries of dropped
// events logged by the consumer; Flush and Close always log one when
// something was dropped since the last.
const dropLogInterval = 10 * time.Second

// closeGrace is how long Close waits, once its ctx has ended, for sinks
// that honor ctx to return from the Write, Flush and Close it cancelled,
// before it gives up on them (see Close).
const closeGrace = 250 * time.Millisecond

// TracingClient records trace events and ships them in batches to its sinks.
// One consumer goroutine, owned by the client, takes the batches from the
// queue and writes them to the sink or, with several sinks, hands them to
// one goroutine per sink, so that a slow or failing sink never holds back
// the others (see WithSink).
//
// # Recording
//
// Record and the per-kind methods (ActorCreated, DataFlow, …) never block,
// never log, never return an error and, for the built-in kinds, do not
// allocate. Each fills a zero EventID, TraceID (the trace ctx carries, see
// StartTrace, or else the client's implicit trace) and Timestamp, and takes
// the event's cause from ctx (see ContextWithEvent): ctx serves correlation only, its cancellation is
// ignored, and nil is allowed. Critical kinds (TracingConfig.CriticalKinds)
// use the queue's priority lane and are delivered ahead of routine ones.
// When the queue is full the event is dropped and counted (see Metrics).
// Each method returns the event's id, also when the event is then dropped
// (filtered, sampled out or queue full), so that causality stays
// consistent. The exception: a per-kind method whose kind or actor the
// configured filters (TracingConfig.Filters) reject returns the zero
// EventID, because it checks them before building the event, which keeps a
// filtered-out call to a few nanoseconds. A disabled client returns the zero EventID at once; a closed
// one too, and counts the event as dropped because the client was closed.
// Enabled tells callers when to skip building expensive snapshots.
//
// # Concurrency
//
// All methods are safe for concurrent use, also with Flush and Close. A nil
// *TracingClient behaves like a disabled one.
//
// # Shutdown
//
// Close stops intake (recording becomes a counted no-op), drains the queue
// into the sinks, flushes and closes them and stops the client's goroutines.
// It reports what was not delivered.
type TracingClient struct {
	// on is true while the client is enabled and not closed: the hot path's
	// first and, for a disabled client, only check. It is written once at
	// Close, so it shares its cache line with read-mostly fields only.
	on     atomic.Bool
	closed atomic.Bool
	// closeRun is the first Close call's; later calls wait for it.
	closeRun atomic.Pointer[closeRun]

	cfg       TracingConfig
	critical  [numKinds]bool
	sel       *selector
	inPlace   bool // build per-kind events in their queue slot (see emit)
	queue     *batch.Queue[TraceEvent]
	queueCap  float64
	blockWait bool
	// redactBuilt[k] is set when the redactor can change an event of kind
	// k built by a per-kind method (see redactor.changesBuilt).
	redactBuilt [numKinds]bool

	// trace is the implicit trace: the one events recorded with a ctx
	// that carries none belong to.
	trace atomic.Pointer[traceState]
	// explicit turns true at the first StartTrace, or the first trace
	// the client joins.
	explicit atomic.Bool
	// traceMu orders the implicit trace's start and end with their
	// notifications.
	traceMu sync.Mutex
	meta    TraceMetadata
	joinMu  sync.Mutex
	// joined and joinedOld hold the traces JoinTrace told the sinks of,
	// the newest and the generation before, each with a channel closed
	// once the sinks were told.
	joined, joinedOld map[TraceID]chan struct{}

	log          *zap.Logger
	sinks        []sinkState
	errorHandler func(error)
	now          func() time.Time

	// out writes the batches to the sinks: itself with one sink, through
	// a lane per sink with several (see WithSink). Cancelled when Close
	// gives up.
	out *deliver.Group[TraceEvent, FlowTrace]

	monitorStop chan struct{}
	monitorDone chan struct{}

	// Drops counted on the hot path, each on its own cache line: they are
	// written only when an event is dropped. The queue counts what it
	// refuses itself (see batch.Stats).
	dropClosed   paddedCounter
	dropFiltered paddedCounter
	dropSampled  paddedCounter

	// Counters written by the consumer goroutine (and, with several
	// sinks, the lanes), once per batch (see settle); out counts the
	// writes.
	delivered     atomic.Uint64
	dropWrite     atomic.Uint64
	dropAbandon   atomic.Uint64
	dropSinkQueue atomic.Uint64
	batches       atomic.Uint64
	failingSince  atomic.Int64 // Unix ns of the first failed write of the current streak; 0 when healthy

	// settleMu orders the counting of settled batches with giveUp: once
	// Close has given up on a busy sink (gaveUp), it has counted every
	// event not settled yet as abandoned, and batches that settle later
	// are not counted again. queueAbandoned is the queue's
	// Stats.Abandoned then, which the queue may raise later.
	settleMu       sync.Mutex
	gaveUp         atomic.Bool
	queueAbandoned atomic.Uint64

	// pace is adaptive batching (nil when it is off).
	pace *deliver.Pacer

	errMu       sync.Mutex
	lastErr     string
	lastErrTime time.Time
	handlerMu   sync.Mutex // held while the error handler runs

	logMu       sync.Mutex
	lastDropLog time.Time
	loggedDrops DropCounts

	// testHookLaneFlushed, if set, is called once sink i (its lane, with
	// several sinks) has answered a Flush.
	testHookLaneFlushed func(i int)
	// testHookClosedLate, if set, is called once sink i, on which Close
	// gave up, has returned from its Flush and Close.
	testHookClosedLate func(i int)
}

type paddedCounter struct {
	atomic.Uint64
	_ [56]byte
}

// sinkState is a sink and what the client knows of it; out counts its
// writes.
type sinkState struct {
	sink     Sink
	name     string
	reporter StatsReporter
}

// New returns a client for cfg. Zero fields of cfg take their defaults; the
// config and the options are validated and every bad field or option is
// named in the error, which wraps ErrInvalidConfig. An enabled client needs
// at least one sink (WithSink); it starts a consumer goroutine, one
// goroutine per sink when it has several, and a system-metrics goroutine
// when cfg.SystemMetricsInterval is positive, all stopped by Close. A
// disabled client (cfg.Enabled false, as in the zero TracingConfig)
// starts nothing and records nothing; given sinks, it says so at Warn
// level, and Close still closes them.
//
// New logs, once, at Warn level on the WithLogger logger, what is
// suspicious in cfg without being invalid (see TracingConfig.Warnings:
// unknown REFLOW_TRACING_* variables, settings without effect), and the
// server settings cfg sets when no sink sends to a Reflow server (see
// ServerSink). Its Info line "tracing client started" gives the bytes the
// queue holds (TracingConfig.QueueMemory).
//
// The client starts an implicit trace for cfg.FlowID, so that every event
// carries a trace id: events recorded with a ctx that carries no trace
// (see StartTrace) belong to it.
func New(cfg TracingConfig, opts ...Option) (*TracingClient, error) {
	cfg.setDefaults()
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	errs := []error{cfg.Validate(), o.validate()}
	if cfg.Enabled && len(o.sinks) == 0 && len(o.errs) == 0 {
		errs = append(errs, fmt.Errorf("%w: no sink: pass WithSink to an enabled client", ErrInvalidConfig))
	}
	var sel *selector
	if errs[0] == nil {
		// The selector checks what Validate checks: only one of them
		// reports a bad field.
		var err error
		sel, err = newSelector(&cfg, o.selectorOpts...)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("tracing: new: %w", err)
	}

	c := &TracingClient{
		cfg:          cfg,
		sel:          sel,
		inPlace:      sel.inPlace(),
		blockWait:    cfg.QueuePolicy == batch.Block,
		log:          o.logger.Named("reflowtrace"),
		errorHandler: o.errorHandler,
		now:          o.now,
	}
	c.cfg.Tags = maps.Clone(cfg.Tags)
	warnings := cfg.Warnings()
	if cfg.Enabled {
		if w := cfg.serverSettingsWarning(o.sinks); w != "" {
			warnings = append(warnings, w)
		}
	}
	if len(warnings) > 0 {
		c.log.Warn("tracing config has settings that are suspicious or do not apply", zap.Strings("warnings", warnings))
	}
	for k := range c.redactBuilt {
		c.redactBuilt[k] = sel.redactor().changesBuilt(EventKind(k))
	}
	if len(cfg.CriticalKinds) == 0 {
		for k := range c.critical {
			c.critical[k] = EventKind(k).Critical()
		}
	} else {
		for _, k := range cfg.CriticalKinds {
			c.critical[k] = true
		}
	}
	c.sinks = make([]sinkState, len(o.sinks))
	for i, s := range o.sinks {
		c.sinks[i].sink = s
		c.sinks[i].name = sinkName(s)
		c.sinks[i].reporter, _ = s.(StatsReporter)
	}
	if !cfg.Enabled {
		if len(c.sinks) > 0 {
			// The zero TracingConfig is disabled: a client built from it
			// with sinks is most likely a mistake that would lose every
			// event without a sign.
			c.log.Warn("tracing client is disabled (TracingConfig.Enabled is false), so its sinks receive nothing; start from DefaultConfig to record",
				zap.Int("sinks", len(c.sinks)))
		}
		return c, nil
	}

	host, _ := os.Hostname()
	c.meta = TraceMetadata{
		Environment: cfg.Environment,
		Hostname:    host,
		ProcessID:   uint32(os.Getpid()),
		Tags:        c.cfg.Tags,
	}
	qcfg := queueConfig(&cfg)
	lo, hi := adaptiveBounds(&c.cfg)
	adaptive := cfg.AdaptiveBatching && c.acknowledging()
	if adaptive {
		qcfg.MaxBatch = hi // sizes the lanes; SetBatching starts at BatchSize
	}
	q, err := batch.New(qcfg, c.handle)
	if err != nil {
		return nil, fmt.Errorf("tracing: new: queue: %w", err)
	}
	if adaptive {
		q.SetBatching(cfg.BatchSize, cfg.BatchTimeout)
		c.pace = deliver.NewPacer(deliver.PaceConfig{Queue: q, Latency: c.ackLatency,
			MinBatch: lo, MaxBatch: hi, MaxTimeout: cfg.BatchTimeout}, c.now())
	}
	c.queue = q
	c.queueCap = float64(q.Cap())
	c.startOut(o.exportTimeout)
	c.lastDropLog = c.now()
	c.startImplicitTrace()
	c.on.Store(true)
	if cfg.SystemMetricsInterval > 0 {
		c.startMonitor(cfg.SystemMetricsInterval)
	}
	c.log.Info("tracing client started",
		zap.Int("sinks", len(c.sinks)), zap.Int("queue_size", cfg.QueueSize), zap.Int64("queue_bytes", cfg.QueueMemory()),
		zap.Int("batch_size", cfg.BatchSize), zap.Duration("batch_timeout", cfg.BatchTimeout))
	return c, nil
}

// startOut sets up the writing of batches to the sinks (see WithSink):
// with several sinks it starts their lanes, which Close stops.
func (c *TracingClient) startOut(exportTimeout time.Duration) {
	sinks := make([]deliver.Sink[TraceEvent], len(c.sinks))
	for i := range c.sinks {
		sinks[i] = c.sinks[i].sink
	}
	c.out = deliver.New[TraceEvent, FlowTrace](deliver.Config[TraceEvent]{
		Sinks:    sinks,
		Timeout:  exportTimeout,
		LaneSize: c.cfg.QueueSize,
		Block:    c.blockWait,
		Now:      c.now,
		Settled:  c.settle,
		WriteFailed: func(i, n int, err error) {
			c.reportError("batch lost", fmt.Errorf("tracing: write %d events to sink %d (%s): %w", n, i, c.sinks[i].name, err))
		},
		ObserveFailed: func(i int, err error) {
			c.reportError("trace start or end lost", c.sinkErr("observe trace in", i, err))
		},
		Flushed: func(i int) {
			if h := c.testHookLaneFlushed; h != nil {
				h(i)
			}
		},
		ClosedLate: func(i int, e deliver.CloseErrors) {
			c.log.Warn("sink returned after Close gave up on it", zap.Int("sink", i), zap.String("name", c.sinks[i].name),
				zap.NamedError("flush_error", e.Flush), zap.NamedError("close_error", e.Close))
			if err := errors.Join(c.sinkErr("close after giving up: flush", i, e.Flush), c.sinkErr("close after giving up:", i, e.Close)); err != nil {
				c.errMu.Lock()
				c.lastErr, c.lastErrTime = err.Error(), c.now()
				c.errMu.Unlock()
				c.handleError(err)
			}
			if h := c.testHookClosedLate; h != nil {
				h(i)
			}
		},
	})
}

func sinkName(s Sink) string {
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", s)
}

// NewNop returns a disabled client: recording costs about a function call
// and does nothing, Flush and Close return nil, and the middleware passes
// calls straight through. It starts no goroutine.
func NewNop() *TracingClient { return &TracingClient{log: zap.NewNop(), now: time.Now} }

// Enabled reports whether the client records events: true from New (with
// cfg.Enabled) until Close. Callers use it to skip building expensive
// snapshots. It is safe for concurrent use and costs one atomic load.
func (c *TracingClient) Enabled() bool { return c != nil && c.on.Load() }

// Config returns the client's configuration with defaults applied; the
// caller may modify the copy. Safe for concurrent use.
func (c *TracingClient) Config() TracingConfig {
	if c == nil {
		return TracingConfig{}
	}
	cfg := c.cfg
	cfg.Tags = maps.Clone(cfg.Tags)
	return cfg
}

// handle is the queue's consumer: it fills the checksums of captured
// content (ChecksumWhenCaptured), then has out write the batch to the
// sinks (see settle). It runs on the queue's single consumer goroutine.
func (c *TracingClient) handle(events []TraceEvent) {
	if len(events) == 0 {
		return
	}
	if c.out.Canceled() {
		// Close gave up: what is left is abandoned, not written.
		c.settleMu.Lock()
		if !c.gaveUp.Load() {
			c.dropAbandon.Add(uint64(len(events)))
		}
		c.settleMu.Unlock()
		return
	}
	if c.cfg.Privacy.CaptureContent && c.cfg.Privacy.Checksums == ChecksumWhenCaptured {
		for i := range events {
			fillChecksum(&events[i].Data)
		}
	}
	c.batches.Add(1)
	if c.cfg.Privacy.CaptureContent {
		// After the sinks (or the lanes' copies) are done with the slots.
		defer releaseContent(events)
	}
	if c.pace != nil {
		c.pace.Batch(len(events), c.now())
	}
	c.out.Write(events)
	c.logDrops(false)
}

// settle counts n events that every sink is done with: delivered when
// every sink wrote them, else dropped for the reason o gives; not at all
// once Close has given up on a busy sink, which counted them as abandoned
// (see giveUp). It runs on the consumer goroutine, or on the lane that
// finished last.
func (c *TracingClient) settle(n int, o deliver.Outcome, began int64) {
	c.settleMu.Lock()
	defer c.settleMu.Unlock()
	if c.gaveUp.Load() {
		return
	}
	switch o {
	case deliver.Delivered:
		c.delivered.Add(uint64(n))
		c.failingSince.Store(0)
	case deliver.Abandoned: // Close gave up before every sink wrote them
		c.dropAbandon.Add(uint64(n))
	case deliver.WriteFailed:
		c.dropWrite.Add(uint64(n))
		// The failing streak starts when the failed write began: a write
		// that hung until the export timeout has been failing all along.
		c.failingSince.CompareAndSwap(0, began)
	case deliver.Missed:
		c.dropSinkQueue.Add(uint64(n))
	}
}

// releaseContent drops the captured content of events that the sinks have
// written (or copied), so that the queue's slots, which are cleared only
// when they are reused, do not keep it from being freed.
func releaseContent(events []TraceEvent) {
	for i := range events {
		d := &events[i].Data
		if d.Message.SerializedData != nil {
			d.Message.SerializedData = nil
		}
		if d.StateDiff.Before != nil || d.StateDiff.After != nil {
			d.StateDiff.Before, d.StateDiff.After = nil, nil
		}
	}
}

// reportError records err as the last error, logs it with msg and hands
// it to the error handler.
func (c *TracingClient) reportError(msg string, err error) {
	c.errMu.Lock()
	c.lastErr = err.Error()
	c.lastErrTime = c.now()
	c.errMu.Unlock()
	c.log.Error(msg, zap.Error(err))
	c.handleError(err)
}

// handleError calls the error handler with err, one call at a time, and
// with no lock of the client's held: the handler may read Metrics.
func (c *TracingClient) handleError(err error) {
	if c.errorHandler == nil {
		return
	}
	c.handlerMu.Lock()
	defer c.handlerMu.Unlock()
	c.errorHandler(err)
}

// sinkErr wraps err, if not nil, naming sink i after what failed.
func (c *TracingClient) sinkErr(what string, i int, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("tracing: %s sink %d (%s): %w", what, i, c.sinks[i].name, err)
}

// logDrops logs a Warn summary of the events dropped since the last one, at
// most once per dropLogInterval unless force is set.
func (c *TracingClient) logDrops(force bool) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	now := c.now()
	if !force && now.Sub(c.lastDropLog) < dropLogInterval {
		return
	}
	d := c.dropCounts()
	last := c.loggedDrops
	if d.undelivered() == last.undelivered() && d.Filtered == last.Filtered && d.SampledOut == last.SampledOut {
		return
	}
	c.lastDropLog = now
	c.loggedDrops = d
	if d.undelivered() == last.undelivered() {
		return // only selection drops: they are by design
	}
	c.log.Warn("events dropped",
		zap.Uint64("queue_full", d.QueueFull-last.QueueFull),
		zap.Uint64("write_error", d.WriteError-last.WriteError),
		zap.Uint64("sink_queue_full", d.SinkQueueFull-last.SinkQueueFull),
		zap.Uint64("closed", d.Closed-last.Closed),
		zap.Uint64("filtered", d.Filtered-last.Filtered),
		zap.Uint64("sampled_out", d.SampledOut-last.SampledOut),
		zap.Uint64("total_undelivered", d.undelivered()))
}

// Flush returns when every event recorded before the call has been handed
// to the sinks and each sink's Flush has returned, with the sinks' errors
// joined; or when ctx ends, with ctx's error wrapped, naming the sinks that
// had not answered, also when a sink's Write or Flush ignores ctx: the
// sink's Flush then returns on a goroutine of its own. Events whose Write
// failed count as dropped (see Metrics), not as a Flush error. After Close it
// returns an error wrapping ErrClosed. A disabled client returns nil. A nil
// ctx never ends.
func (c *TracingClient) Flush(ctx context.Context) error {
	if c == nil {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if c.closed.Load() {
		return fmt.Errorf("tracing: flush: %w", ErrClosed)
	}
	if c.queue == nil {
		return nil
	}
	if err := c.queue.Flush(ctx); err != nil {
		if errors.Is(err, batch.ErrClosed) {
			return fmt.Errorf("tracing: flush: %w", ErrClosed)
		}
		return fmt.Errorf("tracing: flush: events still queued, not yet handed to the sinks%s: %w", c.writing(), err)
	}
	var errs []error
	for i, err := range c.out.Flush(ctx) {
		if errors.Is(err, deliver.ErrClosed) {
			err = ErrClosed // Close closed the lane meanwhile
		}
		errs = append(errs, c.sinkErr("flush", i, err))
	}
	c.logDrops(true)
	return errors.Join(errs...)
}

// writing names the sinks with a Write in progress, as ", sink 0 (name)
// still in Write since 1.2s", or "" when none is.
func (c *TracingClient) writing() string {
	var b strings.Builder
	now := c.now().UnixNano()
	for i := range c.sinks {
		if since := c.out.Sink(i).WritingSince; since != 0 {
			fmt.Fprintf(&b, ", sink %d (%s) still in Write since %v", i, c.sinks[i].name, time.Duration(now-since).Round(time.Millisecond))
		}
	}
	return b.String()
}

// UndeliveredError is returned (joined with other errors) by Close when
// events recorded with the client did not reach its sinks. Filtered and
// sampled-out events are not counted: they were dropped by design.
type UndeliveredError struct {
	// QueueFull, WriteError, SinkQueueFull and Closed count drops by
	// reason, as in DropCounts; Abandoned counts events still queued when
	// Close's context ended.
	QueueFull, WriteError, SinkQueueFull, Closed, Abandoned uint64
	// InSink counts events the sinks accepted and then gave up (see
	// DropCounts.Sink for the reasons).
	InSink uint64
}

// Total returns the number of events not delivered.
func (e *UndeliveredError) Total() uint64 {
	return e.QueueFull + e.WriteError + e.SinkQueueFull + e.Closed + e.Abandoned + e.InSink
}

// Error returns a summary such as "tracing: close: 12 events not delivered
// (queue full 10, write errors 2)".
func (e *UndeliveredError) Error() string {
	s := fmt.Sprintf("tracing: close: %d events not delivered (", e.Total())
	sep := ""
	for _, p := range []struct {
		n    uint64
		what string
	}{{e.QueueFull, "queue full"}, {e.WriteError, "write errors"}, {e.SinkQueueFull, "missed by a sink too far behind"}, {e.Closed, "recorded after close"}, {e.Abandoned, "abandoned"}, {e.InSink, "dropped in sinks"}} {
		if p.n > 0 {
			s += fmt.Sprintf("%s%s %d", sep, p.what, p.n)
			sep = ", "
		}
	}
	return s + ")"
}

// Close stops intake, drains the queue into the sinks, flushes and closes
// every sink and stops the client's goroutines, in that order. The error
// joins the sinks' errors and, when events were not delivered, an
// *UndeliveredError.
//
// If ctx ends first, Close cancels the Write in progress, abandons what is
// still queued, still flushes and closes the sinks (with the ended ctx, so
// that they release at once), waits for its goroutines to return, and
// returns errors.Join(ctx.Err(), …). A sink that ignores ctx does not hold
// Close past it: once ctx has ended, Close waits at most a short grace
// (250 ms) for the sinks' Write, Flush and Close to return, then gives up
// on those that have not. It counts every event it has not seen settled
// as abandoned (UndeliveredError.Abandoned, DropCounts.Closed), also if a
// busy sink writes it later, and names the busy sinks in its error. The
// goroutine blocked in the sink (the consumer's, a sink's lane, or the
// one Close started to flush and close it) is left to finish on its own
// once the sink returns; a Flush and Close of the sink that return after
// Close gave up are logged at Warn level, and their errors handed to the
// error handler.
//
// Close may be called more than once, also concurrently: the first call
// does the work above under its ctx, and every later call waits until it
// is over and returns the same error (nil only if everything recorded was
// delivered), or, if its own ctx ends first, returns that ctx's error
// wrapped while the first call carries on. A nil ctx never ends.
func (c *TracingClient) Close(ctx context.Context) (err error) {
	if c == nil {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	run := &closeRun{done: make(chan struct{})}
	if !c.closeRun.CompareAndSwap(nil, run) {
		run = c.closeRun.Load()
		select {
		case <-run.done:
			return run.err
		case <-ctx.Done():
			select {
			case <-run.done: // finished as ctx ended
				return run.err
			default:
			}
			return fmt.Errorf("tracing: close: %w", ctx.Err())
		}
	}
	defer func() {
		run.err = err
		close(run.done)
	}()
	c.closed.Store(true)
	// The monitor's last event is recorded before intake stops.
	c.stopMonitor()
	c.on.Store(false)
	var errs []error
	ctxErr := false
	if c.queue != nil {
		c.endImplicitTrace()
		abandon, stopGrace := afterGrace(ctx, closeGrace)
		defer stopGrace()
		stop := context.AfterFunc(ctx, c.out.Cancel)
		err := c.queue.Close(ctx)
		stop()
		if err != nil || ctx.Err() != nil {
			// ctx ended: the drain was cut short or its last export cancelled.
			c.out.Cancel()
			errs = append(errs, ctx.Err())
			ctxErr = true
		}
		busy := false
		for i, e := range c.out.Close(ctx, abandon) {
			if e.Busy {
				busy = true
				errs = append(errs, fmt.Errorf("tracing: close: sink %d (%s) still busy when ctx ended; left to finish on its own", i, c.sinks[i].name))
				continue
			}
			errs = append(errs, c.sinkErr("close: flush", i, e.Flush), c.sinkErr("close:", i, e.Close))
		}
		select {
		case <-c.queue.Done():
		case <-abandon:
			// The consumer is still in the one sink's Write (with several
			// sinks it only hands batches to their lanes).
			busy = true
			errs = append(errs, fmt.Errorf("tracing: close: the consumer still writing to sink 0 (%s) when ctx ended; left to finish on its own", c.sinks[0].name))
		}
		if err := ctx.Err(); err != nil && !ctxErr && (len(c.sinks) > 1 || busy) {
			// ctx ended while the sinks' lanes were draining, or a sink
			// ignored it.
			errs = append(errs, err)
		}
		if busy {
			c.giveUp()
		}
	} else {
		errs = append(errs, c.closeSinks(ctx)...)
	}
	if c.queue != nil {
		c.out.Cancel()
		c.logDrops(true)
		if u := c.undelivered(); u.Total() > 0 {
			errs = append(errs, u)
		}
		c.log.Info("tracing client closed", zap.Uint64("delivered", c.deliveredCount(c.sinkStats())))
	}
	return errors.Join(errs...)
}

// closeSinks closes the sinks of a client without a queue (a disabled
// one), all at once, as the queue's Close does: a panic fails its call,
// and a sink still in Close closeGrace after ctx ended is left to finish
// on its own.
func (c *TracingClient) closeSinks(ctx context.Context) []error {
	done := make([]chan error, len(c.sinks))
	for i := range c.sinks {
		done[i] = make(chan error, 1)
		go func() {
			done[i] <- deliver.Protect("Close", func() error { return c.sinks[i].sink.Close(ctx) })
		}()
	}
	abandon, stopGrace := afterGrace(ctx, closeGrace)
	defer stopGrace()
	errs := make([]error, 0, len(c.sinks)+1)
	for i := range c.sinks {
		var err error
		select {
		case err = <-done[i]:
		case <-abandon:
			select {
			case err = <-done[i]:
			default:
				err = fmt.Errorf("still busy when ctx ended; left to finish on its own: %w", ctx.Err())
			}
		}
		errs = append(errs, c.sinkErr("close:", i, err))
	}
	return errs
}

// afterGrace returns a channel closed grace after ctx ends, and a function
// that stops it (the channel is then never closed, if it was not yet).
func afterGrace(ctx context.Context, grace time.Duration) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	var mu sync.Mutex
	var timer *time.Timer
	stopped := false
	stopCtx := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			timer = time.AfterFunc(grace, func() { close(ch) })
		}
	})
	return ch, func() {
		stopCtx()
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		if timer != nil {
			timer.Stop()
		}
	}
}

// giveUp counts as abandoned every event that is neither settled nor
// counted by the queue as abandoned: queued, or in a Write that Close
// gave up on. Batches settled later are not counted again (settle), and
// the queue's Stats.Abandoned is read as it is now.
func (c *TracingClient) giveUp() {
	c.settleMu.Lock()
	defer c.settleMu.Unlock()
	if c.gaveUp.Load() {
		return
	}
	qs := c.queue.Stats()
	settled := c.delivered.Load() + c.dropWrite.Load() + c.dropAbandon.Load() + c.dropSinkQueue.Load() + qs.Abandoned
	if qs.Enqueued > settled {
		c.dropAbandon.Add(qs.Enqueued - settled)
	}
	c.queueAbandoned.Store(qs.Abandoned)
	c.gaveUp.Store(true)
}

// abandonedInQueue returns the queue's Stats.Abandoned, as it was when
// Close gave up on a busy sink, if it did.
func (c *TracingClient) abandonedInQueue(qs batch.Stats) uint64 {
	if c.gaveUp.Load() {
		return c.queueAbandoned.Load()
	}
	return qs.Abandoned
}

// closeRun is the state of the first Close call: err is written before
// done is closed.
type closeRun struct {
	done chan struct{}
	err  error
}

// undelivered counts what did not reach the sinks.
func (c *TracingClient) undelivered() *UndeliveredError {
	d := c.dropCounts()
	qs := c.queue.Stats()
	abandoned := c.abandonedInQueue(qs) + c.dropAbandon.Load()
	return &UndeliveredError{
		QueueFull:     d.QueueFull,
		WriteError:    d.WriteError,
		SinkQueueFull: d.SinkQueueFull,
		Closed:        d.Closed - abandoned,
		Abandoned:     abandoned,
		InSink:        d.inSink(),
	}
}
