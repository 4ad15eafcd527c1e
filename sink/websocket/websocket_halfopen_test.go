package websocket

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// holdProxy is a TCP proxy on loopback. For a connection it can hold the
// bytes the client sends (the server does not read them yet), cut the
// client's side (the client sees the connection lost) and later release
// the held bytes to the server: a half-open connection whose last bytes
// the server reads late, after the client reconnected.
type holdProxy struct {
	*tcpProxy
	mu    sync.Mutex
	conns []*proxyConn
}

type proxyConn struct {
	mu      sync.Mutex
	client  net.Conn
	server  net.Conn
	held    bool
	pending []byte
}

func startHoldProxy(t *testing.T, to string) *holdProxy {
	p := &holdProxy{}
	p.tcpProxy = startTCPProxy(t, to, func(_ int, c, sv net.Conn) (up, down func()) {
		pc := &proxyConn{client: c, server: sv}
		p.mu.Lock()
		p.conns = append(p.conns, pc)
		p.mu.Unlock()
		up = func() { // client -> server
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					pc.mu.Lock()
					if pc.held {
						pc.pending = append(pc.pending, buf[:n]...)
					} else {
						_, _ = sv.Write(buf[:n])
					}
					pc.mu.Unlock()
				}
				if err != nil {
					return
				}
			}
		}
		down = func() { // server -> client
			_, _ = io.Copy(c, sv)
			pc.mu.Lock()
			held := pc.held
			pc.mu.Unlock()
			if !held {
				c.Close()
			}
		}
		return up, down
	})
	return p
}

func (p *holdProxy) conn(i int) *proxyConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i >= len(p.conns) {
		return nil
	}
	return p.conns[i]
}

// hold buffers what the client sends from now on.
func (pc *proxyConn) hold() {
	pc.mu.Lock()
	pc.held = true
	pc.mu.Unlock()
}

func (pc *proxyConn) heldBytes() int {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return len(pc.pending)
}

// cut closes the client's side only: the server's side stays open.
func (pc *proxyConn) cut() { _ = pc.client.Close() }

// release sends the held bytes to the server, then closes the server's
// side a little later.
func (pc *proxyConn) release() {
	pc.mu.Lock()
	_, _ = pc.server.Write(pc.pending)
	pc.pending = nil
	pc.mu.Unlock()
	time.AfterFunc(200*time.Millisecond, func() { _ = pc.server.Close() })
}

// TestWebSocketRecoveryWatchCatchesLateFrames: on generation 2, in live
// mode, RecordEvents of the old connection that the server reads late
// (here through a proxy that holds them, then cuts only the sink's side)
// open the trace id again after the recovery stored it, and the old
// connection's close stores that copy over the recovery's. The watch
// after the recovery finds it and stores the trace again. (The watch ends
// once the server answers the recovery's own copy, about 200 ms after its
// store: late frames the server reads after that are not seen.)
func TestWebSocketRecoveryWatchCatchesLateFrames(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t, tracetest.WithGeneration(tracetest.Gen2))
	px := startHoldProxy(t, srv.Addr())
	s, _ := newTestSink(t, px.URL(), WithMode(ModeLive), WithProtocol(transport.ProtocolV2))
	tr := tracing.NewTraceID()
	hdr := traceHeader(tr)
	s.ObserveTrace(hdr)
	a, b := makeEvents(5, tr), makeEvents(5, tr)
	if err := s.Write(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	old := px.conn(0)
	old.hold()
	if err := s.Write(ctx, b); err != nil { // RecordEvents sent on the old connection, held
		t.Fatal(err)
	}
	for old.heldBytes() == 0 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	old.cut() // reconnect, recovery: release, GetTrace, StoreTrace of all 10
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.ObserveTrace(ended(hdr, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}))
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before := len(srv.KeptInTrace(tr))
	old.release() // the server reads the old connection's last RecordEvents, then its close
	time.Sleep(500 * time.Millisecond)
	// The watch stores the trace again within a few of its polls.
	var got *tracing.FlowTrace
	kept := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		got, kept = srv.GetTrace(tr), len(srv.KeptInTrace(tr))
		if kept == 10 && got != nil && got.FlowID == hdr.FlowID {
			break
		}
	}
	st := "<nil>"
	if got != nil {
		st = got.Status.Kind.String() + " flow " + string(got.FlowID)
	}
	t.Logf("acknowledged %d; kept %d before the late frames, %d after; trace %s; %s", s.SinkStats().Acknowledged, before, kept, st, serverSummary(srv))
	if kept < 10 {
		t.Errorf("acknowledged %d, server finally keeps %d of 10 (trace %s)", s.SinkStats().Acknowledged, kept, st)
	}
}
