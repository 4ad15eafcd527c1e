package retry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Defaults of a Policy. DefaultMaxRetries, DefaultInitialDelay,
// DefaultMaxDelay and DefaultBackoffMultiplier are the defaults of Reflow's
// RetryConfig.
const (
	// DefaultMaxRetries is how many times a failed operation is retried
	// after its first attempt.
	DefaultMaxRetries = 5
	// DefaultInitialDelay is the nominal wait before the first retry.
	DefaultInitialDelay = time.Second
	// DefaultMaxDelay caps the nominal wait between two attempts.
	DefaultMaxDelay = 30 * time.Second
	// DefaultBackoffMultiplier is the factor by which the nominal wait grows after
	// each retry.
	DefaultBackoffMultiplier = 2.0
	// DefaultJitter is the randomization factor: each wait is drawn
	// uniformly from [d*(1-DefaultJitter), d*(1+DefaultJitter)] around the
	// nominal wait d.
	DefaultJitter = 0.5
	// DefaultMaxElapsedTime bounds the total time a Policy keeps retrying,
	// measured from the start of Do (waits and attempts included).
	DefaultMaxElapsedTime = 15 * time.Minute
)

// Special field values of a Policy.
const (
	// Unlimited as Policy.MaxRetries (or any negative value other than
	// NoRetries) retries until the operation succeeds, MaxElapsedTime has
	// passed or the context ends.
	Unlimited = -1
	// NoRetries as Policy.MaxRetries runs the operation once and never
	// retries it: Reflow's max_retries = 0, which a zero MaxRetries cannot
	// say because zero means DefaultMaxRetries.
	NoRetries = math.MinInt32
	// NoJitter as Policy.Jitter (or any negative value) waits exactly the
	// nominal delays.
	NoJitter = -1.0
)

// ErrInvalidPolicy is wrapped by the errors of Policy.Validate and of
// Policy.Do for a policy that does not validate.
var ErrInvalidPolicy = errors.New("retry: invalid policy")

// Policy says how often and how long to retry a failing operation. It is a
// value: copy it freely and use it from any number of goroutines; it holds
// no state (see NewBackOff for the stateful part).
//
// Zero fields take the defaults, so Policy{} behaves like DefaultPolicy().
// The nominal wait before retry n (n = 1, 2, ...) is
// min(InitialDelay * BackoffMultiplier^(n-1), MaxDelay); Jitter then randomizes it.
type Policy struct {
	// MaxRetries is how many times the operation is retried after its first
	// attempt, so it runs at most MaxRetries+1 times. Zero means
	// DefaultMaxRetries; NoRetries means none; any other negative value
	// (Unlimited) retries until MaxElapsedTime has passed or the context
	// ends.
	MaxRetries int
	// InitialDelay is the nominal wait before the first retry. Zero means
	// DefaultInitialDelay; it must not be negative.
	InitialDelay time.Duration
	// MaxDelay caps the nominal wait. Zero means DefaultMaxDelay; it must
	// not be negative or below InitialDelay.
	MaxDelay time.Duration
	// BackoffMultiplier grows the nominal wait after each retry. Zero means
	// DefaultBackoffMultiplier; otherwise it must be finite and at least 1 (1 gives
	// a constant wait).
	BackoffMultiplier float64
	// Jitter is the randomization factor in [0, 1]: each wait is drawn
	// uniformly from [d*(1-Jitter), d*(1+Jitter)] around the nominal wait d,
	// so the randomized wait may exceed MaxDelay by up to that factor. Zero
	// means DefaultJitter; a negative value (NoJitter) disables jitter.
	Jitter float64
	// MaxElapsedTime bounds the total time spent retrying: no retry is
	// started whose wait would end later than MaxElapsedTime after the first
	// attempt began. Zero means DefaultMaxElapsedTime; it must not be
	// negative. Retrying is therefore always bounded, even with Unlimited.
	MaxElapsedTime time.Duration
}

// DefaultPolicy returns the policy with every field set to its default:
// Reflow's 5 retries starting at 1 s, doubling up to 30 s, with jitter 0.5
// and at most 15 minutes in total.
func DefaultPolicy() Policy {
	return Policy{
		MaxRetries:        DefaultMaxRetries,
		InitialDelay:      DefaultInitialDelay,
		MaxDelay:          DefaultMaxDelay,
		BackoffMultiplier: DefaultBackoffMultiplier,
		Jitter:            DefaultJitter,
		MaxElapsedTime:    DefaultMaxElapsedTime,
	}
}

