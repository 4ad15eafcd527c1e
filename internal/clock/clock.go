// Package clock reads the wall clock cheaply for event timestamps.
//
// time.Now reads both the wall and the monotonic clock. Now reads only the
// monotonic clock and adds it to a wall-clock base that is refreshed every
// RebaseInterval, so timestamps follow wall-clock adjustments within that
// interval while costing one clock read.
package clock

import (
	"sync/atomic"
	"time"
)

// RebaseInterval is how often the wall-clock base is re-read.
const RebaseInterval = time.Second

type base struct {
	wall int64 // Unix nanoseconds at mono
	mono int64 // nanoseconds since start
}

var (
	start = time.Now()
	cur   atomic.Pointer[base]
)

func init() { rebase() }

func rebase() *base {
	now := time.Now()
	b := &base{wall: now.UnixNano(), mono: int64(now.Sub(start))}
	cur.Store(b)
	return b
}

// UnixNano returns the current wall-clock time in Unix nanoseconds.
// It is safe for concurrent use and does not allocate, except once per
// RebaseInterval.
func UnixNano() int64 {
	mono := Mono()
	b := cur.Load()
	if mono-b.mono >= int64(RebaseInterval) {
		b = rebase()
	}
	return b.wall + mono - b.mono
}

// Read returns, from one clock read, the current wall-clock time in Unix
// nanoseconds (as UnixNano does) and the monotonic reading it was made
// from (as Mono does): the timestamp of an event that starts something,
// and the start of its duration, which a later Mono ends. It is UnixNano
// with the reading kept; UnixNano has a body of its own so that the
// recording path makes one call for its clock read, not two.
func Read() (unixNano, mono int64) {
	mono = Mono()
	b := cur.Load()
	if mono-b.mono >= int64(RebaseInterval) {
		b = rebase()
	}
	return b.wall + mono - b.mono, mono
}

// Now returns the current wall-clock time in UTC, without a monotonic
// reading.
func Now() time.Time { return time.Unix(0, UnixNano()).UTC() }

// Mono returns the monotonic clock in nanoseconds since the process
// started, with one clock read: the difference of two readings is a
// duration that no step of the wall clock changes.
func Mono() int64 { return int64(time.Since(start)) }
