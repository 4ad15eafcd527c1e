package file

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pierrec/lz4/v4"

	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// readBufferBytes is the read buffer of a file, and the most read at once.
const readBufferBytes = 64 << 10

// MaxLineBytes is the longest line ReadFile decodes; a longer one is
// skipped and reported as corrupt.
const MaxLineBytes = 64 << 20

// CorruptLineError reports a line of a file that ReadFile skipped: a line
// that is not an event (Err says why), a torn last line, or, in an lz4
// file, a damaged region (then Line is the first line it affected). It is
// not fatal: the events after it are still read.
type CorruptLineError struct {
	// Path is the file holding the line.
	Path string
	// Line is the 1-based line number within the file's (decompressed)
	// text.
	Line int64
	// Torn is true for a line cut short by the end of the file or of a
	// damaged lz4 frame, as a crash leaves it.
	Torn bool
	// Err is the cause.
	Err error
}

// Error describes the skipped line.
func (e *CorruptLineError) Error() string {
	what := "corrupt"
	if e.Torn {
		what = "torn"
	}
	return fmt.Sprintf("sink: file %s: line %d: %s: %v", e.Path, e.Line, what, e.Err)
}

// Unwrap returns the cause.
func (e *CorruptLineError) Unwrap() error { return e.Err }

// lz4FrameMagic starts every LZ4 frame (little-endian 0x184D2204).
var lz4FrameMagic = []byte{0x04, 0x22, 0x4d, 0x18}

// errTornLine is the cause of a CorruptLineError for a line that the file
// ends in the middle of.
var errTornLine = errors.New("incomplete line")

// RotatedFiles returns the files of the set written by a File sink at
// path, oldest first: the rotated files path.N … path.1 in its directory
// (every one there, also past a number missing), then path if it exists.
// It returns an error wrapping os.ErrNotExist when there is none.
func RotatedFiles(path string) ([]string, error) {
	// Listed rather than counted up from path.1: a rotation that failed
	// half way (the live file removed from under the sink) leaves a gap,
	// and the files after it are the set's too.
	var nums []int
	if ents, err := os.ReadDir(filepath.Dir(path)); err == nil {
		prefix := filepath.Base(path) + "."
		for _, e := range ents {
			rest, ok := strings.CutPrefix(e.Name(), prefix)
			if !ok || e.IsDir() {
				continue
			}
			// rest as rotatedName writes it: no sign, no leading zero.
			if i, err := strconv.Atoi(rest); err == nil && i >= 1 && strconv.Itoa(i) == rest {
				nums = append(nums, i)
			}
		}
	}
	slices.SortFunc(nums, func(a, b int) int { return b - a })
	files := make([]string, 0, len(nums)+1)
	for _, i := range nums {
		files = append(files, rotatedName(path, i))
	}
	if _, err := os.Stat(path); err == nil {
		files = append(files, path)
	} else if len(nums) == 0 {
		return nil, fmt.Errorf("sink: file %s: read: %w", path, err)
	}
	return files, nil
}

// ReadFile returns an iterator over the events of the file set written by
// a File sink at path (see RotatedFiles), oldest file first, in file order.
// Each file may be plain JSON Lines or LZ4 frames (recognized by the frame
// magic number), with or without the "trace_id" member.
//
// The iterator yields each event with a nil error. A line it skips is
// yielded as a *CorruptLineError with a zero event, and reading goes on;
// any other error (a file cannot be opened or read) ends the iteration.
// Empty lines are skipped silently. It never panics on damaged input, and
// its memory and work grow with the size of the file, whatever sizes a
// damaged lz4 file claims.
//
// Each call of the iterator reads the files anew. The events own their
// memory.
func ReadFile(path string) iter.Seq2[tracing.TraceEvent, error] {
	return func(yield func(tracing.TraceEvent, error) bool) {
		files, err := RotatedFiles(path)
		if err != nil {
			yield(tracing.TraceEvent{}, err)
			return
		}
		for _, name := range files {
			if !readOneFile(name, yield) {
				return
			}
		}
	}
}

// readOneFile yields the events of one file; it returns false when the
// iteration must stop.
func readOneFile(name string, yield func(tracing.TraceEvent, error) bool) bool {
	f, err := os.Open(name)
	if err != nil {
		yield(tracing.TraceEvent{}, fmt.Errorf("sink: file %s: read: %w", name, err))
		return false // such an error ends the iteration
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		yield(tracing.TraceEvent{}, fmt.Errorf("sink: file %s: read: %w", name, err))
		return false
	}
	return readEvents(name, f, fi.Size(), yield)
}

