package compress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// MaxMessageSize is the largest message, in bytes, that a Codec compresses
// or decodes: 64 MiB, the largest message a Reflow tracing server reads.
const MaxMessageSize = 64 << 20

// level is the compression level of gzip and brotli: 3, the level a Reflow
// server compresses with by default (zstd's SpeedDefault is its level 3).
// Gzip is klauspost/compress's, which compresses a StoreTrace about twice
// as fast as the standard library's at this level, and reads it 1.4 times
// as fast.
const level = 3

var (
	// ErrCorrupt is wrapped by the errors of the decoding methods for
	// input that is not a valid frame of the Codec's algorithm, is
	// truncated, or whose lz4 size prefix does not match its block.
	ErrCorrupt = errors.New("compress: corrupt input")
	// ErrTooLarge is wrapped by the errors for a message larger than
	// MaxMessageSize: to compress, declared by an lz4 size prefix, or
	// decoded.
	ErrTooLarge = errors.New("compress: message too large")
)

// Codec compresses and decompresses the binary frames of one Algorithm, in
// both directions of the tracing protocol. It builds each encoder and
// decoder on first use and reuses it for every later message, so keep one
// Codec per connection or goroutine instead of making one per message. A
// Codec is not safe for concurrent use. The zero value is a Zstd Codec,
// ready to use. A Codec keeps no goroutine and needs no closing.
type Codec struct {
	alg Algorithm

	src bytes.Reader // the input of the stream decoders
	out appendWriter // the output of the stream encoders

	zenc *zstd.Encoder
	zdec *zstd.Decoder
	lz4  *lz4Compressor
	gzw  *gzip.Writer
	gzr  *gzip.Reader
	brw  *brotli.Writer
	brr  *brotli.Reader

	joined []byte // the parts of an lz4 request, joined (AppendRequestParts)
}

// NewCodec returns a Codec for a. An unknown a gives an error wrapping
// ErrUnknownAlgorithm.
func NewCodec(a Algorithm) (*Codec, error) {
	if !a.valid() {
		return nil, fmt.Errorf("compress: new codec: %w %d", ErrUnknownAlgorithm, uint8(a))
	}
	return &Codec{alg: a}, nil
}

// Algorithm returns the Codec's algorithm.
func (c *Codec) Algorithm() Algorithm { return c.alg }

// AppendRequest appends src compressed as a binary frame a client sends to
// a server configured with the Codec's algorithm: one zstd frame, a 4-byte
// little-endian size followed by one raw LZ4 block, a gzip stream, or a
// raw brotli stream. The only error, for len(src) > MaxMessageSize, wraps
// ErrTooLarge. dst and src must not overlap.
func (c *Codec) AppendRequest(dst, src []byte) ([]byte, error) {
	if err := checkSize(src, "request"); err != nil {
		return dst, err
	}
	switch c.alg {
	case Zstd:
		enc, err := c.zstdEncoder()
		if err != nil {
			return dst, err
		}
		return enc.EncodeAll(src, dst), nil
	case LZ4:
		return c.lz4Compressor().appendPrefixed(dst, src), nil
	}
	return c.appendStream(dst, src)
}

// AppendRequestParts is AppendRequest of the concatenation of parts,
// without the caller making it: zstd, gzip and brotli compress the parts
// as one stream (a zstd frame then has no content-size field, which a
// Reflow server reads alike); lz4, whose block needs its input in one
// piece, joins them in a buffer the Codec keeps for the next call (see
// Retained). The only error, for parts longer than MaxMessageSize in all,
// wraps ErrTooLarge. dst must not overlap any part.
func (c *Codec) AppendRequestParts(dst []byte, parts [][]byte) ([]byte, error) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n > MaxMessageSize {
		return dst, fmt.Errorf("compress: request of %d bytes: %w: the limit is %d", n, ErrTooLarge, MaxMessageSize)
	}
	switch c.alg {
	case Zstd:
		enc, err := c.zstdEncoder()
		if err != nil {
			return dst, err
		}
		c.out.b = dst
		enc.Reset(&c.out)
		var werr error
		for _, p := range parts {
			if _, err := enc.Write(p); err != nil {
				werr = err
				break
			}
		}
		if err := errors.Join(werr, enc.Close()); err != nil {
			c.out.b = nil
			return dst, fmt.Errorf("compress: zstd request: %w", err)
		}
		out := c.out.b
		c.out.b = nil
		return out, nil
	case LZ4:
		j := c.joined[:0]
		if cap(j) < n {
			j = make([]byte, 0, max(n, 2*cap(j))) // requests grow: fewer steps
		}
		for _, p := range parts {
			j = append(j, p...)
		}
		c.joined = j
		return c.lz4Compressor().appendPrefixed(dst, j), nil
	}
	return c.appendStream(dst, parts...)
}

