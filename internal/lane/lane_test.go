package lane

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// push pushes it without waiting and fails the test unless Push returns
// want.
func push[T any](t *testing.T, l *Lane[T], it T, weight int, want Result) {
	t.Helper()
	if got := l.Push(it, weight, nil); got != want {
		t.Fatalf("Push(%v, weight %d) = %d, want %d", it, weight, got, want)
	}
}

// popWant pops from a lane without a goroutine and fails the test unless
// it gets want.
func popWant[T comparable](t *testing.T, l *Lane[T], want T) {
	t.Helper()
	if got, ok := l.pop(); !ok || got != want {
		t.Fatalf("pop = %v, %v; want %v, true", got, ok, want)
	}
}

func TestPush_Limit(t *testing.T) {
	l := newLane[int](10, nil)
	push(t, l, 1, 4, Pushed)
	push(t, l, 2, 6, Pushed) // exactly at the limit
	push(t, l, 3, 1, Full)
	popWant(t, l, 1)
	push(t, l, 4, 5, Full)
	push(t, l, 5, 4, Pushed)
	popWant(t, l, 2)
	popWant(t, l, 5)
	if l.weight != 0 || len(l.items) != 0 {
		t.Fatalf("empty lane holds weight %d in %d items", l.weight, len(l.items))
	}
}

func TestPush_EmptyLaneTakesAnyWeight(t *testing.T) {
	for _, limit := range []int{0, 1, 10} {
		l := newLane[int](limit, nil)
		push(t, l, 1, 100, Pushed)
		push(t, l, 2, 1, Full)
		popWant(t, l, 1)
		push(t, l, 3, 100, Pushed)
	}
}

func TestPush_ZeroWeightAlwaysTaken(t *testing.T) {
	l := newLane[int](1, nil)
	push(t, l, 1, 5, Pushed) // past the limit
	for i := range 100 {
		push(t, l, 10+i, 0, Pushed)
	}
	push(t, l, 2, 1, Full)
	l.Close()
	push(t, l, 3, 0, Closed)
	push(t, l, 4, 1, Closed)
	popWant(t, l, 1)
	for i := range 100 {
		popWant(t, l, 10+i)
	}
	if _, ok := l.pop(); ok {
		t.Fatal("pop of a closed, empty lane succeeded")
	}
}

// recv returns what ch yields, failing the test if that takes seconds.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: timed out", what)
		var zero T
		return zero
	}
}

// waitPush pushes it with wait in a goroutine and returns its result's
// channel, having checked that it does not return at once.
func waitPush(t *testing.T, l *Lane[int], it, weight int, wait <-chan struct{}) <-chan Result {
	t.Helper()
	res := make(chan Result, 1)
	go func() { res <- l.Push(it, weight, wait) }()
	select {
	case r := <-res:
		t.Fatalf("Push without room returned %d without waiting", r)
	case <-time.After(20 * time.Millisecond):
	}
	return res
}

func TestPush_WaitsForRoom(t *testing.T) {
	l := newLane[int](2, nil)
	push(t, l, 1, 1, Pushed)
	push(t, l, 2, 1, Pushed)
	push(t, l, 3, 0, Pushed)
	res := waitPush(t, l, 4, 2, make(chan struct{}))
	popWant(t, l, 1) // room for 1 only: Push waits on
	select {
	case r := <-res:
		t.Fatalf("Push returned %d with room for 1 of 2", r)
	case <-time.After(20 * time.Millisecond):
	}
	popWant(t, l, 2)
	if r := recv(t, res, "waiting Push"); r != Pushed {
		t.Fatalf("Push = %d once there was room, want Pushed", r)
	}
	popWant(t, l, 3)
	popWant(t, l, 4)
}

func TestPush_WaitEndsWhenWaitIsClosed(t *testing.T) {
	l := newLane[int](1, nil)
	push(t, l, 1, 1, Pushed)
	wait := make(chan struct{})
	res := waitPush(t, l, 2, 1, wait)
	close(wait)
	if r := recv(t, res, "waiting Push"); r != Closed {
		t.Fatalf("Push = %d after wait was closed, want Closed", r)
	}
	popWant(t, l, 1)
	l.Close()
	if it, ok := l.pop(); ok {
		t.Fatalf("the lane took %d, given up", it)
	}
}

