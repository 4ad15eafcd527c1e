package batch

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeTimer reports each Reset and fires only when the test says so.
type fakeTimer struct {
	c      chan time.Time
	resets chan time.Duration
	stops  chan struct{}
}

func newFakeTimer() *fakeTimer {
	return &fakeTimer{c: make(chan time.Time), resets: make(chan time.Duration, 100), stops: make(chan struct{}, 100)}
}

func (f *fakeTimer) C() <-chan time.Time   { return f.c }
func (f *fakeTimer) Reset(d time.Duration) { f.resets <- d }
func (f *fakeTimer) Stop()                 { f.stops <- struct{}{} }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestQueue_TimerBoundsPartialBatches follows the batch timer: armed by the
// first item, firing hands the partial batch over, and it is re-armed at
// once for the next batch; a firing with nothing queued disarms it, and the
// next item arms it again.
func TestQueue_TimerBoundsPartialBatches(t *testing.T) {
	for _, lane := range []string{"routine", "priority"} {
		t.Run(lane, func(t *testing.T) { testTimerBoundsPartialBatches(t, lane == "priority") })
	}
}

// testTimerBoundsPartialBatches is TestQueue_TimerBoundsPartialBatches for
// one lane: the priority lane when critical is set.
func testTimerBoundsPartialBatches(t *testing.T, critical bool) {
	ft := newFakeTimer()
	got := make(chan []int, 10)
	q, err := newQueue(Config{MaxBatch: 100, Timeout: 42 * time.Second}, func(b []int) {
		got <- append([]int(nil), b...)
	}, hooks{newTimer: func() timer { return ft }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Close(testCtx(t)) }()
	ctx := testCtx(t)
	armed := func(when string) {
		t.Helper()
		select {
		case d := <-ft.resets:
			if d != 42*time.Second {
				t.Fatalf("timer armed with %s, want Timeout", d)
			}
		case <-ctx.Done():
			t.Fatalf("timer not armed %s", when)
		}
	}
	fire := func() {
		t.Helper()
		select {
		case ft.c <- time.Now():
		case <-ctx.Done():
			t.Fatal("consumer not waiting on the timer")
		}
	}
	handedOver := func(want []int) {
		t.Helper()
		var all []int
		for len(all) < len(want) {
			select {
			case b := <-got:
				all = append(all, b...)
			case <-ctx.Done():
				t.Fatalf("got %v, want %v after the timer fired", all, want)
			}
		}
		if !reflect.DeepEqual(all, want) {
			t.Fatalf("got %v, want %v", all, want)
		}
	}
	put := func(vs ...int) {
		for _, v := range vs {
			if critical {
				q.PutCritical(&v)
			} else {
				q.Put(&v)
			}
		}
	}

	put(0, 1, 2)
	armed("by the first item")
	select {
	case b := <-got:
		t.Fatalf("batch %v handed over before the timer fired", b)
	default:
	}
	fire()
	handedOver([]int{0, 1, 2})
	armed("again after the batch went out")

	put(10, 11)
	fire()
	handedOver([]int{10, 11})
	armed("again after the second batch")

	fire() // nothing queued: the consumer parks without the timer
	put(20)
	armed("by the first item after an idle period")
	fire()
	handedOver([]int{20})
}

// TestQueue_OneParkPerBatch checks that a steady stream of full batches
// costs the consumer one park and one wake-up per batch, in a routine lane
// and in the priority lane: the timer is armed when a batch goes out, so
// only the put that completes the next batch wakes the consumer. Spaced,
// each item is put only once the consumer is blocked again, so that every
// put finds it parked.
func TestQueue_OneParkPerBatch(t *testing.T) {
	for _, lane := range []string{"routine", "priority"} {
		for _, spaced := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/spaced=%v", lane, spaced), func(t *testing.T) {
				got := make(chan int, 100)
				q, err := newQueue(Config{MaxBatch: 4, Timeout: time.Hour}, func(b []int) { got <- len(b) }, hooks{})
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = q.Close(testCtx(t)) }()
				put := q.Put
				if lane == "priority" {
					put = q.PutCritical
				}
				ctx := testCtx(t)
				const batches = 10
				for range batches {
					for i := range 4 {
						for spaced && !consumerBlocked() {
							if ctx.Err() != nil {
								t.Fatal("the consumer never blocked")
							}
							runtime.Gosched()
						}
						put(&i)
					}
					select {
					case n := <-got:
						if n != 4 {
							t.Fatalf("batch of %d, want 4", n)
						}
					case <-ctx.Done():
						t.Fatal("full batch not handed over")
					}
				}
				if p, w := q.parks.Load(), q.wakeSends.Load(); p > batches+2 || w > batches+2 {
					t.Errorf("consumer parked %d times and was woken %d times for %d batches of 4, want about one per batch", p, w, batches)
				}
			})
		}
	}
}

