package sink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SyncPolicy says when the spool forces what it wrote to stable storage
// with fsync. Build one with SyncNever, SyncEveryRecord or SyncInterval.
// The zero value is SyncNever.
type SyncPolicy struct {
	every    bool
	interval time.Duration
}

// SyncNever leaves flushing to the operating system: fastest, but records
// written shortly before a machine crash may be lost (a process crash loses
// nothing). The spool still syncs when it is closed.
var SyncNever = SyncPolicy{}

// SyncEveryRecord fsyncs after every record: nothing acknowledged by the
// spool is lost on a machine crash, at the cost of one fsync per frame.
var SyncEveryRecord = SyncPolicy{every: true}

// SyncInterval fsyncs on the first append at least d after the previous
// sync, when a segment is finished and when the spool is closed. A d of
// zero or less is SyncEveryRecord.
func SyncInterval(d time.Duration) SyncPolicy {
	if d <= 0 {
		return SyncEveryRecord
	}
	return SyncPolicy{interval: d}
}

// String describes the policy ("never", "every record", "every 1s").
func (p SyncPolicy) String() string {
	switch {
	case p.every:
		return "every record"
	case p.interval > 0:
		return "every " + p.interval.String()
	}
	return "never"
}

// Spool file layout. A segment file starts with spoolMagic and holds
// records, each a header of payload length and CRC-32C (both little-endian
// uint32) followed by the payload: flags (1 byte), event count (uint32),
// creation time (int64 Unix nanoseconds) and the frame.
const (
	spoolMagic       = "RFTSPL1\n"
	spoolSuffix      = ".spool"
	spoolHeaderLen   = 8
	spoolMetaLen     = 1 + 4 + 8
	spoolMaxPayload  = 64 << 20
	spoolMinSegment  = 64 << 10
	spoolMaxSegment  = 8 << 20
	spoolFlagCrit    = 1 << 0
	spoolFlagBinary  = 1 << 1
	spoolFlagCompres = 1 << 2
)

var spoolCRC = crc32.MakeTable(crc32.Castagnoli)

// errSpoolFull is returned by append when the record does not fit in the
// spool's byte limit.
var errSpoolFull = errors.New("sink: spool full")

// spoolRecord is one frame kept on disk.
type spoolRecord struct {
	critical   bool
	binary     bool // the payload is the wire form of a binary frame
	compressed bool // the payload is a size-prefixed LZ4 block
	events     int
	created    time.Time
	data       []byte
}

// spoolRef locates a record handed out by next, for ack.
type spoolRef struct {
	seg *segment
}

type segment struct {
	id       uint64
	path     string
	size     int64 // valid bytes (the file may hold a torn tail after this)
	records  int   // valid records
	unacked  int   // records handed out by next and not acked yet
	released int   // records handed out and given back undelivered
	removed  bool  // deleted from disk and from segs
	read     int64 // replay offset
	readRec  int   // records replayed
	events   int   // events in records not yet replayed
	file     *os.File
}

// spoolStats are the spool's counters.
type spoolStats struct {
	bytes, records    int64
	corruptRecords    int64
	corruptBytes      int64
	recoveredRecords  int64
	recoveredSegments int64
}

// spool is an append-only store of frames in segment files, replayed
// oldest first and deleted segment by segment once every record of a
// segment was acknowledged. It is safe for concurrent use.
type spool struct {
	dir      string
	policy   SyncPolicy
	maxBytes int64 // 0: unbounded
	segSize  int64
	now      func() time.Time

	mu       sync.Mutex
	segs     []*segment // oldest first; the last one is written to
	w        *os.File
	lastSync time.Time
	nextID   uint64
	stats    spoolStats
	scratch  []byte
	closed   bool
}

// openSpool opens or creates dir and scans the segments a previous sink
// left there. Torn or corrupt records end a segment's readable part and are
// counted, never fatal.
func openSpool(dir string, policy SyncPolicy, maxBytes int64, now func() time.Time) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sink: spool: %w", err)
	}
	seg := maxBytes / 8
	seg = min(max(seg, spoolMinSegment), spoolMaxSegment)
	s := &spool{dir: dir, policy: policy, segSize: seg, now: now, maxBytes: maxBytes}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sink: spool: %w", err)
	}
	var ids []uint64
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, spoolSuffix) {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(name, spoolSuffix), 10, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		g := &segment{id: id, path: s.segPath(id)}
		if err := s.scan(g); err != nil {
			return nil, err
		}
		s.nextID = id + 1
		if g.records == 0 {
			_ = os.Remove(g.path)
			continue
		}
		s.segs = append(s.segs, g)
		s.stats.recoveredSegments++
		s.stats.recoveredRecords += int64(g.records)
		s.stats.records += int64(g.records)
		s.stats.bytes += g.size
	}
	return s, nil
}

