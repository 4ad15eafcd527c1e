package spool

import (
	"cmp"
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

	"github.com/reflowtrace/reflowtrace-go/sink"
)

// Spool file layout. A segment file starts with spoolMagic and holds
// records, each a header of payload length and CRC-32C (both little-endian
// uint32) followed by the payload: flags (1 byte), event count (uint32),
// creation time (int64 Unix nanoseconds) and the frame.
//
// Damage. A record whose length is implausible or whose checksum fails is
// damaged: reading resynchronises at the next offset holding a record of
// plausible length whose checksum matches, so one damaged record costs
// only itself. Its events are counted as lost when its header can still be
// trusted (its length leads exactly to the next good record, or past the
// end of a torn file, and its event count fits the length); otherwise only
// the record is counted. A segment found damaged (a bad magic, a damaged
// record, a torn tail) is never deleted: once its healthy records are
// replayed and acknowledged it is renamed to NNN.spool.damaged in the
// spool directory (and reported in the log), where it stays for a person
// to inspect and remove; later sinks ignore it.
//
// Acknowledgements. Next to each segment with acknowledged records, a
// small file NNN.spool.ack holds the offset up to which every record was
// acknowledged (or expired, or skipped as damaged), so that a later
// process resumes after it instead of sending those records again. Records
// are mostly acknowledged in the order they were handed out; one
// acknowledged out of order, after a record still in flight or given
// back, moves the offset only once the records before it are done, and
// until then is listed after the slots, so that a later process skips it
// too. The file has two slots of spoolAckSlot bytes, written in turn:
// magic, sequence number, offset, flags (bit 0: the segment is damaged),
// CRC-32C of the slot's first 28 bytes. The valid slot with the higher
// sequence number wins, so a torn write leaves the previous one; with
// neither valid the segment is replayed from its start. After the slots
// come entries of spoolAckEntry bytes, one per record acknowledged out of
// order: the offset after the record (little-endian uint64),
// spoolAckEntryTag, CRC-32C of the entry's first 12 bytes. Entries at or
// before the slot's offset mean nothing; the list is read up to the first
// entry that is not valid (a torn write) and emptied once the offset
// passes every record acknowledged. A write lost to a crash costs
// duplicates (harmless: a spooled StoreTrace replaces its trace whole),
// never records. The file is synced as the SyncPolicy says, and deleted
// after its segment.
const (
	spoolMagic       = "RFTSPL1\n"
	spoolAckExt      = ".ack" // appended to a segment's name for its acknowledgements
	spoolAckMagic    = "RFTACK1\n"
	spoolAckSlot     = 32
	spoolAckEntry    = 16
	spoolAckEntryTag = "ACK1"
	spoolAckDamaged  = 1 << 0
	spoolHeaderLen   = 8
	spoolMetaLen     = 1 + 4 + 8
	spoolMaxPayload  = 64 << 20
	spoolMinSegment  = 64 << 10
	spoolMaxSegment  = 8 << 20
	spoolFlagCrit    = 1 << 0
	spoolFlagBinary  = 1 << 1
	spoolFlagCompres = 1 << 2
)

// The names of the spool's files: a segment is NNN.spool (NNN its number,
// 20 digits), a damaged segment set aside NNN.spool.damaged.
const (
	// Suffix ends the name of every segment file.
	Suffix = ".spool"
	// DamagedExt is appended to the name of a damaged segment file set
	// aside for a person to inspect; no spool reads it again.
	DamagedExt = ".damaged"
)

var spoolCRC = crc32.MakeTable(crc32.Castagnoli)

// LockName is the name of the lock file in a spool directory: one spool
// at a time holds it, from Open to Close.
const LockName = "LOCK"

// ErrInUse is returned, wrapped, by Open when another spool, in this
// process or another, has the directory open: two spools on one
// directory would replay, acknowledge and delete each other's segments.
var ErrInUse = errors.New("sink: spool directory in use by another sink")

// ErrFull is returned by Append when the record does not fit in the
// spool's byte limit (for a routine record, in the seven eighths of it
// that routine records may fill).
var ErrFull = errors.New("sink: spool full")

// Record is one frame kept on disk, with what the sink needs to replay,
// expire and count it.
type Record struct {
	Critical   bool // every event in it is critical: it may use the last eighth of the limit
	Binary     bool // the payload is the wire form of a binary frame
	Compressed bool // the payload is a size-prefixed LZ4 block
	Events     int  // the events the frame carries
	Created    time.Time
	Data       []byte // the frame, or its first part
	// Parts follow Data in the payload when a record is written (a
	// frame's JSON in pieces, written as they are); a record read back
	// has them in Data.
	Parts [][]byte
}

