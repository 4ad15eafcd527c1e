package clock

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNowFollowsWallClock(t *testing.T) {
	before := time.Now().UnixNano()
	got := UnixNano()
	after := time.Now().UnixNano()
	// The base is re-read every RebaseInterval, so the cheap clock may lag
	// a wall-clock step by at most that much; without steps it is exact to
	// within the reads' own spacing.
	if got < before-int64(RebaseInterval) || got > after+int64(RebaseInterval) {
		t.Fatalf("UnixNano = %d, want within [%d, %d] ± %v", got, before, after, RebaseInterval)
	}
	if loc := Now().Location(); loc != time.UTC {
		t.Fatalf("Now().Location() = %v, want UTC", loc)
	}
}

func TestMonotonicWithinBase(t *testing.T) {
	prev := UnixNano()
	for range 10000 {
		n := UnixNano()
		if n < prev {
			t.Fatalf("UnixNano went backwards: %d after %d", n, prev)
		}
		prev = n
	}
}

func TestRebaseMovesBase(t *testing.T) {
	old := cur.Load()
	// Pretend the base is stale: the next read must replace it.
	cur.Store(&base{wall: old.wall, mono: old.mono - int64(RebaseInterval) - 1})
	UnixNano()
	if cur.Load().mono <= old.mono-int64(RebaseInterval) {
		t.Fatal("a stale base was not replaced")
	}
}

func TestNoAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(1000, func() { _ = Now() }); n > 0.01 {
		t.Fatalf("allocs = %v, want 0", n)
	}
}

func BenchmarkUnixNano(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = UnixNano()
	}
}

func BenchmarkTimeNow(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = time.Now()
	}
}

func TestMonoMeasuresDurations(t *testing.T) {
	t0, m0 := time.Now(), Mono()
	time.Sleep(2 * time.Millisecond)
	d, want := Mono()-m0, time.Since(t0)
	if d < int64(2*time.Millisecond) || d > int64(want) {
		t.Fatalf("Mono advanced %v over a sleep of 2ms that time.Since measured as %v", time.Duration(d), want)
	}
}

func TestReadIsUnixNanoAndMonoOfOneReading(t *testing.T) {
	for _, stale := range []bool{false, true} {
		if stale { // Read must replace a stale base, as UnixNano does
			old := cur.Load()
			cur.Store(&base{wall: old.wall, mono: old.mono - int64(RebaseInterval) - 1})
		}
		m0 := Mono()
		wall, mono := Read()
		w1, m1 := UnixNano(), Mono()
		if mono < m0 || mono > m1 || wall > w1 {
			t.Fatalf("stale base %v: Read = %d, %d; want Mono within [%d, %d] and UnixNano at most %d", stale, wall, mono, m0, m1, w1)
		}
		// One reading: the wall time is the fresh base's at that
		// monotonic time.
		if b := cur.Load(); wall-mono != b.wall-b.mono || mono-b.mono >= int64(RebaseInterval) {
			t.Fatalf("stale base %v: Read = %d, %d, not one reading of a fresh base %+v", stale, wall, mono, *b)
		}
	}
}
