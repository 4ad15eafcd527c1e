package file

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/sink/internal/sinktest"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// lz4Session writes events 0..5 to an lz4 file in three flushed
// blocks and closes it; it returns the file and each flush's file size.
func lz4Session(t *testing.T, path string) (full []byte, sizes []int64) {
	t.Helper()
	s, err := New(path, WithCompression(transport.CompressionLZ4))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i += 2 {
		if err := s.Write(t.Context(), sinktest.Batch(i, 2)); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, fi.Size())
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	full, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return full, sizes
}

// reopenAfterCrash leaves data[:cut] at path (a crash), reopens the
// sink, writes events 1000..1002, closes and returns what ReadFile reads.
func reopenAfterCrash(t *testing.T, path string, data []byte, cut int64, opts ...Option) []int {
	t.Helper()
	if err := os.WriteFile(path, data[:cut], 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(path, opts...)
	if err != nil {
		t.Fatalf("New after a crash at %d: %v", cut, err)
	}
	if err := s.Write(t.Context(), sinktest.Batch(1000, 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var nums []int
	for ev, err := range ReadFile(path) {
		var c *CorruptLineError
		if err != nil && !errors.As(err, &c) {
			t.Fatalf("ReadFile: %v", err)
		}
		if err == nil {
			nums = append(nums, sinktest.EventNumbers([]tracing.TraceEvent{ev})...)
		}
	}
	return nums
}

// A crash that cut the content checksum after the end mark of the last
// frame (the end mark itself whole): the new frame appended after it reads
// back.
func TestLZ4CrashInContentChecksum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl.lz4")
	full, _ := lz4Session(t, path)
	cut := int64(len(full)) - 4 + 1 // end mark whole, 1 of 4 checksum bytes
	nums := reopenAfterCrash(t, path, full, cut, WithCompression(transport.CompressionLZ4))
	if !slices.Equal(nums, append(sinktest.Seq(0, 6), sinktest.Seq(1000, 3)...)) {
		t.Fatalf("read %v, want 0..5 and the acknowledged 1000..1002", nums)
	}
}

// A crash that cut the last block exactly 7 bytes (a frame header's size)
// short: the new frame's header would fill the torn block, and its first
// line be glued to the torn one; New cuts the torn block off first.
func TestLZ4CrashInBlockAFrameHeaderShort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl.lz4")
	full, sizes := lz4Session(t, path)
	cut := sizes[0] - 7 // inside the first block: events 0 and 1
	nums := reopenAfterCrash(t, path, full, cut, WithCompression(transport.CompressionLZ4))
	if len(nums) < 3 || !slices.Equal(nums[len(nums)-3:], sinktest.Seq(1000, 3)) {
		t.Fatalf("read %v, want the acknowledged 1000..1002 at the end", nums)
	}
}

// A crash that left only the first 1..3 bytes of an lz4 file (a torn
// frame magic): it is the sink's own format, not the other one.
func TestLZ4TornMagicIsTheSinksOwn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl.lz4")
	full, _ := lz4Session(t, path)
	for cut := int64(1); cut < 4; cut++ {
		if err := os.WriteFile(path, full[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := New(path, WithCompression(transport.CompressionLZ4), WithMaxFiles(0))
		if err != nil {
			t.Errorf("cut %d: New: %v", cut, err)
			continue
		}
		if err := s.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// A damaged block in the middle of a frame (one session writes one
// frame): the events of the blocks after it are still read.
func TestLZ4DamagedBlockKeepsTheRestOfTheFrame(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl.lz4")
	s, err := New(path, WithCompression(transport.CompressionLZ4))
	if err != nil {
		t.Fatal(err)
	}
	const n = 600
	if err := s.Write(t.Context(), sinktest.Batch(0, n)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Walk the blocks: 7-byte frame header, then size, data.
	off := 7
	var blocks [][2]int
	for {
		size := int(binary.LittleEndian.Uint32(data[off:]) & 0x7fffffff)
		if size == 0 {
			break
		}
		blocks = append(blocks, [2]int{off + 4, off + 4 + size})
		off += 4 + size
	}
	if len(blocks) < 4 {
		t.Fatalf("only %d blocks", len(blocks))
	}
	// Wreck the second block's data: a block that cannot be decoded.
	for i := blocks[1][0]; i < blocks[1][1]; i++ {
		data[i] = 0xff
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, bad := readAll(t, path)
	nums := sinktest.EventNumbers(got)
	if len(bad) == 0 {
		t.Fatal("damage not reported")
	}
	if len(nums) == 0 || nums[len(nums)-1] != n-1 {
		t.Fatalf("read %d events (last %v) of %d, with %d blocks and 1 damaged: the events after it are lost", len(nums), nums[max(len(nums)-1, 0):], n, len(blocks))
	}
}

// The same torn block, left by a failed write (a full disk) rather than a
// crash: once the disk has room again the sink cuts it off before it
// starts a new frame, and the first line after it reads back.
func TestLZ4FullDiskTornBlockIsCut(t *testing.T) {
	dir := t.TempDir()
	// Learn the size of the block of one line.
	probe := filepath.Join(dir, "probe")
	ps, err := New(probe, WithCompression(transport.CompressionLZ4))
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.Write(t.Context(), sinktest.Batch(0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := ps.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(probe)
	if err != nil {
		t.Fatal(err)
	}
	ps.Close(t.Context())
	block := fi.Size() - 7 // block size field and data

	path := filepath.Join(dir, "trace.jsonl.lz4")
	s, d := newOnDisk(t, path, WithCompression(transport.CompressionLZ4))
	if err := s.Write(t.Context(), sinktest.Batch(0, 1)); err != nil {
		t.Fatal(err)
	}
	d.setRoom(block - 7) // the block is cut a frame header short
	if err := s.Flush(t.Context()); err == nil {
		t.Fatal("Flush on a full disk succeeded")
	}
	d.setRoom(-1)
	if err := s.Write(t.Context(), sinktest.Batch(1, 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, s, 3, map[string]uint64{DropWriteError: 1})
	got, _ := readAll(t, path)
	if nums := sinktest.EventNumbers(got); !slices.Equal(nums, sinktest.Seq(1, 3)) {
		t.Fatalf("read %v, want the 3 delivered events 1..3", nums)
	}
}

// A crash at any byte of an lz4 file: New and a Write after it succeed,
// ReadFile reads every event whose Flush returned before the crash, in
// order, none twice, and then the events written after the crash.
func TestLZ4CrashAtEveryByte(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl.lz4")
	full, sizes := lz4Session(t, path)
	for cut := int64(1); cut < int64(len(full)); cut++ {
		nums := reopenAfterCrash(t, path, full, cut, WithCompression(transport.CompressionLZ4))
		acked := 0 // events 0..acked-1 were flushed whole before the cut
		for k, sz := range sizes {
			if sz <= cut {
				acked = 2 * (k + 1)
			}
		}
		if len(nums) < acked+3 || !slices.Equal(nums[:acked], sinktest.Seq(0, acked)) ||
			!slices.Equal(nums[len(nums)-3:], sinktest.Seq(1000, 3)) || !slices.IsSorted(nums) || len(slices.Compact(slices.Clone(nums))) != len(nums) {
			t.Fatalf("cut at %d of %d: read %v, want 0..%d, then 1000..1002", cut, len(full), nums, acked-1)
		}
	}
}
