package chunks

import (
	"bytes"
	"testing"
)

func TestBytesAppendAndView(t *testing.T) {
	var pool Pool
	var sb Bytes
	var want []byte
	var views [][][]byte
	var seen []int
	for i := range 3000 {
		js := bytes.Repeat([]byte{byte('a' + i%26)}, 100+i%900)
		sb.Append(js, &pool)
		want = append(want, js...)
		if i%97 == 0 {
			views = append(views, sb.View(nil))
			seen = append(seen, len(want))
		}
	}
	if sb.size != len(want) || !bytes.Equal(bytes.Join(sb.View(nil), nil), want) {
		t.Fatalf("segment holds %d bytes, want the %d appended", sb.size, len(want))
	}
	// A view does not change as the segment grows.
	for i, v := range views {
		if got := bytes.Join(v, nil); !bytes.Equal(got, want[:seen[i]]) {
			t.Fatalf("view %d changed: %d bytes, want %d", i, len(got), seen[i])
		}
	}
	// Capacity: chunks double up to Max, so at most one chunk and the
	// small ones are spare.
	if spare := sb.capB - sb.size; spare > 2*Max {
		t.Fatalf("%d bytes held for %d, %d spare", sb.capB, sb.size, spare)
	}
	for i, c := range sb.chunks[:len(sb.chunks)-1] {
		if len(c) != cap(c) {
			t.Fatalf("chunk %d not full: %d of %d", i, len(c), cap(c))
		}
	}
}

func TestPoolReusesAndTrims(t *testing.T) {
	var pool Pool
	var a Bytes
	a.Append(make([]byte, 3*Max), &pool)
	chunks := a.Take()
	pool.Put(chunks)
	var b Bytes
	b.Append(make([]byte, 3*Max), &pool)
	// b takes a's chunks, the small ones too, allocating none.
	reused := 0
	for _, c := range b.chunks {
		for _, o := range chunks {
			if &c[:1][0] == &o[:1][0] {
				reused++
			}
		}
	}
	if reused != len(chunks) || len(b.chunks) != len(chunks) {
		t.Fatalf("%d of %d chunks reused, the second segment has %d", reused, len(chunks), len(b.chunks))
	}
	pool.Put(b.Take())
	kept := func() (n int) {
		for _, f := range pool.free {
			n += len(f)
		}
		return n
	}
	pool.Trim() // b took chunks since the last trim: kept
	if kept() != len(chunks) {
		t.Fatalf("trim after use kept %d of %d chunks", kept(), len(chunks))
	}
	for range 10 {
		pool.Trim()
	}
	if kept() != 0 {
		t.Fatalf("idle trims left %d chunks", kept())
	}
}

func TestBuffersReuse(t *testing.T) {
	l := NewBuffers(0)
	if cap(l) != 4 {
		t.Fatalf("NewBuffers(0) keeps %d buffers, want 4", cap(l))
	}
	b := l.Get()
	if len(*b) != 0 || cap(*b) == 0 {
		t.Fatalf("a new buffer has len %d, cap %d", len(*b), cap(*b))
	}
	*b = append(*b, "some bytes"...)
	l.Put(b)
	if got := l.Get(); got != b || len(*got) != 0 {
		t.Fatalf("Get after Put returned %p (len %d), want the buffer put, emptied", got, len(*got))
	}
	big := make([]byte, 0, 1<<20)
	l.Put(&big)
	l.Put(nil)
	if len(l) != 0 {
		t.Fatalf("%d buffers kept, want none: nil and a buffer over 256 KiB are left", len(l))
	}
	for range cap(l) + 1 { // the last Put finds Buffers full and does not block
		nb := make([]byte, 0, 1<<10)
		l.Put(&nb)
	}
	if len(l) != cap(l) {
		t.Fatalf("%d buffers kept, want %d", len(l), cap(l))
	}
}