// size is the length of the record's frame.
func (r *Record) size() int {
	n := len(r.Data)
	for _, p := range r.Parts {
		n += len(p)
	}
	return n
}

// Ref locates a record handed out by Next, for Ack or Release.
type Ref struct {
	seg    *segment
	end    int64 // offset after the record
	events int   // the events the record carries
}

// Valid reports whether r locates a record: the zero Ref, of a frame that
// was not read from the spool, locates none.
func (r Ref) Valid() bool { return r.seg != nil }

// spoolOut is a record after a segment's acknowledged offset that was
// handed out, or skipped (done at once).
type spoolOut struct {
	end  int64
	done bool
}

type segment struct {
	id       uint64
	path     string
	size     int64 // end of the last good record (a torn tail may follow)
	records  int   // good records
	unacked  int   // records handed out by next and not acked yet
	released int   // records handed out and given back undelivered
	removed  bool  // deleted or set aside, and dropped from segs
	read     int64 // replay offset
	readRec  int   // good records replayed
	events   int   // events in good records not yet replayed
	file     *os.File
	// damaged is set once damage was found in the file: it is set aside,
	// not deleted. gaps are the damaged byte ranges found by the scan
	// (start → end), already counted; next skips them.
	damaged bool
	gaps    map[int64]int64
	// acked is the offset before which every record is done: acknowledged,
	// expired or damaged; out the records after it handed out or skipped,
	// in file order. ackFile, ackSeq and ackDamaged are what was written
	// to the acknowledgement file (nil until the first write).
	acked      int64
	out        []spoolOut
	ackFile    *os.File
	ackSeq     uint64
	ackDamaged bool
	ackDirty   bool // written since the last sync
	// ackLog is the number of entries after the slots (records
	// acknowledged out of order); doneAt the records (start → end) an
	// earlier process acknowledged out of order, which next skips.
	ackLog int
	doneAt map[int64]int64
}

// Stats are the spool's counters since it was opened; Bytes and Records
// are what is on disk now, not acknowledged yet, those found at Open
// included.
type Stats struct {
	Bytes, Records    int64
	CorruptRecords    int64 // damaged records (at least one per damaged range)
	CorruptBytes      int64
	LostEvents        int64 // events of damaged records, where known
	Quarantined       int64 // damaged segment files set aside
	RecoveredRecords  int64
	RecoveredSegments int64
	Syncs             int64 // fsync calls, segments and acknowledgement files
}

// Loss is what the spool lost to damage since the last TakeLoss.
type Loss struct {
	Records, Events int64
	Quarantined     []string // paths of the segment files set aside
}

// Spool is an append-only store of frames in segment files, replayed
// oldest first and deleted segment by segment once every record of a
// segment was acknowledged. It is safe for concurrent use.
type Spool struct {
	dir      string
	policy   sink.SyncPolicy
	maxBytes int64 // 0: unbounded
	segSize  int64
	now      func() time.Time

	mu      sync.Mutex
	segs    []*segment // oldest first; the last one is written to
	w       *os.File
	wSync   sink.SyncTracker // of w
	wDirty  bool             // w was written since its last sync
	nextID  uint64
	stats   Stats
	loss    Loss // not reported yet
	scratch []byte
	closed  bool
	lock    *os.File         // LockName, held until Close
	ackSync sink.SyncTracker // of the acknowledgement files, together
	ackErr  error            // first failure to write one, reported by close
}

