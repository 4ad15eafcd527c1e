package testserver

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/reflowtrace/reflowtrace-go/internal/lz4block"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// ErrUnsupportedCompression is wrapped by Start's error for a compression
// algorithm the server cannot speak.
var ErrUnsupportedCompression = errors.New("testserver: unsupported compression algorithm")

// codec is the server's compression algorithm in the protocol's framing
// (PROTOCOL.md, "Compression, both generations"). One connection's handler
// goroutine uses it; it is not safe for concurrent use.
type codec interface {
	// decode decompresses a binary frame a client sent.
	decode(frame []byte) ([]byte, error)
	// encode compresses a reply.
	encode(reply []byte) ([]byte, error)
}

func newCodec(alg tracing.CompressionAlgorithm) (codec, error) {
	switch alg {
	case tracing.CompressionLZ4:
		return &lz4Codec{}, nil
	case tracing.CompressionGzip:
		return gzipCodec{}, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupportedCompression, alg)
}

// lz4Codec reads a size-prefixed raw LZ4 block and writes a raw block
// without the prefix, as the reference server does.
type lz4Codec struct{ comp lz4block.Compressor }

func (c *lz4Codec) decode(frame []byte) ([]byte, error) { return lz4block.DecodePrefixed(nil, frame) }

func (c *lz4Codec) encode(reply []byte) ([]byte, error) { return c.comp.AppendRaw(nil, reply) }

// gzipCodec reads and writes one gzip stream.
type gzipCodec struct{}

func (gzipCodec) decode(frame []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(frame))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(r, maxMessage+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxMessage {
		return nil, errTooLarge
	}
	return out, nil
}

func (gzipCodec) encode(reply []byte) ([]byte, error) {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(reply); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