// consumerBlocked reports whether a goroutine running the consumer loop is
// blocked in a select.
func consumerBlocked() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "batch.(*Queue[...]).run(") {
			return strings.Contains(strings.SplitN(g, "\n", 2)[0], "[select")
		}
	}
	return false
}

func TestQueue_IdleConsumerParks(t *testing.T) {
	parked := make(chan struct{}, 1000)
	q, err := newQueue(Config{MaxBatch: 64, Timeout: time.Hour}, func([]int) {},
		hooks{onPark: func() { parked <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Close(testCtx(t)) }()
	ctx := testCtx(t)
	<-parked
	for !consumerBlocked() {
		if ctx.Err() != nil {
			t.Fatal("consumer never blocked")
		}
		runtime.Gosched()
	}
	for range 100 {
		runtime.Gosched()
	}
	if n := q.parks.Load(); n != 1 {
		t.Errorf("idle consumer woke up: parked %d times", n)
	}
	if !consumerBlocked() {
		t.Errorf("idle consumer is not blocked")
	}

	// One producer, 10 full batches: at most about two wake-ups per batch
	// (the first item after an idle period, then the one that fills the
	// batch; TestQueue_OneParkPerBatch checks the steady state), not one per
	// item.
	for i := range 640 {
		q.Put(&i)
	}
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s := q.Stats()
	if w := q.wakeSends.Load(); w > 2*s.Batches+2 {
		t.Errorf("%d wake-ups for %d items in %d batches", w, s.Delivered, s.Batches)
	}
	t.Logf("wake-ups %d, parks %d, batches %d", q.wakeSends.Load(), q.parks.Load(), s.Batches)
}

func TestHasPointers(t *testing.T) {
	type flat struct {
		A [4]int
		B struct{ X, Y float64 }
	}
	type withString struct {
		A int
		S string
	}
	tests := []struct {
		name string
		typ  reflect.Type
		want bool
	}{
		{"int", reflect.TypeFor[int](), false},
		{"flat struct", reflect.TypeFor[flat](), false},
		{"byte array", reflect.TypeFor[[512]byte](), false},
		{"string field", reflect.TypeFor[withString](), true},
		{"slice", reflect.TypeFor[[]int](), true},
		{"array of pointers", reflect.TypeFor[[2]*int](), true},
		{"empty array of pointers", reflect.TypeFor[[0]*int](), false},
		{"interface", reflect.TypeFor[any](), true},
		{"map", reflect.TypeFor[map[int]int](), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hasPointers(tt.typ); got != tt.want {
				t.Errorf("hasPointers(%s) = %v, want %v", tt.typ, got, tt.want)
			}
		})
	}
}

// TestQueue_ClearsSlotsWithPointers checks who clears a slot whose item
// has pointers: the consumer once handle returns, so that what the item
// points to can be freed; with ClearOnReuse, nobody until a put reuses
// it (PutWith then clears it, see TestPutWith_ZeroedSlotAndDelivery) or
// Close has handed everything over.
func TestQueue_ClearsSlotsWithPointers(t *testing.T) {
	type ref struct{ P *int }
	for _, clearOnReuse := range []bool{false, true} {
		q, err := New(Config{Capacity: 4, ClearOnReuse: clearOnReuse}, func([]ref) {})
		if err != nil {
			t.Fatal(err)
		}
		x := 1
		q.Put(&ref{P: &x})
		q.PutCritical(&ref{P: &x})
		if err := q.Flush(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		kept := func() int {
			n := 0
			for _, l := range append([]*lane[ref]{&q.critical}, lanePtrs(q)...) {
				for _, s := range l.slots {
					if s.P != nil {
						n++
					}
				}
			}
			return n
		}
		// The consumer's writes to the slots happened before Flush
		// returned.
		if want := map[bool]int{false: 0, true: 2}[clearOnReuse]; kept() != want {
			t.Errorf("ClearOnReuse %v: after Flush %d slots still reference a delivered value, want %d", clearOnReuse, kept(), want)
		}
		if err := q.Close(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if n := kept(); n != 0 {
			t.Errorf("ClearOnReuse %v: after Close %d slots still reference a delivered value", clearOnReuse, n)
		}
	}
}

func lanePtrs[T any](q *Queue[T]) []*lane[T] {
	var ls []*lane[T]
	for i := range q.lanes {
		ls = append(ls, &q.lanes[i])
	}
	return ls
}

func TestQueue_WakesWhenGapIsPublished(t *testing.T) {
	tests := []struct {
		name      string
		lanes, in int
	}{
		{name: "one lane", lanes: 1, in: 0},
		{name: "gap in one of four lanes", lanes: 4, in: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testWakesWhenGapIsPublished(t, tt.lanes, tt.in)
		})
	}
}

func testWakesWhenGapIsPublished(t *testing.T, lanes, in int) {
	ft := newFakeTimer() // never fires: only producers can wake the consumer
	parked := make(chan struct{})
	stop := make(chan struct{})
	got := make(chan []int, 1)
	q, err := newQueue(Config{MaxBatch: 4, Timeout: time.Hour}, func(b []int) { got <- append([]int(nil), b...) },
		hooks{lanes: lanes, newTimer: func() timer { return ft }, onPark: func() {
			select {
			case parked <- struct{}{}:
			case <-stop:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		close(stop)
		_ = q.Close(testCtx(t))
	}()
	ctx := testCtx(t)
	step := func(what string) {
		t.Helper()
		select {
		case <-parked:
		case <-ctx.Done():
			t.Fatalf("consumer did not park %s", what)
		}
	}
	l := &q.lanes[in]
	put := func(v *int) {
		t.Helper()
		p, res := l.claim()
		if res != claimed {
			t.Fatalf("claim: %v", res)
		}
		q.publishRoutine(l, p, v)
	}
	step("when idle")
	v := []int{0, 1, 2, 3}
	put(&v[0])
	step("with one item ready")
	// A producer claims position 1 and stalls before publishing it; others
	// publish 2 and 3, which reaches the batch's last position but not a
	// full contiguous run.
	gap, res := l.claim()
	if res != claimed || gap != 1 {
		t.Fatalf("claim = %d, %v", gap, res)
	}
	put(&v[2])
	put(&v[3])
	step("behind the unpublished slot")
	q.publishRoutine(l, gap, &v[1])
	select {
	case b := <-got:
		if !reflect.DeepEqual(b, v) {
			t.Fatalf("batch %v, want %v", b, v)
		}
	case <-ctx.Done():
		t.Fatal("publishing the missing slot did not wake the consumer")
	}
}

// quietTimer is a fakeTimer that does not record Resets, for consumers that
// reset it once per batch for as long as the test runs.
type quietTimer struct{ c chan time.Time }

func (f quietTimer) C() <-chan time.Time { return f.c }
func (quietTimer) Reset(time.Duration)   {}
func (quietTimer) Stop()                 {}

// TestQueue_TimeoutWhileAnotherLaneIsBusy keeps one lane busy with full
// batches (handle refills it, so the consumer always has a full batch to
// hand over and never parks) and puts a single item into another lane:
// when the batch timer fires, that partial batch must be handed over while
// the busy lane is still busy, not once it goes quiet.
func TestQueue_TimeoutWhileAnotherLaneIsBusy(t *testing.T) {
	const mb = 4
	ft := quietTimer{c: make(chan time.Time)}
	stop := make(chan struct{})
	busyStarted := make(chan struct{})
	lone := make(chan uint64, 1) // busy batches handed over before the lone item
	var busy uint64
	var q *Queue[int]
	q, err := newQueue(Config{MaxBatch: mb, Timeout: time.Hour}, func(b []int) {
		if b[0] == -1 {
			lone <- busy
			return
		}
		busy++
		if busy == 1 {
			close(busyStarted)
		}
		select {
		case <-stop:
			return
		default:
		}
		// Refill the consumer goroutine's own lane with a full batch.
		for i := range mb {
			q.Put(&i)
		}
	}, hooks{lanes: 2, newTimer: func() timer { return ft }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Close(testCtx(t)) }()
	defer close(stop)
	ctx := testCtx(t)

	// A full batch from the test goroutine's lane starts the busy loop,
	// which then runs in the consumer goroutine's lane.
	for i := range mb {
		q.Put(&i)
	}
	select {
	case <-busyStarted:
	case <-ctx.Done():
		t.Fatal("busy lane not started")
	}
	v := -1
	if !q.Put(&v) {
		t.Fatal("put refused")
	}
	select {
	case ft.c <- time.Now():
	case <-ctx.Done():
		t.Fatal("the consumer never read the batch timer while another lane was busy")
	}
	select {
	case n := <-lone:
		t.Logf("partial batch handed over after %d busy batches", n)
	case <-ctx.Done():
		t.Fatal("partial batch not handed over after the timer fired")
	}
}
