package retry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// fakeTimer records the waits it is asked for. Unless hold is set it fires
// at once; with hold it never fires, so the caller stays in its wait.
// started, if set, receives each wait as the timer is armed.
type fakeTimer struct {
	mu      sync.Mutex
	waits   []time.Duration
	stopped int
	hold    bool
	started chan time.Duration
	c       chan time.Time
}

func newFakeTimer() *fakeTimer { return &fakeTimer{c: make(chan time.Time, 1)} }

func (f *fakeTimer) Start(d time.Duration) {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	if f.started != nil {
		f.started <- d
	}
	if !f.hold {
		select {
		case f.c <- time.Time{}:
		default:
		}
	}
}

func (f *fakeTimer) Stop() {
	f.mu.Lock()
	f.stopped++
	f.mu.Unlock()
}

func (f *fakeTimer) C() <-chan time.Time { return f.c }

func (f *fakeTimer) recorded() ([]time.Duration, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.waits...), f.stopped
}

var errTransient = errors.New("connection refused")

// failing returns an op that fails until attempt succeedOn (never if 0)
// and counts its calls.
func failing(calls *int, succeedOn int) func(context.Context) error {
	return func(context.Context) error {
		*calls++
		if succeedOn > 0 && *calls >= succeedOn {
			return nil
		}
		return fmt.Errorf("attempt %d: %w", *calls, errTransient)
	}
}

func TestDoMaxRetries(t *testing.T) {
	tests := []struct {
		name      string
		p         Policy
		succeedOn int
		wantCalls int
		wantErr   bool
	}{
		{name: "default gives up after 5 retries", p: Policy{}, wantCalls: 6, wantErr: true},
		{name: "one retry", p: Policy{MaxRetries: 1}, wantCalls: 2, wantErr: true},
		{name: "three retries", p: Policy{MaxRetries: 3}, wantCalls: 4, wantErr: true},
		{name: "first attempt succeeds", p: Policy{MaxRetries: 3}, succeedOn: 1, wantCalls: 1},
		{name: "succeeds on the last allowed attempt", p: Policy{MaxRetries: 3}, succeedOn: 4, wantCalls: 4},
		{name: "unlimited until success", p: Policy{MaxRetries: Unlimited}, succeedOn: 100, wantCalls: 100},
		{name: "other negative values are unlimited", p: Policy{MaxRetries: -7}, succeedOn: 20, wantCalls: 20},
		{name: "no retries runs once", p: Policy{MaxRetries: NoRetries}, wantCalls: 1, wantErr: true},
		{name: "no retries, first attempt succeeds", p: Policy{MaxRetries: NoRetries}, succeedOn: 1, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := newFakeTimer()
			calls := 0
			err := tt.p.Do(t.Context(), failing(&calls, tt.succeedOn), WithTimer(ft))
			if calls != tt.wantCalls {
				t.Errorf("op ran %d times, want %d", calls, tt.wantCalls)
			}
			waits, stopped := ft.recorded()
			if len(waits) != tt.wantCalls-1 {
				t.Errorf("waited %d times, want %d", len(waits), tt.wantCalls-1)
			}
			if stopped != 1 {
				t.Errorf("timer stopped %d times, want 1", stopped)
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Do() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrExhausted) || !errors.Is(err, errTransient) {
				t.Fatalf("Do() = %v, want it to wrap ErrExhausted and the op's error", err)
			}
			want := fmt.Sprintf("retry: retries exhausted after %d attempts: attempt %d: connection refused", calls, calls)
			if err.Error() != want {
				t.Fatalf("Do() = %q, want %q", err, want)
			}
		})
	}
}

func TestDoUnlimitedStopsOnContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	calls := 0
	op := func(context.Context) error {
		calls++
		if calls == 50 {
			cancel()
		}
		return errTransient
	}
	err := Policy{MaxRetries: Unlimited}.Do(ctx, op, WithTimer(newFakeTimer()))
	if calls != 50 {
		t.Fatalf("op ran %d times, want 50", calls)
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errTransient) {
		t.Fatalf("Do() = %v, want both context.Canceled and the last error", err)
	}
	if errors.Is(err, ErrExhausted) {
		t.Fatalf("Do() = %v, must not claim the retries were exhausted", err)
	}
}

