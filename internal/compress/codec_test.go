package compress

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

func newCodec(tb testing.TB, a Algorithm) *Codec {
	tb.Helper()
	c, err := NewCodec(a)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// TestDecodeReplyTranscripts decodes every compressed reply a Reflow
// server of either generation sent, with each algorithm.
func TestDecodeReplyTranscripts(t *testing.T) {
	for _, gen := range []string{"gen1", "gen2"} {
		for _, a := range algorithms {
			name := fmt.Sprintf("%s-%s.jsonl", gen, a)
			t.Run(name, func(t *testing.T) {
				frames, replies := binaryReplies(t, name)
				if len(frames) == 0 {
					t.Fatal("no binary replies in the transcript")
				}
				c := newCodec(t, a)
				var buf []byte
				for i, frame := range frames {
					got, err := c.DecodeReply(append(buf[:0], "keep"...), frame)
					if err != nil {
						t.Fatalf("reply %d (%d bytes): %v", i, len(frame), err)
					}
					if string(got[:4]) != "keep" {
						t.Fatalf("reply %d: dst prefix overwritten: %q", i, got[:4])
					}
					if !sameJSON(t, got[4:], []byte(replies[i])) {
						t.Fatalf("reply %d decodes to\n%s\nwant\n%s", i, got[4:], replies[i])
					}
					buf = got
				}
			})
		}
	}
}

// TestAppendReplyFramesLikeServer checks what a Reflow server's replies
// look like: zstd without a content size, lz4 without a size prefix.
func TestAppendReplyFramesLikeServer(t *testing.T) {
	msg := traceDataOf(t, 4096)
	t.Run("zstd", func(t *testing.T) {
		serverFrames, _ := binaryReplies(t, "gen1-zstd.jsonl")
		frame, err := newCodec(t, Zstd).AppendReply(nil, msg)
		if err != nil {
			t.Fatal(err)
		}
		// The frame header descriptor follows the 4-byte magic: its top
		// two bits and the single-segment bit say whether a content size
		// is present.
		const hasSize = 0xC0 | 0x20
		if d := serverFrames[0][4]; d&hasSize != 0 {
			t.Fatalf("the server's frame descriptor %#x has a content size; the test's premise is wrong", d)
		}
		if d := frame[4]; d&hasSize != 0 {
			t.Fatalf("frame descriptor %#x has a content size, the server's replies have none", d)
		}
		var h zstd.Header
		if err := h.Decode(frame); err != nil || h.HasFCS {
			t.Fatalf("header %+v, %v: want no content size", h, err)
		}
	})
	t.Run("lz4", func(t *testing.T) {
		frame, err := newCodec(t, LZ4).AppendReply(nil, msg)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, len(msg))
		n, err := lz4.UncompressBlock(frame, out)
		if err != nil || !bytes.Equal(out[:n], msg) {
			t.Fatalf("the reply is not one raw block of the message: %d bytes, %v", n, err)
		}
	})
}

