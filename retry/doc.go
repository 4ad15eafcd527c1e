// Package retry runs an operation again after transient failures, waiting
// longer each time, on top of github.com/cenkalti/backoff/v4.
//
// A [Policy] mirrors Reflow's RetryConfig (max_retries, initial_delay,
// max_delay, backoff_multiplier) and uses Reflow's defaults: 5 retries, a
// first wait of 1 s that doubles up to 30 s. It adds jitter (each wait is
// randomized by ±[DefaultJitter] of its nominal value so that many clients
// do not reconnect in lockstep) and a bound on the total time spent
// retrying ([DefaultMaxElapsedTime]). Zero fields take the defaults, so the
// zero Policy is usable:
//
//	err := retry.Policy{}.Do(ctx, func(ctx context.Context) error {
//		return dial(ctx)
//	}, retry.WithLogger(log))
//
// An operation reports a failure that retrying cannot fix (a bad URL, an
// authentication failure, a protocol error) by returning [Permanent](err);
// [Policy.Do] then stops at once and returns err.
//
// # Errors
//
// When Do gives up it keeps the operation's last error: retries exhausted
// give an error wrapping [ErrExhausted] and the last error; the end of ctx
// gives fmt.Errorf("%w: %w", ctx.Err(), lastErr), so errors.Is works on both
// causes.
//
// # Concurrency
//
// A Policy is a plain value: copy it and use it from any number of
// goroutines. Each call to [Policy.Do] or [Policy.NewBackOff] builds fresh
// backoff state, which belongs to that call alone.
//
// # Testing
//
// [WithTimer] replaces the real timer so tests run without sleeping.
package retry
