package batch_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
)

// reuseCase is one way of putting an item into a slot, and the mark the
// next PutReuse of that slot must get.
type reuseCase struct {
	name     string
	put      func(q *batch.Queue[item], seq int) bool
	wantMark uint8
}

// TestPutReuse_GetsTheLastItemAndItsMark checks what a fill of PutReuse
// and PutCriticalReuse gets: on a new slot, the zero item and mark 0; on
// a used one, the item the last put left there (a pointer-free item is
// never cleared) and the mark its fill returned, or 0 when the last put
// was not a PutReuse that returned, since such an item may hold anything.
func TestPutReuse_GetsTheLastItemAndItsMark(t *testing.T) {
	reuseWith := func(mark uint8) func(q *batch.Queue[item], seq int) bool {
		return func(q *batch.Queue[item], seq int) bool {
			return q.PutReuse(func(v *item, _ uint8) uint8 { *v = item{Seq: seq}; return mark })
		}
	}
	cases := []reuseCase{
		{"PutReuse", reuseWith(7), 7},
		{"Put", func(q *batch.Queue[item], seq int) bool { return q.Put(&item{Seq: seq}) }, 0},
		{"PutWith", func(q *batch.Queue[item], seq int) bool {
			return q.PutWith(func(v *item) { v.Seq = seq })
		}, 0},
		{"PutWait", func(q *batch.Queue[item], seq int) bool {
			return q.PutWait(ctxTimeout(t), &item{Seq: seq}) == nil
		}, 0},
		{"PutReuse that panics", func(q *batch.Queue[item], seq int) (ok bool) {
			defer func() { ok = recover() != nil }()
			q.PutReuse(func(v *item, _ uint8) uint8 { v.Seq = seq; panic("fill failed") })
			return false
		}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r recorder
			// One routine lane of 4 slots: the n'th put of a lap takes
			// slot n.
			q := newQueue(t, batch.Config{Capacity: 4, CriticalCapacity: 4, MaxBatch: 4, Timeout: time.Hour}, r.handle)
			for i := range 4 {
				ok := q.PutReuse(func(v *item, mark uint8) uint8 {
					if *v != (item{}) || mark != 0 {
						t.Errorf("first lap, slot %d: fill got %+v and mark %d, want the zero item and 0", i, *v, mark)
					}
					*v = item{Seq: i}
					return 1
				})
				if !ok {
					t.Fatalf("first lap: PutReuse %d refused", i)
				}
			}
			flush(t, q)
			for i := range 4 {
				if !tc.put(q, 10+i) {
					t.Fatalf("second lap: %s %d refused", tc.name, i)
				}
			}
			flush(t, q)
			for i := range 4 {
				q.PutReuse(func(v *item, mark uint8) uint8 {
					if v.Seq != 10+i || mark != tc.wantMark {
						t.Errorf("third lap, slot %d after %s: fill got Seq %d and mark %d, want Seq %d and mark %d",
							i, tc.name, v.Seq, mark, 10+i, tc.wantMark)
					}
					v.Seq = 20 + i
					return 1
				})
			}
			flush(t, q)
			got, _ := r.snapshot()
			if len(got) != 12 || got[4].Seq != 10 || got[11].Seq != 23 {
				t.Errorf("delivered %+v, want Seq 0-3, 10-13 and 20-23", got)
			}
		})
	}
	t.Run("priority lane", func(t *testing.T) {
		var r recorder
		q := newQueue(t, batch.Config{Capacity: 4, CriticalCapacity: 2, MaxBatch: 4, Timeout: time.Hour}, r.handle)
		for lap := range 3 {
			for i := range 2 {
				q.PutCriticalReuse(func(v *item, mark uint8) uint8 {
					if want := (item{P: lap - 1, Seq: i}); lap > 0 && (*v != want || mark != uint8(lap)) {
						t.Errorf("lap %d, slot %d: fill got %+v and mark %d, want %+v and %d", lap, i, *v, mark, want, lap)
					}
					*v = item{P: lap, Seq: i}
					return uint8(lap + 1)
				})
			}
			flush(t, q)
		}
		if got, _ := r.snapshot(); len(got) != 6 {
			t.Errorf("delivered %+v, want 6 items", got)
		}
	})
}

// TestPutReuse_ClearedSlotKeepsItsMark checks that a slot the consumer
// clears after handle (an item type with pointers, without
// Config.ClearOnReuse) reaches the next fill cleared, with its mark.
func TestPutReuse_ClearedSlotKeepsItsMark(t *testing.T) {
	type ref struct {
		S   *string
		Seq int
	}
	for _, clearOnReuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("ClearOnReuse=%v", clearOnReuse), func(t *testing.T) {
			cfg := batch.Config{Capacity: 4, CriticalCapacity: 2, MaxBatch: 4, Timeout: time.Hour, ClearOnReuse: clearOnReuse}
			n := 0
			q, err := batch.New(cfg, func(b []ref) { n += len(b) })
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = q.Close(ctxTimeout(t)) }()
			s := "x"
			for lap := range 3 {
				for i := range 4 {
					q.PutReuse(func(v *ref, mark uint8) uint8 {
						if lap > 0 && mark != uint8(lap) {
							t.Errorf("lap %d, slot %d: mark %d, want %d", lap, i, mark, lap)
						}
						switch {
						case lap > 0 && clearOnReuse && v.Seq != 10*(lap-1)+i:
							t.Errorf("lap %d, slot %d: fill got Seq %d, want the last item's, %d", lap, i, v.Seq, 10*(lap-1)+i)
						case lap > 0 && !clearOnReuse && (v.S != nil || v.Seq != 0):
							t.Errorf("lap %d, slot %d: fill got %+v, want a slot the consumer cleared", lap, i, *v)
						}
						*v = ref{S: &s, Seq: 10*lap + i}
						return uint8(lap + 1)
					})
				}
				if err := q.Flush(ctxTimeout(t)); err != nil {
					t.Fatal(err)
				}
			}
			if n != 12 {
				t.Errorf("delivered %d items, want 12", n)
			}
		})
	}
}

func flush(t *testing.T, q *batch.Queue[item]) {
	t.Helper()
	if err := q.Flush(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
}