// Open opens or creates dir, takes its lock file (an error wrapping
// ErrInUse when another spool holds it) and scans the segments a previous
// sink left there. Damaged records are skipped and counted, never fatal.
func Open(dir string, policy sink.SyncPolicy, maxBytes int64, now func() time.Time) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sink: spool: %w", err)
	}
	lockPath := filepath.Join(dir, LockName)
	lock, err := lockDir(lockPath)
	if err != nil {
		return nil, fmt.Errorf("sink: spool: lock %s: %w", lockPath, err)
	}
	s, err := open(dir, policy, maxBytes, now)
	if err != nil {
		lock.Close()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

func open(dir string, policy sink.SyncPolicy, maxBytes int64, now func() time.Time) (*Spool, error) {
	seg := maxBytes / 8
	seg = min(max(seg, spoolMinSegment), spoolMaxSegment)
	s := &Spool{dir: dir, policy: policy, segSize: seg, now: now, maxBytes: maxBytes}
	s.wSync.Synced(now())
	s.ackSync.Synced(now())
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sink: spool: %w", err)
	}
	var ids []uint64
	acks := make(map[uint64]bool)
	for _, e := range entries {
		id, rest, ok := parseSegName(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		// New segments are numbered after every file of the spool, those
		// set aside included, so that no name is used twice.
		s.nextID = max(s.nextID, id+1)
		switch rest {
		case "":
			ids = append(ids, id)
		case spoolAckExt:
			acks[id] = true
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		delete(acks, id)
		g := &segment{id: id, path: s.segPath(id)}
		if err := s.scan(g); err != nil {
			return nil, err
		}
		if g.records == 0 {
			s.discard(g)
			continue
		}
		s.segs = append(s.segs, g)
		s.stats.RecoveredSegments++
		s.stats.RecoveredRecords += int64(g.records)
		s.stats.Records += int64(g.records)
		s.stats.Bytes += g.size
	}
	for id := range acks {
		_ = os.Remove(s.segPath(id) + spoolAckExt) // its segment is gone
	}
	return s, nil
}

// parseSegName splits a spool file name into its segment id and what
// follows ".spool" ("" for a segment, ".damaged" for one set aside).
func parseSegName(name string) (id uint64, rest string, ok bool) {
	num, tail, found := strings.Cut(name, Suffix)
	if !found {
		return 0, "", false
	}
	id, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, "", false
	}
	return id, tail, true
}

func (s *Spool) segPath(id uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", id, Suffix))
}

// scan validates g's records, counts the events in them and records the
// damaged ranges.
func (s *Spool) scan(g *segment) error {
	b, err := os.ReadFile(g.path)
	if err != nil {
		return fmt.Errorf("sink: spool: %w", err)
	}
	off := len(spoolMagic)
	if len(b) < off || string(b[:off]) != spoolMagic {
		// The records may still be whole: read on from where they start.
		g.damaged = true
		s.stats.CorruptBytes += int64(min(len(b), off))
	}
	var done map[int64]bool
	if a, ok := readAckFile(g.path + spoolAckExt); ok && a.acked >= int64(off) && a.acked <= int64(len(b)) {
		// Resume after what an earlier sink had acknowledged.
		off = int(a.acked)
		g.damaged = g.damaged || a.damaged
		g.ackSeq, g.ackDamaged, g.ackLog = a.seq, a.damaged, len(a.done)
		for _, end := range a.done {
			if end > a.acked {
				if done == nil {
					done = make(map[int64]bool)
				}
				done[end] = true
			}
		}
	}
	g.size = int64(off)
	g.read = g.size
	g.acked = g.size
	for off < len(b) {
		rec, n, ok := parseRecord(b[off:])
		if ok {
			if end := int64(off + n); done[end] {
				// Acknowledged out of order: next skips it.
				if g.doneAt == nil {
					g.doneAt = make(map[int64]int64)
				}
				g.doneAt[int64(off)] = end
			} else {
				g.records++
				g.events += rec.Events
			}
			off += n
			g.size = int64(off)
			continue
		}
		end := off + resync(b[off:])
		s.damageLocked(g, b[off:end], end == len(b))
		if g.gaps == nil {
			g.gaps = make(map[int64]int64)
		}
		g.gaps[int64(off)] = int64(end)
		off = end
	}
	return nil
}

// parseRecord reads the record at the start of b. It reports false for a
// torn or damaged record.
func parseRecord(b []byte) (Record, int, bool) {
	if len(b) < spoolHeaderLen {
		return Record{}, 0, false
	}
	n := binary.LittleEndian.Uint32(b[0:4])
	if n < spoolMetaLen || n > spoolMaxPayload || int64(n) > int64(len(b)-spoolHeaderLen) {
		return Record{}, 0, false
	}
	p := b[spoolHeaderLen : spoolHeaderLen+int(n)]
	if crc32.Checksum(p, spoolCRC) != binary.LittleEndian.Uint32(b[4:8]) {
		return Record{}, 0, false
	}
	return decodePayload(p), spoolHeaderLen + int(n), true
}

func decodePayload(p []byte) Record {
	flags := p[0]
	return Record{
		Critical:   flags&spoolFlagCrit != 0,
		Binary:     flags&spoolFlagBinary != 0,
		Compressed: flags&spoolFlagCompres != 0,
		Events:     int(binary.LittleEndian.Uint32(p[1:5])),
		Created:    time.Unix(0, int64(binary.LittleEndian.Uint64(p[5:13]))),
		Data:       p[spoolMetaLen:],
	}
}

// resync returns the offset in b, after 0, of the first good record, or
// len(b) when there is none.
func resync(b []byte) int {
	for p := 1; p+spoolHeaderLen+spoolMetaLen <= len(b); p++ {
		n := binary.LittleEndian.Uint32(b[p:])
		if n < spoolMetaLen || n > spoolMaxPayload || int64(n) > int64(len(b)-p-spoolHeaderLen) {
			continue // the common case: a byte of JSON text is never 0
		}
		if _, _, ok := parseRecord(b[p:]); ok {
			return p
		}
	}
	return len(b)
}

// damagedEvents returns the event count of the damaged range r when its
// header can be trusted: its length spans r exactly (or runs past the end
// of a torn file, when atEnd) and its event count fits in that length.
func damagedEvents(r []byte, atEnd bool) (int, bool) {
	if len(r) < spoolHeaderLen+spoolMetaLen {
		return 0, false
	}
	n := int64(binary.LittleEndian.Uint32(r[0:4]))
	if n < spoolMetaLen || n > spoolMaxPayload {
		return 0, false
	}
	if total := spoolHeaderLen + n; total != int64(len(r)) && !(atEnd && total > int64(len(r))) {
		return 0, false
	}
	ev := int64(binary.LittleEndian.Uint32(r[spoolHeaderLen+1:]))
	if ev == 0 || ev > n-spoolMetaLen {
		return 0, false
	}
	return int(ev), true
}

// damageLocked counts the damaged range r of g as one lost record, and its
// events when they are known. s.mu must be held (or s not shared yet).
func (s *Spool) damageLocked(g *segment, r []byte, atEnd bool) {
	g.damaged = true
	s.stats.CorruptRecords++
	s.stats.CorruptBytes += int64(len(r))
	s.loss.Records++
	if ev, ok := damagedEvents(r, atEnd); ok {
		s.stats.LostEvents += int64(ev)
		s.loss.Events += int64(ev)
	}
}

// readRecord reads the record at off of f, which holds valid bytes up to
// size. It reports false for a torn or damaged record.
func readRecord(f *os.File, off, size int64, buf *[]byte) (Record, int64, bool) {
	var hdr [spoolHeaderLen]byte
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return Record{}, 0, false
	}
	n := binary.LittleEndian.Uint32(hdr[0:4])
	if n < spoolMetaLen || n > spoolMaxPayload || off+spoolHeaderLen+int64(n) > size {
		return Record{}, 0, false
	}
	if cap(*buf) < int(n) {
		*buf = make([]byte, n)
	}
	p := (*buf)[:n]
	if _, err := f.ReadAt(p, off+spoolHeaderLen); err != nil {
		return Record{}, 0, false
	}
	if crc32.Checksum(p, spoolCRC) != binary.LittleEndian.Uint32(hdr[4:8]) {
		return Record{}, 0, false
	}
	return decodePayload(p), spoolHeaderLen + int64(n), true
}

