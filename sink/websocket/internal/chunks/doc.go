// Package chunks holds the WebSocket sink's bytes in memory it reuses.
//
// A segment keeps its events' JSON in a Bytes, in chunks rather than one
// growing buffer: appending never copies what is already kept (a growing
// buffer copies it, and leaves the old copy to the collector, each time it
// grows), and a store frame refers to the chunks as they are instead of
// copying them (see Bytes.View). Bytes once appended never change, and
// later appends only write past them, so a frame may be written to the
// connection while its segment grows.
//
// A Bytes' first chunks are small, each as large as what it already
// holds, so that a short trace holds little; from Max on every chunk is
// Max bytes. A segment given up or acknowledged in full returns its chunks
// to its sink's Pool for the next segments; the frames' buffers go back to
// a Buffers.
//
// Bytes and Pool are not safe for concurrent use: the sink guards them
// with its own lock. Buffers is.
package chunks
