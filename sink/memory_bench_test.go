package sink

import (
	"testing"
)

// BenchmarkMemoryWrite stores batches of 512 data-flow events in a full
// Memory sink (each event evicts one).
func BenchmarkMemoryWrite(b *testing.B) {
	batch := fileBenchBatch()
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

// BenchmarkMultiWrite fans batches of 512 events out to two Memory sinks.
func BenchmarkMultiWrite(b *testing.B) {
	batch := fileBenchBatch()
	mems := []*Memory{newMemory(b, WithCapacity(4096)), newMemory(b, WithCapacity(4096))}
	m := NewMulti(mems[0], mems[1])
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := m.Write(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
		if err := m.Flush(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := m.Close(b.Context()); err != nil {
		b.Fatal(err)
	}
}