// Append writes rec at the end of the newest segment, starting a new one
// when it is full, and syncs as the policy says.
func (s *Spool) Append(rec Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("sink: spool closed")
	}
	n := spoolMetaLen + rec.size()
	if n > spoolMaxPayload {
		return fmt.Errorf("sink: spool: record of %d bytes too large", n)
	}
	if s.maxBytes > 0 {
		// Routine records may fill the spool up to 7/8 of its limit; the
		// rest is kept for critical ones.
		limit := s.maxBytes
		if !rec.Critical {
			limit -= s.maxBytes / 8
		}
		if s.stats.Bytes+int64(spoolHeaderLen+n+len(spoolMagic)) > limit {
			return ErrFull
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
	// The header, then the payload's pieces as they are: the frame is not
	// copied into one buffer.
	b := s.scratch[:0]
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = binary.LittleEndian.AppendUint32(b, 0)
	var flags byte
	if rec.Critical {
		flags |= spoolFlagCrit
	}
	if rec.Binary {
		flags |= spoolFlagBinary
	}
	if rec.Compressed {
		flags |= spoolFlagCompres
	}
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint32(b, uint32(rec.Events))
	b = binary.LittleEndian.AppendUint64(b, uint64(rec.Created.UnixNano()))
	crc := crc32.Update(0, spoolCRC, b[spoolHeaderLen:])
	crc = crc32.Update(crc, spoolCRC, rec.Data)
	for _, p := range rec.Parts {
		crc = crc32.Update(crc, spoolCRC, p)
	}
	binary.LittleEndian.PutUint32(b[4:8], crc)
	s.scratch = b
	off := g.size
	for _, p := range append([][]byte{b, rec.Data}, rec.Parts...) {
		if len(p) == 0 {
			continue
		}
		if _, err := s.w.WriteAt(p, off); err != nil {
			return fmt.Errorf("sink: spool: write %s: %w", g.path, err)
		}
		off += int64(len(p))
	}
	g.size = off
	g.records++
	g.events += rec.Events
	s.stats.Bytes += int64(spoolHeaderLen + n)
	s.stats.Records++
	s.wDirty = true
	if s.wSync.Record(s.policy, s.now()) {
		if err := s.syncWriter(); err != nil {
			return err
		}
	}
	return nil
}

// fsync syncs f and counts it.
func (s *Spool) fsync(f *os.File) error {
	s.stats.Syncs++
	return f.Sync()
}

// syncWriter syncs the segment being written. s.mu must be held.
func (s *Spool) syncWriter() error {
	if err := s.fsync(s.w); err != nil {
		return fmt.Errorf("sink: spool: sync %s: %w", s.w.Name(), err)
	}
	s.wDirty = false
	s.wSync.Synced(s.now())
	return nil
}

// Sync syncs, unless the policy is SyncNever, the segment being written
// and the acknowledgement files written since their last sync: what the
// spool holds is on disk when it returns nil.
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.policy.Syncs() || s.closed {
		return nil
	}
	var errs []error
	if s.w != nil && s.wDirty {
		errs = append(errs, s.syncWriter())
	}
	for _, g := range s.segs {
		if g.ackFile != nil && g.ackDirty {
			if err := s.fsync(g.ackFile); err != nil {
				errs = append(errs, fmt.Errorf("sink: spool: sync %s: %w", g.path+spoolAckExt, err))
				continue
			}
			g.ackDirty = false
		}
	}
	s.ackSync.Synced(s.now())
	return errors.Join(errs...)
}

