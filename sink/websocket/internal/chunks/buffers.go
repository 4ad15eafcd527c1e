package chunks

// Buffers keeps released frame buffers for reuse. Unlike a sync.Pool it
// survives garbage collections, so a steady stream of batches reuses the
// same buffers. Each sink has one, holding about a window's worth. Safe
// for concurrent use.
type Buffers chan *[]byte

const maxFreeBuf = 256 << 10 // larger buffers are left to the collector

// NewBuffers keeps up to a sixteenth of the memory limit in free buffers
// (between 4 and 64 of them).
func NewBuffers(memLimit int) Buffers {
	return make(Buffers, min(max(memLimit/16/maxFreeBuf, 4), 64))
}

// Get returns an empty buffer: a kept one, or a new one of 64 KiB.
func (l Buffers) Get() *[]byte {
	select {
	case b := <-l:
		return b
	default:
		b := make([]byte, 0, 64<<10)
		return &b
	}
}

// Put keeps b, emptied, for a later Get, unless it is nil, larger than
// 256 KiB (left to the collector) or Buffers is full. The caller must not
// use b afterwards.
func (l Buffers) Put(b *[]byte) {
	if b == nil || cap(*b) > maxFreeBuf {
		return
	}
	*b = (*b)[:0]
	select {
	case l <- b:
	default:
	}
}
