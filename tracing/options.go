package tracing

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// DefaultExportTimeout bounds each Sink.Write the client makes, unless
// WithExportTimeout says otherwise.
const DefaultExportTimeout = 30 * time.Second

// Option configures a TracingClient beyond what TracingConfig can write down:
// the logger, the sinks and the hooks. Options are applied in order by New;
// a later option overrides an earlier one of the same kind, except WithSink
// and WithSinks, which add up. The interface is sealed: only this package
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
		exportTimeout: DefaultExportTimeout,
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

// WithSink adds s to the sinks the client writes batches to. An enabled
// client needs at least one sink. The client owns its sinks: Close closes
// them. A nil sink is an error.
func WithSink(s Sink) Option {
	return optionFunc(func(o *options) {
		if s == nil {
			o.invalid("WithSink", "nil sink")
			return
		}
		o.sinks = append(o.sinks, s)
	})
}

// WithSinks adds several sinks. The client's consumer goroutine writes each
// batch to every sink in turn, in the order given; an error from one sink
// never keeps the others from receiving the batch. A nil sink is an error.
func WithSinks(sinks ...Sink) Option {
	return optionFunc(func(o *options) {
		for i, s := range sinks {
			if s == nil {
				o.invalid("WithSinks", "sink %d is nil", i)
				continue
			}
			o.sinks = append(o.sinks, s)
		}
	})
}

// WithErrorHandler sets a function called with every error that has no
// caller to return to: a failed Sink.Write (the batch is lost), a failed
// trace notification. It is called from the client's goroutines, one call
// at a time, and must not block for long. Default: none (errors are only
// logged and counted in Metrics). A nil function removes the handler.
func WithErrorHandler(f func(error)) Option {
	return optionFunc(func(o *options) { o.errorHandler = f })
}

// WithExportTimeout bounds each Sink.Write the client makes: every write runs
// under its own context with this timeout. Default: DefaultExportTimeout.
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
