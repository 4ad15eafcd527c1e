package lz4block

import (
	"testing"

	"github.com/pierrec/lz4/v4"
)

func BenchmarkAppendPrefixed(b *testing.B) {
	data := jsonPayload(64 << 10)
	var c Compressor
	buf := make([]byte, 0, 4+lz4.CompressBlockBound(len(data)))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := c.AppendPrefixed(buf[:0], data)
		if err != nil {
			b.Fatal(err)
		}
		buf = out
	}
	b.ReportMetric(float64(len(buf))/float64(len(data)), "ratio")
}

func BenchmarkDecodePrefixed(b *testing.B) {
	data := jsonPayload(64 << 10)
	var c Compressor
	framed, _ := c.AppendPrefixed(nil, data)
	buf := make([]byte, 0, len(data))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := DecodePrefixed(buf[:0], framed)
		if err != nil {
			b.Fatal(err)
		}
		buf = out
	}
}

func BenchmarkDecodeRaw(b *testing.B) {
	data := jsonPayload(64 << 10)
	var c Compressor
	raw, _ := c.AppendRaw(nil, data)
	buf := make([]byte, 0, len(data))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := DecodeRaw(buf[:0], raw)
		if err != nil {
			b.Fatal(err)
		}
		buf = out
	}
}

// BenchmarkUncompressBlock is lz4 alone, for the cost of DecodeRaw's walk
// over the block.
func BenchmarkUncompressBlock(b *testing.B) {
	data := jsonPayload(64 << 10)
	var c Compressor
	raw, _ := c.AppendRaw(nil, data)
	buf := make([]byte, len(data))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := lz4.UncompressBlock(raw, buf); err != nil {
			b.Fatal(err)
		}
	}
}
