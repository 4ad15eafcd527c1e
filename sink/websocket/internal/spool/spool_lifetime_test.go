package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink"
)

// TestSpoolDeletesDoneSegmentsWhileRunning: a spool whose records are
// replayed and acknowledged as they come (a server back between short
// outages) deletes each segment once every record in it is done, the
// segment being written included: its bytes go back to the limit, so
// Append never refuses a record as full while nothing is pending, and
// the directory does not fill the disk until Close.
func TestSpoolDeletesDoneSegmentsWhileRunning(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_700_000_000, 0)
	s, err := Open(dir, sink.SyncNever, 256<<10, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 20<<10)
	for i := range 40 {
		if err := s.Append(Record{Events: 1, Created: now, Data: data}); err != nil {
			bytes, recs, _ := s.Pending()
			t.Fatalf("append %d: %v with %d records pending (%d bytes)", i, err, recs, bytes)
		}
		_, ref, _, ok := s.Next(time.Time{})
		if !ok {
			t.Fatalf("record %d not handed out", i)
		}
		s.Ack(ref)
		if bytes, recs, ev := s.Pending(); bytes != 0 || recs != 0 || ev != 0 {
			t.Fatalf("after record %d was acknowledged: pending %d bytes, %d records, %d events; want none", i, bytes, recs, ev)
		}
		if segs, _ := filepath.Glob(filepath.Join(dir, "*"+Suffix+"*")); len(segs) != 0 {
			t.Fatalf("after record %d was acknowledged the directory holds %v", i, segs)
		}
	}
	// Half done: the segment stays, with the record not acknowledged.
	for i := range 2 {
		if err := s.Append(Record{Events: 1, Created: now, Data: fmt.Appendf(nil, "r%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, ref, _, _ := s.Next(time.Time{})
	s.Ack(ref)
	if _, recs, ev := s.Pending(); recs != 1 || ev != 1 {
		t.Errorf("pending %d records, %d events; want 1 and 1", recs, ev)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, sink.SyncNever, 0, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rec, _, _, ok := r.Next(time.Time{})
	if !ok || string(rec.Data) != "r1" {
		t.Errorf("a later spool replays %q (%v), want r1", rec.Data, ok)
	}
}

// TestSpoolDirRemovedWhileRunning: the spool directory disappears while
// the spool is open (an operator's cleanup, a reaper of temporary files).
// The records of segments it has open are still replayed; those it cannot
// read are counted as lost with every event in them, never lost
// uncounted.
func TestSpoolDirRemovedWhileRunning(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	now := time.Unix(1_700_000_000, 0)
	// Segments of 64 KiB: 6 records of 20 KiB fill three of them.
	s, err := Open(dir, sink.SyncNever, 512<<10, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 20<<10)
	for range 6 {
		if err := s.Append(Record{Events: 10, Created: now, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	appendErr := s.Append(Record{Events: 10, Created: now, Data: []byte("after")})
	replayed := 0
	for {
		rec, ref, _, ok := s.Next(time.Time{})
		if !ok {
			break
		}
		replayed += rec.Events
		s.Ack(ref)
	}
	loss := s.TakeLoss()
	accounted := int64(replayed) + loss.Events
	if appendErr != nil {
		accounted += 10 // refused: the caller counts it
	}
	t.Logf("append after the removal: %v; replayed %d events; loss %+v", appendErr, replayed, loss)
	if accounted != 70 {
		t.Errorf("of 70 events spooled, %d were replayed or counted lost: %d vanished uncounted", accounted, 70-accounted)
	}
	if _, recs, ev := s.Pending(); recs != 0 || ev != 0 {
		t.Errorf("pending %d records, %d events after the replay; want none", recs, ev)
	}
}

// TestSpoolSegmentsRemovedBeforeReplay: segments a spool found at Open
// that are gone when it comes to replay them are counted as lost, with
// every event in them; a segment removed while it still held records not
// replayed makes Close fail, naming it.
func TestSpoolSegmentsRemovedBeforeReplay(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	s, err := Open(dir, sink.SyncNever, 512<<10, clock)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 20<<10)
	for range 6 {
		if err := s.Append(Record{Events: 10, Created: now, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, sink.SyncNever, 512<<10, clock)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := r.Next(time.Time{}); ok {
		t.Error("Next handed out a record of a removed segment")
	}
	if loss := r.TakeLoss(); loss.Events != 60 {
		t.Errorf("loss %+v, want the 60 events of the removed segments", loss)
	}
	if _, recs, ev := r.Pending(); recs != 0 || ev != 0 {
		t.Errorf("pending %d records, %d events; want none", recs, ev)
	}
	if err := r.Close(); err != nil {
		t.Errorf("close after every record was counted: %v", err)
	}

	// Removed with a record not replayed in the segment being written.
	w, err := Open(dir, sink.SyncNever, 0, clock)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(Record{Events: 1, Created: now, Data: []byte("kept")}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	err = w.Close()
	if err == nil || !strings.Contains(err.Error(), "was removed") || !strings.Contains(err.Error(), dir) {
		t.Errorf("Close of a spool whose segment was removed with a record in it: %v, want an error naming it", err)
	}
	// The record is counted lost, with its event, and is no longer pending.
	if loss := w.TakeLoss(); loss.Events != 1 || loss.Records != 1 {
		t.Errorf("loss after Close %+v, want the removed segment's 1 record of 1 event", loss)
	}
	if bytes, recs, ev := w.Pending(); bytes != 0 || recs != 0 || ev != 0 {
		t.Errorf("pending after Close: %d bytes, %d records, %d events; want none", bytes, recs, ev)
	}
	if st := w.Stats(); st.LostEvents != 1 {
		t.Errorf("Stats().LostEvents = %d, want 1", st.LostEvents)
	}
}

// crash ends s as the end of its process would: its files are closed as
// they are, nothing synced or deleted, and its lock is released.
func crash(s *Spool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.w = nil
	for _, g := range s.segs {
		for _, f := range []*os.File{g.file, g.ackFile} {
			if f != nil {
				_ = f.Close()
			}
		}
		g.file, g.ackFile = nil, nil
	}
	if s.lock != nil {
		_ = s.lock.Close()
		s.lock = nil
	}
}

// TestSpoolLockedWhileOpen: a second spool on a directory another spool
// has open is refused (it would replay, acknowledge and delete the
// segments the first one is writing), with an error wrapping ErrInUse
// that names the lock file; after Close, or the end of the first spool's
// process, the directory opens again.
func TestSpoolLockedWhileOpen(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	a, err := Open(dir, sink.SyncNever, 0, clock)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Append(Record{Events: 1, Created: now, Data: []byte("a-0")}); err != nil {
		t.Fatal(err)
	}
	b, err := Open(dir, sink.SyncNever, 0, clock)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), filepath.Join(dir, LockName)) {
		t.Fatalf("second Open: %v, want ErrInUse naming the lock file", err)
	}
	if b != nil {
		t.Fatal("second Open returned a spool")
	}
	if err := a.Append(Record{Events: 1, Created: now, Data: []byte("a-1")}); err != nil {
		t.Fatal(err)
	}
	crash(a)
	c, err := Open(dir, sink.SyncNever, 0, clock)
	if err != nil {
		t.Fatalf("Open after the first spool's process ended: %v", err)
	}
	if got := replayAll(t, c); len(got) != 2 {
		t.Errorf("replayed %q, want a-0 and a-1", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}
