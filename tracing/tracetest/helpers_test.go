package tracetest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// client is a raw protocol client: it writes frames and reads replies as
// the server sent them.
type client struct {
	t   *testing.T
	c   *websocket.Conn
	enc wire.Encoder
	ctx context.Context
	alg *transport.CompressionAlgorithm // the server's algorithm, nil when off
}

func dial(t *testing.T, ctx context.Context, s *Server, h http.Header) *client {
	t.Helper()
	c, _, err := websocket.Dial(ctx, s.URL(), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(128 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	cl := &client{t: t, c: c, ctx: ctx}
	if s.cfg.compression {
		a := s.cfg.algorithm
		cl.alg = &a
	}
	return cl
}

// clientCodec returns a client's side of alg.
func clientCodec(t *testing.T, alg transport.CompressionAlgorithm) *compress.Codec {
	t.Helper()
	c, err := newCodec(alg)
	if err != nil {
		t.Fatal(err)
	}
	return c.c
}

// compressRequest frames data as a client sends it to a server with alg.
func compressRequest(t *testing.T, alg transport.CompressionAlgorithm, data []byte) []byte {
	t.Helper()
	out, err := clientCodec(t, alg).AppendRequest(nil, data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// decompressReply reads a reply a server with alg sent in a binary frame.
func decompressReply(t *testing.T, alg transport.CompressionAlgorithm, data []byte) []byte {
	t.Helper()
	out, err := clientCodec(t, alg).DecodeReply(nil, data)
	if err != nil {
		t.Fatalf("%s reply: %v", alg, err)
	}
	return out
}

// sendRaw writes data as a text frame, or compressed in a binary frame.
func (c *client) sendRaw(data []byte, binary bool) {
	c.t.Helper()
	typ := websocket.MessageText
	if binary {
		typ = websocket.MessageBinary
		if c.alg != nil {
			data = compressRequest(c.t, *c.alg, data)
		}
	}
	if err := c.c.Write(c.ctx, typ, data); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) send(req wire.TracingRequest) {
	c.t.Helper()
	c.sendRaw(c.enc.AppendRequest(nil, req), false)
}

// recvRaw reads one frame and returns its JSON (decompressed) and whether
// it came binary.
func (c *client) recvRaw() ([]byte, bool) {
	c.t.Helper()
	typ, data, err := c.c.Read(c.ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	binary := typ == websocket.MessageBinary
	if binary {
		if c.alg == nil {
			c.t.Fatalf("binary reply from a server without compression")
		}
		data = decompressReply(c.t, *c.alg, data)
	}
	return data, binary
}

func (c *client) recv() wire.TracingResponse {
	c.t.Helper()
	data, _ := c.recvRaw()
	resp, err := wire.DecodeResponse(data)
	if err != nil {
		c.t.Fatalf("reply %s: %v", data, err)
	}
	return resp
}

func (c *client) roundTrip(req wire.TracingRequest) wire.TracingResponse {
	c.t.Helper()
	c.send(req)
	return c.recv()
}

// expectDropped checks that the server closed the connection without
// replying and without a close frame.
func (c *client) expectDropped() {
	c.t.Helper()
	typ, data, err := c.c.Read(c.ctx)
	if err == nil {
		c.t.Fatalf("got a %v reply %q, want the connection dropped", typ, data)
	}
	if st := websocket.CloseStatus(err); st != -1 {
		c.t.Fatalf("connection closed with status %v, want no close frame: %v", st, err)
	}
	if c.ctx.Err() != nil {
		c.t.Fatalf("connection not dropped before the deadline: %v", err)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func start(t *testing.T, ctx context.Context, opts ...Option) *Server {
	t.Helper()
	s, err := Start(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func events(n int, actor string) []tracing.TraceEvent {
	out := make([]tracing.TraceEvent, n)
	for i := range out {
		out[i] = event.MessageSent(actor, "out", "Reading", 64)
	}
	return out
}

func newTrace(n int) tracing.FlowTrace {
	return tracing.FlowTrace{
		TraceID: tracing.NewTraceID(), FlowID: "f", ExecutionID: tracing.NewExecutionID(),
		StartTime: time.Now().UTC(), Status: tracing.ExecutionStatus{Kind: tracing.StatusRunning},
		Events: events(n, "a"),
	}
}

// ids returns the event ids of evs.
func ids(evs []tracing.TraceEvent) []tracing.EventID {
	out := make([]tracing.EventID, len(evs))
	for i := range evs {
		out[i] = evs[i].EventID
	}
	return out
}

// wantKept checks that m holds exactly want, each once.
func wantKept(t *testing.T, m map[tracing.EventID]int, want ...tracing.EventID) {
	t.Helper()
	if len(m) != len(want) {
		t.Fatalf("kept %d ids, want %d: %v", len(m), len(want), m)
	}
	for _, id := range want {
		if m[id] != 1 {
			t.Fatalf("event %s kept %d times, want 1 (kept %v)", id, m[id], m)
		}
	}
}
