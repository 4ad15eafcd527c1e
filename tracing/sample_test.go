package tracing

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// selTraceIDs returns n trace ids shaped like version 7 UUIDs (a growing
// timestamp, then pseudo-random bits), the same on every run.
func selTraceIDs(n int) []TraceID {
	r := rand.New(rand.NewPCG(7, 11))
	ids := make([]TraceID, n)
	for i := range ids {
		binary.BigEndian.PutUint64(ids[i][:8], uint64(1_700_000_000_000+i/16)<<16|0x7000|r.Uint64()&0xfff)
		binary.BigEndian.PutUint64(ids[i][8:], r.Uint64()&^(3<<62)|2<<62)
	}
	return ids
}

// keptFraction asks s about n routine events and returns the fraction kept.
func keptFraction(s Sampler, n int, fill float64) float64 {
	ev := messageSent("a", "out", "T", 1)
	kept := 0
	for range n {
		if s.Sample(&ev, fill) {
			kept++
		}
	}
	return float64(kept) / float64(n)
}

func TestPercentageRate(t *testing.T) {
	const n = 100_000
	for _, tt := range []struct {
		name string
		p    float64
	}{
		{"none", 0}, {"negative", -1}, {"NaN", math.NaN()}, {"one percent", 0.01},
		{"quarter", 0.25}, {"half", 0.5}, {"most", 0.9}, {"all", 1}, {"above one", 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.p
			switch {
			case !(want > 0):
				want = 0
			case want > 1:
				want = 1
			}
			got := keptFraction(percentageSampler(tt.p), n, 0)
			if want == 0 || want == 1 {
				if got != want {
					t.Fatalf("kept %v, want exactly %v", got, want)
				}
				return
			}
			// Six standard deviations at most 0.0095 for 100k draws: a
			// broken sampler fails, a correct one practically never does.
			if math.Abs(got-want) > 0.02 {
				t.Fatalf("Percentage(%v) kept %v", tt.p, got)
			}
		})
	}
}

func TestPerTracePercentageIsDeterministic(t *testing.T) {
	ids := selTraceIDs(100_000)
	for _, p := range []float64{0.01, 0.25, 0.5, 0.75} {
		s := perTraceSampler(percentageSampler(p))
		kept := 0
		for _, id := range ids {
			ev := messageSent("a", "out", "T", 1)
			ev.TraceID = id
			first := s.Sample(&ev, 0)
			// Every event of the trace gets the same answer.
			for range 3 {
				ev2 := dataFlow("b", "o", "c", "i", "T", 1)
				ev2.TraceID = id
				if s.Sample(&ev2, 0.9) != first {
					t.Fatalf("p=%v: trace %v got different decisions", p, id)
				}
			}
			if first {
				kept++
			}
		}
		if got := float64(kept) / float64(len(ids)); math.Abs(got-p) > 0.02 {
			t.Errorf("PerTrace(Percentage(%v)) kept %v of the traces", p, got)
		}
	}
}

func TestPerTraceKeepsTracesKeptAtLowerRates(t *testing.T) {
	low, high := perTraceSampler(percentageSampler(0.1)), perTraceSampler(percentageSampler(0.6))
	for _, id := range selTraceIDs(20_000) {
		ev := messageSent("a", "out", "T", 1)
		ev.TraceID = id
		if low.Sample(&ev, 0) && !high.Sample(&ev, 0) {
			t.Fatalf("trace %v kept at rate 0.1 but dropped at 0.6", id)
		}
	}
}

func TestPerTraceZeroTraceIDFallsBackToRandom(t *testing.T) {
	got := keptFraction(perTraceSampler(percentageSampler(0.5)), 100_000, 0)
	if math.Abs(got-0.5) > 0.02 {
		t.Fatalf("kept %v of events without a trace, want about 0.5", got)
	}
}

func TestPerTraceWrapping(t *testing.T) {
	type custom struct{ Sampler }
	c := custom{percentageSampler(1)}
	tests := []struct {
		name string
		in   Sampler
		same bool
	}{
		{"foreign sampler unchanged", c, true},
		{"nil unchanged", nil, true},
		{"percentage wrapped", percentageSampler(0.5), false},
		{"every nth wrapped", everyNthSampler(3), false},
		{"adaptive wrapped", adaptiveSampler{0.1, 1, 0.5}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := perTraceSampler(tt.in)
			if (got == tt.in) != tt.same {
				t.Fatalf("PerTrace(%T) = %T", tt.in, got)
			}
			if !tt.same {
				if again := perTraceSampler(got); again != got {
					t.Fatalf("PerTrace is not idempotent: %T", again)
				}
			}
		})
	}
}

