package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/reflowtrace/reflowtrace-go/retry"
)

// instantTimer fires at once; it keeps the example fast. Programs leave
// WithTimer out and get a real timer.
type instantTimer struct{ c chan time.Time }

func (t *instantTimer) Start(time.Duration) { t.c <- time.Time{} }
func (t *instantTimer) Stop()               {}
func (t *instantTimer) C() <-chan time.Time { return t.c }

func ExamplePolicy_Do() {
	p := retry.Policy{MaxRetries: 4, InitialDelay: 100 * time.Millisecond, Jitter: retry.NoJitter}

	attempts := 0
	dial := func(ctx context.Context) error {
		attempts++
		if attempts < 3 {
			return errors.New("connection refused")
		}
		return nil
	}
	err := p.Do(context.Background(), dial,
		retry.WithTimer(&instantTimer{c: make(chan time.Time, 1)}),
		retry.WithNotify(func(err error, attempt int, delay time.Duration) {
			fmt.Printf("attempt %d failed (%v), next in %v\n", attempt, err, delay)
		}))
	fmt.Println("err:", err, "attempts:", attempts)

	// A permanent error stops at once and comes back unwrapped.
	errAuth := errors.New("401 unauthorized")
	err = p.Do(context.Background(), func(ctx context.Context) error {
		return retry.Permanent(errAuth)
	})
	fmt.Println(err, errors.Is(err, errAuth))
	// Output:
	// attempt 1 failed (connection refused), next in 100ms
	// attempt 2 failed (connection refused), next in 200ms
	// err: <nil> attempts: 3
	// 401 unauthorized true
}
