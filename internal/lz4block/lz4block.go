package lz4block

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/pierrec/lz4/v4"
)

// MaxMessageSize is the largest uncompressed message, in bytes, that this
// package compresses or decodes: the tracing protocol's maximum message
// size, 16 MiB.
const MaxMessageSize = 16 << 20

// prefixLen is the length of the size prefix of the size-prepended form.
const prefixLen = 4

var (
	// ErrCorrupt is wrapped by the errors of DecodePrefixed and DecodeRaw
	// for input that is not a valid block, or whose size prefix does not
	// match what the block decodes to.
	ErrCorrupt = errors.New("lz4block: corrupt block")
	// ErrTooLarge is wrapped by the errors for a message larger than
	// MaxMessageSize, to compress, declared by a size prefix, or decoded
	// from a raw block.
	ErrTooLarge = errors.New("lz4block: message too large")
)

// Compressor compresses messages into raw LZ4 blocks. The zero value is
// ready to use. A Compressor keeps a hash table between calls, so reuse one
// instead of making one per message; it is not safe for concurrent use:
// keep one per goroutine. Do not copy a Compressor after first use.
type Compressor struct {
	c lz4.Compressor
}

// AppendPrefixed appends src in the size-prepended block form the tracing
// server reads: len(src) as 4 bytes little-endian, then src compressed as
// one raw LZ4 block. It grows dst by at most 4 + lz4.CompressBlockBound(n)
// bytes, so it does not allocate when dst has that much spare capacity.
// Incompressible input is stored as a block of literals, which any LZ4
// block decoder reads. The only error, for len(src) > MaxMessageSize,
// wraps ErrTooLarge; dst is then returned unchanged. dst and src must not
// overlap.
func (c *Compressor) AppendPrefixed(dst, src []byte) ([]byte, error) {
	if len(src) > MaxMessageSize {
		return dst, fmt.Errorf("%w: %d bytes to compress exceed %d", ErrTooLarge, len(src), MaxMessageSize)
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(src)))
	return c.appendBlock(dst, src), nil
}

// AppendRaw appends src compressed as one raw LZ4 block, without a size
// prefix, the form of the server's compressed replies. Otherwise it behaves
// like AppendPrefixed.
func (c *Compressor) AppendRaw(dst, src []byte) ([]byte, error) {
	if len(src) > MaxMessageSize {
		return dst, fmt.Errorf("%w: %d bytes to compress exceed %d", ErrTooLarge, len(src), MaxMessageSize)
	}
	return c.appendBlock(dst, src), nil
}

func (c *Compressor) appendBlock(dst, src []byte) []byte {
	bound := lz4.CompressBlockBound(len(src))
	dst = slices.Grow(dst, bound)
	out := dst[len(dst) : len(dst)+bound]
	n, err := c.c.CompressBlock(src, out)
	if err != nil || n <= 0 || n > bound {
		// With a destination of CompressBlockBound bytes the compressor
		// always succeeds; should it not, literals are a valid block too.
		n = putLiterals(out, src)
	}
	return dst[:len(dst)+n]
}

// putLiterals writes src into out as a block of one literal-only sequence
// and returns its length. out must hold lz4.CompressBlockBound(len(src))
// bytes.
func putLiterals(out, src []byte) int {
	n := len(src)
	i := 0
	if n < 0xF {
		out[i] = byte(n << 4)
		i++
	} else {
		out[i] = 0xF0
		i++
		for r := n - 0xF; ; r -= 0xFF {
			if r < 0xFF {
				out[i] = byte(r)
				i++
				break
			}
			out[i] = 0xFF
			i++
		}
	}
	return i + copy(out[i:], src)
}

// DecodePrefixed decodes a message in the size-prepended block form (4
// bytes little-endian uncompressed length, then one raw LZ4 block), appends
// it to dst and returns the extended slice. It checks that the declared
// size is at most MaxMessageSize (else an error wrapping ErrTooLarge) and
// that the block is valid and decodes to exactly that many bytes (else an
// error wrapping ErrCorrupt); it allocates at most the declared size, and
// only after the check. On error dst is returned unchanged in length. It
// does not allocate when dst has enough spare capacity. dst and src must
// not overlap.
func DecodePrefixed(dst, src []byte) ([]byte, error) {
	if len(src) < prefixLen {
		return dst, fmt.Errorf("%w: %d bytes are shorter than the 4-byte size prefix", ErrCorrupt, len(src))
	}
	size := binary.LittleEndian.Uint32(src)
	if size > MaxMessageSize {
		return dst, fmt.Errorf("%w: declared size %d exceeds %d", ErrTooLarge, size, MaxMessageSize)
	}
	block := src[prefixLen:]
	n, err := blockLen(block, int(size))
	switch {
	case errors.Is(err, errOverLimit):
		return dst, fmt.Errorf("%w: block decodes to more than its declared size %d", ErrCorrupt, size)
	case err != nil:
		return dst, err
	case n != int(size):
		return dst, fmt.Errorf("%w: block decodes to %d bytes, declared size %d", ErrCorrupt, n, size)
	}
	return decodeInto(dst, block, n)
}

