package otlp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// ErrInvalidOption is wrapped by the error New returns for an option with
// a value it cannot use; the message names the option.
var ErrInvalidOption = errors.New("otlp: invalid option")

// Sink exports trace events as OpenTelemetry spans over OTLP (see the
// package documentation for the mapping). It implements tracing.Sink,
// tracing.TraceObserver and tracing.StatsReporter.
//
// Write maps the batch to spans and exports them before it returns: a nil
// error means the collector accepted every span of the batch (the events
// are then acknowledged, see SinkStats), an error that the batch was not
// delivered. Root spans, one per trace, go out with the first Write or
// Flush after the trace ended, or at Close for traces that never ended;
// none goes out for a trace this process only joined (see ObserveTrace),
// whose root span is the starting process's. An event whose parent the
// client did not deliver (sampled out, for one) keeps that parent, whose
// span is missing: see "Parents that were not exported" in the package
// documentation.
//
// A Sink is safe for concurrent use. After Close, Write and Flush return an
// error wrapping tracing.ErrClosed.
type Sink struct {
	exporter sdktrace.SpanExporter
	mapper   mapper
	log      *zap.Logger
	name     string
	hist     metric.Float64Histogram
	fallback tracing.TraceID // the trace of events that carry none

	maxTraces int
	mu        sync.Mutex
	traces    map[tracing.TraceID]*traceInfo
	head      *traceInfo // most recently heard of
	tail      *traceInfo
	// settled holds the last maxTraces traces forgotten after their root
	// span went out or that this process only joined: their events, if
	// more come, get no root span from this Sink.
	settled   map[tracing.TraceID]struct{}
	settledQ  []tracing.TraceID       // ring, in the order forgotten
	settledAt int                     // next position of settledQ to write
	pending   []sdktrace.ReadOnlySpan // root spans waiting for an export
	closed    bool

	exporting chan struct{} // holds a token during an export: one at a time
	closeOnce sync.Once
	closeErr  error

	acked   atomic.Uint64
	stalled atomic.Int64 // unix ns of the first failed export since the last success; 0: none
}

var (
	_ tracing.Sink          = (*Sink)(nil)
	_ tracing.TraceObserver = (*Sink)(nil)
	_ tracing.StatsReporter = (*Sink)(nil)
)

// New returns a Sink that exports through an OTLP trace exporter built
// from opts (otlptracehttp by default, otlptracegrpc with
// WithProtocol(ProtocolGRPC)), or through WithExporter's. ctx serves the
// exporter's construction only; neither exporter connects before the first
// export. It returns an error wrapping ErrInvalidOption for a bad option,
// and the exporter's error if it cannot be built.
func New(ctx context.Context, opts ...Option) (*Sink, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	exp := cfg.exporter
	name := "otlp(exporter)"
	if exp == nil {
		switch cfg.protocol {
		case ProtocolGRPC:
			exp, err = otlptracegrpc.New(ctx, cfg.grpcOptions()...)
		default:
			exp, err = otlptracehttp.New(ctx, cfg.httpOptions()...)
		}
		if err != nil {
			return nil, fmt.Errorf("otlp: new %s exporter: %w", cfg.protocol, err)
		}
		name = "otlp(" + cfg.protocol.String()
		if ep := cfg.endpoint + cfg.endpointURL; ep != "" {
			name += " " + ep
		}
		name += ")"
	}
	res := resource.NewSchemaless(attribute.String("service.name", cfg.serviceName))
	if cfg.resource != nil {
		if res, err = resource.Merge(res, cfg.resource); err != nil {
			_ = exp.Shutdown(ctx)
			return nil, fmt.Errorf("%w: WithResource: %w", ErrInvalidOption, err)
		}
	}
	s := &Sink{
		exporter:  exp,
		exporting: make(chan struct{}, 1),
		mapper:    mapper{res: res, scope: instrumentation.Scope{Name: ScopeName}},
		log:       cfg.logger.Named("sink.otlp"),
		name:      name,
		fallback:  tracing.NewTraceID(),
		maxTraces: cfg.maxTraces,
		traces:    make(map[tracing.TraceID]*traceInfo),
		settled:   make(map[tracing.TraceID]struct{}),
	}
	if cfg.meter != nil {
		s.hist, err = cfg.meter.Meter(ScopeName).Float64Histogram("reflowtrace.otlp.export.duration",
			metric.WithUnit("s"),
			metric.WithDescription("Duration of OTLP trace exports, retries included."),
			metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
		if err != nil {
			_ = exp.Shutdown(ctx)
			return nil, fmt.Errorf("otlp: WithMeterProvider: histogram: %w", err)
		}
	}
	return s, nil
}

// String names the sink in the client's metrics: "otlp(grpc host:port)",
// "otlp(http/protobuf)", or "otlp(exporter)" for WithExporter's.
func (s *Sink) String() string { return s.name }

// Write maps every event of batch to a span and exports them, together
// with the root spans of the traces that ended since the last export, in
// one call of the exporter. It keeps nothing of batch. It returns nil once
// the exporter returned nil (the events count as acknowledged), else an
// error wrapping the exporter's (the batch is lost; root spans are kept
// for the next export), ctx's, or tracing.ErrClosed after Close.
func (s *Sink) Write(ctx context.Context, batch []tracing.TraceEvent) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("otlp: write: %w", err)
	}
	refs := make([]*traceInfo, len(batch))
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("otlp: write: %w", tracing.ErrClosed)
	}
	for i := range batch {
		ev := &batch[i]
		t := s.lookup(s.traceOf(ev))
		t.see(eventTimes(ev))
		c := *t
		c.prev, c.next = nil, nil
		refs[i] = &c
	}
	roots := s.takePending()
	s.mu.Unlock()

	spans := make([]sdktrace.ReadOnlySpan, 0, len(roots)+len(batch))
	spans = append(spans, roots...)
	for i := range batch {
		spans = append(spans, s.mapper.eventSpan(&batch[i], refs[i]))
	}
	if len(spans) == 0 {
		return nil
	}
	if err := s.export(ctx, spans, len(batch)); err != nil {
		s.restore(roots)
		return fmt.Errorf("otlp: write %d events: %w", len(batch), err)
	}
	return nil
}