// TestAppendRequestFramesLikeServerReads decodes each request with the
// library the server's framing names, independently of the Codec.
func TestAppendRequestFramesLikeServerReads(t *testing.T) {
	msg := storeTraceJSON(t, 16)
	decoders := map[Algorithm]func([]byte) ([]byte, error){
		Zstd: func(b []byte) ([]byte, error) {
			d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
			if err != nil {
				return nil, err
			}
			defer d.Close()
			return d.DecodeAll(b, nil)
		},
		LZ4: func(b []byte) ([]byte, error) {
			if len(b) < 4 {
				return nil, errors.New("no size prefix")
			}
			out := make([]byte, binary.LittleEndian.Uint32(b))
			n, err := lz4.UncompressBlock(b[4:], out)
			if n != len(out) {
				return nil, fmt.Errorf("decoded %d bytes, prefix says %d: %w", n, len(out), err)
			}
			return out, err
		},
		Gzip: func(b []byte) ([]byte, error) {
			r, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			var out bytes.Buffer
			_, err = out.ReadFrom(r)
			return out.Bytes(), err
		},
		Brotli: func(b []byte) ([]byte, error) {
			var out bytes.Buffer
			_, err := out.ReadFrom(brotli.NewReader(bytes.NewReader(b)))
			return out.Bytes(), err
		},
	}
	for _, a := range algorithms {
		t.Run(a.String(), func(t *testing.T) {
			frame, err := newCodec(t, a).AppendRequest(nil, msg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decoders[a](frame)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("decoded %d bytes of %d, %v", len(got), len(msg), err)
			}
			if len(frame) >= len(msg)/2 {
				t.Fatalf("%d bytes compressed to %d", len(msg), len(frame))
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	payloads := []struct {
		name string
		data []byte
	}{
		{"empty", []byte{}},
		{"one byte", []byte("x")},
		{"ping", []byte(`"Ping"`)},
		{"store trace", storeTraceJSON(t, 64)},
		{"random", randomBytes(100 << 10)},
		{"zeros", make([]byte, 300<<10)},
	}
	for _, a := range algorithms {
		c := newCodec(t, a) // one codec for all payloads, reused
		for _, p := range payloads {
			t.Run(a.String()+"/"+p.name, func(t *testing.T) {
				for _, dir := range []struct {
					name   string
					encode func(dst, src []byte) ([]byte, error)
					decode func(dst, src []byte) ([]byte, error)
				}{
					{"request", c.AppendRequest, c.DecodeRequest},
					{"reply", c.AppendReply, c.DecodeReply},
				} {
					frame, err := dir.encode([]byte("head"), p.data)
					if err != nil {
						t.Fatalf("%s: %v", dir.name, err)
					}
					if string(frame[:4]) != "head" {
						t.Fatalf("%s: dst prefix overwritten", dir.name)
					}
					got, err := dir.decode([]byte("keep"), frame[4:])
					if err != nil {
						t.Fatalf("%s: decode: %v", dir.name, err)
					}
					if string(got[:4]) != "keep" || !bytes.Equal(got[4:], p.data) {
						t.Fatalf("%s: round trip of %d bytes gave %d", dir.name, len(p.data), len(got)-4)
					}
				}
			})
		}
	}
}

// TestAppendRequestParts checks that a request compressed from parts
// decodes to the parts joined, however they are cut, for every algorithm,
// and that only lz4 keeps a buffer to join them in.
func TestAppendRequestParts(t *testing.T) {
	whole := storeTraceJSON(t, 256)
	cuts := []struct {
		name  string
		parts [][]byte
	}{
		{"none", nil},
		{"one", [][]byte{whole}},
		{"empty parts around", [][]byte{{}, whole[:10], {}, whole[10:], {}}},
		{"4 KiB pieces", split(whole, 4<<10)},
		{"one byte first", [][]byte{whole[:1], whole[1:]}},
	}
	for _, a := range algorithms {
		c := newCodec(t, a)
		for _, cut := range cuts {
			t.Run(a.String()+"/"+cut.name, func(t *testing.T) {
				want := bytes.Join(cut.parts, nil)
				frame, err := c.AppendRequestParts([]byte("head"), cut.parts)
				if err != nil {
					t.Fatal(err)
				}
				if string(frame[:4]) != "head" {
					t.Fatal("dst prefix overwritten")
				}
				got, err := c.DecodeRequest(nil, frame[4:])
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("round trip of %d bytes gave %d", len(want), len(got))
				}
				switch kept := c.Retained(); {
				case a == LZ4 && kept < len(want), a != LZ4 && kept != 0:
					t.Fatalf("Retained = %d after %d bytes", kept, len(want))
				}
			})
		}
	}
	big := [][]byte{make([]byte, MaxMessageSize/2), make([]byte, MaxMessageSize/2+1)}
	if _, err := newCodec(t, Gzip).AppendRequestParts(nil, big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("parts over the limit: %v, want ErrTooLarge", err)
	}
}

func split(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

// TestLargeReply decodes replies past 16 MiB, the protocol's frame limit,
// which the server's replies may exceed.
func TestLargeReply(t *testing.T) {
	if testing.Short() {
		t.Skip("20 MiB per algorithm")
	}
	msg := traceDataOf(t, 20<<20)
	if len(msg) < 20<<20 {
		t.Fatalf("message of %d bytes, want 20 MiB", len(msg))
	}
	for _, a := range algorithms {
		t.Run(a.String(), func(t *testing.T) {
			c := newCodec(t, a)
			frame, err := c.AppendReply(nil, msg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.DecodeReply(nil, frame)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("decoded %d bytes of %d: %v", len(got), len(msg), err)
			}
		})
	}
}

// TestLZ4ReplyAtLimit decodes raw lz4 blocks of exactly MaxMessageSize and
// one byte more.
func TestLZ4ReplyAtLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB")
	}
	c := newCodec(t, LZ4)
	msg := make([]byte, MaxMessageSize+1)
	var lc lz4Compressor
	over := lc.appendBlock(nil, msg)
	at := lc.appendBlock(nil, msg[:MaxMessageSize])
	if _, err := c.DecodeReply(nil, over); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("block of %d bytes: %v, want ErrTooLarge", len(msg), err)
	}
	got, err := c.DecodeReply(nil, at)
	if err != nil || len(got) != MaxMessageSize {
		t.Fatalf("block of MaxMessageSize bytes: %d bytes, %v", len(got), err)
	}
}

// bomb returns msg compressed with a's library directly, for sizes the
// Codec refuses to compress.
func bomb(t *testing.T, a Algorithm, msg []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch a {
	case Zstd:
		// The streaming encoder writes no content size, so the decoder
		// finds the size only by decoding.
		w, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(msg); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case LZ4:
		var lc lz4Compressor
		return lc.appendBlock(nil, msg)
	case Gzip:
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		_, _ = w.Write(msg)
		_ = w.Close()
	case Brotli:
		w := brotli.NewWriterLevel(&buf, brotli.BestSpeed)
		_, _ = w.Write(msg)
		_ = w.Close()
	}
	return buf.Bytes()
}

func TestTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB per algorithm")
	}
	huge := make([]byte, MaxMessageSize+1)
	for _, a := range algorithms {
		t.Run(a.String(), func(t *testing.T) {
			c := newCodec(t, a)
			if out, err := c.AppendRequest([]byte("keep"), huge); !errors.Is(err, ErrTooLarge) || string(out) != "keep" {
				t.Fatalf("AppendRequest: %q, %v, want ErrTooLarge", out, err)
			}
			if out, err := c.AppendReply([]byte("keep"), huge); !errors.Is(err, ErrTooLarge) || string(out) != "keep" {
				t.Fatalf("AppendReply: %q, %v, want ErrTooLarge", out, err)
			}
			frame := bomb(t, a, huge)
			if out, err := c.DecodeReply([]byte("keep"), frame); !errors.Is(err, ErrTooLarge) || string(out) != "keep" {
				t.Fatalf("DecodeReply of %d bytes: %q, %v, want ErrTooLarge", len(huge), out, err)
			}
			if a == LZ4 {
				frame = binary.LittleEndian.AppendUint32(nil, uint32(len(huge)))
				frame = append(frame, bomb(t, a, huge)...)
			}
			if out, err := c.DecodeRequest([]byte("keep"), frame); !errors.Is(err, ErrTooLarge) || string(out) != "keep" {
				t.Fatalf("DecodeRequest of %d bytes: %q, %v, want ErrTooLarge", len(huge), out, err)
			}
			// The same codec still works.
			if _, err := c.DecodeReply(nil, bomb(t, a, []byte(`"Pong"`))); err != nil {
				t.Fatalf("after ErrTooLarge: %v", err)
			}
		})
	}
}

