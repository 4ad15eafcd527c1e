package file

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/sink/internal/sinktest"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// failingDisk stands between a Sink and its files (testHookFile): it
// passes writes on while it has room, then writes what fits and fails
// with ENOSPC, as a full disk does.
type failingDisk struct {
	mu   sync.Mutex
	w    io.Writer
	room int64 // bytes it still takes; < 0: no limit
}

func (d *failingDisk) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.room < 0 || int64(len(p)) <= d.room {
		n, err := d.w.Write(p)
		if d.room >= 0 {
			d.room -= int64(n)
		}
		return n, err
	}
	n, err := d.w.Write(p[:d.room])
	d.room -= int64(n)
	if err == nil {
		err = syscall.ENOSPC
	}
	return n, err
}

// setRoom makes the disk take n more bytes (< 0: any number).
func (d *failingDisk) setRoom(n int64) {
	d.mu.Lock()
	d.room = n
	d.mu.Unlock()
}

// newOnDisk returns a File sink at path whose files are written through
// the returned disk, which has room for everything until told otherwise.
func newOnDisk(t *testing.T, path string, opts ...Option) (*Sink, *failingDisk) {
	t.Helper()
	s, err := New(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	d := &failingDisk{room: -1}
	s.testHookFile = func(f *os.File) io.Writer {
		d.mu.Lock()
		d.w = f
		d.mu.Unlock()
		return d
	}
	s.cw.w = s.testHookFile(s.f)
	return s, d
}

// lineBytes returns the length of the file line of each event.
func lineBytes(evs []tracing.TraceEvent) []int64 {
	var enc wire.Encoder
	out := make([]int64, len(evs))
	for i := range evs {
		out[i] = int64(len(appendFileLine(&enc, nil, &evs[i])))
	}
	return out
}

// wantDropped checks that err reports n dropped events, by the reasons of
// want, as a *sink.DroppedError of op wrapping sink.ErrDropped.
func wantDropped(t *testing.T, err error, op string, n uint64, want map[string]uint64) {
	t.Helper()
	var de *sink.DroppedError
	if !errors.Is(err, sink.ErrDropped) || !errors.As(err, &de) {
		t.Fatalf("%s = %v, want a *sink.DroppedError", op, err)
	}
	if de.Op != op || de.Events != n || !strings.Contains(de.Sink, "file ") || fmt.Sprint(de.Reasons) != fmt.Sprint(want) {
		t.Fatalf("%s: %+v, want %d events dropped by %v", op, de, n, want)
	}
}

// wantCounts checks the sink's Stats and SinkStats: delivered events and
// drops by reason.
func wantCounts(t *testing.T, s *Sink, delivered uint64, dropped map[string]uint64) {
	t.Helper()
	st, ss := s.Stats(), s.SinkStats()
	if st.Delivered != delivered || fmt.Sprint(st.Dropped) != fmt.Sprint(dropped) {
		t.Fatalf("Stats: delivered %d, dropped %v; want %d, %v", st.Delivered, st.Dropped, delivered, dropped)
	}
	if !ss.Acknowledges || ss.Acknowledged != delivered || fmt.Sprint(ss.Dropped) != fmt.Sprint(dropped) {
		t.Fatalf("SinkStats = %+v, want %d acknowledged, dropped %v", ss, delivered, dropped)
	}
}

// TestFileFailedWriteCountsDrops checks that the events buffered when a
// write to the file fails are counted as dropped, not delivered, and
// reported once, by the Flush or Close that met the failure, and that the
// sink carries on once the disk has room again.
func TestFileFailedWriteCountsDrops(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []Option
		op   string // "flush" or "close": the call that meets the full disk
	}{
		{name: "plain flush", op: "flush"},
		{name: "plain close", op: "close"},
		{name: "plain never syncs", opts: []Option{WithSync(sink.SyncNever)}, op: "flush"},
		{name: "lz4 flush", opts: []Option{WithCompression(transport.CompressionLZ4)}, op: "flush"},
		{name: "lz4 close", opts: []Option{WithCompression(transport.CompressionLZ4)}, op: "close"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			path := filepath.Join(t.TempDir(), "trace.jsonl")
			s, disk := newOnDisk(t, path, tt.opts...)
			if err := s.Write(ctx, sinktest.Batch(0, 5)); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			wantCounts(t, s, 5, nil)

			disk.setRoom(0)
			if err := s.Write(ctx, sinktest.Batch(5, 5)); err != nil {
				t.Fatalf("Write into the buffer: %v", err)
			}
			wantCounts(t, s, 5, nil) // buffered: neither delivered nor dropped yet
			var err error
			if tt.op == "flush" {
				err = s.Flush(ctx)
			} else {
				err = s.Close(ctx)
			}
			if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) {
				t.Fatalf("%s = %v, want ENOSPC naming the path", tt.op, err)
			}
			drops := map[string]uint64{DropWriteError: 5}
			wantDropped(t, err, tt.op, 5, drops)
			wantCounts(t, s, 5, drops)

			if tt.op == "flush" {
				// Reported once; then the sink carries on.
				if err := s.Flush(ctx); err != nil {
					t.Fatalf("second Flush = %v, want nil", err)
				}
				disk.setRoom(-1)
				if err := s.Write(ctx, sinktest.Batch(10, 5)); err != nil {
					t.Fatal(err)
				}
				if err := s.Close(ctx); err != nil {
					t.Fatalf("Close = %v", err)
				}
				wantCounts(t, s, 10, drops)
			}
			got, bad := readAll(t, path)
			want := sinktest.Seq(0, 5)
			if tt.op == "flush" {
				want = append(want, sinktest.Seq(10, 5)...)
			}
			if !slices.Equal(sinktest.EventNumbers(got), want) || len(bad) != 0 {
				t.Fatalf("read %v and %d bad lines, want %v", sinktest.EventNumbers(got), len(bad), want)
			}
		})
	}
}