// withDefaults returns p with zero fields replaced by their defaults.
func (p Policy) withDefaults() Policy {
	if p.MaxRetries == 0 {
		p.MaxRetries = DefaultMaxRetries
	}
	if p.InitialDelay == 0 {
		p.InitialDelay = DefaultInitialDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.BackoffMultiplier == 0 {
		p.BackoffMultiplier = DefaultBackoffMultiplier
	}
	if p.Jitter == 0 {
		p.Jitter = DefaultJitter
	}
	if p.MaxElapsedTime == 0 {
		p.MaxElapsedTime = DefaultMaxElapsedTime
	}
	return p
}

// Validate reports whether p, with its zero fields replaced by the
// defaults, is usable. Each problem names the field and its value; the
// returned error wraps ErrInvalidPolicy (and joins all problems found).
func (p Policy) Validate() error {
	q := p.withDefaults()
	var errs []error
	bad := func(field string, v any, why string) {
		errs = append(errs, fmt.Errorf("%w: %s %v %s", ErrInvalidPolicy, field, v, why))
	}
	if q.InitialDelay < 0 {
		bad("InitialDelay", q.InitialDelay, "must not be negative")
	}
	if q.MaxDelay < 0 {
		bad("MaxDelay", q.MaxDelay, "must not be negative")
	} else if q.InitialDelay > 0 && q.MaxDelay < q.InitialDelay {
		bad("MaxDelay", q.MaxDelay, fmt.Sprintf("must be at least InitialDelay (%v)", q.InitialDelay))
	}
	if m := q.BackoffMultiplier; math.IsNaN(m) || math.IsInf(m, 0) || m < 1 {
		bad("BackoffMultiplier", m, "must be a finite number >= 1")
	}
	if j := q.Jitter; math.IsNaN(j) || j > 1 {
		bad("Jitter", j, "must be at most 1 (negative disables jitter)")
	}
	if q.MaxElapsedTime < 0 {
		bad("MaxElapsedTime", q.MaxElapsedTime, "must not be negative")
	}
	return errors.Join(errs...)
}

// NewBackOff returns fresh backoff state for one operation under p: an
// exponential backoff stopped by MaxElapsedTime, by MaxRetries unless it is
// Unlimited (backoff.WithMaxRetries) and by the end of ctx
// (backoff.WithContext). A nil ctx means context.Background().
//
// The result is not safe for concurrent use; build one per operation. It
// can be passed to backoff.Retry and its friends. NewBackOff does not
// validate p: fields that Validate would reject are replaced by their
// defaults, so call Validate first to catch them.
func (p Policy) NewBackOff(ctx context.Context) backoff.BackOff {
	if ctx == nil {
		ctx = context.Background()
	}
	q := p.sanitized()
	eb := &backoff.ExponentialBackOff{
		InitialInterval:     q.InitialDelay,
		RandomizationFactor: q.Jitter,
		Multiplier:          q.BackoffMultiplier,
		MaxInterval:         q.MaxDelay,
		MaxElapsedTime:      q.MaxElapsedTime,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	eb.Reset()
	var b backoff.BackOff = eb
	if n, limited := q.Retries(); limited {
		b = backoff.WithMaxRetries(b, uint64(n))
	}
	return backoff.WithContext(b, ctx)
}

// sanitized returns p with defaults applied and invalid fields replaced by
// their defaults, and a negative Jitter turned into 0, ready for backoff.
func (p Policy) sanitized() Policy {
	q := p.withDefaults()
	if q.InitialDelay < 0 {
		q.InitialDelay = DefaultInitialDelay
	}
	if q.MaxDelay < q.InitialDelay {
		q.MaxDelay = max(DefaultMaxDelay, q.InitialDelay)
	}
	if m := q.BackoffMultiplier; math.IsNaN(m) || math.IsInf(m, 0) || m < 1 {
		q.BackoffMultiplier = DefaultBackoffMultiplier
	}
	switch j := q.Jitter; {
	case math.IsNaN(j) || j > 1:
		q.Jitter = DefaultJitter
	case j < 0:
		q.Jitter = 0
	}
	if q.MaxElapsedTime < 0 {
		q.MaxElapsedTime = DefaultMaxElapsedTime
	}
	if _, limited := q.Retries(); !limited {
		q.MaxRetries = Unlimited
	}
	return q
}

// DelayLimit returns the cap of the nominal wait between two attempts,
// its defaults applied: MaxDelay, DefaultMaxDelay when it is zero, and at
// least InitialDelay, as NewBackOff caps its waits.
func (p Policy) DelayLimit() time.Duration { return p.sanitized().MaxDelay }

// Retries returns how many times p retries an operation, its defaults
// applied: n retries when limited is true, no limit otherwise.
func (p Policy) Retries() (n int, limited bool) {
	switch m := p.MaxRetries; {
	case m == 0:
		return DefaultMaxRetries, true
	case m == NoRetries:
		return 0, true
	case m < 0:
		return 0, false
	default:
		return m, true
	}
}
