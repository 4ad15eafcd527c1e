package retry

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
)

func TestDefaultPolicyIsReflows(t *testing.T) {
	p := DefaultPolicy()
	// Reflow's RetryConfig::default(): 5 retries, 1000 ms, 30 s, 2.0.
	if p.MaxRetries != 5 || p.InitialDelay != time.Second || p.MaxDelay != 30*time.Second || p.BackoffMultiplier != 2 {
		t.Fatalf("DefaultPolicy() = %+v, want Reflow's 5 retries, 1s, 30s, x2", p)
	}
	if p.Jitter != DefaultJitter || p.MaxElapsedTime != DefaultMaxElapsedTime {
		t.Fatalf("DefaultPolicy() = %+v, want jitter %v and max elapsed %v", p, DefaultJitter, DefaultMaxElapsedTime)
	}
	if got := (Policy{}).withDefaults(); got != p {
		t.Fatalf("Policy{} with defaults = %+v, want %+v", got, p)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("DefaultPolicy().Validate() = %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		p     Policy
		field string // "" means valid
	}{
		{name: "zero", p: Policy{}},
		{name: "unlimited", p: Policy{MaxRetries: Unlimited}},
		{name: "very negative retries mean unlimited", p: Policy{MaxRetries: math.MinInt}},
		{name: "no jitter", p: Policy{Jitter: NoJitter}},
		{name: "full jitter", p: Policy{Jitter: 1}},
		{name: "constant delay", p: Policy{BackoffMultiplier: 1, InitialDelay: time.Second, MaxDelay: time.Second}},
		{name: "initial above default max with max set", p: Policy{InitialDelay: time.Minute, MaxDelay: time.Hour}},
		{name: "negative initial delay", p: Policy{InitialDelay: -time.Second}, field: "InitialDelay -1s"},
		{name: "negative max delay", p: Policy{MaxDelay: -time.Second}, field: "MaxDelay -1s"},
		{name: "max below initial", p: Policy{InitialDelay: 2 * time.Second, MaxDelay: time.Second}, field: "MaxDelay 1s"},
		{name: "initial above default max", p: Policy{InitialDelay: time.Minute}, field: "MaxDelay 30s"},
		{name: "multiplier below one", p: Policy{BackoffMultiplier: 0.5}, field: "BackoffMultiplier 0.5"},
		{name: "negative multiplier", p: Policy{BackoffMultiplier: -2}, field: "BackoffMultiplier -2"},
		{name: "NaN multiplier", p: Policy{BackoffMultiplier: math.NaN()}, field: "BackoffMultiplier NaN"},
		{name: "infinite multiplier", p: Policy{BackoffMultiplier: math.Inf(1)}, field: "BackoffMultiplier +Inf"},
		{name: "jitter above one", p: Policy{Jitter: 1.5}, field: "Jitter 1.5"},
		{name: "NaN jitter", p: Policy{Jitter: math.NaN()}, field: "Jitter NaN"},
		{name: "negative max elapsed", p: Policy{MaxElapsedTime: -time.Minute}, field: "MaxElapsedTime -1m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrInvalidPolicy", err)
			}
			if !strings.Contains(err.Error(), tt.field) || !strings.HasPrefix(err.Error(), "retry: ") {
				t.Fatalf("Validate() = %q, want it to start with \"retry: \" and name %q", err, tt.field)
			}
		})
	}
}

func TestValidateJoinsProblems(t *testing.T) {
	err := Policy{InitialDelay: -1, BackoffMultiplier: 0.1, Jitter: 2}.Validate()
	for _, field := range []string{"InitialDelay", "BackoffMultiplier", "Jitter"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("Validate() = %q, want it to name %s", err, field)
		}
	}
}

// delays drains b until it stops or n values were read.
func delays(b backoff.BackOff, n int) []time.Duration {
	var out []time.Duration
	for range n {
		d := b.NextBackOff()
		if d == backoff.Stop {
			break
		}
		out = append(out, d)
	}
	return out
}