// rotate finishes the segment being written and starts a new one. The
// finished segment's file stays open for replay (see reader), and is
// deleted here when its records are all done already.
func (s *Spool) rotate() error {
	if s.w != nil {
		if s.policy.Syncs() && s.wDirty {
			_ = s.syncWriter() // a failure costs at most this segment's durability
		}
		s.w = nil
		s.wDirty = false
		s.maybeRemove(s.segs[len(s.segs)-1])
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
	g.read, g.acked = g.size, g.size
	s.stats.Bytes += g.size
	s.w, g.file = f, f
	s.segs = append(s.segs, g)
	return nil
}

// Next returns the oldest record not replayed yet; ok is false when every
// record was handed out. Records created before expireBefore (when not
// zero) are skipped and their events added to expired. Damaged records are
// skipped and counted (see TakeLoss).
func (s *Spool) Next(expireBefore time.Time) (rec Record, ref Ref, expired int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range slices.Clone(s.segs) {
		for !g.removed && g.read < g.size {
			if end, ok := g.doneAt[g.read]; ok {
				// An earlier process had it acknowledged.
				delete(g.doneAt, g.read)
				s.skipTo(g, end)
				continue
			}
			f, err := s.reader(g)
			if err != nil {
				s.loseRestLocked(g) // removed, or its permissions changed
				break
			}
			var buf []byte
			r, n, good := readRecord(f, g.read, g.size, &buf)
			if !good {
				s.skipDamaged(g, f)
				continue
			}
			g.read += n
			g.readRec++
			g.events -= r.Events
			if !expireBefore.IsZero() && r.Created.Before(expireBefore) {
				expired += r.Events
				s.stats.Records--
				s.skipTo(g, g.read)
				continue
			}
			g.unacked++
			g.out = append(g.out, spoolOut{end: g.read})
			return r, Ref{seg: g, end: g.read, events: r.Events}, expired, true
		}
	}
	return Record{}, Ref{}, expired, false
}

// skipDamaged moves g's replay offset past the damaged range at it,
// counting the range unless the scan already did. s.mu must be held.
func (s *Spool) skipDamaged(g *segment, f *os.File) {
	if end, ok := g.gaps[g.read]; ok {
		s.skipTo(g, end)
		return
	}
	b := make([]byte, g.size-g.read)
	if _, err := f.ReadAt(b, g.read); err != nil && !errors.Is(err, io.EOF) {
		s.loseRestLocked(g)
		return
	}
	end := resync(b)
	s.damageLocked(g, b[:end], end == len(b))
	s.skipTo(g, g.read+int64(end))
}

// loseRestLocked counts the records of g not replayed yet as lost, for a
// segment that cannot be read: one damaged record, and every event they
// hold (the spool counted them as they were written). s.mu must be held.
func (s *Spool) loseRestLocked(g *segment) {
	s.damageLocked(g, nil, true)
	s.stats.LostEvents += int64(g.events)
	s.loss.Events += int64(g.events)
	s.skipTo(g, g.size)
}

// skipTo moves g's replay offset to off past records that need no
// acknowledgement (expired or damaged), and settles g's counts when it
// reaches the end. s.mu must be held.
func (s *Spool) skipTo(g *segment, off int64) {
	g.read = off
	if g.read >= g.size && g.readRec < g.records {
		// Damage found while replaying hid records the counts include.
		s.stats.Records -= int64(g.records - g.readRec)
		g.records = g.readRec
		g.events = 0
	}
	g.out = append(g.out, spoolOut{end: off, done: true})
	s.settle(g)
}

// settle moves g's acknowledged offset past the records done at the front
// of g.out, then deletes g if it is finished or else writes the offset.
// s.mu must be held.
func (s *Spool) settle(g *segment) {
	moved := false
	for len(g.out) > 0 && g.out[0].done {
		g.acked = g.out[0].end
		g.out = g.out[1:]
		moved = true
	}
	if len(g.out) == 0 {
		g.out = nil // let the backing array go
	}
	s.maybeRemove(g)
	if !g.removed && (moved || g.damaged != g.ackDamaged) {
		s.writeAck(g)
		if g.ackLog > 0 && g.ackFile != nil && !slices.ContainsFunc(g.out, func(o spoolOut) bool { return o.done }) && len(g.doneAt) == 0 {
			// The offset passed every record acknowledged out of order.
			if err := g.ackFile.Truncate(2 * spoolAckSlot); err == nil {
				g.ackLog = 0
			}
		}
	}
}

// logAck lists end, the end of a record of g acknowledged before the
// records ahead of it, in g's acknowledgement file. s.mu must be held.
func (s *Spool) logAck(g *segment, end int64) {
	if g.ackSeq == 0 {
		s.writeAck(g) // entries count only after a valid slot
	}
	if !s.openAck(g) {
		return
	}
	var b [spoolAckEntry]byte
	binary.LittleEndian.PutUint64(b[0:8], uint64(end))
	copy(b[8:12], spoolAckEntryTag)
	binary.LittleEndian.PutUint32(b[12:16], crc32.Checksum(b[:12], spoolCRC))
	if _, err := g.ackFile.WriteAt(b[:], 2*spoolAckSlot+int64(g.ackLog)*spoolAckEntry); err != nil {
		s.ackErr = cmp.Or(s.ackErr, fmt.Errorf("sink: spool: write %s: %w", g.path+spoolAckExt, err))
		return
	}
	g.ackLog++
	s.syncAck(g)
}

// writeAck writes g's acknowledged offset to the slot of its
// acknowledgement file not written last, and syncs as the policy says.
// A failure costs duplicates after a restart; the first is reported by
// close. s.mu must be held.
func (s *Spool) writeAck(g *segment) {
	if !s.openAck(g) {
		return
	}
	g.ackSeq++
	var flags uint32
	if g.damaged {
		flags |= spoolAckDamaged
	}
	b := make([]byte, 0, spoolAckSlot)
	b = append(b, spoolAckMagic...)
	b = binary.LittleEndian.AppendUint64(b, g.ackSeq)
	b = binary.LittleEndian.AppendUint64(b, uint64(g.acked))
	b = binary.LittleEndian.AppendUint32(b, flags)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, spoolCRC))
	if _, err := g.ackFile.WriteAt(b, int64(g.ackSeq%2)*spoolAckSlot); err != nil {
		s.ackErr = cmp.Or(s.ackErr, fmt.Errorf("sink: spool: write %s: %w", g.path+spoolAckExt, err))
		return
	}
	g.ackDamaged = g.damaged
	s.syncAck(g)
}

