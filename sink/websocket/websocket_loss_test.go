package websocket

import (
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// The tests of this file give up a segment (a trace's events under one
// server trace id) while it holds events that no frame carries yet, and
// check that every event written is then acknowledged, kept on disk or
// counted as dropped: none is lost without a count.

// accounted returns the events s acknowledged or counted as dropped.
func accounted(s *Sink) uint64 {
	n := s.SinkStats().Acknowledged
	for _, k := range s.Stats().Dropped {
		n += k
	}
	return n
}

// TestWebSocketRejectedStartTraceCountsOnce: a StartTrace rejected for
// good loses its segment, counted as rejected; the RecordEvents sent
// behind it are not counted as acknowledged as well.
func TestWebSocketRejectedStartTraceCountsOnce(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t, tracetest.WithGeneration(tracetest.Gen2))
	srv.ErrorNext("StartTrace", 1, wire.CodeInvalidRequest, "no")
	s, _ := newTestSink(t, srv.URL(), WithMode(ModeLive), WithProtocol(transport.ProtocolV2))
	tr := tracing.NewTraceID()
	s.ObserveTrace(traceHeader(tr))
	if err := s.Write(ctx, makeEvents(10, tr)); err != nil {
		t.Fatal(err)
	}
	_ = s.Flush(ctx)
	_ = s.Close(ctx)
	if n := accounted(s); n != 10 {
		t.Fatalf("10 events written, %d acknowledged or counted dropped (acknowledged %d, dropped %v)", n, s.SinkStats().Acknowledged, s.Stats().Dropped)
	}
}