func TestDoPermanent(t *testing.T) {
	errAuth := errors.New("auth failed")
	tests := []struct {
		name          string
		err           error
		wantSame      bool   // the returned error is errAuth itself
		wantMsg       string // message of the returned error
		wantPermanent bool   // IsPermanent(returned)
	}{
		{name: "marked", err: Permanent(errAuth), wantSame: true, wantMsg: "auth failed"},
		{name: "backoff's marker", err: backoff.Permanent(errAuth), wantSame: true, wantMsg: "auth failed"},
		{name: "marked and wrapped", err: fmt.Errorf("dial: %w", Permanent(errAuth)), wantMsg: "dial: auth failed", wantPermanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := newFakeTimer()
			calls := 0
			err := Policy{MaxRetries: Unlimited}.Do(t.Context(), func(context.Context) error {
				calls++
				return tt.err
			}, WithTimer(ft))
			if calls != 1 {
				t.Fatalf("op ran %d times, want 1", calls)
			}
			if waits, _ := ft.recorded(); len(waits) != 0 {
				t.Fatalf("waited %v before giving up on a permanent error", waits)
			}
			if tt.wantSame && err != errAuth { //nolint:errorlint // identity is the point
				t.Fatalf("Do() = %#v, want errAuth itself", err)
			}
			if !errors.Is(err, errAuth) || err.Error() != tt.wantMsg {
				t.Fatalf("Do() = %q, want %q wrapping errAuth", err, tt.wantMsg)
			}
			if IsPermanent(err) != tt.wantPermanent {
				t.Fatalf("IsPermanent(%v) = %v, want %v", err, !tt.wantPermanent, tt.wantPermanent)
			}
		})
	}
}