func TestEveryNth(t *testing.T) {
	tests := []struct {
		name string
		n    uint64
		want []bool
	}{
		{"zero keeps all", 0, []bool{true, true, true}},
		{"one keeps all", 1, []bool{true, true, true}},
		{"three", 3, []bool{true, false, false, true, false, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := everyNthSampler(tt.n)
			ev := messageSent("a", "out", "T", 1)
			for i, want := range tt.want {
				if got := s.Sample(&ev, 0); got != want {
					t.Fatalf("event %d: kept = %v, want %v", i+1, got, want)
				}
			}
		})
	}
}

func TestEveryNthConcurrentKeepsExactlyOneInN(t *testing.T) {
	const goroutines, each, n = 8, 1000, 4
	s := everyNthSampler(n)
	var wg sync.WaitGroup
	counts := make([]int, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := messageSent("a", "out", "T", 1)
			for range each {
				if s.Sample(&ev, 0) {
					counts[g]++
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, c := range counts {
		total += c
	}
	if total != goroutines*each/n {
		t.Fatalf("kept %d, want %d", total, goroutines*each/n)
	}
}

func TestPerTraceEveryNth(t *testing.T) {
	s := perTraceSampler(everyNthSampler(4))
	kept := 0
	ids := selTraceIDs(40_000)
	for _, id := range ids {
		ev := messageSent("a", "out", "T", 1)
		ev.TraceID = id
		a, b := s.Sample(&ev, 0), s.Sample(&ev, 0)
		if a != b {
			t.Fatalf("trace %v: decisions differ", id)
		}
		if a {
			kept++
		}
	}
	if got := float64(kept) / float64(len(ids)); math.Abs(got-0.25) > 0.02 {
		t.Fatalf("kept %v of the traces, want about 0.25", got)
	}
}

func TestAdaptiveRate(t *testing.T) {
	a := adaptiveSampler{BaseRate: 0.1, MaxRate: 0.9, LoadThreshold: 0.6}
	tests := []struct {
		name string
		a    adaptiveSampler
		fill float64
		want float64
	}{
		{"empty queue", a, 0, 0.9},
		{"below threshold", a, 0.59, 0.9},
		{"at threshold", a, 0.6, 0.9},
		{"halfway", a, 0.8, 0.5},
		{"three quarters", a, 0.9, 0.3},
		{"full", a, 1, 0.1},
		{"over full", a, 1.5, 0.1},
		{"negative fill", a, -1, 0.9},
		{"NaN fill", a, math.NaN(), 0.9},
		{"threshold one", adaptiveSampler{0.2, 0.8, 1}, 0.99, 0.8},
		{"threshold one full", adaptiveSampler{0.2, 0.8, 1}, 1, 0.2},
		{"threshold zero", adaptiveSampler{0, 1, 0}, 0.25, 0.75},
		{"zero value", adaptiveSampler{}, 0.5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Rate(tt.fill); math.Abs(got-tt.want) > 1e-9 {
				t.Fatalf("Rate(%v) = %v, want %v", tt.fill, got, tt.want)
			}
		})
	}
}

func TestAdaptiveSamplesAtTheRateOfTheFill(t *testing.T) {
	a := adaptiveSampler{BaseRate: 0.1, MaxRate: 0.9, LoadThreshold: 0.6}
	// The queue fills up, then drains: the rate falls and comes back.
	for _, fill := range []float64{0, 0.5, 0.7, 0.8, 1, 0.8, 0.3} {
		want := a.Rate(fill)
		if got := keptFraction(a, 50_000, fill); math.Abs(got-want) > 0.02 {
			t.Errorf("fill %v: kept %v, want about %v", fill, got, want)
		}
	}
}

func TestSamplerFromConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     SamplingConfig
		want    Sampler
		wantErr bool
	}{
		{"default", SamplingConfig{}, nil, false},
		{"always", SamplingConfig{Strategy: "always", Rate: 0.1}, nil, false},
		{"percentage", SamplingConfig{Strategy: "percentage", Rate: 0.25}, percentageSampler(0.25), false},
		{"percentage per trace", SamplingConfig{Strategy: "percentage", Rate: 0.25, PerTrace: true}, perTraceSampler(percentageSampler(0.25)), false},
		{"adaptive", SamplingConfig{Strategy: "adaptive", Rate: 0.1, MaxRate: 1, LoadThreshold: 0.8}, adaptiveSampler{0.1, 1, 0.8}, false},
		{"every nth zero", SamplingConfig{Strategy: "every_nth"}, nil, true},
		{"unknown", SamplingConfig{Strategy: "sometimes"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := samplerFromConfig(&tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("err = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("sampler = %#v, want %#v", got, tt.want)
			}
		})
	}
	s, err := samplerFromConfig(&SamplingConfig{Strategy: "every_nth", N: 2})
	if err != nil {
		t.Fatal(err)
	}
	if keptFraction(s, 10, 0) != 0.5 {
		t.Fatal("every_nth with N=2 does not keep every other event")
	}
}
