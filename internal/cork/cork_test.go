package cork

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recordConn records each Write call it receives.
type recordConn struct {
	net.Conn
	writes [][]byte
}

func (r *recordConn) Write(p []byte) (int, error) {
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}
func (r *recordConn) SetWriteDeadline(time.Time) error { return nil }

func TestCorkHoldsWritesUntilUncork(t *testing.T) {
	rc := &recordConn{}
	c := New(rc)
	if _, err := c.Write([]byte("a")); err != nil || len(rc.writes) != 1 {
		t.Fatalf("uncorked write not passed through: %v %q", err, rc.writes)
	}
	c.Cork(time.Time{})
	for _, s := range []string{"b", "c", "d"} {
		if n, err := c.Write([]byte(s)); err != nil || n != 1 {
			t.Fatalf("corked Write = %d, %v", n, err)
		}
	}
	if len(rc.writes) != 1 {
		t.Fatalf("corked writes leaked out: %q", rc.writes)
	}
	if err := c.Uncork(); err != nil {
		t.Fatal(err)
	}
	if len(rc.writes) != 2 || string(rc.writes[1]) != "bcd" {
		t.Fatalf("writes = %q, want [a bcd]", rc.writes)
	}
	if err := c.Uncork(); err != nil || len(rc.writes) != 2 {
		t.Fatalf("empty Uncork wrote: %q, %v", rc.writes, err)
	}
}

func TestCorkFlushesLargeBursts(t *testing.T) {
	rc := &recordConn{}
	c := New(rc)
	c.Cork(time.Time{})
	if _, err := c.Write(make([]byte, FlushAt)); err != nil {
		t.Fatal(err)
	}
	if len(rc.writes) != 1 || len(rc.writes[0]) != FlushAt {
		t.Fatalf("a burst of FlushAt bytes was not written out: %d writes", len(rc.writes))
	}
}

func TestCorkOverPipe(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := New(a)
	c.Cork(time.Now().Add(5 * time.Second))
	_, _ = c.Write([]byte("hello "))
	_, _ = c.Write([]byte("world"))
	done := make(chan []byte)
	go func() {
		buf := make([]byte, 11)
		_, _ = io.ReadFull(b, buf)
		done <- buf
	}()
	if err := c.Uncork(); err != nil {
		t.Fatal(err)
	}
	if got := string(<-done); got != "hello world" {
		t.Fatalf("read %q", got)
	}
}

func TestCorkHoldsAtMostFlushAt(t *testing.T) {
	rc := &recordConn{}
	c := New(rc)
	c.Cork(time.Time{})
	chunk := make([]byte, 4096)
	for range FlushAt / len(chunk) * 3 {
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Uncork(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, w := range rc.writes {
		if len(w) > FlushAt {
			t.Fatalf("a write of %d bytes, more than FlushAt", len(w))
		}
		total += len(w)
	}
	if total != 3*FlushAt || len(rc.writes) != 3 {
		t.Fatalf("%d writes of %d bytes in all, want 3 of FlushAt", len(rc.writes), total)
	}
}
