package compress

import (
	"bytes"
	"errors"
	"testing"
)

func TestDetectDecodesEveryAlgorithm(t *testing.T) {
	msg := bytes.Repeat([]byte(`{"TraceData":{"trace":null}}`), 100)
	var d Detect
	for _, a := range []Algorithm{Zstd, LZ4, Gzip, Brotli, LZ4, Brotli} {
		c, err := NewCodec(a)
		if err != nil {
			t.Fatal(err)
		}
		frame, err := c.AppendReply(nil, msg)
		if err != nil {
			t.Fatal(err)
		}
		got, alg, err := d.DecodeReply(nil, frame)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		if alg != a || !bytes.Equal(got, msg) {
			t.Fatalf("%s: decoded as %s, %d bytes, want %d", a, alg, len(got), len(msg))
		}
	}
}

func TestDetectRejectsGarbage(t *testing.T) {
	var d Detect
	if _, _, err := d.DecodeReply(nil, []byte("\x00\x01\x02 not compressed")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}
