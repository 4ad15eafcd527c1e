package sampling

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// traceIDs returns n trace ids shaped like version 7 UUIDs (a growing
// timestamp, then pseudo-random bits), the same on every run.
func traceIDs(n int) [][16]byte {
	r := rand.New(rand.NewPCG(7, 11))
	ids := make([][16]byte, n)
	for i := range ids {
		binary.BigEndian.PutUint64(ids[i][:8], uint64(1_700_000_000_000+i/16)<<16|0x7000|r.Uint64()&0xfff)
		binary.BigEndian.PutUint64(ids[i][8:], r.Uint64()&^(3<<62)|2<<62)
	}
	return ids
}

// keptFraction asks d about n events and returns the fraction kept.
func keptFraction(d Decider, n int, fill float64) float64 {
	kept := 0
	for range n {
		if d.Keep(fill) {
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
			got := keptFraction(Percentage(tt.p), n, 0)
			if want == 0 || want == 1 {
				if got != want {
					t.Fatalf("kept %v, want exactly %v", got, want)
				}
				return
			}
			// Six standard deviations at most 0.0095 for 100k draws: a
			// broken decider fails, a correct one practically never does.
			if math.Abs(got-want) > 0.02 {
				t.Fatalf("Percentage(%v) kept %v", tt.p, got)
			}
		})
	}
}

func TestKeepHashIsDeterministic(t *testing.T) {
	ids := traceIDs(100_000)
	for _, p := range []float64{0.01, 0.25, 0.5, 0.75} {
		d := Percentage(p)
		kept := 0
		for _, id := range ids {
			first := d.KeepHash(Hash(id), 0)
			for range 3 {
				if d.KeepHash(Hash(id), 0.9) != first {
					t.Fatalf("p=%v: trace %v got different decisions", p, id)
				}
			}
			if first {
				kept++
			}
		}
		if got := float64(kept) / float64(len(ids)); math.Abs(got-p) > 0.02 {
			t.Errorf("Percentage(%v) kept %v of the hashed traces", p, got)
		}
	}
}

func TestKeepHashKeepsWhatLowerRatesKeep(t *testing.T) {
	low, high := Percentage(0.1), Percentage(0.6)
	for _, id := range traceIDs(20_000) {
		if h := Hash(id); low.KeepHash(h, 0) && !high.KeepHash(h, 0) {
			t.Fatalf("trace %v kept at rate 0.1 but dropped at 0.6", id)
		}
	}
	a := Adaptive(Load{BaseRate: 0.1, MaxRate: 0.9, LoadThreshold: 0.5})
	for _, id := range traceIDs(20_000) {
		if h := Hash(id); a.KeepHash(h, 1) && !a.KeepHash(h, 0.75) {
			t.Fatalf("trace %v kept at a full queue but dropped at fill 0.75", id)
		}
	}
}

func TestKeepHashRandomInputKeepsTheRate(t *testing.T) {
	d := Percentage(0.5)
	kept := 0
	for range 100_000 {
		if d.KeepHash(rand.Uint64(), 0) {
			kept++
		}
	}
	if got := float64(kept) / 100_000; math.Abs(got-0.5) > 0.02 {
		t.Fatalf("kept %v of random hashes, want about 0.5", got)
	}
}

func TestHashSpreadsEveryBit(t *testing.T) {
	// Flipping any one input bit flips about half the output bits.
	var total, n int
	for _, id := range traceIDs(200) {
		h := Hash(id)
		for bit := range 128 {
			x := id
			x[bit/8] ^= 1 << (bit % 8)
			d := 0
			for v := Hash(x) ^ h; v != 0; v &= v - 1 {
				d++
			}
			if d == 0 {
				t.Fatalf("flipping bit %d of %v does not change the hash", bit, id)
			}
			total += d
			n++
		}
	}
	if avg := float64(total) / float64(n); math.Abs(avg-32) > 1 {
		t.Fatalf("a flipped input bit flips %v output bits on average, want about 32", avg)
	}
}

func TestZeroDeciderKeepsNothing(t *testing.T) {
	var d Decider
	if keptFraction(d, 1000, 0) != 0 || d.KeepHash(0, 0) {
		t.Fatal("the zero Decider keeps events")
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
			d := EveryNth(tt.n)
			for i, want := range tt.want {
				if got := d.Keep(0); got != want {
					t.Fatalf("event %d: kept = %v, want %v", i+1, got, want)
				}
			}
		})
	}
}

func TestEveryNthCopiesShareTheCount(t *testing.T) {
	a := EveryNth(2)
	b := a
	if !a.Keep(0) || b.Keep(0) || !a.Keep(0) {
		t.Fatal("copies of an EveryNth decider count apart")
	}
}

func TestEveryNthConcurrentKeepsExactlyOneInN(t *testing.T) {
	const goroutines, each, n = 8, 1000, 4
	d := EveryNth(n)
	var wg sync.WaitGroup
	counts := make([]int, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if d.Keep(0) {
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

func TestEveryNthHash(t *testing.T) {
	d := EveryNth(4)
	kept := 0
	ids := traceIDs(40_000)
	for _, id := range ids {
		a, b := d.KeepHash(Hash(id), 0), d.KeepHash(Hash(id), 0)
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
	l := Load{BaseRate: 0.1, MaxRate: 0.9, LoadThreshold: 0.6}
	tests := []struct {
		name string
		l    Load
		fill float64
		want float64
	}{
		{"empty queue", l, 0, 0.9},
		{"below threshold", l, 0.59, 0.9},
		{"at threshold", l, 0.6, 0.9},
		{"halfway", l, 0.8, 0.5},
		{"three quarters", l, 0.9, 0.3},
		{"full", l, 1, 0.1},
		{"over full", l, 1.5, 0.1},
		{"negative fill", l, -1, 0.9},
		{"NaN fill", l, math.NaN(), 0.9},
		{"threshold one", Load{0.2, 0.8, 1}, 0.99, 0.8},
		{"threshold one full", Load{0.2, 0.8, 1}, 1, 0.2},
		{"threshold zero", Load{0, 1, 0}, 0.25, 0.75},
		{"zero value", Load{}, 0.5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.l.Rate(tt.fill); math.Abs(got-tt.want) > 1e-9 {
				t.Fatalf("Rate(%v) = %v, want %v", tt.fill, got, tt.want)
			}
		})
	}
}

func TestAdaptiveKeepsAtTheRateOfTheFill(t *testing.T) {
	l := Load{BaseRate: 0.1, MaxRate: 0.9, LoadThreshold: 0.6}
	d := Adaptive(l)
	// The queue fills up, then drains: the rate falls and comes back.
	for _, fill := range []float64{0, 0.5, 0.7, 0.8, 1, 0.8, 0.3} {
		want := l.Rate(fill)
		if got := keptFraction(d, 50_000, fill); math.Abs(got-want) > 0.02 {
			t.Errorf("fill %v: kept %v, want about %v", fill, got, want)
		}
	}
}

func TestDecidersDoNotAllocate(t *testing.T) {
	for _, d := range []Decider{Percentage(0.5), EveryNth(3), Adaptive(Load{0.1, 0.9, 0.5})} {
		if allocs := testing.AllocsPerRun(1000, func() {
			d.Keep(0.75)
			d.KeepHash(Hash([16]byte{1}), 0.75)
		}); allocs != 0 {
			t.Fatalf("%+v allocates %v times", d, allocs)
		}
	}
}