func TestLZ4RequestPrefix(t *testing.T) {
	c := newCodec(t, LZ4)
	frame, err := c.AppendRequest(nil, []byte("hello, hello, hello, hello"))
	if err != nil {
		t.Fatal(err)
	}
	withSize := func(n uint32) []byte {
		return append(binary.LittleEndian.AppendUint32(nil, n), frame[4:]...)
	}
	for _, tc := range []struct {
		name  string
		frame []byte
		want  error
	}{
		{"size too small", withSize(5), ErrCorrupt},
		{"size too big", withSize(27), ErrCorrupt},
		{"size over the limit", withSize(MaxMessageSize + 1), ErrTooLarge},
		{"size at the limit", withSize(MaxMessageSize), ErrCorrupt},
		{"no prefix", frame[4:], ErrTooLarge}, // the block's first bytes read as a huge size
		{"short prefix", frame[:3], ErrCorrupt},
		{"empty", nil, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.DecodeRequest([]byte("keep"), tc.frame)
			if !errors.Is(err, tc.want) || string(out) != "keep" {
				t.Fatalf("DecodeRequest = %q, %v, want %v", out, err, tc.want)
			}
		})
	}
}

// TestCorrupt feeds truncated, altered and foreign frames to both decoders
// of each algorithm: they fail with ErrCorrupt (or, for input that decodes
// to something huge, ErrTooLarge), leave dst alone and never panic.
func TestCorrupt(t *testing.T) {
	msg := storeTraceJSON(t, 8)
	for _, a := range algorithms {
		t.Run(a.String(), func(t *testing.T) {
			c := newCodec(t, a)
			for _, dir := range []struct {
				name   string
				encode func(dst, src []byte) ([]byte, error)
				decode func(dst, src []byte) ([]byte, error)
			}{
				{"request", c.AppendRequest, c.DecodeRequest},
				{"reply", c.AppendReply, c.DecodeReply},
			} {
				frame, err := dir.encode(nil, msg)
				if err != nil {
					t.Fatal(err)
				}
				// check decodes in: it must fail when mustFail, and may
				// decode to msg itself only when sameOK (a changed byte
				// the format ignores, such as gzip's OS byte).
				check := func(what string, in []byte, mustFail, sameOK bool) {
					t.Helper()
					out, err := dir.decode([]byte("keep"), in)
					switch {
					case err == nil && !sameOK && bytes.Equal(out[4:], msg):
						t.Fatalf("%s %s: decodes to the original message", dir.name, what)
					case err == nil && mustFail:
						t.Fatalf("%s %s: decodes to %d bytes without an error", dir.name, what, len(out)-4)
					case err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge):
						t.Fatalf("%s %s: %v wraps neither ErrCorrupt nor ErrTooLarge", dir.name, what, err)
					case err != nil && string(out) != "keep":
						t.Fatalf("%s %s: dst %q after an error", dir.name, what, out)
					}
				}
				// A raw lz4 block cut after a whole sequence is a valid,
				// shorter block: only the size prefix of requests tells.
				rawLZ4 := a == LZ4 && dir.name == "reply"
				for cut := 0; cut < len(frame); cut += 1 + cut/16 {
					check(fmt.Sprintf("cut at %d of %d", cut, len(frame)), frame[:cut], !rawLZ4 && !(a == Zstd && cut == 0), false)
				}
				for i := 0; i < len(frame); i += 1 + i/8 {
					flipped := bytes.Clone(frame)
					flipped[i] ^= 0x5A
					check(fmt.Sprintf("byte %d flipped", i), flipped, false, true)
				}
				for other := range algorithms {
					if Algorithm(other) == a {
						continue
					}
					oc := newCodec(t, Algorithm(other))
					foreign, _ := oc.AppendRequest(nil, msg)
					check("as "+Algorithm(other).String(), foreign, a != LZ4, false)
				}
				check("garbage", randomBytes(777), a != LZ4, false)
			}
			// The codec still works after all of it.
			frame, _ := c.AppendReply(nil, msg)
			if got, err := c.DecodeReply(nil, frame); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("after corrupt input: %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestAlgorithmNames(t *testing.T) {
	for _, a := range algorithms {
		got, err := ParseAlgorithm(" " + a.String() + " ")
		if err != nil || got != a {
			t.Fatalf("ParseAlgorithm(%q) = %v, %v", a.String(), got, err)
		}
	}
	if got, err := ParseAlgorithm("ZSTD"); err != nil || got != Zstd {
		t.Fatalf("ParseAlgorithm(ZSTD) = %v, %v", got, err)
	}
	for _, s := range []string{"", "none", "snappy", "lz4-frame"} {
		if _, err := ParseAlgorithm(s); !errors.Is(err, ErrUnknownAlgorithm) {
			t.Fatalf("ParseAlgorithm(%q) error %v, want ErrUnknownAlgorithm", s, err)
		}
	}
	if s := Algorithm(9).String(); s != "Algorithm(9)" {
		t.Fatalf("Algorithm(9).String() = %q", s)
	}
	if want := []string{"zstd", "lz4", "gzip", "brotli"}; fmt.Sprint(algorithms) != fmt.Sprint(want) {
		t.Fatalf("names %v, want %v", algorithms, want)
	}
}

func TestNewCodec(t *testing.T) {
	if _, err := NewCodec(Brotli + 1); !errors.Is(err, ErrUnknownAlgorithm) {
		t.Fatalf("NewCodec(%v) error %v, want ErrUnknownAlgorithm", Brotli+1, err)
	}
	for _, a := range algorithms {
		if got := newCodec(t, a).Algorithm(); got != a {
			t.Fatalf("Algorithm() = %v, want %v", got, a)
		}
	}
	// The zero Codec speaks zstd, the server's default.
	var c Codec
	frame, err := c.AppendRequest(nil, []byte(`"Ping"`))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(frame, []byte{0x28, 0xB5, 0x2F, 0xFD}) {
		t.Fatalf("zero Codec wrote % x, want a zstd frame", frame)
	}
	if c.Algorithm() != Zstd {
		t.Fatalf("zero Codec's algorithm is %v", c.Algorithm())
	}
}
