package websocket

import (
	"context"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// BenchmarkWebSocketServerErrors streams 5,000 events in live mode to a
// generation-2 server, cleanly and with every 7th message answered with a
// retryable InternalError, in the same run: compare the two ns/op. A
// rejected frame is resent alone after a short backoff, so the errors cost
// a few milliseconds, not a reconnect and a resent window. It fails when a
// run does not keep every event once.
func BenchmarkWebSocketServerErrors(b *testing.B) {
	for _, bc := range []struct {
		name  string
		every int
	}{{"clean", 0}, {"error_every_7", 7}} {
		b.Run(bc.name, func(b *testing.B) {
			const events = 5000
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			srv, err := tracetest.Start(ctx, tracetest.WithGeneration(tracetest.Gen2))
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			s, err := New(srv.URL(), WithMode(ModeLive), WithKeepalive(0, time.Second))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(ctx)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				hdr := traceHeader(tracing.NewTraceID())
				evs := makeEvents(events, hdr.TraceID)
				srv.ErrorEvery(bc.every, wire.CodeInternalError, "busy")
				b.StartTimer()
				s.ObserveTrace(hdr)
				for i := 0; i < len(evs); i += benchBatch {
					if err := s.Write(ctx, evs[i:min(i+benchBatch, len(evs))]); err != nil {
						b.Fatal(err)
					}
				}
				s.ObserveTrace(ended(hdr, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}))
				if err := s.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				srv.ErrorEvery(0, "", "")
				kept := srv.KeptInTrace(hdr.TraceID)
				for i := range evs {
					if n := kept[evs[i].EventID]; n != 1 {
						b.Fatalf("event %d kept %d times, want once", i, n)
					}
				}
				b.StartTimer()
			}
			if st := s.Stats(); st.Reconnects != 0 {
				b.Fatalf("%d reconnects: a retryable error must not cost the connection", st.Reconnects)
			}
		})
	}
}
