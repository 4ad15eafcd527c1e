package sink

import (
	"fmt"
	"strconv"
	"time"
)

// SyncPolicy says when a sink forces what it wrote to stable storage with
// fsync: the File sink (file.WithSync) and the WebSocket sink's spool
// (websocket.WithSpoolSync) take the same policies. Without fsync, what was written
// survives a crash of the process but not always one of the machine.
//
// The zero value is SyncOnFlush. Every policy but SyncNever syncs on
// Flush and Close, and when a file is finished: a File sink's file at
// rotation, a spool segment when the spool starts the next one. SyncEvery
// and SyncInterval sync more often, as they are written to; no policy
// syncs from a timer. The records they count are what the sink writes at
// once: one Write call (a batch of events) for the File sink, one frame
// (a StoreTrace of a trace segment) for the spool, whose acknowledgement
// files follow the same policy.
//
// A SyncPolicy is a comparable value: compare it with ==.
type SyncPolicy struct {
	mode     syncMode
	every    int
	interval time.Duration
}

type syncMode uint8

const (
	syncOnFlush syncMode = iota
	syncNever
	syncEvery
	syncInterval
)

var (
	// SyncOnFlush syncs on Flush and Close and when a file is finished
	// (the zero SyncPolicy). For the spool, the WebSocket sink's Flush
	// syncs what it spooled and acknowledged since the last sync.
	SyncOnFlush = SyncPolicy{}
	// SyncNever never calls fsync, not even at Close: the operating
	// system decides when data reaches the disk. Flush and Close still
	// hand buffered data to the operating system.
	SyncNever = SyncPolicy{mode: syncNever}
)

// SyncEvery returns the policy that also syncs after every n records:
// SyncEvery(1) syncs each one, so that nothing the sink wrote is lost on
// a machine crash, at the cost of one fsync per record. n must be at
// least 1 (the sink's constructor refuses others).
func SyncEvery(n int) SyncPolicy { return SyncPolicy{mode: syncEvery, every: n} }

// SyncInterval returns the policy that also syncs on the first record
// written at least d after the previous sync. d must be positive (the
// sink's constructor refuses others).
func SyncInterval(d time.Duration) SyncPolicy { return SyncPolicy{mode: syncInterval, interval: d} }

// String describes the policy: "on flush", "never", "every N records" or
// "every D".
func (p SyncPolicy) String() string {
	switch p.mode {
	case syncNever:
		return "never"
	case syncEvery:
		return "every " + strconv.Itoa(p.every) + " records"
	case syncInterval:
		return "every " + p.interval.String()
	}
	return "on flush"
}

// Validate returns nil for a policy a sink can follow, and an error
// wrapping ErrInvalidOption for one built from an invalid value
// (SyncEvery of less than 1, SyncInterval of a duration that is not
// positive). The error names option, the option the policy was given to
// (such as "WithSync"). A sink's constructor calls it on the policies it
// is given.
func (p SyncPolicy) Validate(option string) error {
	if p.mode == syncEvery && p.every < 1 || p.mode == syncInterval && p.interval <= 0 {
		return fmt.Errorf("%w: %s(%v): SyncEvery needs at least 1 record, SyncInterval a positive duration", ErrInvalidOption, option, p)
	}
	return nil
}

// SyncTracker follows a SyncPolicy for one file or set of files: it
// counts the records written since the last sync and the time of that
// sync, and says when the policy wants the next one. A sink keeps one per
// file it syncs (the File sink one for its file, the spool one for the
// segment it writes and one for its acknowledgement files). Call Synced
// when the file is opened, so that SyncInterval counts from then. The
// zero value has seen no record; a SyncTracker is not safe for concurrent
// use.
type SyncTracker struct {
	since int       // records written since the last sync
	last  time.Time // when the last sync ran (or the state was reset)
}

// Record notes a record written at now and reports whether p wants a sync
// now: after SyncEvery's count of records, or on the first record at least
// SyncInterval's duration after the last sync; never for SyncOnFlush and
// SyncNever. The caller then syncs and calls Synced.
func (st *SyncTracker) Record(p SyncPolicy, now time.Time) bool {
	st.since++
	switch p.mode {
	case syncEvery:
		return st.since >= p.every
	case syncInterval:
		return now.Sub(st.last) >= p.interval
	}
	return false
}

// Syncs reports whether p ever syncs: false for SyncNever only. A sink
// skips its syncs on Flush, rotation and Close when it is false.
func (p SyncPolicy) Syncs() bool { return p.mode != syncNever }

// Synced notes a sync at now: the count of records starts again from 0.
func (st *SyncTracker) Synced(now time.Time) { st.since, st.last = 0, now }