func TestNewBackOffGrowsAndCaps(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name string
		p    Policy
		want []time.Duration
	}{
		{
			name: "doubles up to the cap then stops after MaxRetries",
			p:    Policy{MaxRetries: 7, InitialDelay: 100 * ms, MaxDelay: time.Second, BackoffMultiplier: 2, Jitter: NoJitter},
			want: []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second, time.Second},
		},
		{
			name: "constant",
			p:    Policy{MaxRetries: 3, InitialDelay: 50 * ms, MaxDelay: 50 * ms, BackoffMultiplier: 1, Jitter: NoJitter},
			want: []time.Duration{50 * ms, 50 * ms, 50 * ms},
		},
		{
			name: "defaults without jitter",
			p:    Policy{Jitter: NoJitter},
			want: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second},
		},
		{
			name: "one retry",
			p:    Policy{MaxRetries: 1, Jitter: NoJitter},
			want: []time.Duration{time.Second},
		},
		{
			// Elapsed time is wall-clock time since NewBackOff, about zero
			// here, so the first wait longer than MaxElapsedTime stops.
			name: "max elapsed time stops before a wait that would pass it",
			p:    Policy{MaxRetries: Unlimited, InitialDelay: time.Minute, MaxDelay: time.Hour, Jitter: NoJitter, MaxElapsedTime: 5 * time.Minute},
			want: []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := delays(tt.p.NewBackOff(t.Context()), 100)
			if !equalDurations(got, tt.want) {
				t.Fatalf("delays = %v, want %v", got, tt.want)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNewBackOffJitterBounds(t *testing.T) {
	p := Policy{MaxRetries: 8, InitialDelay: 100 * time.Millisecond, MaxDelay: time.Second, Jitter: 0.25}
	nominal := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000, 1000}
	spread := false
	for range 50 {
		got := delays(p.NewBackOff(t.Context()), 100)
		if len(got) != len(nominal) {
			t.Fatalf("got %d delays, want %d", len(got), len(nominal))
		}
		for i, d := range got {
			n := float64(nominal[i] * time.Millisecond)
			if lo, hi := time.Duration(n*0.75), time.Duration(n*1.25); d < lo || d > hi {
				t.Fatalf("delay %d = %v, want within [%v, %v]", i, d, lo, hi)
			}
			if d != nominal[i]*time.Millisecond {
				spread = true
			}
		}
	}
	if !spread {
		t.Fatal("jitter 0.25 never moved a delay off its nominal value")
	}
}

func TestNewBackOffUnlimited(t *testing.T) {
	got := delays(Policy{MaxRetries: Unlimited, Jitter: NoJitter}.NewBackOff(t.Context()), 1000)
	if len(got) != 1000 {
		t.Fatalf("unlimited policy stopped after %d delays", len(got))
	}
	if got[999] != DefaultMaxDelay {
		t.Fatalf("last delay = %v, want the cap %v", got[999], DefaultMaxDelay)
	}
}

func TestNewBackOffStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	b := Policy{MaxRetries: Unlimited}.NewBackOff(ctx)
	if d := b.NextBackOff(); d == backoff.Stop {
		t.Fatal("stopped before the context ended")
	}
	cancel()
	if d := b.NextBackOff(); d != backoff.Stop {
		t.Fatalf("NextBackOff after cancel = %v, want Stop", d)
	}
}

func TestNewBackOffSanitizesInvalidFields(t *testing.T) {
	p := Policy{MaxRetries: 2, InitialDelay: -1, MaxDelay: -1, BackoffMultiplier: math.NaN(), Jitter: 7, MaxElapsedTime: -1}
	//lint:ignore SA1012 a nil ctx must not panic
	got := delays(p.NewBackOff(nil), 100)
	if len(got) != 2 {
		t.Fatalf("got %d delays, want 2", len(got))
	}
	for _, d := range got {
		if d <= 0 || d > 3*DefaultInitialDelay {
			t.Fatalf("delay %v is not a sane default-based delay", d)
		}
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		max         int
		wantN       int
		wantLimited bool
	}{
		{0, DefaultMaxRetries, true},
		{3, 3, true},
		{NoRetries, 0, true},
		{Unlimited, 0, false},
		{-5, 0, false},
	}
	for _, tt := range tests {
		n, limited := Policy{MaxRetries: tt.max}.Retries()
		if n != tt.wantN || limited != tt.wantLimited {
			t.Errorf("Policy{MaxRetries: %d}.Retries() = %d, %v; want %d, %v", tt.max, n, limited, tt.wantN, tt.wantLimited)
		}
	}
}

// DelayLimit is the cap NewBackOff applies: MaxDelay with its default.
func TestDelayLimit(t *testing.T) {
	for _, tt := range []struct {
		p    Policy
		want time.Duration
	}{
		{Policy{}, DefaultMaxDelay},
		{Policy{MaxDelay: 5 * time.Second}, 5 * time.Second},
		{Policy{InitialDelay: time.Minute}, time.Minute},
		{Policy{InitialDelay: 10 * time.Second, MaxDelay: time.Second}, DefaultMaxDelay},
	} {
		if got := tt.p.DelayLimit(); got != tt.want {
			t.Errorf("%+v.DelayLimit() = %v, want %v", tt.p, got, tt.want)
		}
	}
}