// Retained is the capacity, in bytes, of the buffer in which
// AppendRequestParts joins the parts of an lz4 request; the Codec keeps
// it for the next call. Its encoders' own state is not counted.
func (c *Codec) Retained() int { return cap(c.joined) }

// AppendReply appends src compressed as a binary frame a Reflow server
// configured with the Codec's algorithm replies with: one zstd frame
// without a content-size field, one raw LZ4 block without a size prefix, a
// gzip stream, or a raw brotli stream. The only error, for len(src) >
// MaxMessageSize, wraps ErrTooLarge. dst and src must not overlap.
func (c *Codec) AppendReply(dst, src []byte) ([]byte, error) {
	if err := checkSize(src, "reply"); err != nil {
		return dst, err
	}
	switch c.alg {
	case Zstd:
		enc, err := c.zstdEncoder()
		if err != nil {
			return dst, err
		}
		// A stream of unknown length has no content-size field, as
		// Reflow's replies. The encoder would write one for a stream
		// that fits one block when Close sees all of it: Flush writes
		// the frame header first.
		c.out.b = dst
		enc.Reset(&c.out)
		_, werr := enc.Write(src)
		if err := errors.Join(werr, enc.Flush(), enc.Close()); err != nil {
			c.out.b = nil
			return dst, fmt.Errorf("compress: zstd reply: %w", err)
		}
		out := c.out.b
		c.out.b = nil
		return out, nil
	case LZ4:
		return c.lz4Compressor().appendBlock(dst, src), nil
	}
	return c.appendStream(dst, src)
}

// DecodeReply decodes a binary frame a server configured with the Codec's
// algorithm sent (it compresses its replies over 1024 bytes), appends the
// message to dst and returns the extended slice. It reads what AppendReply
// writes: for LZ4 a raw block without a size prefix, whose size it learns
// from the block itself, so that it allocates once and exactly what the
// block decodes to. Malformed or truncated input gives an error wrapping
// ErrCorrupt, input decoding to more than MaxMessageSize one wrapping
// ErrTooLarge; dst is then returned with its length unchanged. (A raw LZ4
// block cut right after one of its sequences is itself a valid, shorter
// block: nothing in that framing tells, so the JSON decoder must.) dst and
// src must not overlap.
func (c *Codec) DecodeReply(dst, src []byte) ([]byte, error) {
	if c.alg == LZ4 {
		out, err := decodeRawBlock(dst, src)
		if err != nil {
			return dst, fmt.Errorf("compress: lz4 reply: %w", err)
		}
		return out, nil
	}
	return c.decode(dst, src, "reply")
}

// DecodeRequest decodes a binary frame a client sent to a server configured
// with the Codec's algorithm, appends the message to dst and returns the
// extended slice. It reads what AppendRequest writes: for LZ4 the 4-byte
// size prefix must be at most MaxMessageSize (else an error wrapping
// ErrTooLarge) and the block must decode to exactly that many bytes (else
// an error wrapping ErrCorrupt), as a Reflow server requires. Other
// malformed or truncated input gives an error wrapping ErrCorrupt, input
// decoding to more than MaxMessageSize one wrapping ErrTooLarge; dst is
// then returned with its length unchanged. dst and src must not overlap.
func (c *Codec) DecodeRequest(dst, src []byte) ([]byte, error) {
	if c.alg == LZ4 {
		out, err := decodePrefixedBlock(dst, src)
		if err != nil {
			return dst, fmt.Errorf("compress: lz4 request: %w", err)
		}
		return out, nil
	}
	return c.decode(dst, src, "request")
}

// checkSize returns an error wrapping ErrTooLarge for a message over
// MaxMessageSize; what names the message.
func checkSize(src []byte, what string) error {
	if len(src) > MaxMessageSize {
		return fmt.Errorf("compress: %s of %d bytes: %w: the limit is %d", what, len(src), ErrTooLarge, MaxMessageSize)
	}
	return nil
}

// appendStream compresses the concatenation of src as one gzip or brotli
// stream, the same in both directions, appended to dst.
func (c *Codec) appendStream(dst []byte, src ...[]byte) ([]byte, error) {
	c.out.b = dst
	var w io.WriteCloser
	switch c.alg {
	case Gzip:
		if c.gzw == nil {
			// The level is valid, so NewWriterLevel cannot fail.
			c.gzw, _ = gzip.NewWriterLevel(&c.out, level)
		} else {
			c.gzw.Reset(&c.out)
		}
		w = c.gzw
	case Brotli:
		if c.brw == nil {
			c.brw = brotli.NewWriterLevel(&c.out, level)
		} else {
			c.brw.Reset(&c.out)
		}
		w = c.brw
	default:
		return dst, fmt.Errorf("compress: %w %d", ErrUnknownAlgorithm, uint8(c.alg))
	}
	var werr error
	for _, p := range src {
		if _, err := w.Write(p); err != nil {
			werr = err
			break
		}
	}
	err := errors.Join(werr, w.Close())
	out := c.out.b
	c.out.b = nil
	if err != nil {
		// Writing to memory does not fail; the compressors do not either.
		return dst, fmt.Errorf("compress: %s: %w", c.alg, err)
	}
	return out, nil
}