// openAck opens g's acknowledgement file unless it is open, and reports
// whether it is. s.mu must be held.
func (s *Spool) openAck(g *segment) bool {
	if g.ackFile != nil {
		return true
	}
	f, err := os.OpenFile(g.path+spoolAckExt, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		s.ackErr = cmp.Or(s.ackErr, fmt.Errorf("sink: spool: %w", err))
		return false
	}
	g.ackFile = f
	return true
}

// syncAck notes that g's acknowledgement file was written, and syncs it as
// the policy says. s.mu must be held.
func (s *Spool) syncAck(g *segment) {
	g.ackDirty = true
	if s.ackSync.Record(s.policy, s.now()) {
		if err := s.fsync(g.ackFile); err != nil {
			s.ackErr = cmp.Or(s.ackErr, fmt.Errorf("sink: spool: sync %s: %w", g.path+spoolAckExt, err))
			return
		}
		g.ackDirty = false
		s.ackSync.Synced(s.now())
	}
}

// ackFile is what an acknowledgement file holds: the offset before which
// every record is done, the damage flag and the sequence number of the
// valid slot, and the ends of the records acknowledged out of order.
type ackFile struct {
	acked   int64
	damaged bool
	seq     uint64
	done    []int64
}

// readAckFile reads the acknowledgement file at path; ok is false when it
// has no valid slot.
func readAckFile(path string) (a ackFile, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ackFile{}, false
	}
	for at := 0; at+spoolAckSlot <= len(b) && at <= spoolAckSlot; at += spoolAckSlot {
		slot := b[at : at+spoolAckSlot]
		if string(slot[:len(spoolAckMagic)]) != spoolAckMagic ||
			crc32.Checksum(slot[:28], spoolCRC) != binary.LittleEndian.Uint32(slot[28:]) {
			continue
		}
		if n := binary.LittleEndian.Uint64(slot[8:16]); !ok || n > a.seq {
			a.seq, ok = n, true
			a.acked = int64(binary.LittleEndian.Uint64(slot[16:24]))
			a.damaged = binary.LittleEndian.Uint32(slot[24:28])&spoolAckDamaged != 0
		}
	}
	if !ok {
		return ackFile{}, false
	}
	for at := 2 * spoolAckSlot; at+spoolAckEntry <= len(b); at += spoolAckEntry {
		e := b[at : at+spoolAckEntry]
		if string(e[8:12]) != spoolAckEntryTag || crc32.Checksum(e[:12], spoolCRC) != binary.LittleEndian.Uint32(e[12:]) {
			break // a torn write: what follows was never written whole
		}
		a.done = append(a.done, int64(binary.LittleEndian.Uint64(e[:8])))
	}
	return a, true
}

