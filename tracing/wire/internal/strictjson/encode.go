package strictjson

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
)

// safeByte[c] is true for the bytes written as they are inside a JSON
// string: printable ASCII but '"' and '\\'.
var safeByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendString appends s as a quoted JSON string, escaping '"', '\\' and
// control characters and replacing invalid UTF-8 by U+FFFD; if it replaced
// any, it adds one to *replaced (unless replaced is nil). Other characters,
// '<', '>', '&', U+2028 and U+2029 included, are written as they are.
func AppendString(dst []byte, s string, replaced *uint64) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	invalid := false
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if safeByte[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			invalid = true
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	if invalid {
		count(replaced)
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendFloat appends f so that it reads back as the same float: NaN and
// ±Inf become 0.0, adding one to *nonFinite (unless nonFinite is nil); an
// integral value gets ".0", so that it reads back as a float.
func AppendFloat(dst []byte, f float64, nonFinite *uint64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		count(nonFinite)
		return append(dst, "0.0"...)
	}
	// Integral values of moderate size (counters, 0): the integer and ".0".
	if i := int64(f); float64(i) == f && i > -1e15 && i < 1e15 && (i != 0 || !math.Signbit(f)) {
		dst = strconv.AppendInt(dst, i, 10)
		return append(dst, ".0"...)
	}
	start := len(dst)
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	for _, c := range dst[start:] {
		if c == '.' || c == 'e' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

// AppendUUID appends id as a quoted hyphenated UUID.
func AppendUUID(dst []byte, id [16]byte) []byte {
	dst = append(dst, '"')
	dst = uuid.Append(dst, id)
	return append(dst, '"')
}

// AppendBytes appends b as an array of integers 0..255, as serde writes
// bytes and Decoder.Bytes reads them; nil is [].
func AppendBytes(dst []byte, b []byte) []byte {
	dst = append(dst, '[')
	for i, c := range b {
		if i > 0 {
			dst = append(dst, ',')
		}
		switch {
		case c >= 100:
			dst = append(dst, '0'+c/100, '0'+c/10%10, '0'+c%10)
		case c >= 10:
			dst = append(dst, '0'+c/10, '0'+c%10)
		default:
			dst = append(dst, '0'+c)
		}
	}
	return append(dst, ']')
}

// count adds one to *n unless n is nil.
func count(n *uint64) {
	if n != nil {
		*n++
	}
}
