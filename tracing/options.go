package tracing

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"go.uber.org/zap"
)

// defaultExportTimeout bounds each Sink.Write the client makes, unless
// WithExportTimeout says otherwise.
const defaultExportTimeout = 30 * time.Second

// Option configures a TracingClient beyond what TracingConfig can write down:
// the logger, the sinks and the hooks. Options are applied in order by New;
// a later option overrides an earlier one of the same kind, except WithSink,
// which adds up. The interface is sealed: only this package
// implements it.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// options is what the Options set; New fills the defaults first.
type options struct {
	logger        *zap.Logger
	sinks         []Sink
	errorHandler  func(error)
	exportTimeout time.Duration
	// now reads the wall clock; tests replace it to drive Healthy.
	now func() time.Time

	// selectorOpts configure the selector: options of event selection
	// (WithFilter, WithSampler, WithRedactor) append a function here and New
	// passes them, in order, to newSelector.
	selectorOpts []func(*selector)

	// errs collect invalid option values; New reports them all.
	errs []error
}

func defaultOptions() options {
	return options{
		logger:        zap.NewNop(),
		exportTimeout: defaultExportTimeout,
		now:           time.Now,
	}
}

func (o *options) invalid(option, format string, args ...any) {
	o.errs = append(o.errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, option, fmt.Sprintf(format, args...)))
}

func (o *options) validate() error { return errors.Join(o.errs...) }

// WithLogger sets the logger for lifecycle messages, drop summaries and sink
// errors; the client names it "reflowtrace". The hot path never logs.
// Default: zap.NewNop(). A nil logger is an error.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(o *options) {
		if l == nil {
			o.invalid("WithLogger", "nil logger")
			return
		}
		o.logger = l
	})
}

// WithSink adds s to the sinks the client writes batches to; repeat it to
// send every batch to several sinks. An enabled client needs at least one
// sink. The client owns its sinks: Close closes them. A nil sink is an
// error.
//
// With one sink, the client's consumer goroutine writes each batch to it.
// With several, each sink gets a goroutine and a queue of its own, fed by
// the consumer without blocking, so that a sink that is slow, hangs or
// fails never holds back the others: each sink sees every batch in order,
// from one goroutine, and its trace ends (TraceObserver) after the
// batches before them. A sink may fall behind by up to
// TracingConfig.QueueSize events (held as copies, shared by the sinks);
// a batch that would take it further is missed by that sink alone and
// counted (SinkStats.QueueFull, DropCounts.SinkQueueFull). Under the
// Block queue policy nothing is missed: the consumer waits for room
// instead, so that a sink that far behind sets the pace of all (and
// RecordWait waits). Flush flushes
// every sink once it has written what was queued for it, and reports, for
// a sink that has not when ctx ends, ctx's error naming the sink. Sinks
// must not modify the batches they are given: the sinks share them.
func WithSink(s Sink) Option {
	return optionFunc(func(o *options) {
		if s == nil {
			o.invalid("WithSink", "nil sink")
			return
		}
		if v := reflect.ValueOf(s); v.Kind() == reflect.Pointer && v.IsNil() {
			o.invalid("WithSink", "nil %T", s)
			return
		}
		o.sinks = append(o.sinks, s)
	})
}

// WithErrorHandler sets a function called with every error that has no
// caller to return to: a failed Sink.Write (the batch is lost), a failed
// trace notification, a sink's ObserveTrace that panicked (that sink
// misses the trace's start or end), a sink's Flush or Close that failed
// after Close stopped waiting for it. It is called from the client's
// goroutines, one call at a time, and must not block for long, nor call
// Flush or Close (which wait for those goroutines); it may read Metrics.
// Default: none (errors are only logged and counted in Metrics). A nil
// function removes the handler.
func WithErrorHandler(f func(error)) Option {
	return optionFunc(func(o *options) { o.errorHandler = f })
}

// WithExportTimeout bounds each Sink.Write the client makes: every write runs
// under its own context with this timeout. Default: 30s.
// It must be positive.
func WithExportTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d <= 0 {
			o.invalid("WithExportTimeout", "%v must be positive", d)
			return
		}
		o.exportTimeout = d
	})
}

// withClock replaces the wall clock used for health and metrics timing.
func withClock(now func() time.Time) Option {
	return optionFunc(func(o *options) { o.now = now })
}