func (s *Spool) reader(g *segment) (*os.File, error) {
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

// Ack marks a record handed out by Next as delivered. A segment whose
// records were all replayed and acknowledged is deleted (or set aside
// when damaged).
func (s *Spool) Ack(ref Ref) {
	if ref.seg == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := ref.seg
	g.unacked--
	s.stats.Records--
	for i := range g.out {
		if g.out[i].end == ref.end {
			g.out[i].done = true
			break
		}
	}
	s.settle(g)
	if !g.removed && ref.end > g.acked {
		// Behind a record not done yet: listed, so that a later process
		// does not send it again.
		s.logAck(g, ref.end)
	}
}

// Release returns a record handed out by Next, not delivered, so that it is
// replayed again by a later sink (it stays on disk, and the acknowledged
// offset stops before it); this process does not hand it out again.
func (s *Spool) Release(ref Ref) {
	if ref.seg == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ref.seg.unacked--
	ref.seg.released++
	ref.seg.events += ref.events // on disk for a later sink again
}

// maybeRemove deletes g once every record in it is done, and gives its
// bytes back to the limit. The segment being written goes too: the next
// Append starts a new one.
func (s *Spool) maybeRemove(g *segment) {
	if g.removed || g.read < g.size || g.unacked > 0 {
		return
	}
	// Released records stay on disk for a later sink.
	if g.released > 0 {
		return
	}
	if len(s.segs) > 0 && s.segs[len(s.segs)-1] == g && s.w != nil {
		// Done with, so not worth a sync.
		s.w, s.wDirty = nil, false
	}
	if g.file != nil {
		_ = g.file.Close()
		g.file = nil
	}
	s.discard(g)
	g.removed = true
	s.stats.Bytes -= g.size
	s.segs = slices.DeleteFunc(s.segs, func(x *segment) bool { return x == g })
}

// loseRemovedLocked counts the records of g, whose file was removed from
// disk, that were not done as lost, with their events, and drops g. It
// returns how many records and events it counted. s.mu must be held.
func (s *Spool) loseRemovedLocked(g *segment) (records, events int) {
	records = g.records - g.readRec + g.released + g.unacked
	events = g.events
	s.stats.Records -= int64(records)
	s.stats.Bytes -= g.size
	s.stats.LostEvents += int64(events)
	s.loss.Records += int64(records)
	s.loss.Events += int64(events)
	g.events = 0
	if g.file != nil {
		_ = g.file.Close()
		g.file = nil
	}
	g.damaged = false // nothing left to set aside
	s.discard(g)
	g.removed = true
	s.segs = slices.DeleteFunc(s.segs, func(x *segment) bool { return x == g })
	return records, events
}

// discard deletes g's files, setting the segment file aside instead when
// it is damaged. The acknowledgement file goes last: a crash in between
// leaves it orphaned (deleted by the next open), never a segment without
// its offset.
func (s *Spool) discard(g *segment) {
	if g.damaged {
		s.quarantine(g)
	} else {
		_ = os.Remove(g.path)
	}
	if g.ackFile != nil {
		_ = g.ackFile.Close()
		g.ackFile = nil
	}
	_ = os.Remove(g.path + spoolAckExt)
}

// quarantine sets the damaged segment g aside for a person to inspect.
// When even the rename fails the file stays where it is (and is scanned
// again by the next sink).
func (s *Spool) quarantine(g *segment) {
	to := g.path + DamagedExt
	if err := os.Rename(g.path, to); err != nil {
		return
	}
	s.stats.Quarantined++
	s.loss.Quarantined = append(s.loss.Quarantined, to)
}

// TakeLoss returns what was lost to damage since the previous call.
func (s *Spool) TakeLoss() Loss {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.loss
	s.loss = Loss{}
	return l
}

// Pending returns the bytes and records on disk not yet acknowledged, and
// the events in records not replayed yet or given back by Release.
func (s *Spool) Pending() (bytes, records int64, unreplayedEvents int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.segs {
		unreplayedEvents += g.events
	}
	return s.stats.Bytes, s.stats.Records, unreplayedEvents
}

// HasUnreplayed reports whether Next may return a record.
func (s *Spool) HasUnreplayed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.segs {
		if g.read < g.size {
			return true
		}
	}
	return false
}

