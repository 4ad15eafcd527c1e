package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/sink/internal/sinktest"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// readAll reads the file set at path and returns its events and skipped
// lines; a fatal error fails the test.
func readAll(t testing.TB, path string) ([]tracing.TraceEvent, []*CorruptLineError) {
	t.Helper()
	var evs []tracing.TraceEvent
	var bad []*CorruptLineError
	for ev, err := range ReadFile(path) {
		var c *CorruptLineError
		switch {
		case err == nil:
			evs = append(evs, ev)
		case errors.As(err, &c):
			bad = append(bad, c)
		default:
			t.Fatalf("ReadFile(%s): %v", path, err)
		}
	}
	return evs, bad
}

// normalized returns evs with the differences a JSON round trip may make
// removed: empty byte slices and chains become nil.
func normalized(evs []tracing.TraceEvent) []tracing.TraceEvent {
	out := make([]tracing.TraceEvent, len(evs))
	for i := range evs {
		ev := evs[i]
		if len(ev.Data.Message.SerializedData) == 0 {
			ev.Data.Message.SerializedData = nil
		}
		if len(ev.Data.StateDiff.After) == 0 {
			ev.Data.StateDiff.After = nil
		}
		if len(ev.Causality.DependencyChain) == 0 {
			ev.Causality.DependencyChain = nil
		}
		out[i] = ev
	}
	return out
}

func sameEvents(t testing.TB, got, want []tracing.TraceEvent) {
	t.Helper()
	if err := sinktest.EventsEqual(normalized(got), normalized(want)); err != nil {
		t.Fatal(err)
	}
}