// TestFileTornWriteCountsWhatReachedTheFile checks that when the disk
// fills in the middle of a flush, the events whose lines (or, with lz4,
// blocks) reached the file whole are delivered, the others dropped, and
// that what the sink writes once there is room again is read back after
// the damage.
func TestFileTornWriteCountsWhatReachedTheFile(t *testing.T) {
	ctx := t.Context()
	t.Run("plain", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "trace.jsonl")
		s, disk := newOnDisk(t, path)
		batch := sinktest.Batch(0, 10)
		if err := s.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		n := lineBytes(batch)
		disk.setRoom(n[0] + n[1] + n[2] + 10) // 3 lines and a piece of the 4th
		err := s.Flush(ctx)
		drops := map[string]uint64{DropWriteError: 7}
		wantDropped(t, err, "flush", 7, drops)
		wantCounts(t, s, 3, drops)
		disk.setRoom(-1)
		if err := s.Write(ctx, sinktest.Batch(10, 2)); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		wantCounts(t, s, 5, drops)
		got, bad := readAll(t, path)
		if want := []int{0, 1, 2, 10, 11}; !slices.Equal(sinktest.EventNumbers(got), want) || len(bad) != 1 || bad[0].Line != 4 {
			t.Fatalf("read %v and bad lines %v, want %v and the torn 4th line", sinktest.EventNumbers(got), bad, want)
		}
	})
	t.Run("lz4", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "trace.jsonl")
		s, disk := newOnDisk(t, path, WithCompression(transport.CompressionLZ4))
		// 120 events fill one 64 KiB block and start a second.
		if err := s.Write(ctx, sinktest.Batch(0, 120)); err != nil {
			t.Fatal(err)
		}
		full := s.Stats().Delivered // the events of the first block, not synced yet
		if full != 0 {
			t.Fatalf("delivered %d before a sync", full)
		}
		disk.setRoom(10) // the second block is cut short
		err := s.Flush(ctx)
		var de *sink.DroppedError
		if !errors.As(err, &de) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Flush = %v, want a *sink.DroppedError and ENOSPC", err)
		}
		st := s.Stats()
		if st.Delivered == 0 || st.Delivered+de.Events != 120 || st.Dropped[DropWriteError] != de.Events {
			t.Fatalf("delivered %d, dropped %v (reported %d); want the first block's delivered, the rest dropped", st.Delivered, st.Dropped, de.Events)
		}
		disk.setRoom(-1)
		if err := s.Write(ctx, sinktest.Batch(200, 2)); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ := readAll(t, path)
		want := append(sinktest.Seq(0, int(st.Delivered)), 200, 201)
		if !slices.Equal(sinktest.EventNumbers(got), want) {
			t.Fatalf("read %v, want %v", sinktest.EventNumbers(got), want)
		}
	})
}

