package batch

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

func TestLaneCount(t *testing.T) {
	tests := []struct {
		name                      string
		capacity, maxBatch, procs int
		itemSize                  uintptr
		want                      int
	}{
		{name: "one proc", capacity: 8192, maxBatch: 512, procs: 1, itemSize: 16, want: 1},
		{name: "two procs", capacity: 8192, maxBatch: 512, procs: 2, itemSize: 16, want: 8},
		{name: "capped at maxLanes", capacity: 1 << 20, maxBatch: 512, procs: 64, itemSize: 16, want: maxLanes},
		{name: "each lane holds a full batch", capacity: 8192, maxBatch: 4096, procs: 8, itemSize: 16, want: 2},
		{name: "each lane holds minLaneSize slots", capacity: 1024, maxBatch: 16, procs: 8, itemSize: 16, want: 4},
		{name: "small queue keeps one lane", capacity: 256, maxBatch: 1, procs: 8, itemSize: 16, want: 1},
		{name: "capacity one", capacity: 1, maxBatch: 1, procs: 2, itemSize: 16, want: 1},
		// 8192 slots of 637 bytes are 5.2 MB: lanes of laneBytes at most
		// would take 20, so maxLanes of 512 slots.
		{name: "large items, one proc", capacity: 8192, maxBatch: 512, procs: 1, itemSize: 632, want: maxLanes},
		{name: "large items, two procs", capacity: 8192, maxBatch: 512, procs: 2, itemSize: 632, want: maxLanes},
		{name: "large items fit in laneBytes", capacity: 2048, maxBatch: 256, procs: 1, itemSize: 507, want: 4},
		{name: "large items, a lane still holds a batch", capacity: 8192, maxBatch: 4096, procs: 1, itemSize: 632, want: 2},
		{name: "large items, small queue", capacity: 256, maxBatch: 16, procs: 1, itemSize: 4096, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := laneCount(tt.capacity, tt.maxBatch, tt.procs, tt.itemSize); got != tt.want {
				t.Errorf("laneCount(%d, %d, %d, %d) = %d, want %d", tt.capacity, tt.maxBatch, tt.procs, tt.itemSize, got, tt.want)
			}
		})
	}
}

func TestProducerID_StablePerGoroutine(t *testing.T) {
	if !hintPerGoroutine {
		t.Skip("the producer id follows the goroutine's stack on this architecture")
	}
	// The id must not depend on call depth: the same goroutine calling
	// from deeper frames (and after its stack has grown) gets the same one.
	var deep func(n int) uintptr
	deep = func(n int) uintptr {
		var pad [256]byte
		if n == 0 {
			return producerID() + uintptr(pad[n])
		}
		return deep(n-1) + uintptr(pad[n%len(pad)])
	}
	id := producerID()
	for _, depth := range []int{1, 10, 100, 1000} {
		if got := deep(depth); got != id {
			t.Errorf("id at depth %d = %#x, want %#x", depth, got, id)
		}
	}
	other := make(chan uintptr)
	go func() { other <- producerID() }()
	if o := <-other; o == id || o == 0 {
		t.Errorf("another goroutine's id = %#x, this one's %#x", o, id)
	}
}

// laneOf returns the index of the routine lane whose slots b aliases.
func laneOf[T any](q *Queue[T], b []T) int {
	p := uintptr(unsafe.Pointer(&b[0]))
	for i := range q.lanes {
		s := q.lanes[i].slots
		lo := uintptr(unsafe.Pointer(&s[0]))
		if p >= lo && p < lo+uintptr(len(s))*unsafe.Sizeof(s[0]) {
			return i
		}
	}
	return -1
}

type pitem struct{ P, Seq int }