// writeFile writes batches of events to a new File sink at path and closes
// it.
func writeFile(t testing.TB, path string, batches [][]tracing.TraceEvent, opts ...Option) *Sink {
	t.Helper()
	s, err := New(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if err := s.Write(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFileRoundTrip(t *testing.T) {
	rich := []tracing.TraceEvent{sinktest.RichEvent(1), sinktest.RichEvent(2)}
	noTrace := sinktest.Batch(10, 3)
	for i := range noTrace {
		noTrace[i].TraceID = tracing.TraceID{}
	}
	tests := []struct {
		name     string
		opts     []Option
		sessions [][][]tracing.TraceEvent // each session opens, writes, closes
	}{
		{name: "plain", sessions: [][][]tracing.TraceEvent{{sinktest.Batch(0, 5), sinktest.Batch(5, 5)}}},
		{name: "lz4", opts: []Option{WithCompression(transport.CompressionLZ4)}, sessions: [][][]tracing.TraceEvent{{sinktest.Batch(0, 5), sinktest.Batch(5, 5)}}},
		{name: "rich events plain", sessions: [][][]tracing.TraceEvent{{rich}}},
		{name: "rich events lz4", opts: []Option{WithCompression(transport.CompressionLZ4)}, sessions: [][][]tracing.TraceEvent{{rich}}},
		{name: "no trace id", sessions: [][][]tracing.TraceEvent{{noTrace}}},
		{name: "appends across opens plain", sessions: [][][]tracing.TraceEvent{{sinktest.Batch(0, 3)}, {sinktest.Batch(3, 3)}, {nil, sinktest.Batch(6, 1)}}},
		{name: "appends frames across opens lz4", opts: []Option{WithCompression(transport.CompressionLZ4)}, sessions: [][][]tracing.TraceEvent{{sinktest.Batch(0, 3)}, {}, {sinktest.Batch(3, 3)}}},
		{name: "many blocks lz4", opts: []Option{WithCompression(transport.CompressionLZ4)}, sessions: [][][]tracing.TraceEvent{{sinktest.Batch(0, 2000)}}},
		{name: "small buffer", opts: []Option{WithBufferBytes(7)}, sessions: [][][]tracing.TraceEvent{{sinktest.Batch(0, 20)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "trace.jsonl")
			var want []tracing.TraceEvent
			var events uint64
			for _, batches := range tt.sessions {
				s := writeFile(t, path, batches, tt.opts...)
				for _, b := range batches {
					want = append(want, b...)
				}
				events += s.Stats().Events
			}
			got, bad := readAll(t, path)
			if len(bad) > 0 {
				t.Fatalf("skipped lines: %v", bad[0])
			}
			sameEvents(t, got, want)
			if events != uint64(len(want)) {
				t.Fatalf("Stats counted %d events, want %d", events, len(want))
			}
		})
	}
}

func TestFileLinesAreProtocolEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	ev := sinktest.Event(1)
	writeFile(t, path, [][]tracing.TraceEvent{{ev}})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var enc wire.Encoder
	want := `{"trace_id":"` + sinktest.Trace.String() + `",` + string(enc.AppendEvent(nil, &ev)[1:]) + "\n"
	if string(data) != want {
		t.Fatalf("file holds\n%s\nwant\n%s", data, want)
	}
	// The line decodes as a protocol TraceEvent.
	var back tracing.TraceEvent
	if err := wire.Unmarshal(bytes.TrimSpace(data), &back); err != nil {
		t.Fatal(err)
	}
	if back.EventID != ev.EventID {
		t.Fatalf("decoded id %v", back.EventID)
	}
}

func TestFileOptionsValidation(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		path    string
		opts    []Option
		wantErr error
		wantIn  string // in the error, besides the path
	}{
		{name: "defaults", path: "a.jsonl"},
		{name: "nil option ignored", path: "b.jsonl", opts: []Option{nil}},
		{name: "empty path", path: "", wantErr: sink.ErrInvalidOption},
		{name: "negative max bytes", path: "c.jsonl", opts: []Option{WithMaxBytes(-1)}, wantErr: sink.ErrInvalidOption},
		{name: "negative max files", path: "c.jsonl", opts: []Option{WithMaxFiles(-1)}, wantErr: sink.ErrInvalidOption},
		{name: "huge max files", path: "c.jsonl", opts: []Option{WithMaxFiles(1 << 40)}, wantErr: sink.ErrInvalidOption, wantIn: "WithMaxFiles(1099511627776): want at most 4096"},
		{name: "no compression", path: "g.jsonl", opts: []Option{WithCompression(transport.CompressionNone)}},
		{name: "lz4", path: "h.jsonl", opts: []Option{WithCompression(transport.CompressionLZ4)}},
		{name: "zstd", path: "c.jsonl", opts: []Option{WithCompression(transport.CompressionZstd)}, wantErr: sink.ErrInvalidOption, wantIn: "WithCompression(zstd)"},
		{name: "gzip", path: "c.jsonl", opts: []Option{WithCompression(transport.CompressionGzip)}, wantErr: sink.ErrInvalidOption, wantIn: "WithCompression(gzip)"},
		{name: "auto", path: "c.jsonl", opts: []Option{WithCompression(transport.CompressionAuto)}, wantErr: sink.ErrInvalidOption, wantIn: "WithCompression(auto)"},
		{name: "sync every 0 records", path: "c.jsonl", opts: []Option{WithSync(sink.SyncEvery(0))}, wantErr: sink.ErrInvalidOption, wantIn: "WithSync(every 0 records)"},
		{name: "sync every -3 records", path: "c.jsonl", opts: []Option{WithSync(sink.SyncEvery(-3))}, wantErr: sink.ErrInvalidOption},
		{name: "sync interval 0", path: "c.jsonl", opts: []Option{WithSync(sink.SyncInterval(0))}, wantErr: sink.ErrInvalidOption, wantIn: "WithSync(every 0s)"},
		{name: "sync interval", path: "f.jsonl", opts: []Option{WithSync(sink.SyncInterval(time.Second))}},
		{name: "zero buffer", path: "c.jsonl", opts: []Option{WithBufferBytes(0)}, wantErr: sink.ErrInvalidOption, wantIn: "WithBufferBytes(0)"},
		{name: "huge buffer", path: "c.jsonl", opts: []Option{WithBufferBytes(1 << 40)}, wantErr: sink.ErrInvalidOption, wantIn: "WithBufferBytes(1099511627776): want at most 1073741824"},
		{name: "missing directory", path: "missing/d.jsonl", wantErr: os.ErrNotExist},
		{name: "every sync", path: "e.jsonl", opts: []Option{WithSync(sink.SyncEvery(1)), WithMaxBytes(10), WithMaxFiles(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path != "" {
				path = filepath.Join(dir, path)
			}
			s, err := New(path, tt.opts...)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("New = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "sink: file") || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.wantIn) {
					t.Fatalf("error %q does not name the sink, the path and %q", err, tt.wantIn)
				}
				return
			}
			if err := s.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFileLifecycle(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name    string
		run     func(s *Sink) error
		wantErr error
		want    int // events in the file afterwards
	}{
		{name: "nil batch", run: func(s *Sink) error { return s.Write(t.Context(), nil) }},
		{name: "empty batch", run: func(s *Sink) error { return s.Write(t.Context(), []tracing.TraceEvent{}) }},
		{name: "flush delivers", run: func(s *Sink) error {
			if err := s.Write(t.Context(), sinktest.Batch(0, 3)); err != nil {
				return err
			}
			return s.Flush(t.Context())
		}, want: 3},
		{name: "close twice", run: func(s *Sink) error {
			_ = s.Write(t.Context(), sinktest.Batch(0, 2))
			return errors.Join(s.Close(t.Context()), s.Close(t.Context()), s.Close(cancelled))
		}, want: 2},
		{name: "close with cancelled ctx still writes", run: func(s *Sink) error {
			_ = s.Write(t.Context(), sinktest.Batch(0, 2))
			return s.Close(cancelled)
		}, want: 2},
		{name: "write after close", run: func(s *Sink) error {
			_ = s.Close(t.Context())
			return s.Write(t.Context(), sinktest.Batch(0, 1))
		}, wantErr: tracing.ErrClosed},
		{name: "flush after close", run: func(s *Sink) error {
			_ = s.Close(t.Context())
			return s.Flush(t.Context())
		}, wantErr: tracing.ErrClosed},
		{name: "flush with cancelled ctx", run: func(s *Sink) error { return s.Flush(cancelled) }, wantErr: context.Canceled},
		{name: "write with cancelled ctx", run: func(s *Sink) error { return s.Write(cancelled, sinktest.Batch(0, 1)) }, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		for _, lz := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/lz4=%v", tt.name, lz), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "trace.jsonl")
				var opts []Option
				if lz {
					opts = append(opts, WithCompression(transport.CompressionLZ4))
				}
				s, err := New(path, opts...)
				if err != nil {
					t.Fatal(err)
				}
				err = tt.run(s)
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
				if err != nil && !strings.Contains(err.Error(), path) {
					t.Fatalf("error %q does not name the path", err)
				}
				if err := s.Close(t.Context()); err != nil {
					t.Fatal(err)
				}
				got, bad := readAll(t, path)
				if len(got) != tt.want || len(bad) != 0 {
					t.Fatalf("file holds %d events and %d bad lines, want %d events", len(got), len(bad), tt.want)
				}
			})
		}
	}
}

func TestFileRotation(t *testing.T) {
	// One line of sinktest.Event is about 700 bytes.
	tests := []struct {
		name      string
		opts      []Option
		events    int
		wantFiles int  // rotated files kept, besides the live one
		wantAll   bool // every event is still there
	}{
		{name: "keeps every file", opts: []Option{WithMaxBytes(4000), WithMaxFiles(100)}, events: 40, wantFiles: 7, wantAll: true},
		{name: "deletes the oldest", opts: []Option{WithMaxBytes(4000), WithMaxFiles(2)}, events: 40, wantFiles: 2},
		{name: "keeps none", opts: []Option{WithMaxBytes(4000), WithMaxFiles(0)}, events: 40, wantFiles: 0},
		{name: "line larger than max", opts: []Option{WithMaxBytes(10), WithMaxFiles(100)}, events: 6, wantFiles: 5, wantAll: true},
		{name: "no rotation by default", events: 40, wantFiles: 0, wantAll: true},
		// An lz4 file holds a frame header once written to: each line
		// then goes to a file of its own.
		{name: "lz4 keeps every file", opts: []Option{WithCompression(transport.CompressionLZ4), WithMaxBytes(1), WithMaxFiles(100)}, events: 12, wantFiles: 11, wantAll: true},
		{name: "lz4 deletes the oldest", opts: []Option{WithCompression(transport.CompressionLZ4), WithMaxBytes(1), WithMaxFiles(3)}, events: 12, wantFiles: 3},
		{name: "lz4 by size", opts: []Option{WithCompression(transport.CompressionLZ4), WithMaxBytes(300), WithMaxFiles(100), WithSync(sink.SyncEvery(1))}, events: 20, wantFiles: 9, wantAll: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "trace.jsonl")
			var batches [][]tracing.TraceEvent
			for i := 0; i < tt.events; i += 2 {
				batches = append(batches, sinktest.Batch(i, 2))
			}
			s := writeFile(t, path, batches, tt.opts...)
			files, err := RotatedFiles(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != tt.wantFiles+1 || files[len(files)-1] != path {
				t.Fatalf("files %v, want %d rotated and the live one", files, tt.wantFiles)
			}
			if _, err := os.Stat(rotatedName(path, tt.wantFiles+1)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s exists: %v", rotatedName(path, tt.wantFiles+1), err)
			}
			if st := s.Stats(); st.Rotations < uint64(tt.wantFiles) || (tt.wantAll && st.Rotations != uint64(tt.wantFiles)) {
				t.Fatalf("Stats().Rotations = %d", st.Rotations)
			}
			cfg := s.cfg
			for _, f := range files {
				fi, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				// A plain file stays within the limit unless it holds a
				// single line.
				if !cfg.lz4 && cfg.maxBytes > 100 && fi.Size() > cfg.maxBytes {
					t.Fatalf("%s has %d bytes, more than %d", f, fi.Size(), cfg.maxBytes)
				}
			}
			got, bad := readAll(t, path)
			if len(bad) > 0 {
				t.Fatal(bad[0])
			}
			// Every event exactly once, in order: a suffix of what was
			// written, or all of it.
			nums := sinktest.EventNumbers(got)
			if len(nums) == 0 || (tt.wantAll && len(nums) != tt.events) {
				t.Fatalf("read %d events, wrote %d", len(nums), tt.events)
			}
			if !slices.Equal(nums, sinktest.Seq(tt.events-len(nums), len(nums))) {
				t.Fatalf("read %v", nums)
			}
		})
	}
}

func TestFileTornTail(t *testing.T) {
	torn := []byte(`{"trace_id":"0191f3b2-7c4e-7a10-9d2f-3b5c8e0f1a22","event_id":"0191f3b2-7c4e`)
	tests := []struct {
		name string
		tail []byte // appended to a file holding events 0..4
		// after reading: events, skipped lines and whether the last was torn
		wantTorn bool
		wantBad  int
	}{
		{name: "torn line", tail: torn, wantTorn: true, wantBad: 1},
		{name: "garbage line", tail: []byte("not json\n"), wantBad: 1},
		{name: "blank lines", tail: []byte("\n\n  \n"), wantBad: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "trace.jsonl")
			writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(0, 5)})
			appendBytes(t, path, tt.tail)
			got, bad := readAll(t, path)
			if !slices.Equal(sinktest.EventNumbers(got), sinktest.Seq(0, 5)) || len(bad) != tt.wantBad {
				t.Fatalf("read %v and %d bad lines", sinktest.EventNumbers(got), len(bad))
			}
			if tt.wantBad > 0 && (bad[0].Torn != tt.wantTorn || bad[0].Line != 6 || bad[0].Path != path) {
				t.Fatalf("bad line %+v", bad[0])
			}
			// Appending again starts on a fresh line: only the damaged line
			// is lost.
			writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(5, 2)})
			got, bad = readAll(t, path)
			if !slices.Equal(sinktest.EventNumbers(got), sinktest.Seq(0, 7)) || len(bad) != tt.wantBad {
				t.Fatalf("after append: read %v and %d bad lines", sinktest.EventNumbers(got), len(bad))
			}
		})
	}
}