// TestFileFailedSyncCountsDrops checks that the events an fsync should
// have made durable are dropped when it fails, and that under SyncEvery
// the Write whose sync failed fails, its batch being its caller's.
func TestFileFailedSyncCountsDrops(t *testing.T) {
	ctx := t.Context()
	errDisk := errors.New("disk on fire")
	t.Run("on flush", func(t *testing.T) {
		s, err := New(filepath.Join(t.TempDir(), "trace.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, sinktest.Batch(0, 5)); err != nil {
			t.Fatal(err)
		}
		s.testHookSync = func(*os.File) error { return errDisk }
		err = s.Flush(ctx)
		if !errors.Is(err, errDisk) {
			t.Fatalf("Flush = %v, want %v", err, errDisk)
		}
		drops := map[string]uint64{DropSyncError: 5}
		wantDropped(t, err, "flush", 5, drops)
		s.testHookSync = nil
		if err := s.Write(ctx, sinktest.Batch(5, 2)); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		wantCounts(t, s, 2, drops)
	})
	t.Run("every write", func(t *testing.T) {
		s, err := New(filepath.Join(t.TempDir(), "trace.jsonl"), WithSync(sink.SyncEvery(1)))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, sinktest.Batch(0, 5)); err != nil {
			t.Fatal(err)
		}
		wantCounts(t, s, 5, nil)
		s.testHookSync = func(*os.File) error { return errDisk }
		if err := s.Write(ctx, sinktest.Batch(5, 3)); !errors.Is(err, errDisk) {
			t.Fatalf("Write = %v, want %v", err, errDisk)
		}
		s.testHookSync = nil
		if err := s.Close(ctx); err != nil {
			t.Fatalf("Close = %v, want nil: the failed Write's events are its caller's", err)
		}
		wantCounts(t, s, 5, nil)
	})
}

// TestFileRotationOnFailingDisk checks that a rotation whose old file
// cannot be written to counts the events buffered for it as dropped,
// fails the Write that rotated, and leaves the sink writing to the new
// file once the disk has room again.
func TestFileRotationOnFailingDisk(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	s, disk := newOnDisk(t, path, WithMaxBytes(4000), WithMaxFiles(10))
	// About 700 bytes a line: 4 lines fit, the 6th rotates.
	if err := s.Write(ctx, sinktest.Batch(0, 4)); err != nil {
		t.Fatal(err)
	}
	disk.setRoom(0)
	if err := s.Write(ctx, sinktest.Batch(4, 4)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Write that rotates = %v, want ENOSPC", err)
	}
	drops := map[string]uint64{DropWriteError: 4}
	wantCounts(t, s, 0, drops)
	disk.setRoom(-1)
	if err := s.Write(ctx, sinktest.Batch(8, 2)); err != nil {
		t.Fatal(err)
	}
	err := s.Flush(ctx)
	wantDropped(t, err, "flush", 4, drops)
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, s, 2, drops)
	if st := s.Stats(); st.Rotations != 1 {
		t.Fatalf("%d rotations, want 1", st.Rotations)
	}
	got, bad := readAll(t, path)
	if !slices.Equal(sinktest.EventNumbers(got), []int{8, 9}) || len(bad) != 0 {
		t.Fatalf("read %v and %d bad lines", sinktest.EventNumbers(got), len(bad))
	}
}

