package query_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/query"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// fakeServer answers the probe as a generation-1 server, then each request
// with answer's reply, on loopback.
func fakeServer(t *testing.T, answer func(wire.TracingRequest) wire.TracingResponse) string {
	t.Helper()
	var enc wire.Encoder
	return serveWS(t, func(ws *websocket.Conn, r *http.Request) {
		probed := false
		for {
			_, data, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			req, err := wire.DecodeRequest(data)
			if err != nil {
				t.Errorf("fake server: %v", err)
				return
			}
			resp := wire.TracingResponse(wire.TraceData{})
			if probed {
				resp = answer(req)
			}
			probed = true
			if err := ws.Write(r.Context(), websocket.MessageText, enc.AppendResponse(nil, resp)); err != nil {
				return
			}
		}
	})
}

// serveWS serves WebSocket connections on loopback with handle, until the
// test ends, and returns the server's ws:// URL.
func serveWS(t *testing.T, handle func(ws *websocket.Conn, r *http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		handle(ws, r)
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Shutdown(context.Background())
		<-done
	})
	return "ws://" + ln.Addr().String()
}

func TestServerErrors(t *testing.T) {
	ctx := testCtx(t)
	url := fakeServer(t, func(req wire.TracingRequest) wire.TracingResponse {
		switch r := req.(type) {
		case wire.GetTrace:
			// The legacy answer of a generation-2 server for a trace it
			// does not have.
			return wire.ErrorResponse{Message: "Trace not found: " + r.TraceID.String()}
		case wire.QueryTraces:
			return wire.ErrorResponse{Message: "disk full", Code: wire.CodeStorageError}
		case wire.Subscribe:
			return wire.EventRecorded{Success: false, Error: "no subscriptions here"}
		case wire.Ping:
			return wire.Metrics{}
		}
		return wire.ErrorResponse{Message: "Invalid message format"}
	})
	c := dial(t, ctx, url)
	if tr, err := c.GetTrace(ctx, tracing.NewTraceID()); tr != nil || err != nil {
		t.Errorf("GetTrace = %v, %v; want nil, nil", tr, err)
	}
	_, err := c.QueryTraces(ctx, wire.TraceQuery{})
	var se *wire.ServerError
	if !errors.As(err, &se) || se.Code != wire.CodeStorageError || se.Message != "disk full" {
		t.Errorf("QueryTraces error %v, want a StorageError", err)
	}
	if _, err := c.GetMetrics(ctx); !errors.As(err, &se) || se.Message != "Invalid message format" {
		t.Errorf("GetMetrics error %v", err)
	}
	if _, err := c.Subscribe(ctx, wire.SubscriptionFilters{}); !errors.As(err, &se) || se.Message != "no subscriptions here" {
		t.Errorf("Subscribe error %v", err)
	}
	if err := c.Ping(ctx); !errors.Is(err, query.ErrUnexpectedReply) {
		t.Errorf("Ping error %v, want ErrUnexpectedReply", err)
	}
	// Still in step: the replies were matched in order.
	if tr, err := c.GetTrace(ctx, tracing.NewTraceID()); tr != nil || err != nil {
		t.Errorf("GetTrace = %v, %v; want nil, nil", tr, err)
	}
}

func TestAPIKeyHeader(t *testing.T) {
	ctx := testCtx(t)
	got := make(chan string, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Key") + "|" + r.Header.Get("X-Extra")
		http.Error(w, "no", http.StatusUnauthorized)
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	defer func() { _ = srv.Shutdown(context.Background()); <-done }()
	_, err = query.Dial(ctx, "ws://"+ln.Addr().String(), query.WithAPIKey("s3cret"), query.WithAPIKeyHeader("X-Key"), query.WithHeader("X-Extra", "1"))
	if err == nil {
		t.Fatal("Dial succeeded against a 401")
	}
	if h := <-got; h != "s3cret|1" {
		t.Errorf("headers %q", h)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the key shows in the error: %v", err)
	}
}
