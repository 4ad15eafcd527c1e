package websocket

import (
	"net"
	"sync"
	"testing"
)

// tcpProxy is a TCP proxy on loopback for tests: for each connection it
// accepts it dials its target and runs the two directions its pipe returns
// on goroutines of its own. When the test ends it closes the listener and
// every connection, and waits for those goroutines.
type tcpProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// startTCPProxy starts a tcpProxy to the address to. pipe is called with
// the index and the two sides of each connection, in the order they come,
// and returns what copies the client's bytes to the server (up) and the
// server's to the client (down).
func startTCPProxy(t *testing.T, to string, pipe func(i int, client, server net.Conn) (up, down func())) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for i := 0; ; {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sv, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, sv)
			p.mu.Unlock()
			up, down := pipe(i, c, sv)
			i++
			p.wg.Add(2)
			go func() { defer p.wg.Done(); up() }()
			go func() { defer p.wg.Done(); down() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// URL is the proxy's ws:// URL.
func (p *tcpProxy) URL() string { return "ws://" + p.ln.Addr().String() }
