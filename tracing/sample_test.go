package tracing

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/internal/sampling"
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

// percentageSampler, everyNthSampler and adaptiveSampler are the Samplers
// samplerFromConfig builds for the strategies; perTraceSampler makes one
// of them decide per trace.
func percentageSampler(p float64) Sampler { return &builtin{d: sampling.Percentage(p)} }

func everyNthSampler(n uint64) Sampler { return &builtin{d: sampling.EveryNth(n)} }

func adaptiveSampler(baseRate, maxRate, threshold float64) Sampler {
	return &builtin{d: sampling.Adaptive(sampling.Load{BaseRate: baseRate, MaxRate: maxRate, LoadThreshold: threshold})}
}

func perTraceSampler(s Sampler) Sampler {
	b := *s.(*builtin)
	b.perTrace = true
	return &b
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
		{"adaptive", SamplingConfig{Strategy: "adaptive", Rate: 0.1, MaxRate: 1, LoadThreshold: 0.8}, adaptiveSampler(0.1, 1, 0.8), false},
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
			if !reflect.DeepEqual(got, tt.want) {
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
