package websocket

import (
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// TestWebSocketCompressionEveryAlgorithm checks that the sink compresses
// with each algorithm a Reflow server can be configured with, named or
// found by CompressionAuto, that the server reads every frame (it drops
// the connection on any it cannot decompress) and keeps every event, on
// both generations.
func TestWebSocketCompressionEveryAlgorithm(t *testing.T) {
	algs := []transport.CompressionAlgorithm{transport.CompressionZstd, transport.CompressionLZ4, transport.CompressionGzip, transport.CompressionBrotli}
	for _, gen := range []tracetest.Generation{tracetest.Gen1, tracetest.Gen2} {
		for _, server := range algs {
			for _, auto := range []bool{false, true} {
				name := gen.String() + "/" + server.String()
				sinkAlg := server
				if auto {
					name += "/auto"
					sinkAlg = transport.CompressionAuto
				}
				t.Run(name, func(t *testing.T) {
					ctx := testCtx(t)
					srv := startServer(t, tracetest.WithGeneration(gen), tracetest.WithCompression(server))
					s, el := newTestSink(t, srv.URL(), WithCompression(sinkAlg))
					evs := makeEvents(400, tracing.NewTraceID())
					// Frames are compressed as they are built: with auto,
					// once a connection found the algorithm.
					if err := s.Write(ctx, evs[:1]); err != nil {
						t.Fatal(err)
					}
					if err := s.Flush(ctx); err != nil {
						t.Fatalf("first Flush: %v", err)
					}
					raw0, wire0 := s.Stats().RawBytes, s.Stats().WireBytes
					for i := 0; i < len(evs); i += 100 {
						if err := s.Write(ctx, evs[max(i, 1):i+100]); err != nil {
							t.Fatal(err)
						}
					}
					if err := s.Flush(ctx); err != nil {
						t.Fatalf("Flush: %v", err)
					}
					assertKeptOnce(t, srv, ids(evs))
					st := s.Stats()
					if wire, raw := st.WireBytes-wire0, st.RawBytes-raw0; wire*2 > raw {
						t.Fatalf("wire %d bytes for %d raw: frames not compressed", wire, raw)
					}
					if !auto && st.Reconnects != 0 {
						t.Fatalf("%d reconnects with the server's own algorithm", st.Reconnects)
					}
					if !auto {
						if errs := el.all(); len(errs) > 0 {
							t.Fatalf("errors reported: %v", errs)
						}
					}
				})
			}
		}
	}
}

// compressIf returns WithCompression(alg) when on, and
// WithCompression(transport.CompressionNone) when not.
func compressIf(on bool, alg transport.CompressionAlgorithm) Option {
	if !on {
		alg = transport.CompressionNone
	}
	return WithCompression(alg)
}