// readEvents yields the events of the file name, read from f, which is at
// offset 0 and holds size bytes; it returns false when the iteration must
// stop.
func readEvents(name string, f interface {
	io.Reader
	io.ReaderAt
}, size int64, yield func(tracing.TraceEvent, error) bool,
) bool {
	var src io.Reader = f
	// A small file gets a buffer of its size: allocating 64 KiB would cost
	// more than reading it. The text of an lz4 file is larger than the file.
	bufSize := readBufferBytes
	if isLZ4(f, size) {
		src = &lz4Frames{ra: f, size: size}
	} else if size < int64(bufSize) {
		bufSize = int(size)
	}
	lr := lineReader{path: name, br: bufio.NewReaderSize(src, bufSize)}
	for {
		ev, done, err := lr.next()
		if done && err == nil {
			return true
		}
		if !yield(ev, err) || done {
			return false
		}
	}
}

// isLZ4 reports whether the file f, of size bytes, holds lz4 frames: it
// starts with the frame magic number (or is the start of one, torn), or (an lz4 file whose first frame
// header is damaged, or torn by a full disk) it starts with what cannot
// begin JSON Lines and holds the magic number further on. Any other file
// is read as JSON Lines.
func isLZ4(f io.ReaderAt, size int64) bool {
	var head [4]byte
	n, _ := f.ReadAt(head[:min(int64(len(head)), size)], 0)
	if n > 0 && bytes.HasPrefix(lz4FrameMagic, head[:n]) {
		return true // the magic, or a file torn within it
	}
	return n > 0 && !textStart(head[0]) && hasMagic(f, size)
}

// textStart reports whether a file starting with b can be JSON Lines as
// the sink writes them: an event's '{', or a blank line.
func textStart(b byte) bool {
	return b == '{' || b == '\n' || b == '\r' || b == ' ' || b == '\t'
}

// hasMagic reports whether an lz4 frame magic number is in the size bytes
// of f.
func hasMagic(f io.ReaderAt, size int64) bool {
	z := lz4Frames{ra: f, size: size}
	return z.findMagic(0) < size
}

// lineReader splits a file's text into lines and decodes them.
type lineReader struct {
	path string
	br   *bufio.Reader
	line []byte
	n    int64 // lines started so far
	long bool  // the current line is over MaxLineBytes: skip to its end
}

// next returns the next event or a *CorruptLineError; done is true at the
// end, with a nil error, or with a fatal one.
func (r *lineReader) next() (ev tracing.TraceEvent, done bool, err error) {
	for {
		chunk, rerr := r.br.ReadSlice('\n')
		if !r.long {
			r.line = append(r.line, chunk...)
			if len(r.line) > MaxLineBytes {
				r.long, r.line = true, r.line[:0]
			}
		}
		var broken *lz4BrokenError
		switch {
		case rerr == nil:
			line, long := r.line, r.long
			r.line, r.long = r.line[:0], false
			r.n++
			if long {
				return ev, false, &CorruptLineError{Path: r.path, Line: r.n, Err: fmt.Errorf("longer than %d bytes", MaxLineBytes)}
			}
			if ev, skip, err := r.decode(line); !skip {
				return ev, false, err
			}
		case errors.Is(rerr, bufio.ErrBufferFull):
		case errors.Is(rerr, io.EOF):
			if len(r.line) == 0 && !r.long {
				return ev, true, nil
			}
			line, long := r.line, r.long
			r.line, r.long = r.line[:0], false
			r.n++
			if !long {
				if ev, skip, err := r.decode(line); skip {
					return ev, true, nil
				} else if err == nil {
					return ev, false, nil
				}
			}
			return ev, false, &CorruptLineError{Path: r.path, Line: r.n, Torn: true, Err: errTornLine}
		case errors.As(rerr, &broken):
			// A damaged lz4 region: the partial line before it is lost.
			partial := len(r.line) > 0 || r.long
			r.line, r.long = r.line[:0], false
			if broken.clean && !partial {
				continue // a frame cut after a whole block and line: nothing lost
			}
			r.n++
			return ev, false, &CorruptLineError{Path: r.path, Line: r.n, Torn: broken.truncated, Err: broken}
		default:
			return ev, true, fmt.Errorf("sink: file %s: read: %w", r.path, rerr)
		}
	}
}