func TestPush_WaitEndsAtCloseOnceThereIsRoom(t *testing.T) {
	l := newLane[int](1, nil)
	push(t, l, 1, 1, Pushed)
	res := waitPush(t, l, 2, 1, make(chan struct{}))
	l.Close()
	popWant(t, l, 1)
	if r := recv(t, res, "waiting Push"); r != Closed {
		t.Fatalf("Push = %d after Close, want Closed", r)
	}
}

// TestLane_ServesInOrder pushes items of mixed weights, waiting for room,
// and checks that serve gets every one in order on the lane's goroutine.
func TestLane_ServesInOrder(t *testing.T) {
	const n = 5000
	var got []int
	l := New(16, func(it int) { got = append(got, it) })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i := range n {
		if r := l.Push(i, i%7, ctx.Done()); r != Pushed {
			t.Fatalf("Push(%d) = %d", i, r)
		}
	}
	l.Close()
	recv(t, l.Done(), "Done")
	if len(got) != n {
		t.Fatalf("served %d items, want %d", len(got), n)
	}
	for i, it := range got {
		if it != i {
			t.Fatalf("item %d served at %d", it, i)
		}
	}
}

// TestLane_CloseDrains checks that Close stops intake, that the goroutine
// still serves what the lane holds, and that Done is closed only then.
func TestLane_CloseDrains(t *testing.T) {
	gate := make(chan struct{})
	served := make(chan int, 10)
	l := New(10, func(it int) {
		<-gate
		served <- it
	})
	for i := range 5 {
		push(t, l, i, 1, Pushed)
	}
	l.Close()
	l.Close()
	push(t, l, 5, 0, Closed)
	select {
	case <-l.Done():
		t.Fatal("Done closed with items left")
	case <-time.After(20 * time.Millisecond):
	}
	close(gate)
	recv(t, l.Done(), "Done")
	close(served)
	want := 0
	for it := range served {
		if it != want {
			t.Fatalf("served %d, want %d", it, want)
		}
		want++
	}
	if want != 5 {
		t.Fatalf("served %d items, want 5", want)
	}
}

// TestPop_KeepsNothing checks that the slots of the items taken out are
// cleared, in a lane that empties and in one that never does (which pop
// compacts).
func TestPop_KeepsNothing(t *testing.T) {
	l := newLane[*int](1<<30, nil)
	check := func() {
		t.Helper()
		all := l.items[:cap(l.items)]
		for i, e := range all {
			if (i < l.head || i >= len(l.items)) && e != (entry[*int]{}) {
				t.Fatalf("slot %d of %d (head %d, len %d) keeps %v", i, len(all), l.head, len(l.items), e)
			}
		}
	}
	next := 0
	pushNext := func() {
		v := next
		next++
		push(t, l, &v, 1, Pushed)
	}
	taken := 0
	popNext := func() {
		t.Helper()
		p, ok := l.pop()
		if !ok || *p != taken {
			t.Fatalf("pop = %v, %v; want %d", p, ok, taken)
		}
		taken++
		check()
	}
	for range 100 {
		pushNext()
	}
	for range 100 {
		popNext()
	}
	// Never empty: one in, one out, with 10 always held.
	for range 10 {
		pushNext()
	}
	for range 1000 {
		pushNext()
		popNext()
		if len(l.items) > 200 {
			t.Fatalf("a lane holding 10 items has %d slots in use", len(l.items))
		}
	}
	if l.weight != 10 {
		t.Fatalf("weight %d, want 10", l.weight)
	}
}

// TestLane_ReleasesServedItems checks that an item served is not kept from
// the garbage collector by the lane or its goroutine.
func TestLane_ReleasesServedItems(t *testing.T) {
	served := make(chan struct{}, 1)
	l := New(10, func(*[64]byte) { served <- struct{}{} })
	defer func() {
		l.Close()
		<-l.Done()
	}()
	var mu sync.Mutex
	freed := false
	func() {
		p := new([64]byte)
		runtime.AddCleanup(p, func(struct{}) {
			mu.Lock()
			freed = true
			mu.Unlock()
		}, struct{}{})
		push(t, l, p, 1, Pushed)
	}()
	recv(t, served, "serve")
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		mu.Lock()
		f := freed
		mu.Unlock()
		if f {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("an item served is still reachable")
		}
		time.Sleep(time.Millisecond)
	}
}