// DecodeRaw decodes one raw LZ4 block without a size prefix, appends it to
// dst and returns the extended slice. It learns the decoded size by
// walking the block's sequence headers, so it allocates (when dst lacks
// capacity) exactly once and only what the block decodes to. A block that
// would decode to more than MaxMessageSize gives an error wrapping
// ErrTooLarge, an invalid one an error wrapping ErrCorrupt; dst is then
// returned unchanged in length. An empty src decodes to nothing, as with
// lz4.UncompressBlock. dst and src must not overlap.
func DecodeRaw(dst, src []byte) ([]byte, error) {
	n, err := blockLen(src, MaxMessageSize)
	switch {
	case errors.Is(err, errOverLimit):
		return dst, fmt.Errorf("%w: block decodes to more than %d bytes", ErrTooLarge, MaxMessageSize)
	case err != nil:
		return dst, err
	}
	return decodeInto(dst, src, n)
}

// decodeInto decodes block, which blockLen measured as n bytes, into n new
// bytes at the end of dst.
func decodeInto(dst, block []byte, n int) ([]byte, error) {
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	m, err := lz4.UncompressBlock(block, out)
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if m != n {
		return dst, fmt.Errorf("%w: block decoded to %d bytes, expected %d", ErrCorrupt, m, n)
	}
	return dst[:len(dst)+n], nil
}

// errOverLimit reports that a block decodes to more than blockLen's limit.
var errOverLimit = errors.New("lz4block: over limit")

// blockLen walks the sequences of the raw LZ4 block src and returns how
// many bytes it decodes to, without decoding it. It accepts exactly the
// blocks lz4.UncompressBlock accepts, following the format: each sequence
// is a token (literal length in the high nibble, match length minus 4 in
// the low nibble, 15 meaning more length bytes follow, each added, until
// one is not 255), the literals, and, unless the block ends after the
// literals with a zero match nibble, a 2-byte little-endian offset into
// the output decoded so far. It returns errOverLimit as soon as the output
// would pass limit, and an error wrapping ErrCorrupt for a malformed block.
func blockLen(src []byte, limit int) (int, error) {
	si, di := 0, 0
	for si < len(src) {
		token := src[si]
		si++

		lit := int(token >> 4)
		if lit == 0xF {
			var err error
			if lit, si, err = extendLen(src, si, lit); err != nil {
				return 0, err
			}
		}
		if lit > len(src)-si {
			return 0, fmt.Errorf("%w: %d literal bytes at offset %d run past the end of the %d-byte block", ErrCorrupt, lit, si, len(src))
		}
		si += lit
		if di += lit; di > limit {
			return 0, errOverLimit
		}

		match := int(token & 0xF)
		if si == len(src) {
			if match != 0 {
				return 0, fmt.Errorf("%w: block ends where a match offset is due", ErrCorrupt)
			}
			break
		}
		if len(src)-si < 2 {
			return 0, fmt.Errorf("%w: match offset at %d truncated", ErrCorrupt, si)
		}
		offset := int(binary.LittleEndian.Uint16(src[si:]))
		si += 2
		if offset == 0 {
			return 0, fmt.Errorf("%w: zero match offset at %d", ErrCorrupt, si-2)
		}
		if offset > di {
			return 0, fmt.Errorf("%w: match offset %d at %d reaches before the start of the output (%d bytes)", ErrCorrupt, offset, si-2, di)
		}
		match += 4
		if match == 0xF+4 {
			var err error
			if match, si, err = extendLen(src, si, match); err != nil {
				return 0, err
			}
		}
		if di += match; di > limit {
			return 0, errOverLimit
		}
	}
	return di, nil
}

// extendLen adds the length bytes at src[si:] to n: each byte is added,
// and a byte of 255 means another follows. It returns the new length and
// the index after the last length byte. The result is at most
// 255*len(src), so it cannot overflow.
func extendLen(src []byte, si, n int) (int, int, error) {
	for {
		if si >= len(src) {
			return 0, 0, fmt.Errorf("%w: length bytes run past the end of the %d-byte block", ErrCorrupt, len(src))
		}
		x := src[si]
		si++
		n += int(x)
		if x != 0xFF {
			return n, si, nil
		}
	}
}
