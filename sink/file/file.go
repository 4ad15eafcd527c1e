package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/pierrec/lz4/v4"

	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// Defaults of the File sink.
const (
	// DefaultMaxBytes is the size at which a file is rotated: 0, no
	// rotation.
	DefaultMaxBytes = 0
	// DefaultMaxFiles is how many rotated files are kept.
	DefaultMaxFiles = 5
	// DefaultBufferBytes is the write buffer of a plain file.
	DefaultBufferBytes = 64 << 10
	// DefaultMode is the permission of files the sink creates: trace
	// events can carry message content, so only the owner reads them.
	DefaultMode os.FileMode = 0o600
)

// Option configures a File sink. Options are created by the WithX
// functions that return an Option.
type Option interface{ applyFile(*fileConfig) }

type fileOptionFunc func(*fileConfig)

func (f fileOptionFunc) applyFile(c *fileConfig) { f(c) }

type fileConfig struct {
	maxBytes    int64
	maxFiles    int
	alg         transport.CompressionAlgorithm // WithCompression
	lz4         bool                           // alg is CompressionLZ4
	sync        sink.SyncPolicy
	bufferBytes int
}

// WithMaxBytes rotates the file once it holds n bytes on disk; 0 disables
// rotation. A plain file is rotated before a line would take it past n
// (a single longer line still goes into a file of its own). An lz4 file is
// rotated once its compressed size reached n, so it can exceed n by up to
// one 64 KiB block. Default: DefaultMaxBytes (no rotation).
func WithMaxBytes(n int64) Option {
	return fileOptionFunc(func(c *fileConfig) { c.maxBytes = n })
}

// WithMaxFiles sets how many rotated files are kept; the oldest beyond
// that is deleted at rotation. 0 keeps none. Default: DefaultMaxFiles.
func WithMaxFiles(k int) Option {
	return fileOptionFunc(func(c *fileConfig) { c.maxFiles = k })
}

// WithCompression chooses the algorithm the File sink compresses
// with: transport.CompressionLZ4 writes the file in the standard LZ4 frame
// format (64 KiB independent blocks, content checksum), readable by
// ReadFile and by the lz4 command-line tools (lz4 -d, lz4cat);
// transport.CompressionNone turns compression off. New refuses the other
// algorithms with an error wrapping sink.ErrInvalidOption. Default:
// transport.CompressionNone.
func WithCompression(alg transport.CompressionAlgorithm) Option {
	return fileOptionFunc(func(c *fileConfig) { c.alg = alg })
}

// WithSync chooses when the sink calls fsync (see SyncPolicy; a record is
// one Write call). Default: SyncOnFlush, on every Flush, at rotation and
// at Close.
func WithSync(p sink.SyncPolicy) Option {
	return fileOptionFunc(func(c *fileConfig) { c.sync = p })
}

// WithBufferBytes sets the write buffer of a plain file (an lz4 file
// buffers one 64 KiB block instead). Default: DefaultBufferBytes.
func WithBufferBytes(n int) Option {
	return fileOptionFunc(func(c *fileConfig) { c.bufferBytes = n })
}

// Stats are a File sink's counters since it was created.
type Stats struct {
	// Events and Batches count what Write wrote (to the buffer).
	Events, Batches uint64
	// Bytes counts the JSON Lines written, before compression.
	Bytes uint64
	// Rotations counts rotated files; Syncs counts fsync calls.
	Rotations, Syncs uint64
}

// Sink is a sink that writes events to a file as JSON Lines: one event per
// line, in the protocol's TraceEvent JSON, so that a file can be replayed to
// a tracing server. When an event has a TraceID, it is written as an extra
// first member, {"trace_id":"…","event_id":…}, which the server and
// tracing's decoder ignore as an unknown field and which ReadFile restores.
//
// Writes are buffered; Flush writes the buffer to the file and, by policy
// (WithSync), syncs it. With WithCompression(transport.CompressionLZ4) the
// file is one or more LZ4 frames.
//
// # Rotation
//
// With WithMaxBytes, a full file at path is renamed to path.1, an existing
// path.1 to path.2 and so on up to path.K (K set by WithMaxFiles), the
// oldest one being deleted; then a new file is started at path. ReadFile
// reads such a set oldest first.
//
// # Crash safety
//
// A crash can leave the last line torn (or, with lz4, the last frame cut).
// ReadFile skips and reports a torn line instead of failing. New
// appends to an existing file; when its last line is torn, it starts on a
// fresh line (a plain file), or a new frame (an lz4 file).
//
// A Sink is safe for concurrent use. After Close, Write and Flush return an
// error wrapping tracing.ErrClosed. After an I/O error, later writes to the
// same file may keep failing; errors name the path.
type Sink struct {
	path string
	cfg  fileConfig

	mu        sync.Mutex
	f         *os.File
	cw        countingWriter // counts bytes reaching f
	bw        *bufio.Writer  // plain files
	zw        *lz4.Writer    // lz4 files
	enc       wire.Encoder
	line      []byte
	syncState sink.SyncTracker
	stats     Stats
	closed    bool

	// now reads the clock of SyncInterval; tests replace it.
	now func() time.Time
	// testHookSync, if set, is called instead of (*os.File).Sync.
	testHookSync func(*os.File) error
}