func TestQueue_ShardedProducersExactlyOnceInOrder(t *testing.T) {
	const lanes, producers, perProd = 4, 16, 2000
	var (
		mu     sync.Mutex
		items  []pitem
		laneOK = true
		laneBy = map[int]int{} // producer -> lane
		used   = map[int]bool{}
		q      *Queue[pitem]
	)
	ready := make(chan struct{})
	// Each lane holds every item, so nothing spills to another lane and
	// per-producer order must hold.
	q, err := newQueue(Config{Capacity: lanes * producers * perProd, MaxBatch: 64, Timeout: time.Millisecond},
		func(b []pitem) {
			<-ready
			l := laneOf(q, b)
			mu.Lock()
			defer mu.Unlock()
			used[l] = true
			for _, it := range b {
				if prev, ok := laneBy[it.P]; ok && prev != l {
					laneOK = false
				}
				laneBy[it.P] = l
			}
			items = append(items, b...)
		}, hooks{lanes: lanes})
	if err != nil {
		t.Fatal(err)
	}
	close(ready)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProd {
				if !q.Put(&pitem{P: p, Seq: i}) {
					t.Errorf("producer %d: Put %d refused", p, i)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := q.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	next := make([]int, producers)
	for _, it := range items {
		// Where the hint follows the stack, a moved stack may move a
		// producer to another lane.
		if it.Seq != next[it.P] && hintPerGoroutine {
			t.Fatalf("producer %d: got seq %d, want %d", it.P, it.Seq, next[it.P])
		}
		next[it.P]++
	}
	for p, n := range next {
		if n != perProd {
			t.Errorf("producer %d: %d of %d items delivered", p, n, perProd)
		}
	}
	if !laneOK && hintPerGoroutine {
		t.Errorf("a producer's items came from more than one lane")
	}
	if len(used) < 2 {
		t.Errorf("%d producers used %d of %d lanes", producers, len(used), lanes)
	}
	if n := q.spills.Load(); n != 0 {
		t.Errorf("%d puts spilled to another lane", n)
	}
	if s := q.Stats(); s.Enqueued != producers*perProd || s.Delivered != s.Enqueued {
		t.Errorf("Stats %+v", s)
	}
}

func TestQueue_OneProducerFillsEveryLane(t *testing.T) {
	const lanes, capacity = 4, 1024
	release := make(chan struct{})
	entered := make(chan struct{}, 100)
	var mu sync.Mutex
	seen := map[int]bool{}
	q, err := newQueue(Config{Capacity: capacity, MaxBatch: 64, Timeout: time.Hour}, func(b []int) {
		entered <- struct{}{}
		<-release
		mu.Lock()
		defer mu.Unlock()
		for _, v := range b {
			if seen[v] {
				t.Errorf("item %d delivered twice", v)
			}
			seen[v] = true
		}
	}, hooks{lanes: lanes})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ; q.Put(&n); n++ {
		if n > capacity {
			t.Fatalf("Put accepted %d items into %d slots", n, capacity)
		}
	}
	<-entered // handle holds one batch; its slots stay taken
	if n != capacity {
		t.Errorf("one producer put %d items, want the whole capacity %d", n, capacity)
	}
	if got := q.Len(); got != capacity {
		t.Errorf("Len() = %d, want %d", got, capacity)
	}
	for i := range q.lanes {
		if e := q.lanes[i].end(); e != capacity/lanes {
			t.Errorf("lane %d holds %d items, want %d", i, e, capacity/lanes)
		}
	}
	if s := q.Stats(); s.DroppedFull != 1 || s.Enqueued != capacity {
		t.Errorf("Stats %+v: want DroppedFull 1, Enqueued %d", s, capacity)
	}
	close(release)
	if err := q.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != capacity {
		t.Errorf("delivered %d distinct items, want %d", len(seen), capacity)
	}
}

// reuseFill returns a fill for PutReuse that puts v and checks that the
// slot's mark belongs to the item the slot holds: the fills of this test
// mark an item with markOf, and a pointer-free item is never cleared.
func reuseFill(t *testing.T, v pitem) func(*pitem, uint8) uint8 {
	return func(slot *pitem, mark uint8) uint8 {
		if mark != 0 && mark != markOf(*slot) {
			t.Errorf("a slot holding %+v has mark %d, want %d", *slot, mark, markOf(*slot))
		}
		*slot = v
		return markOf(v)
	}
}

// markOf is the mark reuseFill gives it: never 0.
func markOf(it pitem) uint8 { return uint8((it.P*7+it.Seq)%255) + 1 }

func TestQueue_ShardedConcurrentSafe(t *testing.T) {
	// Small lanes, so that puts spill, PutWait waits and Flush, Close and
	// the timer race with producers in several lanes; the puts of each
	// kind, PutReuse among them, take each other's slots.
	const lanes, producers, perProd = 4, 8, 400
	var (
		mu        sync.Mutex
		delivered = map[pitem]int{}
		q         *Queue[pitem]
	)
	ready := make(chan struct{})
	q, err := newQueue(Config{Capacity: 64, CriticalCapacity: 8, MaxBatch: 8, Timeout: time.Millisecond, Policy: Block},
		func(b []pitem) {
			<-ready
			mu.Lock()
			defer mu.Unlock()
			for _, it := range b {
				delivered[it]++
			}
		}, hooks{lanes: lanes})
	if err != nil {
		t.Fatal(err)
	}
	close(ready)
	ctx := testCtx(t)
	accepted := make([][]bool, producers)
	var wg sync.WaitGroup
	for p := range producers {
		accepted[p] = make([]bool, perProd)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProd {
				v := pitem{P: p, Seq: i}
				switch i % 5 {
				case 0:
					accepted[p][i] = q.Put(&v)
				case 1:
					accepted[p][i] = q.PutCritical(&v)
				case 2:
					accepted[p][i] = q.PutReuse(reuseFill(t, v))
				case 3:
					accepted[p][i] = q.PutCriticalReuse(reuseFill(t, v))
				default:
					if err := q.PutWait(ctx, &v); err != nil {
						t.Errorf("PutWait: %v", err)
						return
					}
					accepted[p][i] = true
				}
				if i%100 == 99 {
					if err := q.Flush(ctx); err != nil {
						t.Errorf("Flush: %v", err)
						return
					}
					// Flush returned: everything this producer put is in.
					mu.Lock()
					for j := range i + 1 {
						if accepted[p][j] && delivered[pitem{P: p, Seq: j}] != 1 {
							t.Errorf("after Flush, item %d of producer %d delivered %d times", j, p, delivered[pitem{P: p, Seq: j}])
						}
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for p := range accepted {
		for i, ok := range accepted[p] {
			d := delivered[pitem{P: p, Seq: i}]
			if ok {
				n++
			}
			if ok && d != 1 || !ok && d != 0 {
				t.Errorf("item %d of producer %d: accepted %v, delivered %d times", i, p, ok, d)
			}
		}
	}
	s := q.Stats()
	if s.Enqueued != uint64(n) || s.Delivered != s.Enqueued || s.Enqueued+s.DroppedFull+s.DroppedClosed != producers*perProd {
		t.Errorf("Stats %+v: want Enqueued = Delivered = %d", s, n)
	}
	t.Logf("spills %d, parks %d, wake-ups %d, batches %d", q.spills.Load(), q.parks.Load(), q.wakeSends.Load(), s.Batches)
}

func TestQueue_ShardedCloseRacesProducers(t *testing.T) {
	var got sync.Map
	var delivered atomic.Uint64
	q, err := newQueue(Config{Capacity: 64, CriticalCapacity: 8, MaxBatch: 8, Timeout: time.Millisecond, Policy: Block},
		func(b []pitem) {
			for _, it := range b {
				if _, dup := got.LoadOrStore(it, true); dup {
					t.Errorf("%+v delivered twice", it)
				}
			}
			delivered.Add(uint64(len(b)))
		}, hooks{lanes: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	const producers, perProd = 8, 300
	var attempts atomic.Uint64
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProd {
				v := pitem{P: p, Seq: i}
				attempts.Add(1)
				switch i % 3 {
				case 0:
					q.Put(&v)
				case 1:
					q.PutCritical(&v)
				default:
					if err := q.PutWait(ctx, &v); err != nil && !errors.Is(err, ErrClosed) {
						t.Errorf("PutWait: %v", err)
					}
				}
				if i%50 == 0 {
					if err := q.Flush(ctx); err != nil && !errors.Is(err, ErrClosed) {
						t.Errorf("Flush: %v", err)
					}
				}
			}
		}()
	}
	closers := make(chan error, 2)
	for range 2 {
		go func() { closers <- q.Close(ctx) }()
	}
	wg.Wait()
	for range 2 {
		if err := <-closers; err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	s := q.Stats()
	if s.Enqueued+s.DroppedFull+s.DroppedClosed != attempts.Load() {
		t.Errorf("Stats %+v: accepted+dropped != %d attempts", s, attempts.Load())
	}
	if s.Enqueued != s.Delivered || s.Delivered != delivered.Load() || s.Abandoned != 0 || q.Len() != 0 {
		t.Errorf("Stats %+v, Len %d: handle saw %d items", s, q.Len(), delivered.Load())
	}
}

func TestPickLane_CollidingProducersTakeTheirOwnLanes(t *testing.T) {
	q, err := newQueue(Config{Capacity: 8 * minLaneSize}, func([]int) {}, hooks{lanes: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Close(t.Context()) }()
	const home = 6
	// Five producers with the same home lane: the first four get the
	// lanes of the window (wrapping around), the fifth shares home.
	want := []uint{6, 7, 0, 1, home}
	for round := range 3 { // a producer keeps its lane
		for i, w := range want {
			if got := q.pickLaneFor(uintptr(0x1000*(i+1)), home); got != w {
				t.Fatalf("round %d: producer %d got lane %d, want %d", round, i, got, w)
			}
		}
	}
	// Another producer whose window has a free lane takes that one.
	if got := q.pickLaneFor(0x9000, 0); got != 2 {
		t.Errorf("producer with home 0 got lane %d, want 2 (0 and 1 are taken)", got)
	}
}

// TestPickLane_OwnersKeepTheirLanes checks that a lane, once taken, stays
// with its goroutine, also after the queue has drained and the goroutine
// has exited (a goroutine that reuses its descriptor gets it back), so a
// goroutine never moves to another lane while its items wait.
func TestPickLane_OwnersKeepTheirLanes(t *testing.T) {
	q, err := newQueue(Config{Capacity: 8 * minLaneSize, MaxBatch: 8, Timeout: time.Millisecond}, func([]int) {}, hooks{lanes: 8})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	defer func() { _ = q.Close(ctx) }()
	first := q.pickLaneFor(0x1000, 2)
	other := q.pickLaneFor(0x2000, 2)
	for range 3 {
		v := 1
		q.Put(&v)
		if err := q.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // the timer fires, the consumer parks idle
		if got := q.pickLaneFor(0x1000, 2); got != first {
			t.Fatalf("owner moved from lane %d to %d", first, got)
		}
		if got := q.pickLaneFor(0x2000, 2); got != other {
			t.Fatalf("second owner moved from lane %d to %d", other, got)
		}
	}
}

// TestQueue_FullLanesRefillAfterRelease fills every lane from one
// goroutine, is refused, lets the consumer hand everything over and fills
// again, several times: the full-lane marks that let refused puts skip the
// lanes must all be cleared once the lanes are released, or a spilling put
// would skip a lane with room and the queue would hold less than its
// capacity.
func TestQueue_FullLanesRefillAfterRelease(t *testing.T) {
	const lanes, capacity, rounds, extra = 4, 1024, 3, 10
	tokens := make(chan struct{})
	q, err := newQueue(Config{Capacity: capacity, MaxBatch: 256, Timeout: time.Hour}, func([]int) { <-tokens },
		hooks{lanes: lanes})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	drain := func() {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- q.Flush(ctx) }()
		for {
			select {
			case tokens <- struct{}{}:
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				return
			}
		}
	}
	for round := range rounds {
		n := 0
		for ; q.Put(&n); n++ {
			if n > capacity {
				t.Fatalf("round %d: Put accepted %d items into %d slots", round, n, capacity)
			}
		}
		if n != capacity {
			t.Errorf("round %d: one producer put %d items, want the whole capacity %d", round, n, capacity)
		}
		for range extra {
			if q.Put(&n) {
				t.Fatalf("round %d: put accepted into a full queue", round)
			}
		}
		if m := q.fullMask.Load(); m != q.allLanes {
			t.Errorf("round %d: fullMask = %b with every lane full, want %b", round, m, q.allLanes)
		}
		drain()
		if m := q.fullMask.Load(); m != 0 {
			t.Errorf("round %d: fullMask = %b after every lane was released, want 0", round, m)
		}
	}
	s := q.Stats()
	if s.Enqueued != rounds*capacity || s.Delivered != s.Enqueued || s.DroppedFull != rounds*(extra+1) {
		t.Errorf("Stats %+v: want Enqueued = Delivered = %d, DroppedFull %d", s, rounds*capacity, rounds*(extra+1))
	}
	close(tokens)
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPickLane_HintAgreesWithOwnership checks the fast path of pickLane:
// goroutines alive at the same time, several per hash bucket as the test
// runs, each get the lane that ownership gives them (pickLaneFor) on
// every put, whichever of them last wrote the hint.
func TestPickLane_HintAgreesWithOwnership(t *testing.T) {
	if !hintPerGoroutine {
		t.Skip("the producer id follows the goroutine's stack on this architecture")
	}
	q, err := newQueue(Config{Capacity: 8 * minLaneSize}, func([]int) {}, hooks{lanes: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Close(testCtx(t)) }()
	const goroutines = 200
	var start, wg sync.WaitGroup
	start.Add(1)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			id := producerID()
			for i := range 50 {
				got := q.pickLane()
				if want := q.pickLaneFor(id, hashID(id)&q.laneMask); got != want {
					t.Errorf("goroutine %d, put %d: pickLane = %d, ownership gives %d", g, i, got, want)
					return
				}
			}
		}()
	}
	start.Done()
	wg.Wait()
}
