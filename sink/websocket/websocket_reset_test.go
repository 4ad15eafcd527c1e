package websocket

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// endProxy is a TCP proxy on loopback that can stop passing a
// connection's bytes from the server to the client (the client then hears
// no pongs and no replies on it), and records how the client ended each
// connection: with a reset, or a close (EOF).
type endProxy struct {
	*tcpProxy
	mu    sync.Mutex
	muted []bool        // per connection: the server's bytes are dropped
	ends  []error       // per connection: the client side's read error
	ended chan struct{} // a receive for every connection the client ended
}

func startEndProxy(t *testing.T, to string) *endProxy {
	t.Helper()
	p := &endProxy{ended: make(chan struct{}, 64)}
	p.tcpProxy = startTCPProxy(t, to, func(i int, c, sv net.Conn) (up, down func()) {
		p.mu.Lock()
		p.ends = append(p.ends, nil)
		p.muted = append(p.muted, false)
		p.mu.Unlock()
		up = func() { // client -> server
			_, err := io.Copy(sv, c)
			if err == nil {
				err = io.EOF
			}
			p.mu.Lock()
			p.ends[i] = err
			p.mu.Unlock()
			p.ended <- struct{}{}
			sv.Close()
		}
		down = func() { // server -> client; the client's side stays open
			buf := make([]byte, 32<<10)
			for {
				n, err := sv.Read(buf)
				p.mu.Lock()
				muted := p.muted[i]
				p.mu.Unlock()
				if n > 0 && !muted {
					_, _ = c.Write(buf[:n])
				}
				if err != nil {
					return
				}
			}
		}
		return up, down
	})
	return p
}

func (p *endProxy) mute(i int) {
	p.mu.Lock()
	p.muted[i] = true
	p.mu.Unlock()
}

func (p *endProxy) end(i int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ends[i]
}

// TestWebSocketAbandonedConnectionIsReset: a connection the sink gives up
// on with frames unanswered (here: no pong within the keepalive timeout)
// is reset, not closed, so that the operating system discards what it
// still holds to send instead of delivering the old frames to the server
// after the sink has sent them again on a new connection, where a late
// StoreTrace would replace the newer copy. A Close that found everything
// answered ends its connection with a normal closure.
func TestWebSocketAbandonedConnectionIsReset(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t, tracetest.WithGeneration(tracetest.Gen1))
	px := startEndProxy(t, srv.Addr())
	s, _ := newTestSink(t, px.URL(), WithKeepalive(20*time.Millisecond, 100*time.Millisecond))
	tr := tracing.NewTraceID()
	evs := makeEvents(20, tr)
	if err := s.Write(ctx, evs[:10]); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	px.mute(0) // from now on the server's answers never arrive
	if err := s.Write(ctx, evs[10:]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-px.ended:
	case <-ctx.Done():
		t.Fatal("the sink never gave up on the silent connection")
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := px.end(0); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the abandoned connection ended with %v, want a reset (ECONNRESET)", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-px.ended:
	case <-ctx.Done():
		t.Fatal("Close did not end its connection")
	}
	if err := px.end(1); err != io.EOF {
		t.Errorf("the connection Close ended ended with %v, want a normal close (EOF)", err)
	}
	if got := len(srv.KeptInTrace(tr)); got != len(evs) {
		t.Errorf("server keeps %d of %d events", got, len(evs))
	}
}
