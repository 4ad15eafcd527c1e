package retry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"
)

// ErrExhausted is wrapped, together with the operation's last error, by
// the error Policy.Do returns when it stops because MaxRetries or
// MaxElapsedTime is used up.
var ErrExhausted = errors.New("retry: retries exhausted")

// Timer waits between attempts. It is backoff's Timer: Start(d) arms it to
// send on C() after d, Stop releases it. Do calls it from its own goroutine
// only and calls Stop once when it returns. Tests inject one with WithTimer
// to run without sleeping.
type Timer = backoff.Timer

// Option configures one call of Policy.Do. Options are sealed: build them
// with WithNotify, WithTimer and WithLogger.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	notify func(err error, attempt int, delay time.Duration)
	timer  Timer
	log    *zap.Logger
}

// WithNotify calls notify before each wait with the error of the attempt
// that failed, that attempt's number (1 for the first attempt) and the wait
// before the next one. It is not called when Do gives up. notify runs on
// the goroutine calling Do. Default: none.
func WithNotify(notify func(err error, attempt int, delay time.Duration)) Option {
	return optionFunc(func(c *config) { c.notify = notify })
}

// WithTimer replaces the timer Do waits with, for tests. Do owns the timer
// for the duration of the call and calls its Stop method before returning.
// A nil timer means the default, a time.Timer.
func WithTimer(t Timer) Option {
	return optionFunc(func(c *config) { c.timer = t })
}

// WithLogger logs each retry at Debug level with the attempt number, the
// wait and the error. A nil logger means the default, zap.NewNop().
func WithLogger(log *zap.Logger) Option {
	return optionFunc(func(c *config) { c.log = log })
}

// Permanent marks err as not worth retrying: Policy.Do returns it at once.
// Permanent(nil) is nil. The marker is backoff's *backoff.PermanentError, so
// backoff.Retry treats it the same way; errors.Is and errors.As see through
// it to err.
func Permanent(err error) error {
	return backoff.Permanent(err)
}

// IsPermanent reports whether err or any error it wraps was marked by
// Permanent (or backoff.Permanent).
func IsPermanent(err error) bool {
	var p *backoff.PermanentError
	return errors.As(err, &p)
}

// Do runs op until it succeeds, returns a Permanent error, the retries
// allowed by p are used up or ctx ends, waiting between attempts as p says.
// op receives ctx. Do is safe for concurrent use; each call has its own
// backoff state.
//
// Do returns:
//   - nil when op succeeds;
//   - op's error without the outermost Permanent marker when op returns a
//     Permanent error (errors.Is finds the original error);
//   - an error wrapping ErrExhausted and op's last error when MaxRetries or
//     MaxElapsedTime is used up;
//   - fmt.Errorf("%w: %w", ctx.Err(), lastErr) when ctx ends during a wait
//     or before an attempt, or ctx.Err() alone if op never ran;
//   - an error wrapping ErrInvalidPolicy, without running op, when p does
//     not validate.
func (p Policy) Do(ctx context.Context, op func(ctx context.Context) error, opts ...Option) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	if c.timer == nil {
		c.timer = &realTimer{}
	}
	defer c.timer.Stop()

	b := p.NewBackOff(ctx)
	var lastErr error
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return giveUpCtx(err, lastErr)
		}
		err := op(ctx)
		if err == nil {
			return nil
		}
		if pe, ok := err.(*backoff.PermanentError); ok && pe.Err != nil { //nolint:errorlint // only the outermost marker is removed
			return pe.Err
		}
		if IsPermanent(err) {
			return err
		}
		lastErr = err
		delay := b.NextBackOff()
		if delay == backoff.Stop {
			if cerr := ctx.Err(); cerr != nil {
				return giveUpCtx(cerr, lastErr)
			}
			return fmt.Errorf("%w after %d attempts: %w", ErrExhausted, attempt, lastErr)
		}
		if c.notify != nil {
			c.notify(err, attempt, delay)
		}
		c.log.Debug("retrying",
			zap.Int("attempt", attempt),
			zap.Duration("delay", delay),
			zap.Error(err))
		c.timer.Start(delay)
		select {
		case <-ctx.Done():
			return giveUpCtx(ctx.Err(), lastErr)
		case <-c.timer.C():
		}
	}
}

func giveUpCtx(ctxErr, lastErr error) error {
	if lastErr == nil {
		return ctxErr
	}
	return fmt.Errorf("%w: %w", ctxErr, lastErr)
}

// realTimer is the default Timer, backed by a time.Timer created on first
// use.
type realTimer struct{ t *time.Timer }

func (r *realTimer) Start(d time.Duration) {
	if r.t == nil {
		r.t = time.NewTimer(d)
		return
	}
	r.t.Reset(d)
}

func (r *realTimer) Stop() {
	if r.t != nil {
		r.t.Stop()
	}
}

func (r *realTimer) C() <-chan time.Time { return r.t.C }
