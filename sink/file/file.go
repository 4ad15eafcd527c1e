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
	"sync/atomic"
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
	// maxFiles is the most WithMaxFiles takes.
	maxFiles = 4096
	// DefaultBufferBytes is the write buffer of a plain file.
	DefaultBufferBytes = 64 << 10
	// DefaultMode is the permission of files the sink creates: trace
	// events can carry message content, so only the owner reads them.
	DefaultMode os.FileMode = 0o600
)

// Reasons for dropped events: the keys of Stats.Dropped and of the
// SinkStats.Dropped the sink reports to the tracing client, which sums
// them into Metrics().Dropped.Sink.
const (
	// DropWriteError: a write to the file failed (ENOSPC, EIO, …) while
	// the events' lines were still buffered or being written, so they
	// never reached the file whole.
	DropWriteError = "file_write_error"
	// DropSyncError: the events' lines were written, but the fsync their
	// policy called for failed, so the operating system may have lost
	// them.
	DropSyncError = "file_sync_error"
)

// lz4BlockBytes is the uncompressed size of an lz4 block, and the buffer
// of an lz4 file.
const lz4BlockBytes = 64 << 10

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
// that is deleted at rotation. 0 keeps none; at most 4096. Default:
// DefaultMaxFiles.
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
// buffers one 64 KiB block instead), allocated when the file is opened:
// from 1 byte to 1 GiB. Default: DefaultBufferBytes.
func WithBufferBytes(n int) Option {
	return fileOptionFunc(func(c *fileConfig) { c.bufferBytes = n })
}

// maxBufferBytes is the largest write buffer WithBufferBytes accepts.
const maxBufferBytes = 1 << 30