// decode decodes one zstd frame, or a gzip or brotli stream, appended to
// dst; what names the input in errors.
func (c *Codec) decode(dst, src []byte, what string) ([]byte, error) {
	switch c.alg {
	case Zstd:
		dec, err := c.zstdDecoder()
		if err != nil {
			return dst, err
		}
		out, err := dec.DecodeAll(src, dst)
		switch {
		case errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, zstd.ErrWindowSizeExceeded):
			return dst, fmt.Errorf("compress: zstd %s: %w: it decodes to more than %d bytes", what, ErrTooLarge, MaxMessageSize)
		case err != nil:
			return dst, fmt.Errorf("compress: zstd %s: %w: %w", what, ErrCorrupt, err)
		}
		return out, nil
	case Gzip:
		c.src.Reset(src)
		if c.gzr == nil {
			c.gzr = new(gzip.Reader)
		}
		if err := c.gzr.Reset(&c.src); err != nil {
			return dst, fmt.Errorf("compress: gzip %s header: %w: %w", what, ErrCorrupt, err)
		}
		// One gzip member, as Reflow reads and writes; Reset turns
		// multistream mode back on.
		c.gzr.Multistream(false)
		return readAll(dst, c.gzr, "gzip "+what)
	case Brotli:
		c.src.Reset(src)
		if c.brr == nil {
			c.brr = brotli.NewReader(&c.src)
		} else if err := c.brr.Reset(&c.src); err != nil {
			return dst, fmt.Errorf("compress: brotli %s: %w: %w", what, ErrCorrupt, err)
		}
		return readAll(dst, c.brr, "brotli "+what)
	}
	return dst, fmt.Errorf("compress: %w %d", ErrUnknownAlgorithm, uint8(c.alg))
}

// readAll appends everything r decodes to dst, up to MaxMessageSize bytes:
// it reads one byte past the limit to tell a message of exactly the limit
// from a longer one, and grows dst by doubling what it decoded so far, so
// it never holds more than twice the message. what names the input in
// errors. On error it returns dst with its original length.
func readAll(dst []byte, r io.Reader, what string) ([]byte, error) {
	start := len(dst)
	limit := start + MaxMessageSize + 1
	stalls := 0
	for {
		if len(dst) == cap(dst) {
			grow := max(len(dst)-start, 32<<10)
			dst = slices.Grow(dst, min(grow, limit-len(dst)))
		}
		n, err := r.Read(dst[len(dst):min(cap(dst), limit)])
		dst = dst[:len(dst)+n]
		switch {
		case len(dst)-start > MaxMessageSize:
			return dst[:start], fmt.Errorf("compress: %s: %w: it decodes to more than %d bytes", what, ErrTooLarge, MaxMessageSize)
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst[:start], fmt.Errorf("compress: %s: %w: %w", what, ErrCorrupt, err)
		case n == 0:
			if stalls++; stalls > 100 {
				return dst[:start], fmt.Errorf("compress: %s: %w: %w", what, ErrCorrupt, io.ErrNoProgress)
			}
		default:
			stalls = 0
		}
	}
}

// zstdWindow is the zstd encoder's window: 2 MiB, the window of libzstd's
// level 3 (window log 21) for messages of this size. The encoder keeps
// twice its window of history; the library's default of 8 MiB made that
// 16 MiB per Codec, for no better compression of trace JSON, whose
// repetitions are near each other.
const zstdWindow = 2 << 20

// zstdEncoder returns the Codec's zstd encoder, built on first use: level
// 3 (SpeedDefault), a zstdWindow window, and synchronous, so it keeps no
// goroutine.
func (c *Codec) zstdEncoder() (*zstd.Encoder, error) {
	if c.zenc == nil {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(zstdWindow))
		if err != nil {
			return nil, fmt.Errorf("compress: zstd encoder: %w", err)
		}
		c.zenc = enc
	}
	return c.zenc, nil
}

// zstdDecoder returns the Codec's zstd decoder, built on first use:
// synchronous, so it keeps no goroutine, and bounded by MaxMessageSize.
func (c *Codec) zstdDecoder() (*zstd.Decoder, error) {
	if c.zdec == nil {
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxMessageSize))
		if err != nil {
			return nil, fmt.Errorf("compress: zstd decoder: %w", err)
		}
		c.zdec = dec
	}
	return c.zdec, nil
}

// lz4Compressor returns the Codec's lz4 compressor, built on first use.
func (c *Codec) lz4Compressor() *lz4Compressor {
	if c.lz4 == nil {
		c.lz4 = new(lz4Compressor)
	}
	return c.lz4
}

// appendWriter is an io.Writer appending to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
