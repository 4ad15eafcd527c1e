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
	buf      *[]byte // held-back bytes, from bufs while corked
}

// bufs keeps the buffers of corked turns, FlushAt bytes each: a Conn takes
// one for a turn and gives it back at Uncork, so that neither a
// connection's turns nor its successors allocate one each.
var bufs = sync.Pool{New: func() any {
	b := make([]byte, 0, FlushAt)
	return &b
}}

// New returns c wrapped, uncorked.
func New(c net.Conn) *Conn { return &Conn{Conn: c} }

// Write writes p at once when uncorked; when corked it holds p back (and
// writes out what is held once it would pass FlushAt; a p of FlushAt bytes
// or more is written out as it is, after what is held).
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.Conn.Write(p)
	}
	if c.buf == nil {
		c.buf = bufs.Get().(*[]byte)
	}
	if len(*c.buf)+len(p) > FlushAt {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) >= FlushAt {
		return c.writeLocked(p)
	}
	*c.buf = append(*c.buf, p...)
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
	err := c.flushLocked()
	if c.buf != nil {
		bufs.Put(c.buf)
		c.buf = nil
	}
	return err
}

func (c *Conn) flushLocked() error {
	if c.buf == nil || len(*c.buf) == 0 {
		return nil
	}
	_, err := c.writeLocked(*c.buf)
	*c.buf = (*c.buf)[:0]
	return err
}

// writeLocked writes p with the deadline of the turn.
func (c *Conn) writeLocked(p []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(c.deadline)
	n, err := c.Conn.Write(p)
	_ = c.Conn.SetWriteDeadline(time.Time{})
	return n, err
}