var _ tracing.Sink = (*Sink)(nil)

// countingWriter counts the bytes written to w.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// New opens path for appending, creating it (mode DefaultMode) if
// needed, and returns a sink writing to it. The parent directory must
// exist. It returns an error wrapping sink.ErrInvalidOption for out-of-range
// options, and one naming path when the file cannot be opened.
func New(path string, opts ...Option) (*Sink, error) {
	cfg := fileConfig{
		maxBytes:    DefaultMaxBytes,
		maxFiles:    DefaultMaxFiles,
		alg:         transport.CompressionNone,
		sync:        sink.SyncOnFlush,
		bufferBytes: DefaultBufferBytes,
	}
	for _, o := range opts {
		if o != nil {
			o.applyFile(&cfg)
		}
	}
	switch {
	case path == "":
		return nil, fmt.Errorf("sink: file: empty path: %w", sink.ErrInvalidOption)
	case cfg.maxBytes < 0:
		return nil, fmt.Errorf("sink: file %s: max bytes %d < 0: %w", path, cfg.maxBytes, sink.ErrInvalidOption)
	case cfg.maxFiles < 0:
		return nil, fmt.Errorf("sink: file %s: max files %d < 0: %w", path, cfg.maxFiles, sink.ErrInvalidOption)
	case cfg.alg != transport.CompressionNone && cfg.alg != transport.CompressionLZ4:
		return nil, fmt.Errorf("sink: file %s: WithCompression(%v): the file sink compresses with lz4 or not at all: %w", path, cfg.alg, sink.ErrInvalidOption)
	case cfg.sync.Validate("WithSync") != nil:
		return nil, fmt.Errorf("sink: file %s: %w", path, cfg.sync.Validate("WithSync"))
	case cfg.bufferBytes <= 0:
		return nil, fmt.Errorf("sink: file %s: buffer bytes %d <= 0: %w", path, cfg.bufferBytes, sink.ErrInvalidOption)
	}
	cfg.lz4 = cfg.alg == transport.CompressionLZ4
	s := &Sink{path: path, cfg: cfg, now: time.Now}
	if err := s.open(); err != nil {
		return nil, err
	}
	s.syncState.Synced(s.now())
	return s, nil
}

// Path returns the path of the live file.
func (s *Sink) Path() string { return s.path }

// open opens s.path for appending and sets up the writers.
func (s *Sink) open() error {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, DefaultMode)
	if err != nil {
		return fmt.Errorf("sink: file: open: %w", err)
	}
	size, torn, err := tailState(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("sink: file %s: open: %w", s.path, err)
	}
	s.f = f
	s.cw = countingWriter{w: f, n: size}
	if s.cfg.lz4 {
		// A new frame follows whatever the file holds; ReadFile skips a
		// frame cut by a crash.
		if s.zw == nil {
			s.zw = lz4.NewWriter(&s.cw)
		} else {
			s.zw.Reset(&s.cw)
		}
		if err := s.zw.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ChecksumOption(true), lz4.ConcurrencyOption(1)); err != nil {
			f.Close()
			return fmt.Errorf("sink: file %s: lz4: %w", s.path, err)
		}
		return nil
	}
	if s.bw == nil {
		s.bw = bufio.NewWriterSize(&s.cw, s.cfg.bufferBytes)
	} else {
		s.bw.Reset(&s.cw)
	}
	if torn {
		// Leave the torn line on a line of its own.
		if _, err := s.cw.Write([]byte{'\n'}); err != nil {
			f.Close()
			return fmt.Errorf("sink: file %s: open: %w", s.path, err)
		}
	}
	return nil
}

// tailState returns f's size and whether it is non-empty and does not end
// in a newline.
func tailState(f *os.File) (size int64, torn bool, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	size = fi.Size()
	if size == 0 {
		return 0, false, nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return 0, false, err
	}
	return size, last[0] != '\n', nil
}

// size returns the bytes of the live file, buffered ones included for a
// plain file.
func (s *Sink) size() int64 {
	if s.bw != nil && !s.cfg.lz4 {
		return s.cw.n + int64(s.bw.Buffered())
	}
	return s.cw.n
}

