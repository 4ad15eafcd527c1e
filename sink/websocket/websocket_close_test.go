package websocket

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// closeSwallowingProxy forwards loopback TCP to the test server but
// swallows the client's WebSocket close frames: the client gets no close
// frame back, as from Reflow's server, and the socket stays open, as on a
// server that notices the close late.
type closeSwallowingProxy struct{ *tcpProxy }

func startCloseSwallowingProxy(t *testing.T, target string) closeSwallowingProxy {
	t.Helper()
	return closeSwallowingProxy{startTCPProxy(t, target, func(_ int, c, u net.Conn) (up, down func()) {
		return func() { swallowCloseFrames(c, u); u.Close() }, func() { _, _ = io.Copy(c, u); c.Close() }
	})}
}

// swallowCloseFrames copies the HTTP upgrade request from c to u as it is,
// then frame by frame, dropping close frames (opcode 8).
func swallowCloseFrames(c, u net.Conn) {
	// The upgrade request ends with \r\n\r\n.
	var hdr []byte
	one := make([]byte, 1)
	for {
		if _, err := io.ReadFull(c, one); err != nil {
			return
		}
		hdr = append(hdr, one[0])
		if len(hdr) >= 4 && string(hdr[len(hdr)-4:]) == "\r\n\r\n" {
			break
		}
	}
	if _, err := u.Write(hdr); err != nil {
		return
	}
	for {
		h := make([]byte, 2)
		if _, err := io.ReadFull(c, h); err != nil {
			return
		}
		frame := append([]byte(nil), h...)
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			b := make([]byte, 2)
			if _, err := io.ReadFull(c, b); err != nil {
				return
			}
			frame = append(frame, b...)
			n = uint64(binary.BigEndian.Uint16(b))
		case 127:
			b := make([]byte, 8)
			if _, err := io.ReadFull(c, b); err != nil {
				return
			}
			frame = append(frame, b...)
			n = binary.BigEndian.Uint64(b)
		}
		if h[1]&0x80 != 0 {
			n += 4 // mask key
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		if h[0]&0x0f == 8 {
			continue // swallow the close frame
		}
		if _, err := u.Write(append(frame, body...)); err != nil {
			return
		}
	}
}

// TestCloseWithoutCloseEcho: everything is acknowledged and the server
// sends no close frame back, nor closes its side. Close waits at most
// about a second for it (closeWait), not the WebSocket library's 5 s, and
// with a shorter ctx no longer than ctx.
func TestCloseWithoutCloseEcho(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
	}{{"long ctx", 30 * time.Second}, {"short ctx", 200 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) { testCloseWithoutCloseEcho(t, tc.timeout) })
	}
}

func testCloseWithoutCloseEcho(t *testing.T, timeout time.Duration) {
	srv := startServer(t)
	p := startCloseSwallowingProxy(t, srv.Addr())
	s, _ := newTestSink(t, p.URL())
	evs := makeEvents(5, tracing.NewTraceID())
	if err := s.Write(testCtx(t), evs); err != nil {
		t.Fatal(err)
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer fcancel()
	if err := s.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	assertKeptOnce(t, srv, ids(evs))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	err := s.Close(ctx)
	took := time.Since(start)
	if err != nil {
		t.Errorf("Close: %v, want nil: everything was acknowledged", err)
	}
	if limit := min(timeout, closeWait) + 2*time.Second; took > limit {
		t.Fatalf("Close with a %v ctx took %v, want at most about %v", timeout, took.Round(time.Millisecond), min(timeout, closeWait))
	}
}

// TestSecondCloseHonoursItsCtx: while a first Close waits (its ctx is
// long, the server is down), a second Close with a short ctx returns by
// its own deadline, with ctx's error; one called after the first returned
// returns nil.
func TestSecondCloseHonoursItsCtx(t *testing.T) {
	srv := startServer(t)
	s, _ := newTestSink(t, srv.URL())
	evs := makeEvents(5, tracing.NewTraceID())
	fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer fcancel()
	if err := s.Write(fctx, evs[:1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := s.Write(fctx, evs[1:]); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		defer cancel()
		first <- s.Close(ctx)
	}()
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Close(ctx)
	took := time.Since(start)
	<-first
	if took > 2*time.Second {
		t.Errorf("second Close with a 200ms ctx took %v", took.Round(time.Millisecond))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second Close: %v, want context.DeadlineExceeded", err)
	}
	if err := s.Close(testCtx(t)); err != nil {
		t.Errorf("Close after the first returned: %v, want nil", err)
	}
}

// TestCloseHonoursCtxDuringProbe: the server takes the connection but
// answers nothing (stalled), so the sink's generation probe waits; Close
// with nothing to send and a 300ms ctx returns about then, not when the
// probe times out.
func TestCloseHonoursCtxDuringProbe(t *testing.T) {
	srv := startServer(t)
	srv.SetStalled(true)
	defer srv.SetStalled(false)
	s, _ := newTestSink(t, srv.URL(), WithDialTimeout(6*time.Second))
	ctx := testCtx(t)
	waitServer(ctx, t, srv, "the connection", func(v tracetest.View) bool { return v.Connects() > 0 })
	time.Sleep(100 * time.Millisecond)
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Close(cctx)
	took := time.Since(start)
	if took > 2*time.Second {
		t.Fatalf("Close with a 300ms ctx took %v (err %v)", took.Round(time.Millisecond), err)
	}
	if err != nil {
		t.Errorf("Close: %v, want nil: nothing was written", err)
	}
}
