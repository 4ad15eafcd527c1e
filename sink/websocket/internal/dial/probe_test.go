package dial

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// probeServer answers the first errors probes with an error reply and
// the next as a generation-2 server does (its request id echoed).
func probeServer(t *testing.T, errors int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := cws.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		for n := 0; ; n++ {
			_, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			req, err := wire.DecodeRequest(data)
			if err != nil {
				return
			}
			var enc wire.Encoder
			var reply []byte
			if n < errors {
				reply = enc.AppendResponse(nil, wire.ErrorResponse{Message: "busy", Code: wire.CodeInternalError})
			} else {
				reply = enc.AppendResponse(nil, wire.TraceData{RequestID: req.(wire.GetTrace).RequestID})
			}
			if err := c.Write(ctx, cws.MessageText, reply); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// TestProbeProtocolRetriesAnErrorReply checks that an error reply to the
// probe, which neither generation answers it with, is taken for a server
// failing for the moment: the probe is sent again on the connection, and
// fails only after ProbeAttempts error replies, rather than taking the
// server for generation 1.
func TestProbeProtocolRetriesAnErrorReply(t *testing.T) {
	for _, errs := range []int{0, ProbeAttempts - 1, ProbeAttempts} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, _, err := cws.Dial(ctx, probeServer(t, errs), nil)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		var detect compress.Detect
		gen, err := ProbeProtocol(ctx, c, &detect, 5*time.Second)
		_ = c.CloseNow()
		cancel()
		var se *wire.ServerError
		switch {
		case errs < ProbeAttempts && (err != nil || gen != transport.ProtocolV2):
			t.Fatalf("after %d error replies: %v, %v, want generation 2", errs, gen, err)
		case errs == ProbeAttempts && !errors.As(err, &se):
			t.Fatalf("after %d error replies: %v, %v, want the server's error", errs, gen, err)
		}
	}
}
