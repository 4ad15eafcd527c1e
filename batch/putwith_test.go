package batch_test

import (
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
)

// TestPutWith_ZeroedSlotAndDelivery checks that fill always gets a zeroed
// slot, also after the slots have been used once (so the consumer or
// PutWith must clear them), for a type with pointers and one without.
func TestPutWith_ZeroedSlotAndDelivery(t *testing.T) {
	t.Run("pointer-free", func(t *testing.T) {
		var r recorder
		q := newQueue(t, batch.Config{Capacity: 4, CriticalCapacity: 2, MaxBatch: 4, Timeout: time.Hour}, r.handle)
		for round := range 5 { // several laps around each lane
			for i := range 4 {
				put := q.PutWith
				if i == 0 {
					put = q.PutCriticalWith
				}
				ok := put(func(v *item) {
					if *v != (item{}) {
						t.Errorf("round %d: fill got slot %+v, want zero", round, *v)
					}
					*v = item{P: round, Seq: i}
				})
				if !ok {
					t.Fatalf("round %d: put %d refused", round, i)
				}
			}
			if err := q.Flush(ctxTimeout(t)); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := r.snapshot()
		if len(got) != 20 {
			t.Fatalf("delivered %d items, want 20", len(got))
		}
		for i, it := range got {
			if want := (item{P: i / 4, Seq: i % 4}); it != want {
				t.Errorf("item %d = %+v, want %+v", i, it, want)
			}
		}
	})
	for _, clearOnReuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("with pointers/ClearOnReuse=%v", clearOnReuse), func(t *testing.T) {
			type ref struct {
				S   *string
				Seq int
				Pad [64]byte
			}
			var got []int
			cfg := batch.Config{Capacity: 4, CriticalCapacity: 2, MaxBatch: 4, Timeout: time.Hour, ClearOnReuse: clearOnReuse}
			q, err := batch.New(cfg, func(b []ref) {
				for _, r := range b {
					got = append(got, r.Seq)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = q.Close(ctxTimeout(t)) }()
			s := "x"
			for i := range 24 { // several laps around each lane
				put := q.PutWith
				if i%4 == 0 {
					put = q.PutCriticalWith
				}
				put(func(v *ref) {
					if v.S != nil || v.Seq != 0 || v.Pad != ([64]byte{}) {
						t.Errorf("put %d: fill got a used slot (Seq %d)", i, v.Seq)
					}
					v.S, v.Seq = &s, i+1
					v.Pad[i%64] = 1
				})
				if i%4 == 3 {
					if err := q.Flush(ctxTimeout(t)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := q.Flush(ctxTimeout(t)); err != nil {
				t.Fatal(err)
			}
			if len(got) != 24 {
				t.Fatalf("delivered %d, want 24", len(got))
			}
			sort.Ints(got)
			for i, seq := range got {
				if seq != i+1 {
					t.Fatalf("delivered %v, want 1 to 24 once each", got)
				}
			}
		})
	}
}

// inPlacePuts are the puts that build an item in its slot, routine and
// critical, each called with a fill that writes the item.
var inPlacePuts = []struct {
	name             string
	put, putCritical func(q *batch.Queue[item], fill func(*item)) bool
}{
	{
		"With",
		func(q *batch.Queue[item], fill func(*item)) bool { return q.PutWith(fill) },
		func(q *batch.Queue[item], fill func(*item)) bool { return q.PutCriticalWith(fill) },
	},
	{
		"Reuse",
		func(q *batch.Queue[item], fill func(*item)) bool {
			return q.PutReuse(func(v *item, _ uint8) uint8 { fill(v); return 1 })
		},
		func(q *batch.Queue[item], fill func(*item)) bool {
			return q.PutCriticalReuse(func(v *item, _ uint8) uint8 { fill(v); return 1 })
		},
	},
}

func TestPutInPlace_FullAndClosedDoNotCallFill(t *testing.T) {
	for _, p := range inPlacePuts {
		t.Run(p.name, func(t *testing.T) {
			g := newGate()
			defer g.release()
			q := newQueue(t, batch.Config{Capacity: 2, CriticalCapacity: 1, MaxBatch: 2, Timeout: time.Hour}, g.handle)
			set := func(v *item) { v.Seq = 1 }
			for i := range 2 {
				if !p.put(q, set) {
					t.Fatalf("put %d refused with room", i)
				}
			}
			<-g.entered // handle holds both routine slots
			if !p.putCritical(q, set) {
				t.Fatal("critical put refused with room in the priority lane")
			}
			called := false
			mark := func(*item) { called = true }
			if p.put(q, mark) || p.putCritical(q, mark) {
				t.Fatal("a put into full lanes succeeded")
			}
			if called {
				t.Error("fill called for a refused put")
			}
			if s := q.Stats(); s.DroppedFull != 2 || s.Enqueued != 3 {
				t.Errorf("Stats %+v: want DroppedFull 2, Enqueued 3", s)
			}
			g.release()
			if err := q.Close(ctxTimeout(t)); err != nil {
				t.Fatal(err)
			}
			if p.put(q, mark) || p.putCritical(q, mark) || called {
				t.Error("a put after Close succeeded or called fill")
			}
			if s := q.Stats(); s.DroppedClosed != 2 || s.Delivered != 3 {
				t.Errorf("Stats %+v: want DroppedClosed 2, Delivered 3", s)
			}
		})
	}
}

func TestPutInPlace_CriticalFallsBackToRoutineLane(t *testing.T) {
	for _, p := range inPlacePuts {
		t.Run(p.name, func(t *testing.T) {
			g := newGate()
			defer g.release()
			q := newQueue(t, batch.Config{Capacity: 16, CriticalCapacity: 2, MaxBatch: 2, Timeout: time.Hour}, g.handle)
			for i := range 2 {
				p.putCritical(q, func(v *item) { v.Seq = i })
			}
			<-g.entered // handle holds both priority slots
			if !p.putCritical(q, func(v *item) { v.Seq = 2 }) {
				t.Fatal("the critical put did not fall back to a routine lane")
			}
			g.release()
			if err := q.Close(ctxTimeout(t)); err != nil {
				t.Fatal(err)
			}
			if s := q.Stats(); s.CriticalFallback != 1 || s.CriticalEnqueued != 2 || s.Delivered != 3 {
				t.Errorf("Stats %+v: want CriticalFallback 1, CriticalEnqueued 2, Delivered 3", s)
			}
		})
	}
}

// TestPutWith_PanicPublishes checks that a fill that panics does not leave
// its slot unpublished, which would stop the consumer at that slot for good.
func TestPutWith_PanicPublishes(t *testing.T) {
	var r recorder
	q := newQueue(t, batch.Config{Capacity: 8, MaxBatch: 8, Timeout: time.Hour}, r.handle)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic in fill did not reach the caller")
			}
		}()
		q.PutWith(func(v *item) { v.Seq = 7; panic("fill failed") })
	}()
	q.PutWith(func(v *item) { v.Seq = 8 })
	if err := q.Flush(ctxTimeout(t)); err != nil {
		t.Fatalf("Flush after a panicking fill: %v", err)
	}
	if got, _ := r.snapshot(); len(got) != 2 || got[0].Seq != 7 || got[1].Seq != 8 {
		t.Errorf("delivered %+v, want Seq 7 then 8", got)
	}
}

// TestPut_NilRefused checks that every put refuses a nil pointer or fill
// function, counted in Stats.DroppedNil, instead of publishing a slot it
// did not write (which would hand over what an earlier put left there).
func TestPut_NilRefused(t *testing.T) {
	tests := []struct {
		name string
		put  func(q *batch.Queue[item]) bool
	}{
		{"Put", func(q *batch.Queue[item]) bool { return q.Put(nil) }},
		{"PutCritical", func(q *batch.Queue[item]) bool { return q.PutCritical(nil) }},
		{"PutWith", func(q *batch.Queue[item]) bool { return q.PutWith(nil) }},
		{"PutCriticalWith", func(q *batch.Queue[item]) bool { return q.PutCriticalWith(nil) }},
		{"PutReuse", func(q *batch.Queue[item]) bool { return q.PutReuse(nil) }},
		{"PutCriticalReuse", func(q *batch.Queue[item]) bool { return q.PutCriticalReuse(nil) }},
		{"PutWait", func(q *batch.Queue[item]) bool {
			err := q.PutWait(ctxTimeout(t), nil)
			if !errors.Is(err, batch.ErrNilItem) {
				t.Errorf("PutWait(nil) = %v, want ErrNilItem", err)
			}
			return err == nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r recorder
			q := newQueue(t, batch.Config{Capacity: 4, CriticalCapacity: 4, MaxBatch: 4, Timeout: time.Hour}, r.handle)
			// Use every slot once, so that each holds a stale value.
			for i := range 4 {
				q.Put(&item{P: 1, Seq: i})
				q.PutCritical(&item{P: 2, Seq: i})
			}
			if err := q.Flush(ctxTimeout(t)); err != nil {
				t.Fatal(err)
			}
			if tt.put(q) {
				t.Errorf("%s(nil) = true, want false", tt.name)
			}
			if err := q.Flush(ctxTimeout(t)); err != nil {
				t.Fatal(err)
			}
			got, _ := r.snapshot()
			if len(got) != 8 {
				t.Errorf("delivered %d items, want the 8 real ones: %v", len(got), got)
			}
			s := q.Stats()
			if s.DroppedNil != 1 || s.Enqueued != 8 || s.DroppedFull != 0 {
				t.Errorf("Stats = %+v, want DroppedNil 1, Enqueued 8", s)
			}
		})
	}
}