// Write appends one line per event of batch. An empty batch writes nothing.
// It returns an error wrapping ctx's error if ctx has already ended, one
// naming the path on an I/O error, and one wrapping tracing.ErrClosed after
// Close.
func (s *Sink) Write(ctx context.Context, batch []tracing.TraceEvent) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sink: file %s: write: %w", s.path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("sink: file %s: write: %w", s.path, tracing.ErrClosed)
	}
	if len(batch) == 0 {
		return nil
	}
	for i := range batch {
		s.line = appendFileLine(&s.enc, s.line[:0], &batch[i])
		if err := s.rotateIfFullLocked(len(s.line)); err != nil {
			return err
		}
		var err error
		if s.cfg.lz4 {
			_, err = s.zw.Write(s.line)
		} else {
			_, err = s.bw.Write(s.line)
		}
		if err != nil {
			return fmt.Errorf("sink: file %s: write: %w", s.path, err)
		}
		s.stats.Events++
		s.stats.Bytes += uint64(len(s.line))
	}
	s.stats.Batches++
	if s.syncState.Record(s.cfg.sync, s.now()) {
		return s.flushLocked(true)
	}
	return nil
}

// appendFileLine appends the line of ev: its protocol JSON, with the trace
// id as first member when set, and a newline.
func appendFileLine(enc *wire.Encoder, dst []byte, ev *tracing.TraceEvent) []byte {
	if ev.TraceID.IsZero() {
		dst = enc.AppendEvent(dst, ev)
	} else {
		dst = append(dst, `{"trace_id":"`...)
		dst = uuid.Append(dst, ev.TraceID)
		dst = append(dst, `",`...)
		start := len(dst)
		dst = enc.AppendEvent(dst, ev)
		// Drop the event object's '{': its members follow the trace id.
		dst = append(dst[:start], dst[start+1:]...)
	}
	return append(dst, '\n')
}

// rotateIfFullLocked rotates when writing n more bytes should go to a new
// file.
func (s *Sink) rotateIfFullLocked(n int) error {
	limit := s.cfg.maxBytes
	if limit == 0 {
		return nil
	}
	size := s.size()
	if s.cfg.lz4 {
		if size < limit {
			return nil
		}
	} else if size == 0 || size+int64(n) <= limit {
		return nil
	}
	return s.rotateLocked()
}

// rotateLocked closes the live file, shifts the rotated ones and opens a
// new live file.
func (s *Sink) rotateLocked() error {
	if err := s.closeFileLocked(); err != nil {
		return err
	}
	k := s.cfg.maxFiles
	if k == 0 {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sink: file %s: rotate: %w", s.path, err)
		}
	} else {
		if err := os.Remove(rotatedName(s.path, k)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sink: file %s: rotate: %w", s.path, err)
		}
		for i := k - 1; i >= 1; i-- {
			if err := os.Rename(rotatedName(s.path, i), rotatedName(s.path, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("sink: file %s: rotate: %w", s.path, err)
			}
		}
		if err := os.Rename(s.path, rotatedName(s.path, 1)); err != nil {
			return fmt.Errorf("sink: file %s: rotate: %w", s.path, err)
		}
	}
	s.stats.Rotations++
	return s.open()
}

// rotatedName returns the name of the i'th most recent rotated file.
func rotatedName(path string, i int) string { return path + "." + strconv.Itoa(i) }

// flushLocked writes buffered data to the file and, if sync, fsyncs it
// (unless the policy is SyncNever).
func (s *Sink) flushLocked(sync bool) error {
	var err error
	if s.cfg.lz4 {
		err = s.zw.Flush()
	} else {
		err = s.bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("sink: file %s: flush: %w", s.path, err)
	}
	if sync && s.cfg.sync.Syncs() {
		s.syncState.Synced(s.now())
		s.stats.Syncs++
		if s.testHookSync != nil {
			err = s.testHookSync(s.f)
		} else {
			err = s.f.Sync()
		}
		if err != nil {
			return fmt.Errorf("sink: file %s: sync: %w", s.path, err)
		}
	}
	return nil
}

// closeFileLocked finishes the live file (the lz4 frame included), syncs
// it by policy and closes it.
func (s *Sink) closeFileLocked() error {
	var errs []error
	if s.cfg.lz4 {
		if err := s.zw.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sink: file %s: close: %w", s.path, err))
		}
	}
	if err := s.flushLocked(true); err != nil {
		errs = append(errs, err)
	}
	if err := s.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("sink: file %s: close: %w", s.path, err))
	}
	return errors.Join(errs...)
}

// Flush writes buffered events to the file and, unless the policy is
// SyncNever, syncs it. It returns an error wrapping ctx's error if ctx
// has already ended, and one wrapping tracing.ErrClosed after Close. With
// lz4, each Flush ends the current block, so frequent flushes compress
// less well.
func (s *Sink) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sink: file %s: flush: %w", s.path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("sink: file %s: flush: %w", s.path, tracing.ErrClosed)
	}
	return s.flushLocked(true)
}

// Close writes buffered events, ends the lz4 frame, syncs (unless the
// policy is SyncNever) and closes the file. The work is local and
// bounded, so ctx is not used. A second Close returns nil.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.closeFileLocked()
}

// Stats returns s's counters.
func (s *Sink) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}
