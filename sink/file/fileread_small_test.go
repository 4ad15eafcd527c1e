package file

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"github.com/pierrec/lz4/v4"

	"github.com/reflowtrace/reflowtrace-go/sink/internal/sinktest"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// TestReadSmallFileAllocatesLittle checks that reading a file of one line
// allocates in proportion to the file, not to the largest block or buffer
// it could hold: a small lz4 frame declaring 4 MiB blocks included.
func TestReadSmallFileAllocatesLittle(t *testing.T) {
	var enc wire.Encoder
	ev := sinktest.Event(1)
	line := appendFileLine(&enc, nil, &ev)
	var z bytes.Buffer
	zw := lz4.NewWriter(&z)
	if err := zw.Apply(lz4.BlockSizeOption(lz4.Block4Mb)); err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(line); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{name: "plain", data: line},
		{name: "lz4 with 4 MiB blocks", data: z.Bytes()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			evs, bad := readBytes(t, tt.name, tt.data)
			runtime.ReadMemStats(&after)
			if len(evs) != 1 || len(bad) != 0 {
				t.Fatalf("read %d events, %d bad lines", len(evs), len(bad))
			}
			// 64 KiB of read buffer for an lz4 file, and the events.
			if n := after.TotalAlloc - before.TotalAlloc; n > 256<<10 {
				t.Fatalf("reading %d bytes allocated %d bytes", len(tt.data), n)
			}
		})
	}
}

// lz4FrameHeader returns the header of an LZ4 frame of independent 4 MiB
// blocks, followed by the header of a block of n bytes, raw or not.
func lz4FrameHeader(n int, raw bool) []byte {
	h := append([]byte{}, lz4FrameMagic...)
	h = append(h, 0x60, 0x70, 0) // version 1, independent blocks; 4 MiB; header checksum (not checked)
	size := uint32(n)
	if raw {
		size |= 0x80000000
	}
	return binary.LittleEndian.AppendUint32(h, size)
}

// TestReadDamagedLZ4IsBounded checks that reading damaged lz4 input costs
// memory and work in proportion to the input, whatever its sizes claim:
// a frame claiming a block larger than the file, a run of frame magic
// numbers (each a damaged frame to resynchronize after), and frames
// nested in the raw blocks of frames cut short (each resynchronization
// finds the next one inside the block it just read).
func TestReadDamagedLZ4IsBounded(t *testing.T) {
	nested := []byte("{}\n")
	for len(nested) < 64<<10 {
		nested = append(lz4FrameHeader(len(nested), true), nested...)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{name: "a block claiming 4 MiB", data: append(lz4FrameHeader(4<<20, false), "xx"...)},
		{name: "frame magic repeated", data: bytes.Repeat(lz4FrameMagic, 16<<10)},
		{name: "nested frames", data: nested},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			yields := 0
			readEvents(tt.name, bytes.NewReader(tt.data), int64(len(tt.data)), func(_ tracing.TraceEvent, err error) bool {
				var c *CorruptLineError
				if err != nil && !errors.As(err, &c) {
					t.Fatalf("fatal error: %v", err)
				}
				yields++
				return true
			})
			runtime.ReadMemStats(&after)
			// 64 KiB of read buffer, a scan window, and an error per
			// skipped region.
			if n, limit := after.TotalAlloc-before.TotalAlloc, uint64(256<<10+64*len(tt.data)); n > limit {
				t.Errorf("reading %d bytes allocated %d bytes, want at most %d", len(tt.data), n, limit)
			}
			if yields > len(tt.data) {
				t.Errorf("reading %d bytes yielded %d events and errors", len(tt.data), yields)
			}
		})
	}
}

// TestFindMagic checks the search for the next frame over the file read
// in windows: a magic number straddling two windows is found, and so is
// each of several, searched in increasing order as broken does.
func TestFindMagic(t *testing.T) {
	tests := []struct {
		name string
		at   []int // offsets of the magic numbers in a file of 3 windows
	}{
		{name: "none"},
		{name: "at the start", at: []int{0}},
		{name: "straddling a window", at: []int{lz4ScanBytes - 2}},
		{name: "right after a window", at: []int{lz4ScanBytes - 3 + 4}},
		{name: "at the end", at: []int{3*lz4ScanBytes - 4}},
		{name: "several", at: []int{5, 9, lz4ScanBytes - 1, 2*lz4ScanBytes + 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := make([]byte, 3*lz4ScanBytes)
			for _, at := range tt.at {
				copy(data[at:], lz4FrameMagic)
			}
			z := &lz4Frames{ra: bytes.NewReader(data), size: int64(len(data))}
			from := int64(0)
			for _, want := range append(tt.at, len(data)) {
				if got := z.findMagic(from); got != int64(want) {
					t.Fatalf("findMagic(%d) = %d, want %d", from, got, want)
				}
				from = int64(want) + 1
			}
		})
	}
}
