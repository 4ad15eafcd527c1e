package websocket

import (
	"time"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/spool"
)

// frameKind is the request a frame carries, which decides the reply that
// acknowledges it.
type frameKind uint8

const (
	frameStore   frameKind = iota // StoreTrace → TraceStored
	frameRecord                   // RecordEvent → EventRecorded
	frameStart                    // StartTrace → TraceStarted
	frameEnd                      // EndTrace → EventRecorded
	frameQuery                    // GetTrace → TraceData
	frameRelease                  // a recovery's EndTrace → EventRecorded (see releaseFrameLocked)
)

// frame is one WebSocket message the sink sends, kept until the server
// acknowledged it.
type frame struct {
	kind     frameKind
	binary   bool // wire (or zparts) is the JSON compressed with alg
	alg      compress.Algorithm
	wire     []byte // what is sent, when it is one buffer (see parts)
	rawLen   int    // bytes of JSON before compression
	events   int
	critical bool // every event in it is critical
	// v2 is set when the frame may hold events in the generation-2 form,
	// which a generation-1 server rejects (see Sink.v1Form).
	v2       bool
	epoch    uint64
	tracked  bool // counted in outstanding (Flush waits for it)
	sent     bool // written at least once
	attempts int  // sends that met a retryable server error
	created  int64
	sentAt   int64     // when the sender last took it for the wire (Unix ns)
	spool    spool.Ref // set when the frame was read from the spool
	buf      *[]byte   // pooled backing store of wire, or nil
	// seg is the segment a store frame carries, upto how many of its
	// events (all it had when the frame was built) and build which of its
	// stores it is (traceSeg.builds when it was built); seg is nil for
	// other frames.
	seg   *traceSeg
	upto  int
	build int
	final bool // the last store of its segment, with the trace's header as it ended
	// parts is the JSON of a store: the head of its StoreTrace (up to the
	// events), seg's chunks as they were when it was built, and the
	// tail; the head and tail are in hbuf. The chunks are seg's own, not a
	// copy: a frame with parts holds a reference to seg (traceSeg.refs).
	// A store is sent as its parts, or compressed as zparts: the
	// compressed bytes, in chunks of the sink's pool that the frame owns
	// (zlen bytes in all); it keeps its parts for the spool.
	parts  [][]byte
	hbuf   []byte
	zparts [][]byte
	zlen   int
	// stream is the segment a RecordEvent, StartTrace, EndTrace or
	// recovery GetTrace belongs to (live modes).
	stream *traceSeg
	// watchUntil is set on the GetTrace of a watch (see watchReply): when
	// the watch ends (Unix ns).
	watchUntil int64
	// in is the queue holding the frame, and qBytes and qMem what it
	// counted for it (see fifo).
	in           *fifo
	qBytes, qMem int
}

// segment is the trace segment f belongs to, as a store (seg) or as a
// streamed frame (stream), or nil.
func (f *frame) segment() *traceSeg {
	if f.seg != nil {
		return f.seg
	}
	return f.stream
}

// size is the frame's length on the wire.
func (f *frame) size() int {
	switch {
	case f.zparts != nil:
		return f.zlen
	case f.wire != nil:
		return len(f.wire)
	}
	return f.rawLen
}

// sliceHeader is the size of a []byte in memory.
const sliceHeader = 24

// mem is the memory the frame holds of its own, by capacity: its
// segment's chunks, which all the segment's frames share, are counted with
// the segment.
func (f *frame) mem() int {
	n := cap(f.hbuf) + (cap(f.parts)+cap(f.zparts))*sliceHeader
	for _, c := range f.zparts {
		n += cap(c)
	}
	if f.buf != nil {
		return n + cap(*f.buf)
	}
	return n + cap(f.wire)
}

// releaseLocked gives back what f holds: its pooled buffer, and its
// reference to its segment's chunks. f must not be used afterwards, and
// must be in no queue. s.mu must be held.
func (s *Sink) releaseLocked(f *frame) {
	if f.buf != nil {
		s.free.Put(f.buf)
		f.buf = nil
	}
	f.wire, f.hbuf = nil, nil
	s.dropZLocked(f)
	if f.parts != nil {
		f.parts = nil
		s.unrefLocked(f.seg)
	}
}

// dropZLocked gives f's compressed bytes back to the pool: f is then sent
// as its parts. s.mu must be held.
func (s *Sink) dropZLocked(f *frame) {
	if f.zparts != nil {
		s.chunks.Put(f.zparts)
		f.zparts, f.zlen, f.binary = nil, 0, false
	}
}

// fifo is a queue of frames, a slice with a moving head. bytes counts the
// frames' length on the wire (for the window), mem the memory they hold
// of their own (for the memory limit).
type fifo struct {
	items      []*frame
	head       int
	bytes, mem int
}

func (q *fifo) len() int { return len(q.items) - q.head }

func (q *fifo) push(f *frame) {
	q.items = append(q.items, f)
	f.in, f.qBytes, f.qMem = q, f.size(), f.mem()
	q.bytes += f.qBytes
	q.mem += f.qMem
}

// recount updates what f's queue counts for it, after f changed.
func (f *frame) recount() {
	q := f.in
	if q == nil {
		return
	}
	b, m := f.size(), f.mem()
	q.bytes += b - f.qBytes
	q.mem += m - f.qMem
	f.qBytes, f.qMem = b, m
}

func (q *fifo) forget(f *frame) {
	q.bytes -= f.qBytes
	q.mem -= f.qMem
	f.in, f.qBytes, f.qMem = nil, 0, 0
}

func (q *fifo) peek() *frame {
	if q.len() == 0 {
		return nil
	}
	return q.items[q.head]
}

func (q *fifo) pop() *frame {
	if q.len() == 0 {
		return nil
	}
	f := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	q.forget(f)
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return f
}

// drain removes and returns every frame, oldest first.
func (q *fifo) drain() []*frame {
	out := append([]*frame(nil), q.items[q.head:]...)
	for _, f := range out {
		q.forget(f)
	}
	clear(q.items)
	q.items, q.head, q.bytes, q.mem = q.items[:0], 0, 0, 0
	return out
}

func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// plain returns f's JSON, in parts: its parts, or its wire bytes,
// decompressed when binary.
func (f *frame) plain(cs *compress.Codecs) ([][]byte, error) {
	if f.parts != nil {
		return f.parts, nil
	}
	if !f.binary {
		return [][]byte{f.wire}, nil
	}
	raw, err := cs.Get(f.alg).DecodeRequest(nil, f.wire)
	if err != nil {
		return nil, err
	}
	return [][]byte{raw}, nil
}