// Stats are a File sink's counters since it was created.
type Stats struct {
	// Events and Batches count what Write wrote (to the buffer).
	Events, Batches uint64
	// Bytes counts the JSON Lines written, before compression.
	Bytes uint64
	// Rotations counts rotated files; Syncs counts fsync calls.
	Rotations, Syncs uint64
	// CutBytes counts the bytes of torn lz4 frames or blocks (left by a
	// crash, found at New, or by a failed write) cut from the end of the
	// live file before a new frame was appended to it, which ReadFile
	// would otherwise read as their continuation. No acknowledged event
	// was in them.
	CutBytes uint64
	// Delivered counts the events of successful Writes that reached the
	// file: their lines were handed whole to the operating system under
	// SyncNever, and made durable by an fsync under every other policy
	// (with SyncOnFlush: at Flush, at rotation and at Close).
	Delivered uint64
	// Dropped counts, by reason (DropWriteError, DropSyncError), the
	// events of successful Writes that never reached the file; nil while
	// there are none. The events of a Write that returned an error are
	// its caller's to count (the tracing client counts them in
	// DropCounts.WriteError), not here. Events neither delivered nor
	// dropped are still buffered, or wait for the policy's next fsync.
	Dropped map[string]uint64
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
// appends to an existing file of its format; when its last line is torn,
// it starts on a fresh line (a plain file), or a new frame (an lz4 file)
// after cutting off what the crash left of a frame header, a block or a
// checksum (counted in Stats.CutBytes: no Flush had returned for it), as
// a new frame after it would be read as its continuation. A file of the
// other format is rotated away first (see New).
//
// # Failures
//
// Nothing the sink accepted is lost silently. A Write that returns an
// error is final for its batch (the tracing client counts the batch as a
// write error). The events of successful Writes are counted in
// Stats.Delivered once their lines reached the file (see there: under a
// policy that syncs, once an fsync succeeded), or in Stats.Dropped, by
// reason, when a write, flush or fsync of the file failed first: a failed
// write loses every line still buffered, a failed fsync every line
// written since the last one. The sink reports both to the tracing client
// (SinkStats), so that its Metrics count them as delivered or dropped,
// and the next Flush or Close returns a *sink.DroppedError, wrapping
// sink.ErrDropped, for the events dropped since the last report, joined
// with the I/O error. After a failed write the sink carries on: the next
// line starts on a fresh line (a plain file) or in a new frame (an lz4
// file, after the part of a block the failed write left is cut off), so
// that once the disk has room again ReadFile reads what follows.
// A failed rotation leaves no live file; the next Write opens one again.
// Errors name the path.
//
// A Sink is safe for concurrent use. After Close, Write and Flush return an
// error wrapping tracing.ErrClosed.
type Sink struct {
	path string
	cfg  fileConfig

	mu sync.Mutex
	f  *os.File       // nil when a rotation could not open the next file
	cw countingWriter // counts bytes reaching f
	// bw buffers the lines: it hands them on to f, or, in an lz4 file,
	// one block at a time to zw, which writes each to f.
	bw           *bufio.Writer
	zw           *lz4.Writer
	frameStarted bool // lz4: the header of the current frame is written
	frameBroken  bool // lz4: a failed write broke the frame; the next line starts a new one
	newline      bool // plain: a failed write may have torn the last line
	enc          wire.Encoder
	line         []byte
	syncState    sink.SyncTracker
	stats        Stats
	closed       bool
	led          ledger

	// What reached the file, and what did not (Stats, SinkStats), by
	// reason; reported counts the drops Flush and Close have reported.
	delivered, dropWrite, dropSync atomic.Uint64
	reported                       uint64

	// now reads the clock of SyncInterval; tests replace it.
	now func() time.Time
	// testHookSync, if set, is called instead of (*os.File).Sync.
	testHookSync func(*os.File) error
	// testHookFile, if set, gives the writer every file is written
	// through, in place of the file itself.
	testHookFile func(*os.File) io.Writer
}

var (
	_ tracing.Sink          = (*Sink)(nil)
	_ tracing.StatsReporter = (*Sink)(nil)
)

// ledger follows which of the events a Sink took reached its file. The
// events are numbered in the order of their lines; each count of events
// below is a prefix of them, and settled <= sent <= queued.
type ledger struct {
	// queued counts the bytes of the lines handed to the buffer and sent
	// those the buffer handed on whole, over the sink's life.
	queued, sent int64
	// ends[head:] holds where the lines of the events not sent yet end,
	// in queued's count.
	ends []int64
	head int
	// queuedN counts the events whose line is in the buffer or beyond,
	// sentN those whose line the buffer handed on whole, settledN those
	// counted as delivered or dropped, committedN those of Writes that
	// returned nil: the events after it are the Write's in progress.
	queuedN, sentN, settledN, committedN uint64
	// pendingAck counts events of the Write in progress that reached the
	// file already: delivered once the Write returns nil.
	pendingAck uint64
}

// countingWriter counts the bytes written to w, and keeps the last one.
type countingWriter struct {
	w    io.Writer
	n    int64
	last byte
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if n > 0 {
		c.last = p[n-1]
	}
	return n, err
}

// bufTarget is what a Sink's buffer writes to: the file, or, for an lz4
// file, the lz4 writer, one block at a time. It counts what it took whole
// (ledger.sent).
type bufTarget struct{ s *Sink }

func (t bufTarget) Write(p []byte) (int, error) {
	s := t.s
	var n int
	var err error
	if s.cfg.lz4 {
		n, err = s.writeBlocks(p)
	} else {
		n, err = s.cw.Write(p)
	}
	s.led.sent += int64(n)
	return n, err
}

// writeBlocks compresses p into blocks of at most lz4BlockBytes and writes
// each to the file; n counts the bytes of p in blocks written whole.
func (s *Sink) writeBlocks(p []byte) (n int, err error) {
	for len(p) > 0 {
		chunk := p[:min(len(p), lz4BlockBytes)]
		if _, err := s.zw.Write(chunk); err != nil {
			return n, err
		}
		if err := s.zw.Flush(); err != nil {
			return n, err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

// ErrFormatMismatch is returned, wrapped, by New for an existing file
// written in the other format (plain or lz4) than the sink would write,
// which it cannot rotate away because WithMaxFiles(0) keeps no rotated
// file.
var ErrFormatMismatch = errors.New("sink: file: format of the existing file differs")

// New opens path for appending, creating it (mode DefaultMode) if
// needed, and returns a sink writing to it. The parent directory must
// exist. An existing file written in the other format (compression was
// switched on or off since) is first rotated away as by WithMaxBytes and
// counted in Stats.Rotations, so that both formats stay readable; with
// WithMaxFiles(0) New returns an error wrapping ErrFormatMismatch
// instead and leaves the file alone. It returns an error wrapping
// sink.ErrInvalidOption for out-of-range options, and one naming path
// when the file cannot be opened.
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
	case cfg.maxFiles > maxFiles:
		// Each rotation renames every kept file, present or not.
		return nil, fmt.Errorf("sink: file %s: WithMaxFiles(%d): want at most %d: %w", path, cfg.maxFiles, maxFiles, sink.ErrInvalidOption)
	case cfg.alg != transport.CompressionNone && cfg.alg != transport.CompressionLZ4:
		return nil, fmt.Errorf("sink: file %s: WithCompression(%v): the file sink compresses with lz4 or not at all: %w", path, cfg.alg, sink.ErrInvalidOption)
	case cfg.sync.Validate("WithSync") != nil:
		return nil, fmt.Errorf("sink: file %s: %w", path, cfg.sync.Validate("WithSync"))
	case cfg.bufferBytes <= 0:
		return nil, fmt.Errorf("sink: file %s: WithBufferBytes(%d): want > 0: %w", path, cfg.bufferBytes, sink.ErrInvalidOption)
	case cfg.bufferBytes > maxBufferBytes:
		return nil, fmt.Errorf("sink: file %s: WithBufferBytes(%d): want at most %d (1 GiB): %w", path, cfg.bufferBytes, maxBufferBytes, sink.ErrInvalidOption)
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

// open opens s.path for appending and sets up the writers. The buffer is
// empty: what it held was handed on, or lost and counted.
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
	if size > 0 && isLZ4(f, size) != s.cfg.lz4 {
		// Lines of one format appended to the other would be unreadable
		// (by ReadFile, lz4cat or a server): start a new file.
		f.Close()
		if err := s.setAsideLocked(); err != nil {
			return err
		}
		if f, err = os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, DefaultMode); err != nil {
			return fmt.Errorf("sink: file: open: %w", err)
		}
		size, torn = 0, false
	}
	if s.cfg.lz4 && size > 0 {
		size = s.cutTorn(f, size)
	}
	s.cw = countingWriter{w: f, n: size, last: '\n'}
	if s.testHookFile != nil {
		s.cw.w = s.testHookFile(f)
	}
	s.newline, s.frameBroken, s.frameStarted = false, false, false
	if s.cfg.lz4 {
		// A new frame follows whatever the file holds; ReadFile skips a
		// frame cut by a crash.
		if err := s.newFrame(); err != nil {
			f.Close()
			return err
		}
	} else if torn {
		// Leave the torn line on a line of its own.
		if _, err := s.cw.Write([]byte{'\n'}); err != nil {
			f.Close()
			return fmt.Errorf("sink: file %s: open: %w", s.path, err)
		}
	}
	bufSize := s.cfg.bufferBytes
	if s.cfg.lz4 {
		bufSize = lz4BlockBytes
	}
	if s.bw == nil {
		s.bw = bufio.NewWriterSize(bufTarget{s}, bufSize)
	} else {
		s.bw.Reset(bufTarget{s})
	}
	s.f = f
	return nil
}

// setAsideLocked rotates away the file at s.path, which holds the other
// format than the sink writes, or refuses to when no rotated file may be
// kept (WithMaxFiles(0)), since rotating would then delete it.
func (s *Sink) setAsideLocked() error {
	held, writes := "plain JSON Lines", "lz4 frames"
	if !s.cfg.lz4 {
		held, writes = writes, held
	}
	if s.cfg.maxFiles == 0 {
		return fmt.Errorf("sink: file %s: holds %s and the sink writes %s; with WithMaxFiles(0) it cannot be rotated away (move it, or keep a rotated file): %w",
			s.path, held, writes, ErrFormatMismatch)
	}
	if err := s.shiftLocked(); err != nil {
		return fmt.Errorf("sink: file %s: holds %s and the sink writes %s: %w", s.path, held, writes, err)
	}
	s.stats.Rotations++
	return nil
}

// cutTorn truncates the lz4 file f, of size bytes, to its whole frames
// and blocks (see lz4WholeLen) and returns its size then. A truncation
// that fails leaves the file as it is, for ReadFile to skip the torn part.
func (s *Sink) cutTorn(f *os.File, size int64) int64 {
	keep := lz4WholeLen(f, size)
	if keep == size || f.Truncate(keep) != nil {
		return size
	}
	s.stats.CutBytes += uint64(size - keep)
	return keep
}

// newFrame sets the lz4 writer up for a new frame, which starts with the
// next line.
func (s *Sink) newFrame() error {
	if s.zw == nil {
		s.zw = lz4.NewWriter(&s.cw)
	} else {
		s.zw.Reset(&s.cw)
	}
	if err := s.zw.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ChecksumOption(true), lz4.ConcurrencyOption(1)); err != nil {
		return fmt.Errorf("sink: file %s: lz4: %w", s.path, err)
	}
	s.frameStarted, s.frameBroken = false, false
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
	if !s.cfg.lz4 {
		return s.cw.n + int64(s.bw.Buffered())
	}
	return s.cw.n
}

// Write appends one line per event of batch. An empty batch writes nothing.
// It returns an error wrapping ctx's error if ctx has already ended, one
// naming the path on an I/O error, and one wrapping tracing.ErrClosed after
// Close. An error is final for the batch: none of its events is counted in
// Stats.Delivered or Stats.Dropped, even if some of its lines reached the
// file.
func (s *Sink) Write(ctx context.Context, batch []tracing.TraceEvent) error {
	if ctx == nil {
		ctx = context.Background()
	}
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
	if s.f == nil {
		// A rotation could not open the next file: try again.
		if err := s.open(); err != nil {
			return err
		}
	}
	for i := range batch {
		s.line = appendFileLine(&s.enc, s.line[:0], &batch[i])
		n := len(s.line)
		if s.newline {
			n++ // the newline that ends a line torn by a failed write
		}
		if err := s.rotateIfFullLocked(n); err != nil {
			s.abortLocked()
			return err
		}
		if err := s.queueLineLocked(s.line); err != nil {
			s.abortLocked()
			return err
		}
		s.stats.Events++
		s.stats.Bytes += uint64(len(s.line))
	}
	s.stats.Batches++
	if s.syncState.Record(s.cfg.sync, s.now()) {
		if err := s.flushLocked(true); err != nil {
			s.abortLocked()
			return err
		}
	}
	s.commitLocked()
	return nil
}

// queueLineLocked hands line, one event's, to the buffer, after the start
// of a new lz4 frame or a newline that a failed write calls for.
func (s *Sink) queueLineLocked(line []byte) error {
	if s.cfg.lz4 {
		if s.frameBroken {
			// What the failed write left of a block goes: the new frame
			// would otherwise be read as its continuation.
			if s.f != nil {
				s.cw.n = s.cutTorn(s.f, s.cw.n)
			}
			if err := s.newFrame(); err != nil {
				return err
			}
		}
		if !s.frameStarted {
			// The frame's header goes out with its first line, so that
			// rotation by size counts it.
			if err := s.zw.Flush(); err != nil {
				s.writeFailedLocked()
				return fmt.Errorf("sink: file %s: write: %w", s.path, err)
			}
			s.frameStarted = true
		}
	}
	if s.newline {
		if err := s.bw.WriteByte('\n'); err != nil {
			s.writeFailedLocked()
			return fmt.Errorf("sink: file %s: write: %w", s.path, err)
		}
		s.led.queued++
		s.newline = false
	}
	if _, err := s.bw.Write(line); err != nil {
		s.writeFailedLocked()
		return fmt.Errorf("sink: file %s: write: %w", s.path, err)
	}
	l := &s.led
	l.queued += int64(len(line))
	l.ends = append(l.ends, l.queued)
	l.queuedN++
	s.sentLocked()
	return nil
}

// sentLocked counts the events whose lines the buffer has handed on whole;
// under SyncNever, they are delivered.
func (s *Sink) sentLocked() {
	l := &s.led
	for l.head < len(l.ends) && l.ends[l.head] <= l.sent {
		l.head++
		l.sentN++
	}
	switch {
	case l.head == len(l.ends):
		l.ends, l.head = l.ends[:0], 0
	case l.head >= 1024 && 2*l.head >= len(l.ends):
		l.ends = l.ends[:copy(l.ends, l.ends[l.head:])]
		l.head = 0
	}
	if !s.cfg.sync.Syncs() {
		s.settleLocked(l.sentN, "")
	}
}

// settleLocked counts the events up to the k'th as delivered (reason "")
// or dropped for reason. Those of the Write in progress are its caller's:
// delivered ones are counted once it returns nil (commitLocked), dropped
// ones not at all, since the Write then fails.
func (s *Sink) settleLocked(k uint64, reason string) {
	l := &s.led
	if k <= l.settledN {
		return
	}
	if c := min(k, l.committedN); c > l.settledN {
		n := c - l.settledN
		switch reason {
		case "":
			s.delivered.Add(n)
		case DropWriteError:
			s.dropWrite.Add(n)
		case DropSyncError:
			s.dropSync.Add(n)
		}
	}
	if from := max(l.settledN, l.committedN); reason == "" && k > from {
		l.pendingAck += k - from
	}
	l.settledN = k
}

// writeFailedLocked is called when the buffer failed to hand its lines on:
// the lines it holds are lost, and it is reset so that the sink carries
// on. The lost events of earlier Writes are dropped; those of the Write in
// progress are its caller's, and leave the numbering.
func (s *Sink) writeFailedLocked() {
	s.sentLocked() // what went out whole before the error is not lost
	l := &s.led
	if l.committedN > l.sentN {
		s.dropWrite.Add(l.committedN - l.sentN)
		l.committedN = l.sentN
	}
	l.queuedN = l.sentN
	l.ends, l.head = l.ends[:0], 0
	l.queued = l.sent
	s.bw.Reset(bufTarget{s})
	if s.cfg.lz4 {
		// The frame holds a part of a block at most: ReadFile skips it up
		// to the next frame, which the next line starts.
		s.frameBroken = true
	} else {
		s.newline = s.cw.n > 0 && s.cw.last != '\n'
	}
}

// abortLocked forgets the events of the Write in progress, which failed:
// every failure leaves the buffer empty (its lines handed on, or lost), so
// they are sent or gone, and its caller counts them.
func (s *Sink) abortLocked() {
	l := &s.led
	l.queuedN = l.committedN
	l.sentN = min(l.sentN, l.committedN)
	l.settledN = min(l.settledN, l.committedN)
	l.pendingAck = 0
}

// commitLocked makes the events of the Write in progress, which succeeded,
// the sink's to count.
func (s *Sink) commitLocked() {
	l := &s.led
	l.committedN = l.queuedN
	if l.pendingAck > 0 {
		s.delivered.Add(l.pendingAck)
		l.pendingAck = 0
	}
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
// new live file. A failure to close the live file (its lost events are
// counted) does not stop the rotation, but is returned; when the rotated
// files cannot be shifted or the new file opened, s.f stays nil.
func (s *Sink) rotateLocked() error {
	closeErr := s.closeFileLocked()
	if err := s.shiftLocked(); err != nil {
		return errors.Join(closeErr, err)
	}
	s.stats.Rotations++
	return errors.Join(closeErr, s.open())
}

// shiftLocked renames the live file to path.1, path.1 to path.2 and so on,
// deleting the oldest.
func (s *Sink) shiftLocked() error {
	k := s.cfg.maxFiles
	if k == 0 {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sink: file %s: rotate: %w", s.path, err)
		}
		return nil
	}
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
	return nil
}

// rotatedName returns the name of the i'th most recent rotated file.
func rotatedName(path string, i int) string { return path + "." + strconv.Itoa(i) }

// flushLocked writes buffered data to the file and, if sync, fsyncs it
// (unless the policy is SyncNever), also when the write failed, so that
// what reached the file is settled.
func (s *Sink) flushLocked(sync bool) error {
	err := s.writeOutLocked()
	if sync && s.cfg.sync.Syncs() {
		err = errors.Join(err, s.syncLocked())
	}
	return err
}

// writeOutLocked has the buffer hand everything on.
func (s *Sink) writeOutLocked() error {
	err := s.bw.Flush()
	if err != nil {
		s.writeFailedLocked()
		return fmt.Errorf("sink: file %s: flush: %w", s.path, err)
	}
	s.sentLocked()
	return nil
}

// syncLocked fsyncs the file: the events whose lines were handed on are
// then delivered, or dropped when the fsync fails.
func (s *Sink) syncLocked() error {
	s.syncState.Synced(s.now())
	s.stats.Syncs++
	var err error
	if s.testHookSync != nil {
		err = s.testHookSync(s.f)
	} else {
		err = s.f.Sync()
	}
	if err != nil {
		s.settleLocked(s.led.sentN, DropSyncError)
		return fmt.Errorf("sink: file %s: sync: %w", s.path, err)
	}
	s.settleLocked(s.led.sentN, "")
	return nil
}

// closeFileLocked finishes the live file (the lz4 frame included), syncs
// it by policy and closes it; s.f is nil afterwards.
func (s *Sink) closeFileLocked() error {
	errs := []error{s.writeOutLocked()}
	if s.cfg.lz4 && !s.frameBroken {
		if err := s.zw.Close(); err != nil {
			// The blocks before the end mark are readable.
			errs = append(errs, fmt.Errorf("sink: file %s: close: %w", s.path, err))
		}
	}
	if s.cfg.sync.Syncs() {
		errs = append(errs, s.syncLocked())
	}
	if err := s.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("sink: file %s: close: %w", s.path, err))
	}
	s.f = nil
	return errors.Join(errs...)
}