// Stats returns the spool's counters. Safe for concurrent use, also after
// Close.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Close syncs and closes the files. Segments keep what was not acknowledged
// for the next sink that opens the directory.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.w != nil {
		if s.policy.Syncs() && s.wDirty {
			if err := s.fsync(s.w); err != nil {
				errs = append(errs, err)
			}
		}
		s.w = nil // closed below, as its segment's file
	}
	// Delete the segments whose every record was delivered.
	for _, g := range slices.Clone(s.segs) {
		s.maybeRemove(g)
	}
	// A segment removed from disk was read from the open file until now;
	// its records not replayed go with it.
	var gone []string
	var goneRecs, goneEvents int
	for _, g := range slices.Clone(s.segs) {
		if _, err := os.Stat(g.path); errors.Is(err, os.ErrNotExist) {
			gone = append(gone, g.path)
			recs, events := s.loseRemovedLocked(g)
			goneRecs += recs
			goneEvents += events
		}
	}
	if len(gone) > 0 {
		more := ""
		if len(gone) > 1 {
			more = fmt.Sprintf(" (and %d more)", len(gone)-1)
		}
		errs = append(errs, fmt.Errorf("segment %s%s was removed while the spool had it open: %d records of %d events in it not replayed are lost",
			gone[0], more, goneRecs, goneEvents))
	}
	for _, g := range s.segs {
		if g.file != nil {
			_ = g.file.Close()
			g.file = nil
		}
		if g.ackFile != nil {
			if g.ackDirty && s.policy.Syncs() {
				if err := s.fsync(g.ackFile); err != nil {
					errs = append(errs, err)
				}
			}
			if err := g.ackFile.Close(); err != nil {
				errs = append(errs, err)
			}
			g.ackFile = nil
		}
	}
	if s.ackErr != nil {
		errs = append(errs, s.ackErr)
	}
	if s.lock != nil {
		// Last: until every file is closed the directory is this spool's.
		_ = s.lock.Close()
		s.lock = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sink: spool close: %w", err)
	}
	return nil
}
