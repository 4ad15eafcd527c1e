package spool

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink"
)

func TestSpoolAppendReplayAck(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	s, err := Open(dir, sink.SyncEvery(1), 0, clock)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		rec := Record{Critical: i == 2, Events: i + 1, Created: now, Data: fmt.Appendf(nil, "frame-%d", i)}
		if err := s.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	if _, recs, ev := s.Pending(); recs != 5 || ev != 15 {
		t.Fatalf("pending records %d events %d, want 5 and 15", recs, ev)
	}
	var refs []Ref
	for i := range 5 {
		rec, ref, exp, ok := s.Next(time.Time{})
		if !ok || exp != 0 {
			t.Fatalf("next %d: ok %v expired %d", i, ok, exp)
		}
		if want := fmt.Sprintf("frame-%d", i); string(rec.Data) != want || rec.Events != i+1 || rec.Critical != (i == 2) {
			t.Fatalf("record %d = %q events %d critical %v", i, rec.Data, rec.Events, rec.Critical)
		}
		refs = append(refs, ref)
	}
	if _, _, _, ok := s.Next(time.Time{}); ok {
		t.Fatal("next after the last record returned one")
	}
	for _, r := range refs[:3] {
		s.Ack(r)
	}
	s.Release(refs[3])
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A new spool over the same directory replays everything not acked,
	// released records included (the segment is kept whole).
	s2, err := Open(dir, sink.SyncNever, 0, clock)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var got []string
	for {
		rec, ref, _, ok := s2.Next(time.Time{})
		if !ok {
			break
		}
		got = append(got, string(rec.Data))
		s2.Ack(ref)
	}
	if len(got) == 0 || got[len(got)-1] != "frame-4" {
		t.Fatalf("replayed %q, want it to end with frame-4", got)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*"+Suffix)); len(left) != 0 {
		t.Fatalf("segments left after every record was acked: %v", left)
	}
}

func TestSpoolCorruptTail(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, path string)
		want    int // records replayed
		corrupt bool
	}{
		{name: "intact", damage: func(*testing.T, string) {}, want: 3},
		{name: "torn tail", damage: func(t *testing.T, p string) {
			info, _ := os.Stat(p)
			if err := os.Truncate(p, info.Size()-3); err != nil {
				t.Fatal(err)
			}
		}, want: 2, corrupt: true},
		{name: "flipped byte in last record", damage: func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			b[len(b)-1] ^= 0xff
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, want: 2, corrupt: true},
		{name: "garbage appended", damage: func(t *testing.T, p string) {
			f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			f.Write(bytes.Repeat([]byte{0xab}, 40))
			f.Close()
		}, want: 3, corrupt: true},
		{name: "bad magic", damage: func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			b[0] = 'X'
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, want: 3}, // the records are whole; the segment is set aside
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, sink.SyncNever, 0, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if err := s.Append(Record{Events: 1, Created: time.Now(), Data: fmt.Appendf(nil, "record-%d", i)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			segs, _ := filepath.Glob(filepath.Join(dir, "*"+Suffix))
			if len(segs) != 1 {
				t.Fatalf("segments %v", segs)
			}
			tt.damage(t, segs[0])
			s2, err := Open(dir, sink.SyncNever, 0, time.Now)
			if err != nil {
				t.Fatalf("open after damage: %v", err)
			}
			defer s2.Close()
			n := 0
			for {
				_, ref, _, ok := s2.Next(time.Time{})
				if !ok {
					break
				}
				s2.Ack(ref)
				n++
			}
			if n != tt.want {
				t.Errorf("replayed %d records, want %d", n, tt.want)
			}
			if st := s2.Stats(); (st.CorruptRecords > 0) != tt.corrupt {
				t.Errorf("corrupt records %d, want corrupt=%v", st.CorruptRecords, tt.corrupt)
			}
		})
	}
}

