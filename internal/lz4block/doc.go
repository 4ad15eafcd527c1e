// Package lz4block frames messages as raw LZ4 blocks the way the Reflow
// tracing protocol exchanges them.
//
// The server reads a compressed binary frame in the size-prepended block
// form: 4 bytes little-endian uncompressed length, then one raw LZ4 block
// (not the LZ4 frame format). [Compressor.AppendPrefixed] writes it and
// [DecodePrefixed] reads it. The server's own compressed replies are a raw
// block without the prefix; [DecodeRaw] reads them without knowing their
// size in advance, by walking the block's sequences to learn the size
// before decoding into a buffer of exactly that size.
//
// Every message is bounded by [MaxMessageSize], the protocol's limit.
// Decoders never panic: malformed input gives an error wrapping
// [ErrCorrupt], input that would decode to more than the limit one wrapping
// [ErrTooLarge].
//
// # Allocation
//
// All functions append to a caller's dst and return the extended slice, in
// the style of append, so a caller that reuses dst (dst[:0]) does not
// allocate once dst has grown to the largest message.
//
// # Concurrency
//
// A [Compressor] holds the compressor's hash table: use one per goroutine.
// DecodePrefixed and DecodeRaw keep no state and are safe for concurrent
// use.
package lz4block
