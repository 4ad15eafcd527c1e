package file

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pierrec/lz4/v4"

	"github.com/reflowtrace/reflowtrace-go/sink/internal/sinktest"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

func TestRotatedFiles(t *testing.T) {
	tests := []struct {
		name   string
		create []string
		want   []string
		err    error
	}{
		{name: "none", err: os.ErrNotExist},
		{name: "live only", create: []string{"t"}, want: []string{"t"}},
		{name: "rotated and live", create: []string{"t", "t.1", "t.2"}, want: []string{"t.2", "t.1", "t"}},
		{name: "rotated only", create: []string{"t.1"}, want: []string{"t.1"}},
		{name: "past a gap", create: []string{"t", "t.1", "t.3", "t.12"}, want: []string{"t.12", "t.3", "t.1", "t"}},
		{name: "ignores other names", create: []string{"t", "t.x", "t.1.lz4", "t.0", "t.01", "t.+2", "tt.1"}, want: []string{"t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, n := range tt.create {
				if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := RotatedFiles(filepath.Join(dir, "t"))
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			for i := range got {
				got[i] = filepath.Base(got[i])
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReadFileStopsWhenAsked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(0, 10)}, WithMaxBytes(2000), WithMaxFiles(10))
	n := 0
	for _, err := range ReadFile(path) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 4 {
			break
		}
	}
	if n != 4 {
		t.Fatalf("read %d", n)
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	unreadable := filepath.Join(dir, "dir.jsonl")
	if err := os.Mkdir(unreadable, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
	}{
		{name: "missing", path: filepath.Join(dir, "missing.jsonl")},
		{name: "a directory", path: unreadable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs []error
			for _, err := range ReadFile(tt.path) {
				errs = append(errs, err)
			}
			var c *CorruptLineError
			if len(errs) != 1 || errs[0] == nil || errors.As(errs[0], &c) || !strings.Contains(errs[0].Error(), tt.path) {
				t.Fatalf("got %v, want one fatal error naming the path", errs)
			}
		})
	}
}

// lz4Compress returns data as one LZ4 frame, in blocks of 64 KiB.
func lz4Compress(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	zw := lz4.NewWriter(&buf)
	if err := zw.Apply(lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readBytes reads data as the content of a file named name, in memory, as
// ReadFile reads a file: a fuzz input costs no file system calls.
func readBytes(t *testing.T, name string, data []byte) (evs []tracing.TraceEvent, bad []*CorruptLineError) {
	t.Helper()
	readEvents(name, bytes.NewReader(data), int64(len(data)), func(ev tracing.TraceEvent, err error) bool {
		var c *CorruptLineError
		switch {
		case err == nil:
			evs = append(evs, ev)
		case errors.As(err, &c):
			bad = append(bad, c)
		default:
			t.Fatalf("read %s: %v", name, err)
		}
		return true
	})
	return evs, bad
}

// maxFuzzFileBytes bounds the files FuzzReadFile reads, to one event line
// and a little more. Reading costs time in proportion to the size, and the
// fuzzer minimizes every new interesting input with a number of runs that
// grows with the square of its size: files of a few events take the whole
// minimization time (a minute) each, and fuzzing stalls. Short lines
// around one event exercise every path of the reader.
const maxFuzzFileBytes = 1 << 10

// FuzzReadFile checks that reading any file never panics nor fails, that a
// plain file and its LZ4 compression read the same, that every event read
// writes back to a line that reads the same event, and that a damaged LZ4
// file still reads.
//
// Even one event line (a seed of 931 bytes) takes Go's minimizer some
// 430,000 runs, one per pair of cut points, at 40 µs or more each: with
// -fuzztime given as a duration, the first inputs found are minimized for
// up to the default -fuzzminimizetime (60 s) and the progress line shows
// no execs meanwhile. For a short run, bound minimization too:
//
//	go test -run '^$' -fuzz '^FuzzReadFile$' -fuzztime 20s -fuzzminimizetime 2000x ./sink/file
func FuzzReadFile(f *testing.F) {
	var enc wire.Encoder
	for i := range 4 {
		ev := sinktest.RichEvent(i)
		f.Add(appendFileLine(&enc, nil, &ev), false, uint16(0))
	}
	ev := sinktest.Event(9)
	ev.TraceID = tracing.TraceID{}
	good := appendFileLine(&enc, nil, &ev)
	f.Add(good, false, uint16(0))
	f.Add(good, true, uint16(0))
	f.Add(good[:len(good)-40], false, uint16(0))                             // torn
	f.Add(good[:len(good)-40], true, uint16(0))                              // torn, compressed
	f.Add(good, true, uint16(30))                                            // compressed, damaged
	f.Add(append([]byte("\n{\n"), good...), true, uint16(0))                 // corrupt and blank lines
	f.Add([]byte("{\n}\n\n{\"trace_id\":\"x\",}\n"), false, uint16(0))       // corrupt lines
	f.Add(lz4Compress(f, good)[:25], false, uint16(0))                       // a cut frame, as is
	f.Add(append(lz4Compress(f, good[:300]), lz4Compress(f, good[300:])...), // a line across two frames
		false, uint16(100))
	f.Fuzz(func(t *testing.T, data []byte, compress bool, damageAt uint16) {
		if len(data) > maxFuzzFileBytes {
			return
		}
		if !compress {
			evs, _ := readBytes(t, "plain", data)
			checkRewrite(t, evs)
			return
		}
		if bytes.HasPrefix(data, lz4FrameMagic) {
			return // would be read as lz4 in the plain form too
		}
		want, wantBad := readBytes(t, "plain", data)
		z := lz4Compress(t, data)
		got, gotBad := readBytes(t, "lz4", z)
		if err := sinktest.EventsEqual(normalized(got), normalized(want)); err != nil || len(gotBad) != len(wantBad) {
			t.Fatalf("lz4 reads differently (%v); bad lines %d, plain %d", err, len(gotBad), len(wantBad))
		}
		if damageAt == 0 {
			return
		}
		i := int(damageAt) % len(z)
		z[i] ^= 0xff
		// A damaged file still reads without a fatal error (readAll
		// fails the test on one) and without panicking.
		readBytes(t, "damaged", z)
	})
}

// checkRewrite writes evs as file lines and checks they read back equal,
// but for what the encoder fills in as documented: an empty SpanID becomes
// the hex of the last 8 bytes of the event id, a zero RootCauseEventID the
// event id.
func checkRewrite(t *testing.T, evs []tracing.TraceEvent) {
	t.Helper()
	var enc wire.Encoder
	var buf []byte
	for i := range evs {
		buf = appendFileLine(&enc, buf, &evs[i])
	}
	back, bad := readBytes(t, "rewritten", buf)
	if len(bad) != 0 {
		t.Fatalf("rewritten file has bad lines: %v", bad[0])
	}
	want := normalized(evs)
	for i := range want {
		c := &want[i].Causality
		if c.SpanID == "" {
			c.SpanID = hex.EncodeToString(want[i].EventID[8:])
		}
		if c.RootCauseEventID.IsZero() {
			c.RootCauseEventID = want[i].EventID
		}
		// The file holds the generation-1 form, which every server reads:
		// a metric not measured is written as 0.
		want[i].Data.PerformanceMetrics.Unmeasured = 0
	}
	if err := sinktest.EventsEqual(normalized(back), want); err != nil {
		t.Fatalf("rewrite: %v", err)
	}
}

// A path not in clean form ("dir/./trace.jsonl", a doubled separator):
// RotatedFiles and ReadFile find the rotated files the sink wrote.
func TestRotatedFilesUncleanPath(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{
		dir + string(os.PathSeparator) + "." + string(os.PathSeparator) + "trace.jsonl",
		dir + string(os.PathSeparator) + string(os.PathSeparator) + "trace2.jsonl",
	} {
		var batches [][]tracing.TraceEvent
		for i := 0; i < 20; i += 2 {
			batches = append(batches, sinktest.Batch(i, 2))
		}
		writeFile(t, path, batches, WithMaxBytes(4000), WithMaxFiles(100))
		if _, err := os.Stat(path + ".1"); err != nil {
			t.Fatalf("no rotation happened: %v", err)
		}
		files, err := RotatedFiles(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(files) < 2 {
			t.Errorf("RotatedFiles(%q) = %v: rotated files missing", path, files)
		}
		got, _ := readAll(t, path)
		if n := sinktest.EventNumbers(got); !slices.Equal(n, sinktest.Seq(0, 20)) {
			t.Errorf("ReadFile(%q) read %v, want 0..19", path, n)
		}
	}
}

// A relative path with a "./" prefix, as a user types it.
func TestRotatedFilesDotSlashRelative(t *testing.T) {
	t.Chdir(t.TempDir())
	path := "./trace.jsonl"
	var batches [][]tracing.TraceEvent
	for i := 0; i < 20; i += 2 {
		batches = append(batches, sinktest.Batch(i, 2))
	}
	writeFile(t, path, batches, WithMaxBytes(4000), WithMaxFiles(100))
	got, _ := readAll(t, path)
	if n := sinktest.EventNumbers(got); !slices.Equal(n, sinktest.Seq(0, 20)) {
		t.Errorf("ReadFile(%q) read %v, want 0..19", path, n)
	}
}

// A file of the set that cannot be opened ends ReadFile's iteration, also
// when the loop body goes on after the error.
func TestReadFileOpenErrorEndsIteration(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trace.jsonl")
	writeFile(t, path, [][]tracing.TraceEvent{sinktest.Batch(0, 2)})
	// path.1: a file of the set that cannot be opened.
	if err := os.Symlink(filepath.Join(dir, "gone"), path+".1"); err != nil {
		t.Fatal(err)
	}
	var fatal error
	var after int
	for ev, err := range ReadFile(path) {
		var c *CorruptLineError
		switch {
		case err != nil && !errors.As(err, &c):
			if fatal == nil {
				fatal = err
			}
			continue
		case fatal != nil:
			after++
		}
		_ = ev
	}
	if fatal == nil {
		t.Fatal("no error for the file that cannot be opened")
	}
	if after > 0 {
		t.Fatalf("after the fatal error %v, ReadFile yielded %d more items", fatal, after)
	}
}