// decode parses one line (with its newline, if any). skip is true for a
// blank line.
func (r *lineReader) decode(line []byte) (ev tracing.TraceEvent, skip bool, err error) {
	line = bytes.TrimRight(line, "\r\n")
	if len(bytes.TrimSpace(line)) == 0 {
		return ev, true, nil
	}
	const prefix = `{"trace_id":"`
	if bytes.HasPrefix(line, []byte(prefix)) {
		// {"trace_id":"<36>",<members of the event>}
		end := len(prefix) + 36
		if len(line) < end+2 || line[end] != '"' || line[end+1] != ',' {
			return ev, false, &CorruptLineError{Path: r.path, Line: r.n, Err: errors.New("malformed trace_id")}
		}
		id, perr := uuid.Parse(line[len(prefix):end])
		if perr != nil {
			return ev, false, &CorruptLineError{Path: r.path, Line: r.n, Err: fmt.Errorf("trace_id: %w", perr)}
		}
		ev.TraceID = tracing.TraceID(id)
		line = line[end+1:]
		line[0] = '{'
	}
	if err := wire.Unmarshal(line, &ev); err != nil {
		return tracing.TraceEvent{}, false, &CorruptLineError{Path: r.path, Line: r.n, Err: err}
	}
	return ev, false, nil
}

// lz4BrokenError is returned by lz4Frames.Read at a damaged or truncated
// frame, after every byte of the intact blocks before it; reading goes on
// at the next frame.
type lz4BrokenError struct {
	err       error
	truncated bool // the file ends inside the frame
	clean     bool // … right after a whole block: nothing was lost
}

func (e *lz4BrokenError) Error() string { return "lz4: " + e.err.Error() }

// lz4Frames reads the text of a file of concatenated LZ4 frames. At a
// damaged frame it returns an *lz4BrokenError once and resumes at the next
// frame magic number found after the damaged frame's start, so one bad
// region loses only the lines it touches.
type lz4Frames struct {
	ra   io.ReaderAt
	size int64
	off  int64 // next byte to parse

	inFrame      bool
	frameStart   int64
	frameEnd     int64 // after the last end mark read (before its checksum)
	blockMax     int
	blockSum     bool // blocks are followed by a checksum
	contentSum   bool // the frame ends with a checksum
	independent  bool
	out, pending []byte // decompressed block, and its unread part
	cbuf         []byte
	dict         []byte // the last 64 KiB of output, for dependent blocks

	// scan is the window of the file findMagic last read, at scanOff.
	scan    []byte
	scanOff int64
	// seen is the end of the furthest block read so far, and reread
	// counts the block bytes read again after resynchronizations went
	// back to before seen. Once reread exceeds the file's size, a damaged
	// frame resumes after seen, so that no input makes blocks be read
	// (and decoded) more than about three times the file's size.
	seen, reread int64
}

const lz4MaxDict = 64 << 10

func (z *lz4Frames) Read(p []byte) (int, error) {
	for len(z.pending) == 0 {
		if err := z.nextBlock(); err != nil {
			return 0, err
		}
	}
	n := copy(p, z.pending)
	z.pending = z.pending[n:]
	return n, nil
}

