// Package deliver hands the batches a client's consumer takes from its
// queue to the client's sinks, and says how each batch ended.
//
// A Group writes every batch to every sink, each Write under a timeout,
// and counts per sink what was written, what failed and how long it took.
// With one sink the consumer writes itself. With several, each sink has a
// lane (internal/lane) and a goroutine that writes to it: the consumer
// copies each batch once, hands the copy to every lane without waiting, and
// goes back to its queue, so a sink that is slow, hangs until the timeout
// or fails never holds back the others. A lane that has no room for a batch
// misses it, for that sink alone, unless the Group blocks (Config.Block).
// Marks (Observe), flush requests (Flush) and Close go down each lane
// behind the batches before them. Flush returns at its ctx's end and
// Close when the caller gives up, also on a sink that ignores ctx: the
// call blocked in it finishes on its own goroutine.
//
// Once every sink is done with a batch the Group calls Config.Settled with
// its Outcome; what that means for the client (delivered, dropped, for
// which reason) is the caller's policy, as are the names of the sinks in
// its errors.
//
// A Pacer sizes the batches the queue hands over from the sinks' latency
// (adaptive batching).
package deliver
