package compress

import (
	"errors"
	"fmt"
	"strings"
)

// Algorithm is a compression algorithm of a Reflow tracing server. The
// zero value is Zstd, the server's default. The values are stable: Zstd,
// LZ4, Gzip, Brotli are 0, 1, 2, 3.
type Algorithm uint8

// The algorithms a Reflow tracing server can be configured with.
const (
	// Zstd is one zstd frame each way (the server's default).
	Zstd Algorithm = iota
	// LZ4 is a raw LZ4 block: size-prefixed towards the server, without a
	// prefix from it.
	LZ4
	// Gzip is a gzip stream each way.
	Gzip
	// Brotli is a raw brotli stream each way.
	Brotli
)

// ErrUnknownAlgorithm is wrapped by the errors of ParseAlgorithm and
// NewCodec for an algorithm they do not know.
var ErrUnknownAlgorithm = errors.New("compress: unknown algorithm")

// String returns "zstd", "lz4", "gzip" or "brotli", the names a Reflow
// server's configuration uses, and "Algorithm(n)" for any other value.
func (a Algorithm) String() string {
	switch a {
	case Zstd:
		return "zstd"
	case LZ4:
		return "lz4"
	case Gzip:
		return "gzip"
	case Brotli:
		return "brotli"
	}
	return fmt.Sprintf("Algorithm(%d)", uint8(a))
}

// valid reports whether a is one of the algorithms.
func (a Algorithm) valid() bool { return a <= Brotli }

// ParseAlgorithm reads "zstd", "lz4", "gzip" or "brotli", ignoring case and
// surrounding space: the inverse of String. Any other name, the empty one
// included, gives an error wrapping ErrUnknownAlgorithm.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "zstd":
		return Zstd, nil
	case "lz4":
		return LZ4, nil
	case "gzip":
		return Gzip, nil
	case "brotli":
		return Brotli, nil
	}
	return 0, fmt.Errorf("%w %q: want zstd, lz4, gzip or brotli", ErrUnknownAlgorithm, s)
}