func TestPermanentAndIsPermanent(t *testing.T) {
	base := errors.New("bad url")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "nil", err: nil, want: false},
		{name: "plain", err: base, want: false},
		{name: "marked", err: Permanent(base), want: true},
		{name: "wrapped mark", err: fmt.Errorf("x: %w", Permanent(base)), want: true},
		{name: "joined mark", err: errors.Join(base, Permanent(base)), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsPermanent(tt.err); got != tt.want {
				t.Fatalf("IsPermanent(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if Permanent(nil) != nil {
		t.Fatal("Permanent(nil) != nil")
	}
	if p := Permanent(base); !errors.Is(p, base) || p.Error() != base.Error() {
		t.Fatalf("Permanent(base) = %v, want it to wrap base with the same message", p)
	}
}

func TestDoContextCancelledDuringWait(t *testing.T) {
	ft := newFakeTimer()
	ft.hold = true
	ft.started = make(chan time.Duration, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	calls := 0
	go func() {
		done <- Policy{MaxRetries: Unlimited}.Do(ctx, failing(&calls, 0), WithTimer(ft))
	}()
	select {
	case <-ft.started:
	case <-t.Context().Done():
		t.Fatal("Do never started waiting")
	}
	cancel()
	var err error
	select {
	case err = <-done:
	case <-t.Context().Done():
		t.Fatal("Do did not return after the context was cancelled")
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errTransient) {
		t.Fatalf("Do() = %v, want both context.Canceled and the last error", err)
	}
	if want := "context canceled: attempt 1: connection refused"; err.Error() != want {
		t.Fatalf("Do() = %q, want %q", err, want)
	}
	if calls != 1 {
		t.Fatalf("op ran %d times, want 1", calls)
	}
}

func TestDoContextDoneBeforeStart(t *testing.T) {
	tests := []struct {
		name string
		ctx  func(t *testing.T) context.Context
		want error
	}{
		{name: "cancelled", want: context.Canceled, ctx: func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}},
		{name: "deadline passed", want: context.DeadlineExceeded, ctx: func(t *testing.T) context.Context {
			ctx, cancel := context.WithDeadline(t.Context(), time.Unix(0, 0))
			t.Cleanup(cancel)
			return ctx
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := Policy{}.Do(tt.ctx(t), failing(&calls, 0), WithTimer(newFakeTimer()))
			if calls != 0 {
				t.Fatalf("op ran %d times on a finished context", calls)
			}
			if err != tt.want { //nolint:errorlint // no last error to join
				t.Fatalf("Do() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDoInvalidPolicy(t *testing.T) {
	calls := 0
	err := Policy{BackoffMultiplier: 0.5}.Do(t.Context(), failing(&calls, 0), WithTimer(newFakeTimer()))
	if !errors.Is(err, ErrInvalidPolicy) || calls != 0 {
		t.Fatalf("Do() = %v after %d calls, want ErrInvalidPolicy and no call", err, calls)
	}
}

func TestDoNotify(t *testing.T) {
	type call struct {
		attempt int
		delay   time.Duration
		msg     string
	}
	var got []call
	ft := newFakeTimer()
	calls := 0
	p := Policy{MaxRetries: 3, InitialDelay: 10 * time.Millisecond, Jitter: NoJitter}
	err := p.Do(t.Context(), failing(&calls, 4), WithTimer(ft),
		WithNotify(func(err error, attempt int, delay time.Duration) {
			got = append(got, call{attempt, delay, err.Error()})
		}))
	if err != nil {
		t.Fatalf("Do() = %v", err)
	}
	want := []call{
		{1, 10 * time.Millisecond, "attempt 1: connection refused"},
		{2, 20 * time.Millisecond, "attempt 2: connection refused"},
		{3, 40 * time.Millisecond, "attempt 3: connection refused"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("notify calls = %v, want %v", got, want)
	}
	if waits, _ := ft.recorded(); !equalDurations(waits, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}) {
		t.Fatalf("timer waits = %v, want the notified delays", waits)
	}
}

func TestDoNotifyNotCalledWhenGivingUp(t *testing.T) {
	n := 0
	calls := 0
	_ = Policy{MaxRetries: 2}.Do(t.Context(), failing(&calls, 0), WithTimer(newFakeTimer()),
		WithNotify(func(error, int, time.Duration) { n++ }))
	if calls != 3 || n != 2 {
		t.Fatalf("op ran %d times and notify %d times, want 3 and 2", calls, n)
	}
}

func TestDoLogsRetriesAtDebug(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	calls := 0
	p := Policy{MaxRetries: 2, InitialDelay: time.Second, Jitter: NoJitter}
	_ = p.Do(t.Context(), failing(&calls, 0), WithTimer(newFakeTimer()), WithLogger(zap.New(core)))
	entries := logs.All()
	if len(entries) != 2 {
		t.Fatalf("logged %d entries, want 2 (one per retry)", len(entries))
	}
	for i, e := range entries {
		f := e.ContextMap()
		if e.Level != zapcore.DebugLevel || f["attempt"] != int64(i+1) || f["delay"] != time.Second<<i || f["error"] == nil {
			t.Fatalf("entry %d = %v %q %v, want Debug with attempt %d, delay %v and the error", i, e.Level, e.Message, f, i+1, time.Second<<i)
		}
	}
}

func TestDoNilOptionsAndDefaults(t *testing.T) {
	calls := 0
	err := Policy{}.Do(t.Context(), failing(&calls, 1), nil, WithLogger(nil), WithTimer(nil))
	if err != nil || calls != 1 {
		t.Fatalf("Do() = %v after %d calls, want nil after 1", err, calls)
	}
}

// TestDoRealTimer exercises the default timer with nanosecond waits.
func TestDoRealTimer(t *testing.T) {
	calls := 0
	p := Policy{MaxRetries: 3, InitialDelay: time.Nanosecond, MaxDelay: time.Microsecond, Jitter: NoJitter}
	if err := p.Do(t.Context(), failing(&calls, 4)); err != nil || calls != 4 {
		t.Fatalf("Do() = %v after %d calls, want nil after 4", err, calls)
	}
}

func TestDoPassesContextToOp(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(t.Context(), key{}, "v")
	var got any
	_ = Policy{}.Do(ctx, func(ctx context.Context) error {
		got = ctx.Value(key{})
		return nil
	})
	if got != "v" {
		t.Fatalf("op saw ctx value %v, want the caller's ctx", got)
	}
}

func TestDoConcurrentSafe(t *testing.T) {
	p := Policy{MaxRetries: 3, Jitter: NoJitter}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			calls := 0
			if err := p.Do(t.Context(), failing(&calls, 3), WithTimer(newFakeTimer())); err != nil || calls != 3 {
				t.Errorf("Do() = %v after %d calls, want nil after 3", err, calls)
			}
		}()
	}
	wg.Wait()
}
