package tracing

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/gowebpki/jcs"
)

// checksumPrefix starts every checksum ContentChecksum returns.
const checksumPrefix = "sha256:"

// ContentChecksum returns the checksum of a message's content as Reflow
// defines it for MessageSnapshot.Checksum: "sha256:" followed by the 64
// lower-case hex digits of the SHA-256 of the content's RFC 8785 (JCS)
// canonical JSON. content is the message as JSON text; two texts of the
// same JSON value (whatever their whitespace, member order or number
// spelling) have the same checksum. For {} it is
// "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a".
//
// Content that is not a single valid JSON text (nil included) returns an
// error wrapping ErrMalformed. It is safe for concurrent use. It
// allocates: canonicalising builds a tree of the value, so compute it off
// the hot path (the client computes it for captured content on its
// consumer goroutine, not in Record, unless PrivacyConfig.Checksums asks
// for ChecksumOnRecord).
func ContentChecksum(content []byte) (string, error) {
	if content == nil {
		return "", fmt.Errorf("%w: content checksum: no content", ErrMalformed)
	}
	canonical, err := jcs.Transform(content)
	if err != nil {
		return "", fmt.Errorf("%w: content checksum: %w", ErrMalformed, err)
	}
	sum := sha256.Sum256(canonical)
	var out [len(checksumPrefix) + 2*sha256.Size]byte
	copy(out[:], checksumPrefix)
	hex.Encode(out[len(checksumPrefix):], sum[:])
	return string(out[:]), nil
}
