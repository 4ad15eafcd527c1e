package compress

import (
	"testing"
)

// storeTraceEvents is the number of events of the benchmarks' StoreTrace,
// the SDK's default batch size.
const storeTraceEvents = 512

// BenchmarkAppendRequest compresses a StoreTrace of 512 events, as a
// client sends one batch; ratio is compressed over uncompressed size.
func BenchmarkAppendRequest(b *testing.B) {
	msg := storeTraceJSON(b, storeTraceEvents)
	for _, a := range algorithms {
		b.Run(a.String(), func(b *testing.B) {
			c := newCodec(b, a)
			buf, _ := c.AppendRequest(nil, msg)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				out, err := c.AppendRequest(buf[:0], msg)
				if err != nil {
					b.Fatal(err)
				}
				buf = out
			}
			b.ReportMetric(float64(len(buf))/float64(len(msg)), "ratio")
		})
	}
}

// BenchmarkDecodeRequest decompresses the StoreTrace of
// BenchmarkAppendRequest, as a server reads it.
func BenchmarkDecodeRequest(b *testing.B) {
	benchmarkDecode(b, storeTraceJSON(b, storeTraceEvents), (*Codec).AppendRequest, (*Codec).DecodeRequest)
}

// BenchmarkDecodeReply decompresses a reply of the size of the StoreTrace
// of BenchmarkAppendRequest (a GetTrace of that trace), as the server
// compresses it.
func BenchmarkDecodeReply(b *testing.B) {
	msg := storeTraceJSON(b, storeTraceEvents)
	benchmarkDecode(b, traceDataOf(b, len(msg)), (*Codec).AppendReply, (*Codec).DecodeReply)
}

// BenchmarkDecodeReply20MiB decompresses a 20 MiB reply, past the 16 MiB
// the protocol's frames are otherwise limited to.
func BenchmarkDecodeReply20MiB(b *testing.B) {
	benchmarkDecode(b, traceDataOf(b, 20<<20), (*Codec).AppendReply, (*Codec).DecodeReply)
}

func benchmarkDecode(b *testing.B, msg []byte, encode, decode func(c *Codec, dst, src []byte) ([]byte, error)) {
	for _, a := range algorithms {
		b.Run(a.String(), func(b *testing.B) {
			c := newCodec(b, a)
			frame, err := encode(c, nil, msg)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 0, len(msg))
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				out, err := decode(c, buf[:0], frame)
				if err != nil {
					b.Fatal(err)
				}
				buf = out
			}
			b.ReportMetric(float64(len(frame))/float64(len(msg)), "ratio")
		})
	}
}

// BenchmarkDecodeSmallReply decodes a short reply: the fixed cost of one
// message.
func BenchmarkDecodeSmallReply(b *testing.B) {
	benchmarkDecode(b, traceDataOf(b, 1500), (*Codec).AppendReply, (*Codec).DecodeReply)
}

// BenchmarkAppendSmallReply compresses a short reply: the fixed cost of
// one message.
func BenchmarkAppendSmallReply(b *testing.B) {
	msg := traceDataOf(b, 1500)
	for _, a := range algorithms {
		b.Run(a.String(), func(b *testing.B) {
			c := newCodec(b, a)
			buf, _ := c.AppendReply(nil, msg)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				out, err := c.AppendReply(buf[:0], msg)
				if err != nil {
					b.Fatal(err)
				}
				buf = out
			}
		})
	}
}
