package batch

import (
	"sync"
	"testing"
)

// fullQueue returns a queue of lanes routine lanes whose routine and
// priority lanes are all full, and whose consumer holds the first batch in
// handle until release is called.
func fullQueue(t *testing.T, lanes int) (q *Queue[int], release func()) {
	t.Helper()
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	q, err := newQueue(Config{Capacity: lanes * minLaneSize, MaxBatch: 64}, func([]int) { <-gate }, hooks{lanes: lanes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		release()
		_ = q.Close(testCtx(t))
	})
	v := 1
	for q.Put(&v) {
	}
	for q.PutCritical(&v) {
	}
	if !q.everyLaneFull() {
		t.Fatalf("fullMask = %b after filling every lane, want %b", q.fullMask.Load(), q.allLanes)
	}
	return q, release
}

// TestPut_RefusalsCountedExactly refuses puts from producers running in
// parallel, through every kind of routine put, and checks that Stats
// counts each refusal once.
func TestPut_RefusalsCountedExactly(t *testing.T) {
	q, _ := fullQueue(t, 8)
	before := q.Stats()
	const producers, perProd = 8, 5000
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := p
			for i := range perProd {
				var ok bool
				switch i % 3 {
				case 0:
					ok = q.Put(&v)
				case 1:
					ok = q.PutWith(func(s *int) { *s = v })
				default:
					ok = q.PutCritical(&v)
				}
				if ok {
					t.Errorf("producer %d: put %d accepted into a full queue", p, i)
					return
				}
			}
		}()
	}
	wg.Wait()
	s := q.Stats()
	if got := s.DroppedFull - before.DroppedFull; got != producers*perProd {
		t.Errorf("DroppedFull rose by %d, want %d (Stats %+v)", got, producers*perProd, s)
	}
	if s.Enqueued != before.Enqueued || s.DroppedClosed != 0 {
		t.Errorf("Stats %+v after refusals only, before %+v", s, before)
	}
}

// TestPut_ClosedQueueCountsClosedNotFull checks that a put into a queue
// that is both full and closed is counted as refused because it is
// closed: the shortcut for a full queue must not hide Close.
func TestPut_ClosedQueueCountsClosedNotFull(t *testing.T) {
	for _, lanes := range []int{1, 4} {
		q, release := fullQueue(t, lanes)
		before := q.Stats()
		closed := make(chan error, 1)
		go func() { closed <- q.Close(testCtx(t)) }()
		<-q.closeCh // Close has stopped intake and waits for the drain
		v := 1
		if q.Put(&v) || q.PutWith(func(s *int) { *s = v }) || q.PutCritical(&v) {
			t.Fatalf("%d lanes: put accepted after Close", lanes)
		}
		s := q.Stats()
		if s.DroppedClosed != 3 || s.DroppedFull != before.DroppedFull {
			t.Errorf("%d lanes: Stats %+v after 3 puts into a closed full queue, want DroppedClosed 3 and DroppedFull %d",
				lanes, s, before.DroppedFull)
		}
		release()
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		if s := q.Stats(); s.Enqueued != s.Delivered {
			t.Errorf("%d lanes: Stats %+v after Close", lanes, s)
		}
	}
}
