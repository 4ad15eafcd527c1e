package websocket

import (
	"context"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// TestNilContextNeverEnds checks that Write, Flush and Close take a nil
// ctx as one that never ends, and that what they send is kept. (The test
// binary's -timeout bounds it.)
func TestNilContextNeverEnds(t *testing.T) {
	srv := startServer(t)
	s, _ := newTestSink(t, srv.URL())
	var nilCtx context.Context
	evs := makeEvents(20, tracing.NewTraceID())
	if err := s.Write(nilCtx, evs); err != nil {
		t.Fatalf("Write(nil): %v", err)
	}
	if err := s.Flush(nilCtx); err != nil {
		t.Fatalf("Flush(nil): %v", err)
	}
	assertKeptOnce(t, srv, ids(evs))
	if err := s.Close(nilCtx); err != nil {
		t.Fatalf("Close(nil): %v", err)
	}
}
