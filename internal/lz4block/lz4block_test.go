package lz4block

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/pierrec/lz4/v4"
)

func roundTripCases() []struct {
	name string
	data []byte
} {
	return []struct {
		name string
		data []byte
	}{
		{name: "empty", data: []byte{}},
		{name: "one byte", data: []byte{'x'}},
		{name: "14 bytes, the longest short literal run", data: bytes.Repeat([]byte{'a'}, 14)},
		{name: "15 bytes, the first extended literal run", data: []byte("0123456789abcde")},
		{name: "270 bytes, literal length byte 255", data: randomBytes(15 + 255)},
		{name: "random 64 KiB", data: randomBytes(64 << 10)},
		{name: "random 1 MiB + 1", data: randomBytes(1<<20 + 1)},
		{name: "zeros 1 MiB", data: make([]byte, 1<<20)},
		{name: "json 64 KiB", data: jsonPayload(64 << 10)},
		{name: "zeros exactly MaxMessageSize", data: make([]byte, MaxMessageSize)},
	}
}

func TestRoundTrip(t *testing.T) {
	var c Compressor
	for _, tt := range roundTripCases() {
		t.Run(tt.name, func(t *testing.T) {
			head := []byte("head")
			framed, err := c.AppendPrefixed(append([]byte(nil), head...), tt.data)
			if err != nil {
				t.Fatalf("AppendPrefixed: %v", err)
			}
			if !bytes.HasPrefix(framed, head) {
				t.Fatal("AppendPrefixed changed the bytes already in dst")
			}
			framed = framed[len(head):]
			if got := binary.LittleEndian.Uint32(framed); got != uint32(len(tt.data)) {
				t.Fatalf("size prefix = %d, want %d", got, len(tt.data))
			}
			if bound := 4 + lz4.CompressBlockBound(len(tt.data)); len(framed) > bound {
				t.Fatalf("framed size %d exceeds the bound %d", len(framed), bound)
			}

			got, err := DecodePrefixed([]byte("x"), framed)
			if err != nil {
				t.Fatalf("DecodePrefixed: %v", err)
			}
			if got[0] != 'x' || !bytes.Equal(got[1:], tt.data) {
				t.Fatal("DecodePrefixed did not append the original message to dst")
			}

			// The block alone is what any LZ4 block decoder reads.
			direct := make([]byte, len(tt.data))
			if n, err := lz4.UncompressBlock(framed[4:], direct); err != nil || n != len(tt.data) || !bytes.Equal(direct, tt.data) {
				t.Fatalf("lz4.UncompressBlock = %d, %v; want the original %d bytes", n, err, len(tt.data))
			}

			raw, err := c.AppendRaw(nil, tt.data)
			if err != nil {
				t.Fatalf("AppendRaw: %v", err)
			}
			if !bytes.Equal(raw, framed[4:]) {
				t.Fatal("AppendRaw differs from the block of AppendPrefixed")
			}
			got, err = DecodeRaw(nil, raw)
			if err != nil {
				t.Fatalf("DecodeRaw: %v", err)
			}
			if !bytes.Equal(got, tt.data) {
				t.Fatal("DecodeRaw did not return the original message")
			}
		})
	}
}

func TestCompressedIsSmallerForJSON(t *testing.T) {
	var c Compressor
	data := jsonPayload(64 << 10)
	framed, _ := c.AppendPrefixed(nil, data)
	if len(framed) > len(data)/2 {
		t.Fatalf("64 KiB of JSON compressed to %d bytes, want at most half", len(framed))
	}
}

// TestDecodeRawReadsOtherEncoders checks blocks made by pierrec's own
// block compressors, standing in for the server's encoder.
func TestDecodeRawReadsOtherEncoders(t *testing.T) {
	data := jsonPayload(200 << 10)
	tests := []struct {
		name     string
		compress func(src, dst []byte) (int, error)
	}{
		{name: "CompressBlock", compress: func(src, dst []byte) (int, error) { return lz4.CompressBlock(src, dst, nil) }},
		{name: "CompressorHC", compress: (&lz4.CompressorHC{Level: lz4.Level9}).CompressBlock},
		{name: "CompressorCCompat", compress: (&lz4.CompressorCCompat{}).CompressBlock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			block := make([]byte, lz4.CompressBlockBound(len(data)))
			n, err := tt.compress(data, block)
			if err != nil || n == 0 {
				t.Fatalf("compress = %d, %v", n, err)
			}
			got, err := DecodeRaw(nil, block[:n])
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("DecodeRaw = %d bytes, %v; want the original %d bytes", len(got), err, len(data))
			}
			framed := binary.LittleEndian.AppendUint32(nil, uint32(len(data)))
			got, err = DecodePrefixed(nil, append(framed, block[:n]...))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("DecodePrefixed = %d bytes, %v; want the original %d bytes", len(got), err, len(data))
			}
		})
	}
}