// droppedLocked returns a *sink.DroppedError for the events dropped since
// the last Flush or Close reported drops, so that every drop reaches a
// caller once; nil if there are none.
func (s *Sink) droppedLocked(op string) error {
	n := s.dropWrite.Load() + s.dropSync.Load()
	if n == s.reported {
		return nil
	}
	fresh := n - s.reported
	s.reported = n
	return &sink.DroppedError{Sink: "file " + s.path, Op: op, Events: fresh, Reasons: s.dropReasons()}
}

// dropReasons returns the drops by reason, nil if there are none.
func (s *Sink) dropReasons() map[string]uint64 {
	w, y := s.dropWrite.Load(), s.dropSync.Load()
	if w == 0 && y == 0 {
		return nil
	}
	m := make(map[string]uint64, 2)
	if w > 0 {
		m[DropWriteError] = w
	}
	if y > 0 {
		m[DropSyncError] = y
	}
	return m
}

// Flush writes buffered events to the file and, unless the policy is
// SyncNever, syncs it. It returns an error wrapping ctx's error if ctx
// has already ended, and one wrapping tracing.ErrClosed after Close. When
// events were dropped since the last Flush or Close (see Stats.Dropped),
// its error wraps sink.ErrDropped, through a *sink.DroppedError, joined
// with the I/O error that dropped them, if this Flush met it. With lz4,
// each Flush ends the current block, so frequent flushes compress less
// well.
func (s *Sink) Flush(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sink: file %s: flush: %w", s.path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("sink: file %s: flush: %w", s.path, tracing.ErrClosed)
	}
	var err error
	if s.f != nil {
		err = s.flushLocked(true)
	}
	return errors.Join(err, s.droppedLocked("flush"))
}

// Close writes buffered events, ends the lz4 frame, syncs (unless the
// policy is SyncNever) and closes the file. The work is local and
// bounded, so ctx is not used. Like Flush, it reports the events dropped
// since the last report as a *sink.DroppedError wrapping sink.ErrDropped;
// once it has returned, every event of a successful Write is counted in
// Stats.Delivered or Stats.Dropped. A second Close returns nil.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.f != nil {
		err = s.closeFileLocked()
	}
	return errors.Join(err, s.droppedLocked("close"))
}

// Stats returns s's counters.
func (s *Sink) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Delivered = s.delivered.Load()
	st.Dropped = s.dropReasons()
	return st
}

// SinkStats reports to the tracing client (tracing.StatsReporter) the
// events that reached the file, as acknowledged (Stats.Delivered), and
// those dropped, by reason (Stats.Dropped), so that the client's Metrics
// count them as delivered or dropped: until they reached the file, events
// are neither. It is safe for concurrent use and does not wait for a
// Write in progress.
func (s *Sink) SinkStats() tracing.SinkStats {
	return tracing.SinkStats{
		Acknowledges: true,
		Acknowledged: s.delivered.Load(),
		Dropped:      s.dropReasons(),
	}
}
