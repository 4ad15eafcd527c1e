// Package uuid formats, parses and generates RFC 9562 UUIDs as [16]byte
// values without allocating.
package uuid

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
)

// ErrSyntax is returned by Parse for input that is not a hyphenated UUID.
var ErrSyntax = errors.New("uuid: invalid syntax")

// TextLen is the length of the hyphenated text form.
const TextLen = 36

const hexDigits = "0123456789abcdef"

// Append appends the hyphenated lower-case text form of u to dst.
func Append(dst []byte, u [16]byte) []byte {
	var buf [TextLen]byte
	j := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf[j] = '-'
			j++
		}
		buf[j] = hexDigits[b>>4]
		buf[j+1] = hexDigits[b&0x0f]
		j += 2
	}
	return append(dst, buf[:]...)
}

// String returns the hyphenated lower-case text form of u.
func String(u [16]byte) string {
	var buf [TextLen]byte
	return string(Append(buf[:0], u))
}

// Parse reads a hyphenated UUID (either case). It does not allocate on
// success.
func Parse[S string | []byte](s S) ([16]byte, error) {
	var u [16]byte
	if len(s) != TextLen || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("%w: %q", ErrSyntax, string(s))
	}
	j := 0
	for i := 0; i < TextLen; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return [16]byte{}, fmt.Errorf("%w: %q", ErrSyntax, string(s))
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// NewV7 returns a version 7 (time-ordered) UUID for the given Unix time in
// nanoseconds: 48 bits of milliseconds, then 12 bits of the sub-millisecond
// fraction (RFC 9562, method 3, so ids of one process sort by time within a
// millisecond too), then 62 random bits from math/rand/v2's per-thread
// generator. It takes no lock and does not allocate.
func NewV7(unixNano int64) [16]byte {
	var u [16]byte
	hi, lo := V7(unixNano)
	Put(&u, hi, lo)
	return u
}

// V7 returns the UUID NewV7 returns as its two halves, the first 8 bytes
// and the last 8 read as big-endian numbers. Hot paths use it with Put to
// write an id straight into where it is kept: a [16]byte built from two
// 8-byte stores and then read back as a whole right away stalls the CPU
// (the load cannot be forwarded from the pending stores).
func V7(unixNano int64) (hi, lo uint64) {
	ms := unixNano / 1e6
	frac := uint64(unixNano-ms*1e6) * 4096 / 1e6 // 0..4095
	return uint64(ms)<<16 | 0x7000 | frac, rand.Uint64()&0x3fffffffffffffff | 0x8000000000000000
}

// Put writes the UUID whose halves are hi and lo (see V7) to dst.
func Put(dst *[16]byte, hi, lo uint64) {
	binary.BigEndian.PutUint64(dst[0:8], hi)
	binary.BigEndian.PutUint64(dst[8:16], lo)
}

// NewV4 returns a random (version 4) UUID.
func NewV4() [16]byte {
	var u [16]byte
	binary.BigEndian.PutUint64(u[0:8], rand.Uint64()&^0xf000|0x4000)
	binary.BigEndian.PutUint64(u[8:16], rand.Uint64()&0x3fffffffffffffff|0x8000000000000000)
	return u
}