// TestFileClientMetricsOnFailingDisk checks what a tracing client says
// of a File sink whose disk is full: no event delivered, every one
// dropped by the sink's reason, Flush and Close errors that say so.
func TestFileClientMetricsOnFailingDisk(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []Option
		room int64
	}{
		{name: "plain", opts: []Option{WithBufferBytes(1 << 20)}, room: 0},
		// The disk takes the lz4 frame's header (7 bytes), then fills.
		{name: "lz4", opts: []Option{WithCompression(transport.CompressionLZ4)}, room: 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			s, disk := newOnDisk(t, filepath.Join(t.TempDir(), "trace.jsonl"), tt.opts...)
			disk.setRoom(tt.room)
			clientOnFullDisk(t, s)
			if err := s.Close(ctx); err != nil { // the client closed it
				t.Fatal(err)
			}
		})
	}
}

// TestFileDevFull is TestFileClientMetricsOnFailingDisk on Linux's
// /dev/full, whose writes fail with ENOSPC.
func TestFileDevFull(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/dev/full is Linux's")
	}
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip(err)
	}
	s, err := New("/dev/full", WithBufferBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	clientOnFullDisk(t, s)
}

// clientOnFullDisk records 100 events with a client writing to s, whose
// disk is full, and checks the client's errors and Metrics. The events fit
// in s's buffer (the lz4 one holds 64 KiB), so that its Writes succeed and
// its Flush meets the full disk.
func clientOnFullDisk(t *testing.T, s *Sink) {
	t.Helper()
	ctx := t.Context()
	c, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(s))
	if err != nil {
		t.Fatal(err)
	}
	const total = 100
	for i := range total {
		c.Custom(ctx, "a", "e"+strconv.Itoa(i))
	}
	err = c.Flush(ctx)
	if !errors.Is(err, sink.ErrDropped) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Flush = %v, want sink.ErrDropped and ENOSPC", err)
	}
	m := c.Metrics()
	if m.Delivered != 0 || m.Dropped.Sink[DropWriteError] != total || m.Dropped.Total() != total {
		t.Fatalf("Metrics after Flush: delivered %d, dropped %+v; want 0 and %d %s", m.Delivered, m.Dropped, total, DropWriteError)
	}
	err = c.Close(ctx)
	var u *tracing.UndeliveredError
	if !errors.As(err, &u) || u.InSink != total || u.Total() != total {
		t.Fatalf("Close = %v, want %d events dropped in the sink", err, total)
	}
	m = c.Metrics()
	if m.Recorded != total || m.Delivered != 0 || m.Dropped.Total() != total {
		t.Fatalf("Metrics after Close: recorded %d delivered %d dropped %+v", m.Recorded, m.Delivered, m.Dropped)
	}
}

// After a failed write left a torn line, the newline the next line is
// written after counts for rotation by size: the file stays within
// WithMaxBytes.
func TestRotationCountsPendingNewline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	a, b, c := sinktest.Event(0), sinktest.Event(1), sinktest.Event(2)
	lens := lineBytes([]tracing.TraceEvent{a, b, c})
	const torn = 10
	max := lens[0] + torn + lens[2]
	s, d := newOnDisk(t, path, WithMaxBytes(max), WithMaxFiles(5))
	defer s.Close(t.Context())
	if err := s.Write(t.Context(), []tracing.TraceEvent{a}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	d.setRoom(torn)
	if err := s.Write(t.Context(), []tracing.TraceEvent{b}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(t.Context()); err == nil {
		t.Fatal("Flush on a full disk succeeded")
	}
	d.setRoom(-1)
	if err := s.Write(t.Context(), []tracing.TraceEvent{c}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > max {
		t.Fatalf("%s holds %d bytes, WithMaxBytes(%d)", path, fi.Size(), max)
	}
}
