package compress

import (
	"bytes"
	"fmt"
)

// Detect is a decoder for the replies of a server whose algorithm a client
// does not know: a Reflow server compresses every reply longer than 1024
// bytes with its own algorithm, also to a client that sends only text. It
// keeps one Codec per algorithm. Not safe for concurrent use.
type Detect struct {
	codecs [Brotli + 1]*Codec
	last   Algorithm
}

// DecodeReply decodes src, a binary reply, with the algorithm its bytes
// show (zstd and gzip have a magic number; lz4 and brotli have none and are
// tried in turn, the one that worked last first), appends the message to
// dst and reports the algorithm. An output that does not start like a JSON
// message ('{' or '"') counts as a failure. It fails, with an error
// wrapping ErrCorrupt, when no algorithm decodes src.
func (d *Detect) DecodeReply(dst, src []byte) ([]byte, Algorithm, error) {
	var order []Algorithm
	switch {
	case bytes.HasPrefix(src, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		order = []Algorithm{Zstd}
	case bytes.HasPrefix(src, []byte{0x1f, 0x8b}):
		order = []Algorithm{Gzip}
	case d.last == Brotli:
		order = []Algorithm{Brotli, LZ4}
	default:
		order = []Algorithm{LZ4, Brotli}
	}
	var firstErr error
	for _, a := range order {
		if d.codecs[a] == nil {
			d.codecs[a] = &Codec{alg: a}
		}
		out, err := d.codecs[a].DecodeReply(dst, src)
		if err == nil && looksLikeJSON(out[len(dst):]) {
			d.last = a
			return out, a, nil
		}
		if err == nil {
			err = fmt.Errorf("compress: %s reply: %w: not a JSON message", a, ErrCorrupt)
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return dst, 0, firstErr
}

func looksLikeJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '"')
}
