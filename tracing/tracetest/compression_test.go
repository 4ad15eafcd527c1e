package tracetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

var algorithms = []transport.CompressionAlgorithm{transport.CompressionZstd, transport.CompressionLZ4, transport.CompressionGzip, transport.CompressionBrotli}

func TestCompressionBinaryFramesAreDecompressed(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg.String(), func(t *testing.T) {
			ctx := testCtx(t)
			s := start(t, ctx, WithCompression(alg))
			c := dial(t, ctx, s, nil)
			tr := newTrace(20)
			c.sendRaw(c.enc.AppendRequest(nil, wire.StoreTrace{Trace: tr}), true)
			if _, binary := c.recvRaw(); binary {
				t.Fatal("short ack sent compressed")
			}
			wantKept(t, s.Kept(), ids(tr.Events)...)
		})
	}
}

func TestCompressionLongRepliesAreCompressed(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg.String(), func(t *testing.T) {
			ctx := testCtx(t)
			s := start(t, ctx, WithCompression(alg))
			c := dial(t, ctx, s, nil)
			tr := newTrace(20)
			storeTrace(t, c, tr)
			c.send(wire.GetTrace{TraceID: tr.TraceID})
			typ, frame, err := c.c.Read(ctx)
			if err != nil || typ != websocket.MessageBinary {
				t.Fatalf("long reply: %v %v", typ, err)
			}
			// decompressReply reads lz4 without the size prefix.
			data := decompressReply(t, alg, frame)
			if len(data) <= replyCompressMin {
				t.Fatalf("reply of %d bytes compressed", len(data))
			}
			resp, err := wire.DecodeResponse(data)
			if td, ok := resp.(wire.TraceData); err != nil || !ok || td.Trace == nil || len(td.Trace.Events) != 20 {
				t.Fatalf("%#v %v", resp, err)
			}
		})
	}
}

func TestCompressionUndecodableFrameDropsTheConnection(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg.String(), func(t *testing.T) {
			ctx := testCtx(t)
			s := start(t, ctx, WithCompression(alg))
			c := dial(t, ctx, s, nil)
			if err := c.c.Write(ctx, websocket.MessageBinary, []byte("\xff\xfe not compressed")); err != nil {
				t.Fatal(err)
			}
			c.expectDropped()
		})
	}
	// A frame in another algorithm's framing does not decompress either.
	ctx := testCtx(t)
	s := start(t, ctx, WithCompression(transport.CompressionZstd))
	c := dial(t, ctx, s, nil)
	if err := c.c.Write(ctx, websocket.MessageBinary, compressRequest(t, transport.CompressionGzip, []byte(`"Ping"`))); err != nil {
		t.Fatal(err)
	}
	c.expectDropped()
}

// TestCompressionOffReadsBinaryFramesAsText: with compression off the
// reference server takes a binary frame as it is; one that is not UTF-8
// (any real compressed frame of zstd or gzip) drops the connection.
func TestCompressionOffReadsBinaryFramesAsText(t *testing.T) {
	ctx := testCtx(t)
	s := start(t, ctx)
	c := dial(t, ctx, s, nil)
	c.sendRaw([]byte(`"Ping"`), true)
	if data, _ := c.recvRaw(); string(data) != `"Pong"` {
		t.Fatalf("reply %s", data)
	}
	c.sendRaw(compressRequest(t, transport.CompressionZstd, []byte(`"Ping"`)), true)
	c.expectDropped()
}

func TestMessageOverTheLimitDropsTheConnection(t *testing.T) {
	// Two 16 MiB messages take about 5 s under -race on a quiet 2-core
	// machine, and several times that while the other packages' tests run.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := start(t, ctx)
	c := dial(t, ctx, s, nil)
	msg := `{"GetFlowVersions":{"flow_id":"` + strings.Repeat("x", maxFrame) + `"}}`
	if err := c.c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	c.expectDropped()
	// Just under the limit is served.
	c2 := dial(t, ctx, s, nil)
	msg = `{"GetFlowVersions":{"flow_id":"` + strings.Repeat("x", maxFrame-40) + `"}}`
	c2.sendRaw([]byte(msg), false)
	if e, ok := c2.recv().(wire.ErrorResponse); !ok || e.Code != wire.CodeNotFound {
		t.Fatalf("reply %#v", e)
	}
}

func TestCompressionOptionIsValidated(t *testing.T) {
	for _, opt := range []Option{WithCompression(transport.CompressionAuto), WithGeneration(3)} {
		if s, err := Start(t.Context(), opt); err == nil {
			s.Close()
			t.Fatal("invalid option accepted")
		}
	}
}
