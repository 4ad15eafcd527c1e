package otlp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink/otlp"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
)

// TestEndpointURLWithoutPath: a collector URL given without a path
// exports to /v1/traces, where an OTLP/HTTP receiver serves traces
// (otlptracehttp alone would post to "/"). A loopback server records the
// path the export used.
func TestEndpointURLWithoutPath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse
	}))
	defer srv.Close()
	s, err := otlp.New(ctx, otlp.WithEndpointURL(srv.URL), otlp.WithRetry(otlp.RetryConfig{Enabled: false}), otlp.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if err := s.Write(ctx, []tracing.TraceEvent{event.ActorCreated("a")}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != 1 || paths[0] != "/v1/traces" {
		t.Errorf("export request paths %q, want [\"/v1/traces\"] for WithEndpointURL(%q) (doc: \"no path means /v1/traces\")", paths, srv.URL)
	}
}
