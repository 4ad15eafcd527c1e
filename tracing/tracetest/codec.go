package tracetest

import (
	"errors"
	"fmt"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// ErrUnsupportedCompression is wrapped by Start's error for a compression
// algorithm the server cannot be configured with (CompressionAuto,
// CompressionNone, or a value outside the enum).
var ErrUnsupportedCompression = errors.New("tracetest: unsupported compression algorithm")

// codec is the server's side of its compression algorithm, in the
// protocol's framing (PROTOCOL.md, "Compression, both generations"). One
// connection's handler goroutine uses it; it is not safe for concurrent use.
type codec struct{ c *compress.Codec }

func newCodec(alg transport.CompressionAlgorithm) (*codec, error) {
	var a compress.Algorithm
	switch alg {
	case transport.CompressionZstd:
		a = compress.Zstd
	case transport.CompressionLZ4:
		a = compress.LZ4
	case transport.CompressionGzip:
		a = compress.Gzip
	case transport.CompressionBrotli:
		a = compress.Brotli
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedCompression, alg)
	}
	c, err := compress.NewCodec(a)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupportedCompression, err)
	}
	return &codec{c}, nil
}

// decode decompresses a binary frame a client sent (at most 64 MiB).
func (c *codec) decode(frame []byte) ([]byte, error) { return c.c.DecodeRequest(nil, frame) }

// encode compresses a reply as the reference server does.
func (c *codec) encode(reply []byte) ([]byte, error) { return c.c.AppendReply(nil, reply) }
