package memory

import (
	"testing"

	"github.com/reflowtrace/reflowtrace-go/sink/internal/sinktest"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// BenchmarkMemoryWrite stores batches of 512 data-flow events in a full
// Memory sink (each event evicts one).
func BenchmarkMemoryWrite(b *testing.B) {
	batch := sinktest.Batch(0, tracing.DefaultConfig().BatchSize)
	m := newMemory(b, WithCapacity(4*len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := m.Write(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}
