package websocket

import (
	"context"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// compressionCases are the settings of a Reflow server: compression off,
// then each algorithm. Sink and server use the same one.
var compressionCases = []struct {
	name string
	on   bool
	alg  transport.CompressionAlgorithm
}{
	{"none", false, 0},
	{"zstd", true, transport.CompressionZstd},
	{"lz4", true, transport.CompressionLZ4},
	{"gzip", true, transport.CompressionGzip},
	{"brotli", true, transport.CompressionBrotli},
}

// BenchmarkWebSocketCompression measures, for each compression setting of
// a Reflow server, events per second and wire bytes per event through the
// sink in store mode (the default) in 512-event batches, against the test
// server configured with the same algorithm (scanning event ids only, so
// that its decoding does not set the pace; it still decompresses every
// frame), and checks that the server kept every event. The decode
// sub-benchmarks read a 20 MiB reply of each algorithm through
// tracing.DecodeResponseFrame, as a client reads a large QueryResults.
func BenchmarkWebSocketCompression(b *testing.B) {
	for _, cc := range compressionCases {
		b.Run(cc.name, func(b *testing.B) { benchCompressedSink(b, cc.on, cc.alg) })
	}
	reply := reply20MiB(b)
	for _, a := range []compress.Algorithm{compress.Zstd, compress.LZ4, compress.Gzip, compress.Brotli} {
		b.Run("decode-20MiB/"+a.String(), func(b *testing.B) { benchDecodeReply(b, a, reply) })
	}
}

func benchCompressedSink(b *testing.B, on bool, alg transport.CompressionAlgorithm) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	opts := []tracetest.Option{tracetest.WithFastScan(true)}
	if on {
		opts = append(opts, tracetest.WithCompression(alg))
	}
	srv, err := tracetest.Start(ctx, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	el := &errorLog{}
	s, err := New(srv.URL(), compressIf(on, alg),
		WithKeepalive(0, time.Second), WithErrorHandler(el.handle))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	batches := benchBatches(16)
	// Every event gets a new id before it is written, so that the server
	// must keep b.N distinct events (a batch's ids are used once).
	want := make([]tracing.EventID, 0, b.N+benchBatch)
	write := func(batch []tracing.TraceEvent) {
		for i := range batch {
			batch[i].EventID = tracing.NewEventID()
			batch[i].Causality.RootCauseEventID = batch[i].EventID
			want = append(want, batch[i].EventID)
		}
		if err := s.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	// Warm up: connect, check the algorithm and fill the buffer pools.
	write(batches[0])
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	before := s.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	events := 0
	for i := 1; events < b.N; i++ {
		batch := batches[i%len(batches)]
		if n := b.N - events; n < len(batch) {
			batch = batch[:n]
		}
		write(batch)
		events += len(batch)
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	after := s.Stats()
	if errs := el.all(); len(errs) > 0 || after.Reconnects != before.Reconnects {
		b.Fatalf("%d reconnects, sink errors: %v", after.Reconnects-before.Reconnects, errs)
	}
	if lost := missing(want, srv.Kept()); len(lost) > 0 {
		b.Fatalf("the server kept %d of %d events", len(want)-len(lost), len(want))
	}
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(after.WireBytes-before.WireBytes)/float64(events), "wire-B/event")
	b.ReportMetric(float64(after.RawBytes-before.RawBytes)/float64(events), "raw-B/event")
}

// reply20MiB returns a QueryResults reply of about 20 MiB: traces of
// benchmark events, as a server answers a broad query.
func reply20MiB(b *testing.B) []byte {
	b.Helper()
	var e wire.Encoder
	var traces []tracing.FlowTrace
	var msg []byte
	for len(msg) < 20<<20 {
		id := tracing.NewTraceID()
		traces = append(traces, tracing.FlowTrace{
			TraceID: id, FlowID: "bench", ExecutionID: tracing.NewExecutionID(),
			StartTime: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
			Status:    tracing.ExecutionStatus{Kind: tracing.StatusCompleted},
			Events:    makeEvents(4096, id),
		})
		msg = e.AppendResponse(msg[:0], wire.QueryResults{Traces: traces, TotalCount: uint64(len(traces))})
	}
	return msg
}

func benchDecodeReply(b *testing.B, a compress.Algorithm, msg []byte) {
	c, err := compress.NewCodec(a)
	if err != nil {
		b.Fatal(err)
	}
	frame, err := c.AppendReply(nil, msg)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := wire.DecodeResponseFrame(true, frame)
	if err != nil {
		b.Fatal(err)
	}
	if qr, ok := resp.(wire.QueryResults); !ok || len(qr.Traces) == 0 {
		b.Fatalf("decoded a %T", resp)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := wire.DecodeResponseFrame(true, frame); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(frame))/float64(1<<20), "frame-MiB")
	b.ReportMetric(float64(len(msg))/float64(len(frame)), "ratio")
}