func TestPutLiterals(t *testing.T) {
	for _, n := range []int{0, 1, 14, 15, 16, 269, 270, 271, 524, 525, 526, 4096} {
		src := randomBytes(n)
		out := make([]byte, lz4.CompressBlockBound(n))
		m := putLiterals(out, src)
		got := make([]byte, n)
		if k, err := lz4.UncompressBlock(out[:m], got); err != nil || k != n || !bytes.Equal(got, src) {
			t.Fatalf("n=%d: lz4.UncompressBlock = %d, %v; want the %d literals", n, k, err, n)
		}
		if k, err := blockLen(out[:m], MaxMessageSize); err != nil || k != n {
			t.Fatalf("n=%d: blockLen = %d, %v", n, k, err)
		}
	}
}

func TestCompressTooLarge(t *testing.T) {
	var c Compressor
	big := make([]byte, MaxMessageSize+1)
	dst := []byte("keep")
	for name, f := range map[string]func([]byte, []byte) ([]byte, error){"AppendPrefixed": c.AppendPrefixed, "AppendRaw": c.AppendRaw} {
		got, err := f(dst, big)
		if !errors.Is(err, ErrTooLarge) || string(got) != "keep" {
			t.Fatalf("%s(%d bytes) = %q, %v; want dst unchanged and ErrTooLarge", name, len(big), got, err)
		}
	}
}

func TestDecodeRawTooLarge(t *testing.T) {
	data := make([]byte, MaxMessageSize+1)
	block := make([]byte, lz4.CompressBlockBound(len(data)))
	n, err := lz4.CompressBlock(data, block, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRaw([]byte("keep"), block[:n])
	if !errors.Is(err, ErrTooLarge) || string(got) != "keep" {
		t.Fatalf("DecodeRaw = %q, %v; want dst unchanged and ErrTooLarge", got, err)
	}
	if want := "lz4block: message too large: block decodes to more than 16777216 bytes"; err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
}

func prefixed(size uint32, block ...byte) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, size), block...)
}

// valid is "abcd" then a match of 8 copying it twice: 12 bytes.
var valid = []byte{0x44, 'a', 'b', 'c', 'd', 0x04, 0x00, 0x00}

func TestDecodePrefixedErrors(t *testing.T) {
	if got, err := DecodePrefixed(nil, prefixed(12, valid...)); err != nil || string(got) != "abcdabcdabcd" {
		t.Fatalf("the valid sample decodes to %q, %v", got, err)
	}
	tests := []struct {
		name    string
		src     []byte
		wantErr error
		wantMsg string
	}{
		{name: "empty", src: nil, wantErr: ErrCorrupt, wantMsg: "0 bytes are shorter than the 4-byte size prefix"},
		{name: "truncated prefix", src: []byte{1, 0, 0}, wantErr: ErrCorrupt, wantMsg: "3 bytes are shorter"},
		{name: "declared size over the limit", src: prefixed(99999999, valid...), wantErr: ErrTooLarge, wantMsg: "lz4block: message too large: declared size 99999999 exceeds 16777216"},
		{name: "declared size max uint32", src: prefixed(1<<32-1, valid...), wantErr: ErrTooLarge, wantMsg: "declared size 4294967295 exceeds"},
		{name: "declared size too big", src: prefixed(13, valid...), wantErr: ErrCorrupt, wantMsg: "block decodes to 12 bytes, declared size 13"},
		{name: "declared size too small", src: prefixed(11, valid...), wantErr: ErrCorrupt, wantMsg: "decodes to more than its declared size 11"},
		{name: "declared size huge with tiny block", src: prefixed(MaxMessageSize, valid...), wantErr: ErrCorrupt, wantMsg: "declared size 16777216"},
		{name: "size but no block", src: prefixed(5), wantErr: ErrCorrupt, wantMsg: "block decodes to 0 bytes, declared size 5"},
		{name: "truncated literals", src: prefixed(12, valid[:3]...), wantErr: ErrCorrupt, wantMsg: "literal bytes at offset 1 run past the end"},
		{name: "truncated offset", src: prefixed(12, valid[:6]...), wantErr: ErrCorrupt, wantMsg: "match offset at 5 truncated"},
		{name: "ends where an offset is due", src: prefixed(12, valid[:5]...), wantErr: ErrCorrupt, wantMsg: "block ends where a match offset is due"},
		{name: "zero offset", src: prefixed(12, 0x44, 'a', 'b', 'c', 'd', 0x00, 0x00, 0x00), wantErr: ErrCorrupt, wantMsg: "zero match offset at 5"},
		{name: "offset before the output", src: prefixed(12, 0x44, 'a', 'b', 'c', 'd', 0x05, 0x00, 0x00), wantErr: ErrCorrupt, wantMsg: "match offset 5 at 5 reaches before the start"},
		{name: "truncated length bytes", src: prefixed(300, 0xF0, 0xFF), wantErr: ErrCorrupt, wantMsg: "length bytes run past the end"},
		{name: "garbage", src: prefixed(10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF), wantErr: ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := DecodePrefixed(dst, tt.src)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("DecodePrefixed = %v, want an error wrapping %v", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "lz4block: ") || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error = %q, want it to contain %q", err, tt.wantMsg)
			}
			if string(got) != "keep" {
				t.Fatalf("dst = %q after an error, want it unchanged", got)
			}
		})
	}
}

func TestDecodeRawErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     []byte
		wantErr error
		wantMsg string
	}{
		{name: "truncated literals", src: valid[:3], wantErr: ErrCorrupt, wantMsg: "run past the end"},
		{name: "truncated offset", src: valid[:6], wantErr: ErrCorrupt, wantMsg: "truncated"},
		{name: "zero offset", src: []byte{0x10, 'a', 0, 0}, wantErr: ErrCorrupt, wantMsg: "zero match offset"},
		{name: "match first", src: []byte{0x00, 0x01, 0x00}, wantErr: ErrCorrupt, wantMsg: "reaches before the start of the output (0 bytes)"},
		{name: "match length bytes truncated", src: []byte{0x1F, 'a', 0x01, 0x00, 0xFF}, wantErr: ErrCorrupt, wantMsg: "length bytes run past the end"},
		{name: "over the limit", src: append([]byte{0x1F, 'a', 0x01, 0x00}, append(bytes.Repeat([]byte{0xFF}, MaxMessageSize/255), 0x00)...), wantErr: ErrTooLarge, wantMsg: "more than 16777216 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRaw([]byte("keep"), tt.src)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("DecodeRaw = %v, want an error wrapping %v containing %q", err, tt.wantErr, tt.wantMsg)
			}
			if string(got) != "keep" {
				t.Fatalf("dst = %q after an error, want it unchanged", got)
			}
		})
	}
}

func TestDecodeRawEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		src  []byte
		want string
	}{
		{name: "empty", src: nil, want: ""},
		{name: "empty literal-only sequence", src: []byte{0x00}, want: ""},
		{name: "ends after a match", src: valid, want: "abcdabcdabcd"},
		{name: "overlapping run", src: []byte{0x1F, 'z', 0x01, 0x00, 0x01, 0x00}, want: strings.Repeat("z", 1+19+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRaw(nil, tt.src)
			if err != nil || string(got) != tt.want {
				t.Fatalf("DecodeRaw = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestNoAllocsWithReusedDst(t *testing.T) {
	var c Compressor
	data := jsonPayload(64 << 10)
	framed, _ := c.AppendPrefixed(nil, data)
	raw := framed[4:]
	buf := make([]byte, 0, 4+lz4.CompressBlockBound(len(data)))
	tests := []struct {
		name string
		f    func() error
	}{
		{name: "AppendPrefixed", f: func() (err error) { _, err = c.AppendPrefixed(buf[:0], data); return }},
		{name: "AppendRaw", f: func() (err error) { _, err = c.AppendRaw(buf[:0], data); return }},
		{name: "DecodePrefixed", f: func() (err error) { _, err = DecodePrefixed(buf[:0], framed); return }},
		{name: "DecodeRaw", f: func() (err error) { _, err = DecodeRaw(buf[:0], raw); return }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f(); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(20, func() { _ = tt.f() }); n != 0 {
				t.Fatalf("%s allocates %v times per call with a reused dst, want 0", tt.name, n)
			}
		})
	}
}