func TestFileTornTailWithoutNewlineParses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(0, 3)})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.TrimSuffix(data, []byte("\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	got, bad := readAll(t, path)
	if !slices.Equal(sinktest.EventNumbers(got), sinktest.Seq(0, 3)) || len(bad) != 0 {
		t.Fatalf("read %v, %d bad", sinktest.EventNumbers(got), len(bad))
	}
}

func appendBytes(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// lz4Crash writes events 0..9 in two flushed blocks to an lz4 file without
// closing it properly and returns the file's size after each flush.
func lz4Crash(t *testing.T, path string) (first, second int64) {
	t.Helper()
	s, err := New(path, WithCompression(transport.CompressionLZ4))
	if err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if err := s.Write(t.Context(), sinktest.Batch(0, 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	first = size()
	if err := s.Write(t.Context(), sinktest.Batch(5, 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	second = size()
	// The process "dies" here: copy what is on disk, then let the sink
	// finish so the test leaks no descriptor.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return first, second
}

func TestFileLZ4Torn(t *testing.T) {
	tests := []struct {
		name     string
		cut      func(first, second int64) int64 // the file's new length
		wantRead []int
		wantBad  int
	}{
		{name: "cut after a whole block", cut: func(_, second int64) int64 { return second }, wantRead: sinktest.Seq(0, 10)},
		{name: "cut inside the second block", cut: func(first, second int64) int64 { return (first + second) / 2 }, wantRead: sinktest.Seq(0, 5), wantBad: 1},
		{name: "cut inside a block header", cut: func(first, _ int64) int64 { return first + 2 }, wantRead: sinktest.Seq(0, 5), wantBad: 1},
		{name: "cut inside the frame header", cut: func(int64, int64) int64 { return 5 }, wantBad: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "trace.jsonl.lz4")
			first, second := lz4Crash(t, path)
			if err := os.Truncate(path, tt.cut(first, second)); err != nil {
				t.Fatal(err)
			}
			got, bad := readAll(t, path)
			if !slices.Equal(sinktest.EventNumbers(got), tt.wantRead) || len(bad) != tt.wantBad {
				t.Fatalf("read %v and %v", sinktest.EventNumbers(got), bad)
			}
			if tt.wantBad > 0 && !bad[0].Torn {
				t.Fatalf("bad line %+v is not torn", bad[0])
			}
			// Appending after the crash cuts the torn part off and adds a
			// new frame that reads back.
			st := writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(100, 3)}, WithCompression(transport.CompressionLZ4)).Stats()
			got, bad = readAll(t, path)
			if !slices.Equal(sinktest.EventNumbers(got), append(tt.wantRead, sinktest.Seq(100, 3)...)) || len(bad) != 0 {
				t.Fatalf("after append: read %v and %v", sinktest.EventNumbers(got), bad)
			}
			if cut := st.CutBytes > 0; cut != (tt.wantBad > 0) {
				t.Fatalf("after append: Stats.CutBytes = %d for a file torn: %v", st.CutBytes, tt.wantBad > 0)
			}
		})
	}
}

func TestFileLZ4DamagedMiddleFrame(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl.lz4")
	writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(0, 5)}, WithCompression(transport.CompressionLZ4))
	fi, _ := os.Stat(path)
	firstEnd := fi.Size()
	writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(5, 5)}, WithCompression(transport.CompressionLZ4))
	writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(10, 5)}, WithCompression(transport.CompressionLZ4))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Damage the second frame's block.
	for i := firstEnd + 20; i < firstEnd+60; i++ {
		data[i] ^= 0x5a
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, bad := readAll(t, path)
	nums := sinktest.EventNumbers(got)
	// Frames 1 and 3 survive; what survives of frame 2 is only lines that
	// still decode.
	if !slices.Equal(nums[:5], sinktest.Seq(0, 5)) || !slices.Equal(nums[len(nums)-5:], sinktest.Seq(10, 5)) || len(bad) == 0 {
		t.Fatalf("read %v and %d bad lines", nums, len(bad))
	}
}

