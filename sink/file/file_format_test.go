package file

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/sink/internal/sinktest"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// A sink opened on a file written in the other format (compression
// switched on or off between runs) starts a new file, so that every event
// of both runs stays readable.
func TestFileFormatSwitchOnSamePath(t *testing.T) {
	plain := []Option(nil)
	lz4 := []Option{WithCompression(transport.CompressionLZ4)}
	tests := []struct {
		name          string
		first, second []Option
	}{
		{"plain then lz4", plain, lz4},
		{"lz4 then plain", lz4, plain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "trace.jsonl")
			writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(0, 20)}, tt.first...)
			s := writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(20, 20)}, tt.second...)
			if got := s.Stats().Rotations; got != 1 {
				t.Errorf("Stats().Rotations = %d, want 1 (the file of the other format)", got)
			}
			got, bad := readAll(t, path)
			if len(bad) > 0 {
				t.Fatalf("%d lines skipped, the first: %v", len(bad), bad[0])
			}
			sameEvents(t, got, sinktest.Batch(0, 40))
			files, err := RotatedFiles(path)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{rotatedName(path, 1), path}; !slices.Equal(files, want) {
				t.Fatalf("RotatedFiles = %q, want %q", files, want)
			}
			// A third run in the second format appends to the new file.
			s = writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(40, 5)}, tt.second...)
			if got := s.Stats().Rotations; got != 0 {
				t.Errorf("third run: Stats().Rotations = %d, want 0", got)
			}
			got, bad = readAll(t, path)
			if len(bad) > 0 {
				t.Fatalf("third run: %d lines skipped, the first: %v", len(bad), bad[0])
			}
			sameEvents(t, got, sinktest.Batch(0, 45))
		})
	}
}

// With no rotated file to keep (WithMaxFiles(0)), New refuses a file of
// the other format instead of deleting it, and leaves it as it was.
func TestFileFormatSwitchWithoutRotatedFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(0, 5)})
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(path, WithCompression(transport.CompressionLZ4), WithMaxFiles(0))
	if !errors.Is(err, ErrFormatMismatch) {
		if s != nil {
			_ = s.Close(t.Context())
		}
		t.Fatalf("New = %v, want an error wrapping ErrFormatMismatch", err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Fatalf("New changed the file it refused: %d bytes, was %d", len(after), len(before))
	}
}

// New's ErrFormatMismatch error names what the file holds and what the
// sink writes, in that order.
func TestFormatMismatchMessage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(0, 2)})
	s, err := New(path, WithCompression(transport.CompressionLZ4), WithMaxFiles(0))
	if s != nil {
		s.Close(t.Context())
	}
	if !errors.Is(err, ErrFormatMismatch) {
		t.Fatalf("New = %v", err)
	}
	if !strings.Contains(err.Error(), "holds plain JSON Lines and the sink writes lz4 frames") {
		t.Fatalf("New = %q: the file holds plain JSON Lines, the sink writes lz4", err)
	}
}
