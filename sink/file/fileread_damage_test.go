package file

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/sink/internal/sinktest"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// TestReadFileLZ4DamagedFirstMagic: an lz4 file written by two runs holds
// two frames. One damaged byte in the first frame's magic number costs
// that frame only, as damage anywhere else in it does: the file is still
// read as lz4, from the next magic on, not as plain text.
func TestReadFileLZ4DamagedFirstMagic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl.lz4")
	writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(0, 5)}, WithCompression(transport.CompressionLZ4))
	writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(5, 5)}, WithCompression(transport.CompressionLZ4))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[0] ^= 0x01
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, bad := readAll(t, path)
	nums := sinktest.EventNumbers(got)
	t.Logf("read %v, %d bad lines", nums, len(bad))
	if !slices.Equal(nums, sinktest.Seq(5, 5)) {
		t.Fatalf("read events %v, want the intact second frame's %v", nums, sinktest.Seq(5, 5))
	}
}

// TestReadFileLZ4TornFirstHeader: the disk is full when an lz4 sink
// writes its first frame header, and a part of the magic reaches the
// file. Once the disk has room again the sink carries on with a new
// frame, and ReadFile reads it: the file does not start with the magic,
// but it is lz4 all the same.
func TestReadFileLZ4TornFirstHeader(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "trace.jsonl.lz4")
	s, disk := newOnDisk(t, path, WithCompression(transport.CompressionLZ4))
	disk.setRoom(2)
	if err := s.Write(ctx, sinktest.Batch(0, 3)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("first Write = %v, want ENOSPC", err)
	}
	disk.setRoom(-1)
	if err := s.Write(ctx, sinktest.Batch(3, 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	delivered := s.Stats().Delivered
	got, bad := readAll(t, path)
	nums := sinktest.EventNumbers(got)
	t.Logf("delivered %d; read %v, %d bad lines", delivered, nums, len(bad))
	if !slices.Equal(nums, sinktest.Seq(3, 5)) {
		t.Fatalf("sink counted %d delivered, ReadFile returns %v, want %v", delivered, nums, sinktest.Seq(3, 5))
	}
}

// TestReadFileRotationGap: the live file is removed from under a rotating
// sink (a person, or a cleanup job): the next rotation's last rename
// fails, after path.1 was already shifted to path.2. RotatedFiles lists
// every file of the set on disk, past the missing number, and ReadFile
// reads them all.
func TestReadFileRotationGap(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	s, err := New(path, WithMaxBytes(4000), WithMaxFiles(10))
	if err != nil {
		t.Fatal(err)
	}
	// About 700 bytes a line: batches of 5 lines rotate each time.
	for i := range 3 {
		if err := s.Write(ctx, sinktest.Batch(i*5, 5)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	werr := s.Write(ctx, sinktest.Batch(15, 5))
	t.Logf("write after the removal: %v", werr)
	if err := s.Write(ctx, sinktest.Batch(20, 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, sinktest.Batch(25, 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Logf("close: %v", err)
	}
	files, _ := filepath.Glob(path + "*")
	listed, _ := RotatedFiles(path)
	got, _ := readAll(t, path)
	t.Logf("on disk %v; RotatedFiles %v; read %v", files, listed, sinktest.EventNumbers(got))
	if want := countLines(t, files); len(got) != want {
		t.Errorf("read %d events, want the %d lines on disk", len(got), want)
	}
	if len(listed) != len(files) {
		t.Fatalf("RotatedFiles lists %d of the %d files of the set on disk: %v of %v", len(listed), len(files), listed, files)
	}
}

func countLines(t *testing.T, files []string) int {
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range b {
			if c == '\n' {
				n++
			}
		}
	}
	return n
}