// Flush exports the root spans of the traces that ended since the last
// export. Write exports events before it returns, so nothing else waits.
// It returns an error wrapping the exporter's (the root spans are kept),
// ctx's, or tracing.ErrClosed after Close.
func (s *Sink) Flush(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("otlp: flush: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("otlp: flush: %w", tracing.ErrClosed)
	}
	roots := s.takePending()
	s.mu.Unlock()
	if len(roots) == 0 {
		return nil
	}
	if err := s.export(ctx, roots, 0); err != nil {
		s.restore(roots)
		return fmt.Errorf("otlp: flush %d root spans: %w", len(roots), err)
	}
	return nil
}

// Close exports the root spans still pending and those of the traces that
// never ended but have events (with reflow.status "Running" and an unset
// status, ending at their last event), except the traces this process
// only joined, then shuts the exporter down. Write and Flush fail
// afterwards; a second Close returns nil. It returns what the export and
// the shutdown returned, joined.
func (s *Sink) Close(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	first := false
	s.closeOnce.Do(func() {
		first = true
		s.mu.Lock()
		s.closed = true
		roots := s.takePending()
		for t := s.head; t != nil; t = t.next {
			if !t.exported && !t.joined && !t.first.IsZero() {
				t.exported = true
				roots = append(roots, s.mapper.rootSpan(t))
			}
		}
		s.traces, s.head, s.tail, s.settled, s.settledQ = nil, nil, nil, nil, nil
		s.mu.Unlock()
		var errs []error
		if len(roots) > 0 {
			if err := s.export(ctx, roots, 0); err != nil {
				errs = append(errs, fmt.Errorf("otlp: close: export %d root spans: %w", len(roots), err))
			}
		}
		if err := s.exporter.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("otlp: close: shutdown exporter: %w", err))
		}
		s.closeErr = errors.Join(errs...)
		s.log.Info("closed", zap.Uint64("acknowledged", s.acked.Load()), zap.Error(s.closeErr))
	})
	if !first {
		return nil
	}
	return s.closeErr
}

// ObserveTrace records what the client says of a trace: its flow, version,
// execution and, once it ended, its status. The root span of an ended
// trace is exported with the next Write or Flush. A header tagged
// wire.TagJoined says that this process only joined a trace another one
// started (see tracing.TracingClient.JoinTrace): the Sink then never
// exports that trace's root span, which the starting process does, and
// parents this process's events without a cause to it all the same; a
// joined header for a trace whose own header came first (a trace started
// here that came back through another process) changes nothing. It does
// not block on the network. Ignored after Close.
func (s *Sink) ObserveTrace(ft tracing.FlowTrace) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	id := ft.TraceID
	if id.IsZero() {
		id = s.fallback
	}
	t := s.lookup(id)
	joined := ft.Metadata.Tags[wire.TagJoined] != ""
	if joined && t.observed && !t.joined {
		return // started here: its header and root span stay this process's
	}
	ft.Events = nil
	t.trace = ft
	t.observed = true
	t.joined = joined
	if !joined && !ft.EndTime.IsZero() {
		t.ended = true
		if !t.exported {
			s.queueRoot(t)
		}
	}
}

