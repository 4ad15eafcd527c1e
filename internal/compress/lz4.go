package compress

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/pierrec/lz4/v4"
)

// lz4PrefixLen is the length of the size prefix of an lz4 request.
const lz4PrefixLen = 4

// lz4Compressor compresses messages into raw LZ4 blocks, keeping the
// compressor's hash table between calls.
type lz4Compressor struct {
	c lz4.Compressor
}

// appendPrefixed appends len(src) as 4 bytes little-endian, then src as one
// raw LZ4 block: the form a Reflow server reads. len(src) is at most
// MaxMessageSize, so it fits the prefix.
func (c *lz4Compressor) appendPrefixed(dst, src []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(src)))
	return c.appendBlock(dst, src)
}

// appendBlock appends src as one raw LZ4 block. It grows dst by at most
// lz4.CompressBlockBound(len(src)) bytes.
func (c *lz4Compressor) appendBlock(dst, src []byte) []byte {
	bound := lz4.CompressBlockBound(len(src))
	dst = slices.Grow(dst, bound)
	out := dst[len(dst) : len(dst)+bound]
	n, err := c.c.CompressBlock(src, out)
	if err != nil || n <= 0 || n > bound {
		// With CompressBlockBound bytes of room the compressor always
		// succeeds, and it reports incompressible input as n == 0: a
		// block of literals is then a valid block too.
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

// decodePrefixedBlock decodes a 4-byte little-endian size followed by one
// raw LZ4 block, appended to dst. The size must be at most MaxMessageSize
// and the block must decode to exactly that many bytes; it allocates only
// after checking both.
func decodePrefixedBlock(dst, src []byte) ([]byte, error) {
	if len(src) < lz4PrefixLen {
		return dst, fmt.Errorf("%w: %d bytes are shorter than the 4-byte size prefix", ErrCorrupt, len(src))
	}
	size := binary.LittleEndian.Uint32(src)
	if size > MaxMessageSize {
		return dst, fmt.Errorf("%w: declared size %d exceeds %d", ErrTooLarge, size, MaxMessageSize)
	}
	block := src[lz4PrefixLen:]
	n, err := blockLen(block, int(size))
	switch {
	case errors.Is(err, errOverLimit):
		return dst, fmt.Errorf("%w: block decodes to more than its declared size %d", ErrCorrupt, size)
	case err != nil:
		return dst, err
	case n != int(size):
		return dst, fmt.Errorf("%w: block decodes to %d bytes, declared size %d", ErrCorrupt, n, size)
	}
	return decodeBlockInto(dst, block, n)
}

// decodeRawBlock decodes one raw LZ4 block without a size prefix, appended
// to dst. It learns the decoded size by walking the block's sequence
// headers first, so it allocates exactly once and only what the block
// decodes to, up to MaxMessageSize. An empty block decodes to nothing.
func decodeRawBlock(dst, src []byte) ([]byte, error) {
	n, err := blockLen(src, MaxMessageSize)
	switch {
	case errors.Is(err, errOverLimit):
		return dst, fmt.Errorf("%w: block decodes to more than %d bytes", ErrTooLarge, MaxMessageSize)
	case err != nil:
		return dst, err
	}
	return decodeBlockInto(dst, src, n)
}

// decodeBlockInto decodes block, which blockLen measured as n bytes, into n
// new bytes at the end of dst.
func decodeBlockInto(dst, block []byte, n int) ([]byte, error) {
	grown := slices.Grow(dst, n)
	out := grown[len(dst) : len(dst)+n]
	m, err := lz4.UncompressBlock(block, out)
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if m != n {
		return dst, fmt.Errorf("%w: block decoded to %d bytes, expected %d", ErrCorrupt, m, n)
	}
	return grown[:len(dst)+n], nil
}

// errOverLimit reports that a block decodes to more than blockLen's limit.
var errOverLimit = errors.New("compress: lz4 block over limit")

// blockLen walks the sequences of the raw LZ4 block src and returns how
// many bytes it decodes to, without decoding it. It accepts exactly the
// blocks lz4.UncompressBlock accepts, following the block format: each
// sequence is a token (literal length in the high nibble, match length
// minus 4 in the low nibble, 15 meaning more length bytes follow, each
// added, until one is not 255), the literals, and, unless the block ends
// after the literals with a zero match nibble, a 2-byte little-endian
// offset into the output decoded so far. It returns errOverLimit as soon
// as the output would pass limit, and an error wrapping ErrCorrupt for a
// malformed block.
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
// 255*len(src) + 19, so it cannot overflow.
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
