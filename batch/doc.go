// Package batch is a generic, lock-free, bounded multi-producer
// single-consumer queue with a batching loop around it.
//
// Producers copy values into preallocated slots with [Queue.Put] (or
// [Queue.PutCritical] for a small priority lane); one consumer goroutine
// hands the queued values to a handle function in batches of up to
// Config.MaxBatch items, or fewer once the oldest has waited Config.Timeout.
// The package knows nothing about what it carries.
//
//	q, err := batch.New(batch.Config{MaxBatch: 256}, func(b []Event) {
//		// b aliases the queue's memory: copy what you keep.
//	})
//	...
//	ev := Event{...}
//	q.Put(&ev) // false (and counted in Stats) if the queue is full or closed
//	...
//	err = q.Close(ctx) // hands over everything, then stops the goroutine
//
// [Queue.PutWith] and [Queue.PutCriticalWith] build the value in its slot
// instead of copying it in: they call a fill function with a pointer to
// the claimed, zeroed slot, which pays off for large values. For large
// values with pointers, Config.ClearOnReuse also saves the consumer
// clearing every slot after handle: a slot is then cleared when it is
// reused. [Queue.PutReuse] and [Queue.PutCriticalReuse] go one step
// further for a fill that writes a few fields of a large value: fill gets
// the slot as the last value left it, with the mark that value's fill
// returned, and clears only what the mark says may be set.
//
// When the routine lanes are full, Put drops the new value and counts it
// (Stats.DroppedFull); with the Block policy, [Queue.PutWait] waits for
// room instead.
//
// A nil pointer or fill function is refused like a full queue, before any
// slot is claimed: the put returns false (PutWait returns [ErrNilItem])
// and is counted in Stats.DroppedNil. Publishing a slot without writing it
// would hand over whatever an earlier put left there, so it never happens;
// refusing rather than panicking keeps a put from ever failing its caller.
//
// # Concurrency
//
// Every method is safe for concurrent use. Put, PutCritical and the With
// and Reuse variants take no lock, never block and never
// allocate: a producer claims a slot with one compare-and-swap on the
// lane's tail, copies its value in, and publishes it with one atomic store
// of the slot's sequence number. A producer that stalls between the two
// never blocks other producers; the consumer just cannot hand over that
// slot, or the ones after it in its lane, until it is published.
//
// Once a producer has found every routine lane full, and until the
// consumer releases one, a routine put is refused after one load of a
// word that changes only when a lane fills or is released, and one atomic
// add to one of 64 drop counters (one with a single lane), each on a
// cache line of its own and chosen by the producer's identity (Stats sums
// them): producers refusing in parallel share no written cache line. A
// producer that finds its own lane full yields the processor once
// (runtime.Gosched) before it spills or is refused, and not again until
// the consumer has released some of that lane; the producers of a drop
// counter also yield once every 1024 refusals. Producers spinning on a
// full queue thus leave the consumer room to run.
//
// When GOMAXPROCS > 1 and Config.Capacity allows it, the routine capacity
// is split into several lanes (up to 16) so that producers running in
// parallel do not all compare-and-swap the same tail: each goroutine takes
// a lane of its own near the one its identity hashes to (sharing one only
// when those are taken), and spills into the next lane with room only when
// its own is full. Each batch holds items of one lane. The capacity is
// also split, whatever GOMAXPROCS, until a lane's slots take at most
// 256 KiB where it allows: a producer that the consumer keeps up with then
// reuses the slots of its own lane, which stay in its cache.
//
// The consumer pays per batch rather than per item: it finds published
// slots with plain atomic loads, hands handle a slice of a lane's ring
// itself (no copy; a batch never wraps around the end of the ring), and
// releases the whole batch with one atomic store. It parks on a channel
// when there is nothing to hand over, so an idle queue uses no CPU;
// producers wake it with a non-blocking send only when it is parked and
// the item they put fills a batch, or starts one after an idle period (one
// wake-up per batch in a steady stream). One reusable timer, armed when a
// batch goes out or when the first item after an idle period is seen,
// bounds how long a partial batch waits. The consumer checks it on every
// cycle, not only when it parks, so a partial batch goes out within
// Timeout (plus the handle call in progress) even while other lanes keep
// the consumer busy with full batches.
//
// handle runs on the consumer goroutine only, one call at a time; it must
// not keep its slice after returning, and must not call Flush or Close.
// Items of one lane put by one goroutine reach handle in order (routine
// items that spilled into another lane because the goroutine's own was
// full may overtake earlier ones); critical items are handed over before
// routine ones.
//
// # Shutdown
//
// [Queue.Flush] returns once every item put before it has been handed over
// and handle has returned. [Queue.Close] stops intake (later puts fail and
// are counted in Stats.DroppedClosed), hands everything still queued to
// handle, and returns when the consumer goroutine has returned. If Close's
// ctx ends first, the consumer stops after the handle call in progress, the
// items left behind are counted in Stats.Abandoned, and Close returns the
// ctx error; [Queue.Done] is closed when the goroutine has returned. Close
// may be called more than once: the first call stops intake and drains
// under its ctx, and every call returns only when the drain is over (or
// its own ctx ends, returning that ctx's error). After Close, Flush and
// PutWait return [ErrClosed]. Once any Close has returned nil,
// Stats.Enqueued equals Stats.Delivered.
package batch
