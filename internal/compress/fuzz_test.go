package compress

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pierrec/lz4/v4"
)

// Fuzz inputs are bounded so every run is fast; a small input can still
// decode to MaxMessageSize, which the decoders must refuse past.
const (
	maxFuzzInput     = 16 << 10
	maxFuzzRoundTrip = 1 << 20
)

// fuzzSeeds returns, per algorithm, real server replies, frames of the
// Codec in both directions, and broken ones.
func fuzzSeeds(f *testing.F) (seeds []struct {
	alg   Algorithm
	frame []byte
}) {
	add := func(a Algorithm, b []byte) {
		seeds = append(seeds, struct {
			alg   Algorithm
			frame []byte
		}{a, b})
	}
	msgs := [][]byte{{}, []byte(`"Pong"`), storeTraceJSON(f, 4), randomBytes(300), make([]byte, 5000)}
	for _, a := range algorithms {
		frames, _ := binaryReplies(f, "gen1-"+a.String()+".jsonl")
		c := newCodec(f, a)
		for _, m := range msgs {
			req, _ := c.AppendRequest(nil, m)
			rep, _ := c.AppendReply(nil, m)
			frames = append(frames, req, rep)
		}
		for _, fr := range frames {
			add(a, fr)
			add(a, fr[:len(fr)/2])
		}
		add(a, nil)
	}
	return seeds
}

// checkDecode checks one decoder's result on arbitrary input: an error
// wraps ErrCorrupt or ErrTooLarge and leaves dst alone; a success decodes
// to at most MaxMessageSize bytes after dst's "keep" and survives a round
// trip through encode and decode.
func checkDecode(t *testing.T, got []byte, err error, encode, decode func(dst, src []byte) ([]byte, error)) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error %v wraps neither ErrCorrupt nor ErrTooLarge", err)
		}
		if string(got) != "keep" {
			t.Fatalf("dst = %.20q after an error, want it unchanged", got)
		}
		return
	}
	if len(got) < 4 || string(got[:4]) != "keep" {
		t.Fatalf("dst prefix overwritten: %.20q", got)
	}
	msg := got[4:]
	if len(msg) > MaxMessageSize {
		t.Fatalf("decoded %d bytes, over MaxMessageSize", len(msg))
	}
	if len(msg) > maxFuzzRoundTrip {
		return
	}
	frame, err := encode(nil, msg)
	if err != nil {
		t.Fatalf("encoding the %d decoded bytes: %v", len(msg), err)
	}
	again, err := decode(nil, frame)
	if err != nil || !bytes.Equal(again, msg) {
		t.Fatalf("round trip of the %d decoded bytes gave %d, %v", len(msg), len(again), err)
	}
}

func FuzzDecodeReply(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(uint8(s.alg), s.frame)
	}
	codecs := map[Algorithm]*Codec{}
	for _, a := range algorithms {
		codecs[a] = newCodec(f, a)
	}
	f.Fuzz(func(t *testing.T, alg uint8, src []byte) {
		if len(src) > maxFuzzInput {
			return
		}
		a := Algorithm(alg % uint8(len(algorithms)))
		c := codecs[a] // reused across inputs, as on a connection
		got, err := c.DecodeReply([]byte("keep"), src)
		checkDecode(t, got, err, c.AppendReply, c.DecodeReply)
		if a != LZ4 {
			return
		}
		// A raw block decodes as lz4 itself decodes it.
		ref := make([]byte, min(255*len(src)+64, maxFuzzRoundTrip))
		n, refErr := lz4.UncompressBlock(src, ref)
		switch {
		case err == nil && len(got)-4 <= len(ref) && (refErr != nil || !bytes.Equal(got[4:], ref[:n])):
			t.Fatalf("decoded %d bytes; lz4.UncompressBlock gives %d, %v", len(got)-4, n, refErr)
		case errors.Is(err, ErrCorrupt) && refErr == nil:
			t.Fatalf("rejects a block lz4.UncompressBlock decodes to %d bytes: %v", n, err)
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(uint8(s.alg), s.frame)
	}
	codecs := map[Algorithm]*Codec{}
	for _, a := range algorithms {
		codecs[a] = newCodec(f, a)
	}
	f.Fuzz(func(t *testing.T, alg uint8, src []byte) {
		if len(src) > maxFuzzInput {
			return
		}
		c := codecs[Algorithm(alg%uint8(len(algorithms)))]
		got, err := c.DecodeRequest([]byte("keep"), src)
		checkDecode(t, got, err, c.AppendRequest, c.DecodeRequest)
	})
}

func FuzzRoundTrip(f *testing.F) {
	for _, a := range algorithms {
		for _, m := range [][]byte{nil, []byte("x"), []byte(`"Ping"`), storeTraceJSON(f, 3), randomBytes(1000)} {
			f.Add(uint8(a), m)
		}
	}
	f.Fuzz(func(t *testing.T, alg uint8, msg []byte) {
		if len(msg) > maxFuzzInput {
			return
		}
		c := newCodec(t, Algorithm(alg%uint8(len(algorithms))))
		for _, dir := range []struct {
			name           string
			encode, decode func(dst, src []byte) ([]byte, error)
		}{
			{"request", c.AppendRequest, c.DecodeRequest},
			{"reply", c.AppendReply, c.DecodeReply},
		} {
			frame, err := dir.encode(nil, msg)
			if err != nil {
				t.Fatalf("%s: %v", dir.name, err)
			}
			got, err := dir.decode(nil, frame)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("%s %v: %d bytes back of %d, %v", dir.name, c.Algorithm(), len(got), len(msg), err)
			}
		}
	})
}
