package query_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/tracing/query"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// stuckServer answers the probe, then reads nothing more, as a server
// that hangs: once the socket buffers are full, a client's write blocks.
// It lets go of its connection when the test ends.
func stuckServer(t *testing.T) string {
	t.Helper()
	release := make(chan struct{})
	var enc wire.Encoder
	url := serveWS(t, func(ws *websocket.Conn, r *http.Request) {
		if _, _, err := ws.Read(r.Context()); err != nil {
			return
		}
		if err := ws.Write(r.Context(), websocket.MessageText, enc.AppendResponse(nil, wire.TraceData{})); err != nil {
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // runs first: the server's Shutdown waits for the handler
	return url
}

// TestCallsHonourCtxWhileAWriteBlocks: a request whose write blocks (a
// server that stopped reading) holds the connection's writer for up to
// DefaultWriteTimeout. A call behind it, and the blocked call itself,
// return when their ctx ends, with its error, not when the write gives up;
// Close does not wait for it either.
func TestCallsHonourCtxWhileAWriteBlocks(t *testing.T) {
	ctx := testCtx(t)
	c := dial(t, ctx, stuckServer(t))
	// Larger than what loopback socket buffers take.
	big := wire.TraceQuery{ActorFilter: strings.Repeat("a", 16<<20)}

	stuckCtx, cancelStuck := context.WithTimeout(ctx, time.Second)
	defer cancelStuck()
	stuck := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := c.QueryTraces(stuckCtx, big)
		stuck <- err
	}()
	time.Sleep(100 * time.Millisecond) // the big write is under way

	pingCtx, cancelPing := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelPing()
	pingStart := time.Now()
	err := c.Ping(pingCtx)
	if took := time.Since(pingStart); took > 2*time.Second {
		t.Errorf("Ping behind a blocked write, ctx of 200ms: returned after %v", took.Round(time.Millisecond))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping behind a blocked write: %v, want context.DeadlineExceeded", err)
	}

	select {
	case err := <-stuck:
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("the blocked QueryTraces, ctx of 1s: returned after %v", took.Round(time.Millisecond))
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the blocked QueryTraces: %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(query.DefaultWriteTimeout - time.Second):
		t.Fatal("the blocked QueryTraces did not return before its write timed out")
	}

	closeStart := time.Now()
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if took := time.Since(closeStart); took > 2*time.Second {
		t.Errorf("Close with a write blocked: returned after %v", took.Round(time.Millisecond))
	}
}

// TestCloseWithoutCloseReply: a server that neither answers the close
// frame nor closes its side holds Close for closeTimeout (a second), not
// the WebSocket library's 5 s.
func TestCloseWithoutCloseReply(t *testing.T) {
	ctx := testCtx(t)
	c := dial(t, ctx, stuckServer(t))
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Close returned after %v, want about a second", took.Round(time.Millisecond))
	}
}
