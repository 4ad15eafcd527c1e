// Package compress compresses and decompresses binary frames of the Reflow
// tracing protocol with every algorithm a Reflow server can be configured
// with, in the framing the server uses for each direction:
//
//	algorithm  client → server frame             server → client frame
//	Zstd       one zstd frame                     one zstd frame, no content-size field
//	LZ4        4-byte LE size + one raw LZ4 block one raw LZ4 block, no size prefix
//	Gzip       a gzip stream                      a gzip stream
//	Brotli     a raw brotli stream                a raw brotli stream
//
// A [Codec] holds the reusable state of one algorithm. The client side
// uses [Codec.AppendRequest] to compress what it sends and
// [Codec.DecodeReply] to read the server's compressed replies; the server
// side, for a server that behaves like Reflow's, uses [Codec.DecodeRequest]
// and [Codec.AppendReply]. [Codecs] keeps one Codec per algorithm for a
// caller that needs several.
//
// The compressors use the level a Reflow server compresses with by default
// (3): zstd's SpeedDefault, gzip level 3, brotli quality 3; lz4 has a
// single level.
//
// # Limits and errors
//
// Every message, compressed or decoded, is bounded by [MaxMessageSize]
// (64 MiB, the largest message a Reflow server accepts). Decoders never
// panic on any input and stop as soon as the output passes that bound, so
// a small frame cannot make them allocate without limit: input that would
// decode to more gives an error wrapping [ErrTooLarge], malformed or
// truncated input an error wrapping [ErrCorrupt]. Raw lz4 replies carry no
// size; the decoder learns it from the block and allocates exactly once.
//
// # Allocation
//
// All methods append to a caller's dst and return the extended slice, in
// the style of append; on error they return dst with its length
// unchanged. A caller that
// reuses dst (dst[:0]) and its Codec allocates little once dst has grown to
// the largest message.
//
// # Concurrency
//
// A Codec is not safe for concurrent use: keep one per goroutine or
// connection. Codecs keep no goroutines, so they need no closing.
package compress
