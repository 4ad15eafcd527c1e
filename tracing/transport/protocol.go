package transport

import "github.com/reflowtrace/reflowtrace-go/internal/enum"

// Protocol is the generation of the Reflow tracing protocol a client speaks
// to its server (PROTOCOL.md, "Two generations"). The zero value is
// ProtocolAuto.
//
// The generations, their values and names (String, and the protocol
// setting):
//
//	ProtocolAuto   0  auto
//	ProtocolV1     1  v1
//	ProtocolV2     2  v2
type Protocol uint8

// The protocol generations.
const (
	// ProtocolAuto learns the server's generation on every connection with a
	// probe that reads nothing and changes nothing (the default).
	ProtocolAuto Protocol = iota
	// ProtocolV1 speaks to a generation-1 server (Reflow 0.2): traces are
	// kept only through StoreTrace, which replaces a stored trace whole.
	ProtocolV1
	// ProtocolV2 speaks to a generation-2 server: client-owned StartTrace
	// ids, RecordEvent appended to the trace, EndTrace, request ids.
	ProtocolV2
)

var protocolNames = enum.Names[Protocol]{
	Type: "Protocol", What: "protocol",
	Names:   []string{"auto", "v1", "v2"},
	Aliases: map[string]Protocol{"": ProtocolAuto, "1": ProtocolV1, "2": ProtocolV2},
	Err:     ErrInvalid,
}

// String returns "auto", "v1" or "v2".
func (p Protocol) String() string { return protocolNames.Name(p) }

// CompressionAlgorithm is the algorithm a Reflow server compresses binary
// frames with; a client may send binary frames only with the server's
// algorithm (PROTOCOL.md, "Compression, both generations"). The zero value
// is CompressionZstd, the server's default.
//
// The algorithms, their values and names (String, and the
// compression_algorithm setting):
//
//	CompressionZstd     0  zstd
//	CompressionLZ4      1  lz4
//	CompressionGzip     2  gzip
//	CompressionBrotli   3  brotli
//	CompressionAuto     4  auto
//	CompressionNone     5  none
type CompressionAlgorithm uint8

// The compression algorithms of a Reflow tracing server.
const (
	// CompressionZstd is one zstd frame (the server's default).
	CompressionZstd CompressionAlgorithm = iota
	// CompressionLZ4 is a raw LZ4 block, size-prefixed towards the server.
	CompressionLZ4
	// CompressionGzip is a gzip stream.
	CompressionGzip
	// CompressionBrotli is a raw brotli stream.
	CompressionBrotli
	// CompressionAuto finds the server's algorithm with a compressed Ping on
	// each connection and falls back to text frames when none answers.
	CompressionAuto
	// CompressionNone compresses nothing: a client sends text frames. It
	// is no server's algorithm.
	CompressionNone
)

var compressionNames = enum.Names[CompressionAlgorithm]{
	Type: "CompressionAlgorithm", What: "compression algorithm",
	Names:   []string{"zstd", "lz4", "gzip", "brotli", "auto", "none"},
	Aliases: map[string]CompressionAlgorithm{"": CompressionZstd, "off": CompressionNone},
	Err:     ErrInvalid,
}

// String returns "zstd", "lz4", "gzip", "brotli", "auto" or "none".
func (a CompressionAlgorithm) String() string { return compressionNames.Name(a) }

// MarshalText returns p's name (see String).
func (p Protocol) MarshalText() ([]byte, error) { return protocolNames.Marshal(p) }

// UnmarshalText reads "auto", "v1" or "v2" (case-insensitive; "" is
// auto); any other name gives an error wrapping ErrInvalid. It lets
// a Protocol be a flag (flag.TextVar) or a field of an encoded config.
func (p *Protocol) UnmarshalText(b []byte) error { return protocolNames.Unmarshal(p, b) }

// MarshalText returns a's name (see String).
func (a CompressionAlgorithm) MarshalText() ([]byte, error) { return compressionNames.Marshal(a) }

// UnmarshalText reads "zstd", "lz4", "gzip", "brotli", "auto", or "none"
// or "off" for CompressionNone (case-insensitive; "" is zstd, the
// server's default); any other name gives an error wrapping
// ErrInvalid. It lets a CompressionAlgorithm be a flag
// (flag.TextVar) or a field of an encoded config.
func (a *CompressionAlgorithm) UnmarshalText(b []byte) error { return compressionNames.Unmarshal(a, b) }
