package file

import (
	"path/filepath"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/sink/internal/sinktest"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// fileBenchBatch is a batch of 512 data-flow events, as the client sends by
// default.
func fileBenchBatch() []tracing.TraceEvent {
	return sinktest.Batch(0, tracing.DefaultConfig().BatchSize)
}

// batchBytes returns the size of batch as file lines.
func batchBytes(batch []tracing.TraceEvent) int64 {
	var enc wire.Encoder
	var buf []byte
	for i := range batch {
		buf = appendFileLine(&enc, buf, &batch[i])
	}
	return int64(len(buf))
}

// BenchmarkFileWrite writes batches of 512 data-flow events; MB/s counts
// the JSON Lines before compression.
func BenchmarkFileWrite(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []Option
	}{
		{name: "plain"},
		{name: "lz4", opts: []Option{WithCompression(transport.CompressionLZ4)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			batch := fileBenchBatch()
			s, err := New(filepath.Join(b.TempDir(), "trace.jsonl"), append(bc.opts, WithSync(sink.SyncNever))...)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(batchBytes(batch))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := s.Write(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Flush(b.Context()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
			if err := s.Close(b.Context()); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkFileRead reads back a file of 20 batches.
func BenchmarkFileRead(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []Option
	}{
		{name: "plain"},
		{name: "lz4", opts: []Option{WithCompression(transport.CompressionLZ4)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			batch := fileBenchBatch()
			path := filepath.Join(b.TempDir(), "trace.jsonl")
			batches := make([][]tracing.TraceEvent, 20)
			for i := range batches {
				batches[i] = batch
			}
			writeFile(b, path, batches, bc.opts...)
			b.SetBytes(20 * batchBytes(batch))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				n := 0
				for _, err := range ReadFile(path) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != 20*len(batch) {
					b.Fatalf("read %d events", n)
				}
			}
			b.ReportMetric(float64(b.N*20*len(batch))/b.Elapsed().Seconds(), "events/s")
		})
	}
}