// SinkStats reports the events acknowledged (exports that returned nil)
// and, while exports fail, since when. The Sink drops nothing on its own:
// a failed Write's batch is counted by the client. Safe for concurrent use.
func (s *Sink) SinkStats() tracing.SinkStats {
	st := tracing.SinkStats{Acknowledges: true, Acknowledged: s.acked.Load()}
	if ns := s.stalled.Load(); ns != 0 {
		st.StalledSince = time.Unix(0, ns)
	}
	return st
}

// export sends spans, of which events are events of a batch, and keeps the
// counters.
func (s *Sink) export(ctx context.Context, spans []sdktrace.ReadOnlySpan, events int) error {
	// Waiting for another export to end is bounded by ctx too.
	select {
	case s.exporting <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.exporting }()
	start := time.Now()
	err := s.exporter.ExportSpans(ctx, spans)
	took := time.Since(start)
	if s.hist != nil {
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		s.hist.Record(context.Background(), took.Seconds(), metric.WithAttributes(attribute.String("outcome", outcome)))
	}
	if err != nil {
		s.stalled.CompareAndSwap(0, start.UnixNano())
		s.log.Debug("export failed", zap.Int("spans", len(spans)), zap.Duration("took", took), zap.Error(err))
		return err
	}
	s.stalled.Store(0)
	s.acked.Add(uint64(events))
	s.log.Debug("exported", zap.Int("spans", len(spans)), zap.Int("events", events), zap.Duration("took", took))
	return nil
}

// traceOf returns the trace id ev is exported under.
func (s *Sink) traceOf(ev *tracing.TraceEvent) tracing.TraceID {
	if ev.TraceID.IsZero() {
		return s.fallback
	}
	return ev.TraceID
}

// lookup returns the trace with id, adding it if new, and makes it the
// most recent. Called with mu held.
func (s *Sink) lookup(id tracing.TraceID) *traceInfo {
	t := s.traces[id]
	if t == nil {
		t = &traceInfo{id: id, otelID: trace.TraceID(id)}
		t.trace.TraceID = id
		_, t.exported = s.settled[id]
		s.traces[id] = t
		s.pushFront(t)
		if len(s.traces) > s.maxTraces {
			s.evict(s.tail)
		}
		return t
	}
	if s.head != t {
		s.unlink(t)
		s.pushFront(t)
	}
	return t
}

// evict forgets t, queueing its root span if it was not exported yet, the
// trace has events and this process did not only join it. It remembers
// traces whose root is out or not this process's among the settled ones.
// Called with mu held.
func (s *Sink) evict(t *traceInfo) {
	s.unlink(t)
	delete(s.traces, t.id)
	if !t.exported && !t.joined && !t.first.IsZero() {
		s.queueRoot(t)
	}
	if t.exported || t.joined {
		s.settle(t.id)
	}
}

// settle remembers that trace id gets no (further) root span from this
// Sink, forgetting the oldest such trace beyond maxTraces. Called with mu
// held.
func (s *Sink) settle(id tracing.TraceID) {
	if _, ok := s.settled[id]; ok {
		return
	}
	if len(s.settledQ) < s.maxTraces {
		s.settledQ = append(s.settledQ, id)
	} else {
		delete(s.settled, s.settledQ[s.settledAt])
		s.settledQ[s.settledAt] = id
		s.settledAt = (s.settledAt + 1) % s.maxTraces
	}
	s.settled[id] = struct{}{}
}

func (s *Sink) pushFront(t *traceInfo) {
	t.prev, t.next = nil, s.head
	if s.head != nil {
		s.head.prev = t
	}
	s.head = t
	if s.tail == nil {
		s.tail = t
	}
}

func (s *Sink) unlink(t *traceInfo) {
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		s.head = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	} else {
		s.tail = t.prev
	}
	t.prev, t.next = nil, nil
}

// takePending returns the queued root spans and empties the queue. Called
// with mu held.
func (s *Sink) takePending() []sdktrace.ReadOnlySpan {
	p := s.pending
	s.pending = nil
	return p
}

// restore puts root spans whose export failed back in front of the queue,
// unless the Sink closed meanwhile.
func (s *Sink) restore(roots []sdktrace.ReadOnlySpan) {
	if len(roots) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.log.Warn("root spans lost: the sink closed", zap.Int("spans", len(roots)))
		return
	}
	s.pending = append(roots, s.pending...)
	s.trimPending()
}

// queueRoot queues t's root span for the next export. Called with mu held.
func (s *Sink) queueRoot(t *traceInfo) {
	t.exported = true
	s.pending = append(s.pending, s.mapper.rootSpan(t))
	s.trimPending()
}

// trimPending keeps at most maxTraces root spans waiting, dropping the
// oldest: only a long outage queues more. Called with mu held.
func (s *Sink) trimPending() {
	if n := len(s.pending) - s.maxTraces; n > 0 {
		s.log.Warn("root spans dropped: too many waiting for an export", zap.Int("spans", n))
		s.pending = append(s.pending[:0], s.pending[n:]...)
	}
}
