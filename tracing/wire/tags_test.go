package wire

import (
	"context"
	"sync"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// headerSink keeps the trace headers the client tells it of.
type headerSink struct {
	mu      sync.Mutex
	headers []tracing.FlowTrace
}

func (s *headerSink) Write(context.Context, []tracing.TraceEvent) error { return nil }
func (s *headerSink) Flush(context.Context) error                       { return nil }
func (s *headerSink) Close(context.Context) error                       { return nil }
func (s *headerSink) ObserveTrace(t tracing.FlowTrace) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.headers = append(s.headers, t)
}

// TestClientWritesTheTags checks that the headers the client writes carry
// the tags under the names this package gives them, which the WebSocket
// sink and the query client read.
func TestClientWritesTheTags(t *testing.T) {
	s := &headerSink{}
	c, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(s))
	if err != nil {
		t.Fatal(err)
	}
	ctx, outer, err := c.StartTrace(context.Background(), "outer", tracing.FlowVersion{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.StartTrace(ctx, "inner", tracing.FlowVersion{}); err != nil {
		t.Fatal(err)
	}
	joined := tracing.TraceRef{ID: tracing.NewTraceID(), FlowID: "elsewhere", ExecutionID: tracing.NewExecutionID()}
	c.JoinTrace(context.Background(), joined)
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var linked, join bool
	for _, h := range s.headers {
		switch h.FlowID {
		case "inner":
			linked = h.Metadata.Tags[TagLinkedTrace] == outer.String()
		case "elsewhere":
			join = h.TraceID == joined.ID && h.Metadata.Tags[TagJoined] == "true"
		}
	}
	if !linked || !join {
		t.Errorf("headers %+v: want inner tagged %s=%s and the joined trace tagged %s", s.headers, TagLinkedTrace, outer, TagJoined)
	}
}