func TestFileLZ4ReadableByLz4cat(t *testing.T) {
	lz4cat, err := exec.LookPath("lz4cat")
	if err != nil {
		t.Skip("lz4cat not installed")
	}
	dir := t.TempDir()
	plain, compressed := filepath.Join(dir, "trace.jsonl"), filepath.Join(dir, "trace.jsonl.lz4")
	for _, b := range [][]tracing.TraceEvent{sinktest.Batch(0, 300), {sinktest.RichEvent(1)}} {
		// Two opens: the lz4 file holds two frames.
		writeFile(t, plain, [][]tracing.TraceEvent{b})
		writeFile(t, compressed, [][]tracing.TraceEvent{b}, WithCompression(transport.CompressionLZ4))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, lz4cat, compressed).Output()
	if err != nil {
		t.Fatalf("lz4cat: %v", err)
	}
	want, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Fatalf("lz4cat gives %d bytes, the plain file has %d", len(out), len(want))
	}
}

func TestFileSyncPolicy(t *testing.T) {
	tests := []struct {
		name      string
		policy    sink.SyncPolicy
		wantSyncs int    // after 5 Writes, 4s apart, a Flush and Close
		wantName  string // String
	}{
		{name: "never", policy: sink.SyncNever, wantSyncs: 0, wantName: "never"},
		{name: "on flush", policy: sink.SyncOnFlush, wantSyncs: 2, wantName: "on flush"},
		{name: "zero value", policy: sink.SyncPolicy{}, wantSyncs: 2, wantName: "on flush"},
		{name: "every 2 batches", policy: sink.SyncEvery(2), wantSyncs: 2 + 2, wantName: "every 2 records"},
		{name: "every batch", policy: sink.SyncEvery(1), wantSyncs: 5 + 2, wantName: "every 1 records"},
		// Writes at 4s, 8s, … after New: the one at 12s syncs, the
		// next 10s are not over by the last one at 20s.
		{name: "interval", policy: sink.SyncInterval(10 * time.Second), wantSyncs: 1 + 2, wantName: "every 10s"},
		{name: "short interval", policy: sink.SyncInterval(time.Second), wantSyncs: 5 + 2, wantName: "every 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "trace.jsonl")
			now := time.Unix(1700000000, 0)
			s, err := New(path, WithSync(tt.policy))
			if err != nil {
				t.Fatal(err)
			}
			s.now = func() time.Time { return now }
			s.syncState.Synced(now)
			syncs := 0
			var onDisk []int64 // file size at each sync: buffered data is written first
			s.testHookSync = func(f *os.File) error {
				syncs++
				fi, err := f.Stat()
				if err != nil {
					return err
				}
				onDisk = append(onDisk, fi.Size())
				return f.Sync()
			}
			for i := range 5 {
				now = now.Add(4 * time.Second)
				if err := s.Write(t.Context(), sinktest.Batch(i, 1)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			if syncs != tt.wantSyncs || s.Stats().Syncs != uint64(tt.wantSyncs) {
				t.Fatalf("%d syncs (Stats %d), want %d", syncs, s.Stats().Syncs, tt.wantSyncs)
			}
			if len(onDisk) > 0 && onDisk[len(onDisk)-1] != int64(s.Stats().Bytes) {
				t.Fatalf("last sync saw %d bytes, %d written", onDisk[len(onDisk)-1], s.Stats().Bytes)
			}
			if got := tt.policy.String(); got != tt.wantName {
				t.Fatalf("String() = %q, want %q", got, tt.wantName)
			}
		})
	}
}

func TestFileSyncErrorNamesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	s, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	errDisk := errors.New("disk on fire")
	s.testHookSync = func(*os.File) error { return errDisk }
	err = s.Flush(t.Context())
	if !errors.Is(err, errDisk) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Flush = %v", err)
	}
	s.testHookSync = nil
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestFileConcurrentSafe(t *testing.T) {
	for _, lz := range []bool{false, true} {
		t.Run(fmt.Sprintf("lz4=%v", lz), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "trace.jsonl")
			opts := []Option{WithMaxBytes(20 << 10), WithMaxFiles(1000)}
			if lz {
				opts = append(opts, WithCompression(transport.CompressionLZ4))
			}
			s, err := New(path, opts...)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for w := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for b := range 30 {
						err := s.Write(t.Context(), sinktest.Batch(w*1000+b*4, 4))
						if err != nil && !errors.Is(err, tracing.ErrClosed) {
							t.Error(err)
						}
					}
				}()
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				for range 20 {
					if err := s.Flush(t.Context()); err != nil && !errors.Is(err, tracing.ErrClosed) {
						t.Error(err)
					}
					_ = s.Stats()
				}
			}()
			go func() {
				defer wg.Done()
				if err := s.Close(t.Context()); err != nil {
					t.Error(err)
				}
			}()
			wg.Wait()
			got, bad := readAll(t, path)
			if len(bad) != 0 || uint64(len(got)) != s.Stats().Events {
				t.Fatalf("read %d events and %d bad lines; Stats says %d", len(got), len(bad), s.Stats().Events)
			}
		})
	}
}

// TestFileNilContextNeverEnds checks that Write and Flush take a nil ctx
// as one that never ends.
func TestFileNilContextNeverEnds(t *testing.T) {
	s, err := New(filepath.Join(t.TempDir(), "trace.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var nilCtx context.Context
	if err := s.Write(nilCtx, sinktest.Batch(0, 3)); err != nil {
		t.Fatalf("Write(nil): %v", err)
	}
	if err := s.Flush(nilCtx); err != nil {
		t.Fatalf("Flush(nil): %v", err)
	}
	if err := s.Close(nilCtx); err != nil {
		t.Fatal(err)
	}
	if d := s.Stats().Delivered; d != 3 {
		t.Fatalf("Delivered = %d, want 3", d)
	}
}
