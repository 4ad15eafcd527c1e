package chunks

const (
	// minChunk is the smallest chunk.
	minChunk = 1 << 10
	// Max is the largest chunk: from Max bytes on, a Bytes grows by
	// chunks of Max bytes.
	Max = 256 << 10
)

// Bytes is a run of bytes, a segment's event JSON, in chunks: every chunk
// but the last is full (len == cap). The zero value is empty. Not safe
// for concurrent use.
type Bytes struct {
	chunks [][]byte
	size   int // bytes appended
	capB   int // sum of the chunks' capacities
}

// Append appends b, taking new chunks from pool (which must be guarded
// by the caller), and returns how many bytes of capacity it added.
func (sb *Bytes) Append(b []byte, pool *Pool) (grown int) {
	for len(b) > 0 {
		last := len(sb.chunks) - 1
		if last < 0 || len(sb.chunks[last]) == cap(sb.chunks[last]) {
			c := pool.Get(chunkSize(sb.size, len(b)))
			sb.chunks = append(sb.chunks, c)
			sb.capB += cap(c)
			grown += cap(c)
			last++
		}
		c := sb.chunks[last]
		n := min(len(b), cap(c)-len(c))
		sb.chunks[last] = append(c, b[:n]...)
		b = b[n:]
		sb.size += n
	}
	return grown
}

// Len returns the bytes appended.
func (sb *Bytes) Len() int { return sb.size }

// Cap returns the capacity of the chunks held, what the bytes cost in
// memory; it stays after Take.
func (sb *Bytes) Cap() int { return sb.capB }

// NumChunks returns the number of chunks held (0 after Take).
func (sb *Bytes) NumChunks() int { return len(sb.chunks) }

// chunkSize is the size of the next chunk of a segment holding size bytes
// that needs room for need more: as much as it holds (at least minChunk,
// at most Max), or a power of two fitting need when that is smaller.
func chunkSize(size, need int) int {
	n := minChunk
	for n < Max && (n < size || n < need) {
		n <<= 1
	}
	return n
}

// View appends to parts the chunks as they are now: bytes that will not
// change, whatever is appended later.
func (sb *Bytes) View(parts [][]byte) [][]byte {
	for _, c := range sb.chunks {
		parts = append(parts, c[:len(c):len(c)])
	}
	return parts
}

// Take returns the chunks and forgets them; the sizes stay.
func (sb *Bytes) Take() [][]byte {
	c := sb.chunks
	sb.chunks = nil
	return c
}

// Pool keeps the chunks of released segments for the next ones, by
// size, so that a sink that keeps its memory limit busy does not leave it
// to the collector to reclaim them and allocate again. It only holds
// chunks that were in use, so the chunks in use and those it keeps
// together never exceed the most ever in use, which the memory limit
// bounds; and Trim lets them go once the sink no longer needs them. The
// zero value is empty. Not safe for concurrent use.
type Pool struct {
	free  [chunkClasses][][]byte
	taken bool // a chunk was taken since the last trim
}

// chunkClasses is the number of chunk sizes: minChunk up to Max.
const chunkClasses = 9

func chunkClass(size int) int {
	c := 0
	for n := minChunk; n < size; n <<= 1 {
		c++
	}
	return c
}

// Get returns an empty chunk of the smallest size that holds size bytes
// (a power of two from minChunk), or of Max bytes when size is
// larger: a kept one if there is one.
func (p *Pool) Get(size int) []byte {
	size = chunkSize(0, size)
	p.taken = true
	free := &p.free[chunkClass(size)]
	if n := len(*free); n > 0 {
		c := (*free)[n-1]
		(*free)[n-1] = nil
		*free = (*free)[:n-1]
		return c
	}
	return make([]byte, 0, size)
}

// Put keeps the chunks of cs, those Get returned, for reuse; the caller
// must not use them afterwards.
func (p *Pool) Put(cs [][]byte) {
	for _, c := range cs {
		if k := chunkClass(cap(c)); k < chunkClasses && cap(c) == minChunk<<k {
			p.free[k] = append(p.free[k], c[:0])
		}
	}
}

// Trim lets half the kept chunks of each size go when none was taken
// since the last Trim.
func (p *Pool) Trim() {
	if p.taken {
		p.taken = false
		return
	}
	for k := range p.free {
		free := p.free[k]
		keep := len(free) / 2
		clear(free[keep:])
		p.free[k] = free[:keep]
		if keep == 0 {
			p.free[k] = nil
		}
	}
}

// Kept returns the capacity of the chunks kept for reuse.
func (p *Pool) Kept() int {
	n := 0
	for _, free := range p.free {
		for _, c := range free {
			n += cap(c)
		}
	}
	return n
}
