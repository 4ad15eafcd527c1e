// Package cork batches a connection's writes: while a Conn is corked, its
// writes are held back and leave in one write when it is uncorked, so that
// the WebSocket frames of one turn go out in as few packets and system calls
// as possible.
package cork

import (
	"net"
	"sync"
	"time"
)

// FlushAt is how many held-back bytes make a corked Conn write them out
// without waiting to be uncorked.
const FlushAt = 1 << 20

// Conn is a net.Conn whose writes can be held back. It is safe for
// concurrent use.
type Conn struct {
	net.Conn
	mu       sync.Mutex
	corked   bool
	deadline time.Time
	buf      []byte
}

// New returns c wrapped, uncorked.
func New(c net.Conn) *Conn { return &Conn{Conn: c} }

// Write writes p at once when uncorked; when corked it holds p back (and
// writes out what is held once it reaches FlushAt).
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.Conn.Write(p)
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) >= FlushAt {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Cork holds back later writes until Uncork. The held-back bytes are
// written with the given deadline (zero: none).
func (c *Conn) Cork(deadline time.Time) {
	c.mu.Lock()
	c.corked, c.deadline = true, deadline
	c.mu.Unlock()
}

// Uncork writes what was held back in one write and lets later writes
// through.
func (c *Conn) Uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	return c.flushLocked()
}

func (c *Conn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_ = c.Conn.SetWriteDeadline(c.deadline)
	_, err := c.Conn.Write(c.buf)
	_ = c.Conn.SetWriteDeadline(time.Time{})
	if cap(c.buf) > 4*FlushAt {
		c.buf = nil // don't keep a burst's buffer for good
	} else {
		c.buf = c.buf[:0]
	}
	return err
}
