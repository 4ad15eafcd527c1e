package compress

import (
	"bytes"
	"testing"
)

func TestCodecsBuildOncePerAlgorithm(t *testing.T) {
	var cs Codecs
	msg := bytes.Repeat([]byte(`{"event":1},`), 200)
	for _, a := range []Algorithm{Zstd, LZ4, Gzip, Brotli} {
		c := cs.Get(a)
		if c == nil || c.Algorithm() != a {
			t.Fatalf("Get(%s) = %v", a, c)
		}
		if cs.Get(a) != c {
			t.Fatalf("Get(%s) built a second codec", a)
		}
		z, err := c.AppendRequest(nil, msg)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := c.DecodeRequest(nil, z); err != nil || !bytes.Equal(back, msg) {
			t.Fatalf("%s: round trip: %v", a, err)
		}
	}
	if c := cs.Get(Brotli + 1); c != nil {
		t.Fatalf("Get of an unknown algorithm = %v, want nil", c)
	}
	if _, err := cs.Get(LZ4).AppendRequestParts(nil, [][]byte{msg, msg}); err != nil {
		t.Fatal(err)
	}
	if cs.Retained() < 2*len(msg) {
		t.Fatalf("Retained = %d, want the lz4 codec's joined parts (%d) at least", cs.Retained(), 2*len(msg))
	}
}