func (s *spool) segPath(id uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", id, spoolSuffix))
}

// scan validates g's records and counts the events in them.
func (s *spool) scan(g *segment) error {
	f, err := os.Open(g.path)
	if err != nil {
		return fmt.Errorf("sink: spool: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("sink: spool: %w", err)
	}
	total := info.Size()
	magic := make([]byte, len(spoolMagic))
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != spoolMagic {
		if total > 0 {
			s.stats.corruptRecords++
			s.stats.corruptBytes += total
		}
		return nil
	}
	off := int64(len(spoolMagic))
	g.size = off
	var hdr [spoolHeaderLen]byte
	buf := []byte(nil)
	for off < total {
		rec, n, ok := readRecord(f, off, hdr[:], &buf)
		if !ok {
			s.stats.corruptRecords++
			s.stats.corruptBytes += total - off
			break
		}
		off += n
		g.size = off
		g.records++
		g.events += rec.events
	}
	return nil
}

// readRecord reads the record at off. It reports false for a torn or
// corrupt record.
func readRecord(f *os.File, off int64, hdr []byte, buf *[]byte) (spoolRecord, int64, bool) {
	if _, err := f.ReadAt(hdr, off); err != nil {
		return spoolRecord{}, 0, false
	}
	n := binary.LittleEndian.Uint32(hdr[0:4])
	sum := binary.LittleEndian.Uint32(hdr[4:8])
	if n < spoolMetaLen || n > spoolMaxPayload {
		return spoolRecord{}, 0, false
	}
	if cap(*buf) < int(n) {
		*buf = make([]byte, n)
	}
	p := (*buf)[:n]
	if _, err := f.ReadAt(p, off+spoolHeaderLen); err != nil {
		return spoolRecord{}, 0, false
	}
	if crc32.Checksum(p, spoolCRC) != sum {
		return spoolRecord{}, 0, false
	}
	flags := p[0]
	rec := spoolRecord{
		critical:   flags&spoolFlagCrit != 0,
		binary:     flags&spoolFlagBinary != 0,
		compressed: flags&spoolFlagCompres != 0,
		events:     int(binary.LittleEndian.Uint32(p[1:5])),
		created:    time.Unix(0, int64(binary.LittleEndian.Uint64(p[5:13]))),
		data:       p[spoolMetaLen:],
	}
	return rec, spoolHeaderLen + int64(n), true
}

// append writes rec at the end of the newest segment, starting a new one
// when it is full, and syncs as the policy says.
func (s *spool) append(rec spoolRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("sink: spool closed")
	}
	n := spoolMetaLen + len(rec.data)
	if n > spoolMaxPayload {
		return fmt.Errorf("sink: spool: record of %d bytes too large", n)
	}
	if s.maxBytes > 0 {
		// Routine records may fill the spool up to 7/8 of its limit; the
		// rest is kept for critical ones.
		limit := s.maxBytes
		if !rec.critical {
			limit -= s.maxBytes / 8
		}
		if s.stats.bytes+int64(spoolHeaderLen+n+len(spoolMagic)) > limit {
			return errSpoolFull
		}
	}
	last := len(s.segs) - 1
	if s.w == nil || s.segs[last].size+int64(spoolHeaderLen+n) > s.segSize && s.segs[last].records > 0 {
		if err := s.rotate(); err != nil {
			return err
		}
		last = len(s.segs) - 1
	}
	g := s.segs[last]
	b := s.scratch[:0]
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = binary.LittleEndian.AppendUint32(b, 0)
	var flags byte
	if rec.critical {
		flags |= spoolFlagCrit
	}
	if rec.binary {
		flags |= spoolFlagBinary
	}
	if rec.compressed {
		flags |= spoolFlagCompres
	}
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint32(b, uint32(rec.events))
	b = binary.LittleEndian.AppendUint64(b, uint64(rec.created.UnixNano()))
	b = append(b, rec.data...)
	binary.LittleEndian.PutUint32(b[4:8], crc32.Checksum(b[spoolHeaderLen:], spoolCRC))
	s.scratch = b
	if _, err := s.w.WriteAt(b, g.size); err != nil {
		return fmt.Errorf("sink: spool: write %s: %w", g.path, err)
	}
	g.size += int64(len(b))
	g.records++
	g.events += rec.events
	s.stats.bytes += int64(len(b))
	s.stats.records++
	if s.policy.every || s.policy.interval > 0 && s.now().Sub(s.lastSync) >= s.policy.interval {
		if err := s.w.Sync(); err != nil {
			return fmt.Errorf("sink: spool: sync %s: %w", g.path, err)
		}
		s.lastSync = s.now()
	}
	return nil
}