// readAt reads exactly len(b) bytes at z.off and advances; io.EOF or
// io.ErrUnexpectedEOF when the file is shorter.
func (z *lz4Frames) read(b []byte) error {
	if z.size-z.off < int64(len(b)) {
		if z.off >= z.size {
			return io.EOF
		}
		return io.ErrUnexpectedEOF
	}
	n, err := z.ra.ReadAt(b, z.off)
	z.off += int64(n)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// broken resynchronizes after a damaged frame and returns the error to
// report. It resumes at the first frame magic after the damaged frame's
// start, unless blocks were already read again more than the file's size
// (only crafted input nests frames that deep): then after the furthest
// block read.
func (z *lz4Frames) broken(err error, truncated bool) *lz4BrokenError {
	z.inFrame = false
	from := z.frameStart + 1
	if z.reread > z.size {
		from = max(from, z.seen)
	}
	z.off = z.findMagic(from)
	return &lz4BrokenError{err: err, truncated: truncated}
}

// lz4ScanBytes is the window findMagic reads the file in.
const lz4ScanBytes = 32 << 10

// findMagic returns the offset of the first frame magic at or after from,
// or z.size. It keeps the window of the file it read last: broken calls it
// with increasing offsets, so it reads each byte of the file about once,
// however many damaged frames the file holds.
func (z *lz4Frames) findMagic(from int64) int64 {
	m := int64(len(lz4FrameMagic))
	for from+m <= z.size {
		end := z.scanOff + int64(len(z.scan))
		if from < z.scanOff || from+m > end {
			if z.scan == nil {
				z.scan = make([]byte, min(lz4ScanBytes, z.size))
			}
			n, _ := z.ra.ReadAt(z.scan[:cap(z.scan)], from)
			if int64(n) < m {
				return z.size // the end, or a read error: no further frame
			}
			z.scan, z.scanOff = z.scan[:n], from
			continue
		}
		if i := bytes.Index(z.scan[from-z.scanOff:], lz4FrameMagic); i >= 0 {
			return from + int64(i)
		}
		from = end - (m - 1) // a magic may straddle the window's end
	}
	return z.size
}

// nextBlock decodes the next block into z.pending; io.EOF at the end.
func (z *lz4Frames) nextBlock() error {
	var b4 [4]byte
	if !z.inFrame {
		if z.off >= z.size {
			return io.EOF
		}
		z.frameStart = z.off
		if err := z.read(b4[:]); err != nil {
			return z.broken(fmt.Errorf("frame header: %w", err), true)
		}
		magic := binary.LittleEndian.Uint32(b4[:])
		if magic&0xfffffff0 == 0x184d2a50 { // a skippable frame
			if err := z.read(b4[:]); err != nil {
				return z.broken(fmt.Errorf("skippable frame: %w", err), true)
			}
			skip := int64(binary.LittleEndian.Uint32(b4[:]))
			if z.size-z.off < skip {
				return z.broken(fmt.Errorf("skippable frame: %w", io.ErrUnexpectedEOF), true)
			}
			z.off += skip
			return nil
		}
		if magic != 0x184d2204 {
			if z.frameEnd > 0 && z.frameEnd+4 == z.frameStart {
				// Right after a frame's content checksum: that checksum
				// may have been torn by a crash and the next frame
				// appended to it, so look for the magic from there.
				z.frameStart = z.frameEnd - 1
			}
			return z.broken(fmt.Errorf("bad frame magic %#x", magic), false)
		}
		return z.readFrameHeader()
	}
	if err := z.read(b4[:]); err != nil {
		berr := z.broken(fmt.Errorf("block header: %w", err), true)
		berr.clean = errors.Is(err, io.EOF)
		return berr
	}
	size := binary.LittleEndian.Uint32(b4[:])
	if size == 0x184d2204 {
		// Not a block (too large) but a new frame: this one was cut at
		// a block boundary by a crash, and a later open appended a frame.
		z.inFrame = false
		z.off -= 4
		return &lz4BrokenError{err: errors.New("frame not ended"), truncated: true, clean: true}
	}
	if size == 0 { // end mark
		z.frameEnd = z.off
		if z.contentSum {
			if err := z.read(b4[:]); err != nil {
				return z.broken(fmt.Errorf("content checksum: %w", err), true)
			}
		}
		z.inFrame = false
		return nil
	}
	raw := size&0x80000000 != 0
	size &= 0x7fffffff
	if int(size) > z.blockMax {
		return z.broken(fmt.Errorf("block of %d bytes exceeds the frame's %d", size, z.blockMax), false)
	}
	// Check the size against the file before allocating for it: a few
	// bytes of damage may claim a 4 MiB block.
	if rest := z.size - z.off; int64(size) > rest {
		return z.broken(fmt.Errorf("block of %d bytes, %d left in the file: %w", size, rest, io.ErrUnexpectedEOF), true)
	}
	z.reread += min(int64(size), max(0, z.seen-z.off))
	z.seen = max(z.seen, z.off+int64(size))
	if cap(z.cbuf) < int(size) {
		z.cbuf = make([]byte, size)
	}
	data := z.cbuf[:size]
	if err := z.read(data); err != nil {
		return z.broken(fmt.Errorf("block: %w", err), true)
	}
	if z.blockSum {
		if err := z.read(b4[:]); err != nil {
			return z.broken(fmt.Errorf("block checksum: %w", err), true)
		}
	}
	if raw {
		z.out = append(z.out[:0], data...)
	} else {
		// A block of n bytes decodes to at most about 255n bytes (a byte of
		// match length stands for 255 output bytes at most): a small block
		// needs no buffer of the frame's maximum, which may be 4 MiB.
		limit := min(z.blockMax, 256*int(size)+64)
		if cap(z.out) < limit {
			z.out = make([]byte, limit)
		}
		var n int
		var err error
		if z.independent || len(z.dict) == 0 {
			n, err = lz4.UncompressBlock(data, z.out[:limit])
		} else {
			n, err = lz4.UncompressBlockWithDict(data, z.out[:limit], z.dict)
		}
		if err != nil || n < 0 || n > limit {
			if err == nil {
				err = errors.New("bad block length")
			}
			if z.independent {
				// Its size was plausible and the blocks do not depend on
				// each other: the next block is read, and only the lines
				// this one touches are lost.
				z.pending = nil
				return &lz4BrokenError{err: fmt.Errorf("block: %w", err)}
			}
			return z.broken(fmt.Errorf("block: %w", err), false)
		}
		z.out = z.out[:n]
	}
	if !z.independent {
		z.dict = append(z.dict, z.out...)
		if len(z.dict) > lz4MaxDict {
			z.dict = append(z.dict[:0], z.dict[len(z.dict)-lz4MaxDict:]...)
		}
	}
	z.pending = z.out
	return nil
}

// readFrameHeader reads the frame descriptor after the magic number.
func (z *lz4Frames) readFrameHeader() error {
	var fb [2]byte
	if err := z.read(fb[:]); err != nil {
		return z.broken(fmt.Errorf("frame descriptor: %w", err), true)
	}
	flg, bd := fb[0], fb[1]
	if flg>>6 != 1 {
		return z.broken(fmt.Errorf("frame version %d", flg>>6), false)
	}
	idx := (bd >> 4) & 7
	if idx < 4 {
		return z.broken(fmt.Errorf("block size index %d", idx), false)
	}
	z.blockMax = 64 << 10 << (2 * (idx - 4))
	z.independent = flg&0x20 != 0
	z.blockSum = flg&0x10 != 0
	z.contentSum = flg&0x04 != 0
	rest := 1 // header checksum
	if flg&0x08 != 0 {
		rest += 8 // content size
	}
	if flg&0x01 != 0 {
		rest += 4 // dictionary id
	}
	skip := make([]byte, rest)
	if err := z.read(skip); err != nil {
		return z.broken(fmt.Errorf("frame descriptor: %w", err), true)
	}
	z.inFrame = true
	z.dict = z.dict[:0]
	return nil
}

// lz4WholeLen returns how much of the lz4 file f, of size bytes, to keep
// before appending a frame to it: size, unless the file ends inside a
// frame header, a block or an end mark's checksum (a crash or a failed
// write tore it), and then the length up to the last whole block or
// frame. A new frame appended after such a torn piece would be read as
// its continuation. It walks the frame and block headers only; a region
// it cannot parse (damage, not a torn end) stops the walk and the file is
// kept whole, for ReadFile to resynchronize in.
func lz4WholeLen(f io.ReaderAt, size int64) int64 {
	var b [4]byte
	at := func(off int64, n int) bool {
		if off+int64(n) > size {
			return false
		}
		m, _ := f.ReadAt(b[:n], off)
		return m == n
	}
	off, keep := int64(0), int64(0)
	for off < size {
		if !at(off, 4) {
			if size-off < 4 && bytes.HasPrefix(lz4FrameMagic, readTail(f, off, size)) {
				return keep // a torn magic
			}
			return size
		}
		if !bytes.Equal(b[:], lz4FrameMagic) {
			return size // not a frame the sink starts: leave it to ReadFile
		}
		if !at(off+4, 2) {
			return keep
		}
		flg, bd := b[0], b[1]
		idx := (bd >> 4) & 7
		if flg>>6 != 1 || idx < 4 {
			return size
		}
		blockMax := int64(64<<10) << (2 * (idx - 4))
		hdr := int64(4 + 2 + 1)
		if flg&0x08 != 0 {
			hdr += 8
		}
		if flg&0x01 != 0 {
			hdr += 4
		}
		if off+hdr > size {
			return keep
		}
		off += hdr
		keep = off
		for {
			if !at(off, 4) {
				if off == size {
					return size // ends after a whole block: the frame is only unterminated
				}
				return keep
			}
			n := binary.LittleEndian.Uint32(b[:])
			if n == 0x184d2204 {
				break // an unterminated frame, then the next one
			}
			if n == 0 { // end mark
				end := off + 4
				if flg&0x04 != 0 {
					end += 4
				}
				if end > size {
					return keep
				}
				off, keep = end, end
				break
			}
			blk := int64(n & 0x7fffffff)
			if blk > blockMax {
				return size
			}
			end := off + 4 + blk
			if flg&0x10 != 0 {
				end += 4
			}
			if end > size {
				return keep
			}
			off, keep = end, end
		}
	}
	return keep
}

// readTail returns the bytes of f from off to size (fewer than 4).
func readTail(f io.ReaderAt, off, size int64) []byte {
	b := make([]byte, size-off)
	n, _ := f.ReadAt(b, off)
	return b[:n]
}
