package batch_test

import (
	"context"
	"fmt"

	"github.com/reflowtrace/reflowtrace-go/batch"
)

func Example() {
	type reading struct {
		Sensor string
		Value  float64
	}
	q, err := batch.New(batch.Config{MaxBatch: 2}, func(b []reading) {
		// b aliases the queue's slots: use or copy it before returning.
		for _, r := range b {
			fmt.Printf("%s=%.0f\n", r.Sensor, r.Value)
		}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := range 3 {
		r := reading{"temp", 20 + float64(i)}
		q.Put(&r)
	}
	if err := q.Flush(context.Background()); err != nil {
		fmt.Println(err)
	}
	if err := q.Close(context.Background()); err != nil {
		fmt.Println(err)
	}
	s := q.Stats()
	fmt.Println("enqueued:", s.Enqueued, "delivered:", s.Delivered)
	// Output:
	// temp=20
	// temp=21
	// temp=22
	// enqueued: 3 delivered: 3
}