// rotate finishes the segment being written and starts a new one.
func (s *spool) rotate() error {
	if s.w != nil {
		if s.policy != SyncNever {
			_ = s.w.Sync()
		}
		_ = s.w.Close()
		s.w = nil
	}
	g := &segment{id: s.nextID, path: s.segPath(s.nextID)}
	s.nextID++
	f, err := os.OpenFile(g.path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("sink: spool: %w", err)
	}
	if _, err := f.WriteAt([]byte(spoolMagic), 0); err != nil {
		f.Close()
		_ = os.Remove(g.path)
		return fmt.Errorf("sink: spool: write %s: %w", g.path, err)
	}
	g.size = int64(len(spoolMagic))
	g.read = g.size
	s.stats.bytes += g.size
	s.w = f
	s.segs = append(s.segs, g)
	return nil
}

// next returns the oldest record not replayed yet; ok is false when every
// record was handed out. Records created before expireBefore (when not
// zero) are skipped and their events added to expired. Records that fail
// their checksum on reading are skipped and counted as corrupt.
func (s *spool) next(expireBefore time.Time) (rec spoolRecord, ref spoolRef, expired int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var hdr [spoolHeaderLen]byte
	for _, g := range slices.Clone(s.segs) {
		if g.read == 0 {
			g.read = int64(len(spoolMagic))
		}
		for !g.removed && g.read < g.size {
			f, err := s.reader(g)
			if err != nil {
				// Unreadable segment: count the rest as corrupt.
				s.dropRest(g)
				break
			}
			var buf []byte
			r, n, good := readRecord(f, g.read, hdr[:], &buf)
			if !good {
				s.dropRest(g)
				break
			}
			g.read += n
			g.readRec++
			g.events -= r.events
			if !expireBefore.IsZero() && r.created.Before(expireBefore) {
				expired += r.events
				s.stats.records--
				s.maybeRemove(g)
				continue
			}
			g.unacked++
			return r, spoolRef{seg: g}, expired, true
		}
	}
	return spoolRecord{}, spoolRef{}, expired, false
}

func (s *spool) reader(g *segment) (*os.File, error) {
	if g.file != nil {
		return g.file, nil
	}
	f, err := os.Open(g.path)
	if err != nil {
		return nil, err
	}
	g.file = f
	return f, nil
}

func (s *spool) dropRest(g *segment) {
	s.stats.corruptRecords += int64(g.records - g.readRec)
	s.stats.corruptBytes += g.size - g.read
	s.stats.records -= int64(g.records - g.readRec)
	g.readRec = g.records
	g.read = g.size
	g.events = 0
	s.maybeRemove(g)
}

// ack marks a record handed out by next as delivered. A segment whose
// records were all replayed and acknowledged is deleted.
func (s *spool) ack(ref spoolRef) {
	if ref.seg == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ref.seg.unacked--
	s.stats.records--
	s.maybeRemove(ref.seg)
}

// release returns a record handed out by next, not delivered, so that it is
// replayed again by a later sink (it stays on disk); this process does not
// hand it out again.
func (s *spool) release(ref spoolRef) {
	if ref.seg == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ref.seg.unacked--
	ref.seg.released++
}

func (s *spool) maybeRemove(g *segment) {
	if g.read < g.size || g.unacked > 0 || g.readRec < g.records {
		return
	}
	if len(s.segs) > 0 && s.segs[len(s.segs)-1] == g && s.w != nil {
		return // still being written
	}
	// Released records stay on disk for a later sink.
	if g.released > 0 {
		return
	}
	if g.file != nil {
		_ = g.file.Close()
		g.file = nil
	}
	_ = os.Remove(g.path)
	g.removed = true
	s.stats.bytes -= g.size
	s.segs = slices.DeleteFunc(s.segs, func(x *segment) bool { return x == g })
}

// pending returns the bytes and records on disk not yet acknowledged, and
// the events in records not replayed yet.
func (s *spool) pending() (bytes, records int64, unreplayedEvents int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.segs {
		unreplayedEvents += g.events
	}
	return s.stats.bytes, s.stats.records, unreplayedEvents
}

// hasUnreplayed reports whether next would return a record.
func (s *spool) hasUnreplayed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.segs {
		if g.read < g.size && g.readRec < g.records {
			return true
		}
	}
	return false
}

func (s *spool) snapshot() spoolStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// close syncs and closes the files. Segments keep what was not acknowledged
// for the next sink that opens the directory.
func (s *spool) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.w != nil {
		if err := s.w.Sync(); err != nil {
			errs = append(errs, err)
		}
		if err := s.w.Close(); err != nil {
			errs = append(errs, err)
		}
		s.w = nil
	}
	for _, g := range s.segs {
		if g.file != nil {
			_ = g.file.Close()
			g.file = nil
		}
	}
	// Delete the segments whose every record was delivered.
	for _, g := range slices.Clone(s.segs) {
		s.maybeRemove(g)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sink: spool close: %w", err)
	}
	return nil
}
