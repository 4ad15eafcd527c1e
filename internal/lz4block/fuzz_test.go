package lz4block

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/pierrec/lz4/v4"
)

// fuzzSeeds are valid blocks, with and without prefix, and near misses.
func fuzzSeeds() [][]byte {
	var c Compressor
	var seeds [][]byte
	for _, data := range [][]byte{{}, []byte("x"), []byte("abcabcabcabcabcabcabcabcabc"), jsonPayload(2048), randomBytes(300), make([]byte, 5000)} {
		framed, _ := c.AppendPrefixed(nil, data)
		seeds = append(seeds, framed, framed[4:], framed[:len(framed)/2])
	}
	return append(seeds, nil, []byte{0, 0, 0}, valid, prefixed(12, valid...), prefixed(99999999, valid...),
		[]byte{0x1F, 'z', 0x01, 0x00, 0xFF, 0xFF, 0x00})
}

// referenceDecode decodes block with lz4.UncompressBlock into a buffer big
// enough for anything the block can decode to below the fuzzing limit.
func referenceDecode(block []byte) ([]byte, bool) {
	out := make([]byte, min(255*len(block)+64, 4<<20))
	n, err := lz4.UncompressBlock(block, out)
	if err != nil {
		return nil, false
	}
	return out[:n], true
}

func checkDecodeErr(t *testing.T, err error, dst []byte) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v wraps neither ErrCorrupt nor ErrTooLarge", err)
	}
	if string(dst) != "keep" {
		t.Fatalf("dst = %q after an error, want it unchanged", dst)
	}
}

func FuzzDecodePrefixed(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		got, err := DecodePrefixed([]byte("keep"), src)
		if err != nil {
			checkDecodeErr(t, err, got)
			return
		}
		got = got[4:]
		if want := binary.LittleEndian.Uint32(src); uint32(len(got)) != want {
			t.Fatalf("decoded %d bytes, prefix declares %d", len(got), want)
		}
		// The same block decodes to the same bytes with lz4 itself.
		if ref, ok := referenceDecode(src[4:]); !ok || !bytes.Equal(ref, got) {
			t.Fatalf("lz4.UncompressBlock disagrees (ok=%v)", ok)
		}
	})
}

func FuzzDecodeRaw(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		got, err := DecodeRaw([]byte("keep"), src)
		ref, ok := referenceDecode(src)
		if err != nil {
			checkDecodeErr(t, err, got)
			if ok && errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeRaw rejects a block lz4.UncompressBlock decodes to %d bytes: %v", len(ref), err)
			}
			return
		}
		if !ok || !bytes.Equal(got[4:], ref) {
			t.Fatalf("DecodeRaw decoded %d bytes; lz4.UncompressBlock ok=%v with %d bytes", len(got)-4, ok, len(ref))
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Compressor
		framed, err := c.AppendPrefixed(nil, data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodePrefixed(nil, framed)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("DecodePrefixed(AppendPrefixed(%d bytes)) = %d bytes, %v", len(data), len(got), err)
		}
		got, err = DecodeRaw(nil, framed[4:])
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("DecodeRaw(block of %d bytes) = %d bytes, %v", len(data), len(got), err)
		}
		out := make([]byte, lz4.CompressBlockBound(len(data)))
		n := putLiterals(out, data)
		got, err = DecodeRaw(nil, out[:n])
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("DecodeRaw(literal block of %d bytes) = %d bytes, %v", len(data), len(got), err)
		}
	})
}