func TestSpoolLimits(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s, err := Open(t.TempDir(), sink.SyncNever, 64<<10, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	payload := bytes.Repeat([]byte("x"), 1000)
	routine, critical := 0, 0
	for range 200 {
		if s.Append(Record{Events: 1, Created: now, Data: payload}) == nil {
			routine++
		}
	}
	for range 200 {
		if s.Append(Record{Critical: true, Events: 1, Created: now, Data: payload}) == nil {
			critical++
		}
	}
	if routine == 0 || critical == 0 || routine >= 64 {
		t.Fatalf("routine %d critical %d records admitted in 64 KiB", routine, critical)
	}
	if b, _, _ := s.Pending(); b > 64<<10 {
		t.Fatalf("spool holds %d bytes, limit 64 KiB", b)
	}
	// Age: everything written "now" is expired for a cutoff after now.
	_, _, exp, ok := s.Next(now.Add(time.Second))
	if ok || exp != routine+critical {
		t.Fatalf("next with cutoff: ok %v expired %d, want all %d", ok, exp, routine+critical)
	}
}

// TestSpoolSyncPolicy counts the fsync calls of each policy over 5
// records 4s apart, a sync (the WebSocket sink's Flush), one more record
// and close; with rotate, every record starts a new segment.
func TestSpoolSyncPolicy(t *testing.T) {
	tests := []struct {
		name      string
		policy    sink.SyncPolicy
		rotate    bool
		wantSyncs int64
	}{
		{name: "never", policy: sink.SyncNever, wantSyncs: 0},
		{name: "never, segments", policy: sink.SyncNever, rotate: true, wantSyncs: 0},
		{name: "on flush", policy: sink.SyncOnFlush, wantSyncs: 1 + 1}, // sync, close
		// Four finished segments, sync (which leaves nothing for the fifth
		// to sync when it is finished), close.
		{name: "on flush, segments", policy: sink.SyncOnFlush, rotate: true, wantSyncs: 4 + 1 + 1},
		{name: "every 2 records", policy: sink.SyncEvery(2), wantSyncs: 2 + 1 + 1}, // records 2 and 4, sync, close
		{name: "every record", policy: sink.SyncEvery(1), wantSyncs: 5 + 1},        // nothing left for sync and close
		// Records at 4s … 20s after open: the one at 12s syncs; sync; the
		// record at 24s is 4s after it; close.
		{name: "interval", policy: sink.SyncInterval(10 * time.Second), wantSyncs: 1 + 1 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			s, err := Open(t.TempDir(), tt.policy, 0, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			if tt.rotate {
				s.segSize = 1
			}
			appendOne := func(i int) {
				now = now.Add(4 * time.Second)
				if err := s.Append(Record{Events: 1, Created: now, Data: fmt.Appendf(nil, "frame-%d", i)}); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 5 {
				appendOne(i)
			}
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			appendOne(5)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := s.Stats().Syncs; got != tt.wantSyncs {
				t.Fatalf("%d syncs, want %d", got, tt.wantSyncs)
			}
		})
	}
}

// TestSpoolSyncAcknowledgements checks that sync also syncs the
// acknowledgement files written since the last sync, and SyncNever never.
func TestSpoolSyncAcknowledgements(t *testing.T) {
	for _, policy := range []sink.SyncPolicy{sink.SyncOnFlush, sink.SyncNever} {
		t.Run(policy.String(), func(t *testing.T) {
			s, err := Open(t.TempDir(), policy, 0, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i := range 3 {
				if err := s.Append(Record{Events: 1, Created: time.Now(), Data: fmt.Appendf(nil, "frame-%d", i)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			_, ref, _, ok := s.Next(time.Time{})
			if !ok {
				t.Fatal("no record to replay")
			}
			s.Ack(ref)
			before := s.Stats().Syncs
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			want := int64(1) // the acknowledgement file
			if policy == sink.SyncNever {
				want = 0
			}
			if got := s.Stats().Syncs - before; got != want {
				t.Fatalf("sync after an acknowledgement ran %d fsyncs, want %d", got, want)
			}
		})
	}
}
