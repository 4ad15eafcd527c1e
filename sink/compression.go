package sink

import "github.com/reflowtrace/reflowtrace-go/tracing"

// CompressionOption is what WithCompression returns: both a
// WebSocketOption and a FileOption, so that one option sets compression
// for either sink.
type CompressionOption struct{ alg tracing.CompressionAlgorithm }

var (
	_ WebSocketOption = CompressionOption{}
	_ FileOption      = CompressionOption{}
)

// WithCompression chooses the algorithm a sink compresses with;
// tracing.CompressionNone turns compression off. Default, for both sinks:
// tracing.CompressionNone.
//
// The WebSocket sink sends frames of at least WithCompressionThreshold
// bytes as binary frames compressed with alg, which must be the server's
// algorithm: tracing.CompressionZstd (a server's default),
// CompressionLZ4, CompressionGzip or CompressionBrotli, or
// CompressionAuto, which tries each in turn, one connection each. A server
// decompresses binary frames with its one configured algorithm and drops
// the connection on any other, so the sink checks the algorithm on every
// connection with a compressed Ping first: on a mismatch it logs one error
// naming the algorithm and sends text frames, which every server reads.
// Replies are decoded whatever algorithm the server compressed them with.
//
// The File sink takes tracing.CompressionLZ4: it writes the file in the
// standard LZ4 frame format (64 KiB independent blocks, content
// checksum), readable by ReadFile and by the lz4 command-line tools (lz4
// -d, lz4cat). NewFile refuses the other algorithms with an error wrapping
// ErrInvalidOption.
func WithCompression(alg tracing.CompressionAlgorithm) CompressionOption {
	return CompressionOption{alg: alg}
}

func (o CompressionOption) applyWebSocket(c *wsConfig) {
	c.alg, c.compress = o.alg, o.alg != tracing.CompressionNone
}

func (o CompressionOption) applyFile(c *fileConfig) { c.alg = o.alg }
