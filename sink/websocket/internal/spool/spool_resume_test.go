package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink"
)

// fillSpool appends n records named record-0… to a new spool in dir.
func fillSpool(t *testing.T, dir string, n int) *Spool {
	t.Helper()
	s, err := Open(dir, sink.SyncEvery(1), 0, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := s.Append(Record{Events: 1, Created: time.Now(), Data: fmt.Appendf(nil, "record-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// replayAll hands out and acknowledges every record of s, returning their
// names.
func replayAll(t *testing.T, s *Spool) []string {
	t.Helper()
	var got []string
	for {
		rec, ref, _, ok := s.Next(time.Time{})
		if !ok {
			return got
		}
		got = append(got, string(rec.Data))
		s.Ack(ref)
	}
}

func names(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("record-%d", i))
	}
	return out
}

// TestSpoolResumeAfterAck checks that a spool opened after a crash (the
// first spool is never closed) resumes after the last record acknowledged
// in order, whatever happened to the records after it.
func TestSpoolResumeAfterAck(t *testing.T) {
	tests := []struct {
		name string
		// handle gets the refs of the first six records, handed out in
		// order.
		handle func(s *Spool, refs []Ref)
		want   []string
	}{
		{name: "nothing acknowledged", handle: func(*Spool, []Ref) {}, want: names(0, 10)},
		{name: "four acknowledged", handle: func(s *Spool, refs []Ref) {
			for _, r := range refs[:4] {
				s.Ack(r)
			}
		}, want: names(4, 10)},
		{name: "a gap", handle: func(s *Spool, refs []Ref) {
			for _, i := range []int{0, 1, 3, 4} {
				s.Ack(refs[i])
			}
		}, want: append(names(2, 3), names(5, 10)...)}, // 3 and 4 were acknowledged
		{name: "gaps acknowledged late", handle: func(s *Spool, refs []Ref) {
			for _, i := range []int{5, 3, 1, 0} {
				s.Ack(refs[i])
			}
		}, want: append(append(names(2, 3), names(4, 5)...), names(6, 10)...)},
		{name: "a gap closed", handle: func(s *Spool, refs []Ref) {
			for _, i := range []int{1, 3, 0, 2} {
				s.Ack(refs[i])
			}
		}, want: names(4, 10)},
		{name: "a released record", handle: func(s *Spool, refs []Ref) {
			s.Ack(refs[0])
			s.Release(refs[1])
			s.Ack(refs[2])
		}, want: append(names(1, 2), names(3, 10)...)},
		{name: "every record", handle: func(s *Spool, refs []Ref) {
			for _, r := range refs {
				s.Ack(r)
			}
			for {
				_, ref, _, ok := s.Next(time.Time{})
				if !ok {
					break
				}
				s.Ack(ref)
			}
		}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := fillSpool(t, dir, 10)
			t.Cleanup(func() { _ = s.Close() })
			var refs []Ref
			for range 6 {
				_, ref, _, ok := s.Next(time.Time{})
				if !ok {
					t.Fatal("spool ran out of records")
				}
				refs = append(refs, ref)
			}
			tt.handle(s, refs)
			crash(s) // a new process; the first one crashed
			s2, err := Open(dir, sink.SyncNever, 0, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			if _, recs, ev := s2.Pending(); recs != int64(len(tt.want)) || ev != len(tt.want) {
				t.Errorf("pending records %d, events %d; want %d of each", recs, ev, len(tt.want))
			}
			got := replayAll(t, s2)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("replayed %q, want %q", got, tt.want)
			}
			if err := s2.Close(); err != nil {
				t.Fatal(err)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "*"+Suffix+"*")); len(left) != 0 {
				t.Fatalf("files left after every record was acknowledged: %v", left)
			}
		})
	}
}

// TestSpoolResumeDamagedAckFile checks that an unreadable acknowledgement
// file costs duplicates, never records: the segment is replayed whole.
func TestSpoolResumeDamagedAckFile(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{name: "garbage", damage: func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte("not an ack file at all, not at all"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "empty", damage: func(t *testing.T, p string) {
			if err := os.Truncate(p, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "offset past the segment", damage: func(t *testing.T, p string) {
			// The segment shrank below the acknowledged offset.
			seg := p[:len(p)-len(spoolAckExt)]
			if err := os.Truncate(seg, int64(len(spoolMagic))+30); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := fillSpool(t, dir, 10)
			for range 4 {
				_, ref, _, _ := s.Next(time.Time{})
				s.Ack(ref)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			acks, _ := filepath.Glob(filepath.Join(dir, "*"+Suffix+spoolAckExt))
			if len(acks) != 1 {
				t.Fatalf("acknowledgement files %v, want one", acks)
			}
			tt.damage(t, acks[0])
			s2, err := Open(dir, sink.SyncNever, 0, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			got := replayAll(t, s2)
			if tt.name != "offset past the segment" && fmt.Sprint(got) != fmt.Sprint(names(0, 10)) {
				t.Fatalf("replayed %q, want the whole segment", got)
			}
			if tt.name == "offset past the segment" && (len(got) == 0 || got[0] != "record-0") {
				t.Fatalf("replayed %q, want the segment from its start", got)
			}
		})
	}
}

// TestSpoolAckFileEntries checks the list of records acknowledged out of
// order: a torn last entry leaves the entries before it, and the list is
// emptied once the offset passes every record acknowledged.
func TestSpoolAckFileEntries(t *testing.T) {
	dir := t.TempDir()
	s := fillSpool(t, dir, 10)
	var refs []Ref
	for range 6 {
		_, ref, _, _ := s.Next(time.Time{})
		refs = append(refs, ref)
	}
	s.Ack(refs[2])
	s.Ack(refs[4])
	acks, _ := filepath.Glob(filepath.Join(dir, "*"+Suffix+spoolAckExt))
	if len(acks) != 1 {
		t.Fatalf("acknowledgement files %v, want one", acks)
	}
	a, ok := readAckFile(acks[0])
	if !ok || len(a.done) != 2 || a.done[0] != refs[2].end || a.done[1] != refs[4].end {
		t.Fatalf("ack file %+v (valid %v), want entries for records 2 and 4", a, ok)
	}
	// A torn third entry.
	f, err := os.OpenFile(acks[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("torn ent")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	crash(s)
	s2, err := Open(dir, sink.SyncNever, 0, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"record-0", "record-1", "record-3", "record-5", "record-6", "record-7", "record-8", "record-9"}
	var got []string
	var refs2 []Ref
	for {
		rec, ref, _, ok := s2.Next(time.Time{})
		if !ok {
			break
		}
		got = append(got, string(rec.Data))
		refs2 = append(refs2, ref)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replayed %q, want %q", got, want)
	}
	// Out of order again, past the torn entry, then every record: the
	// list is emptied, then the files go.
	s2.Ack(refs2[1])
	if a, _ := readAckFile(acks[0]); len(a.done) != 3 {
		t.Fatalf("entries %v after the torn one was overwritten, want 3", a.done)
	}
	s2.Ack(refs2[0]) // record 3 is still out, and 4 done behind it
	if st, err := os.Stat(acks[0]); err != nil || st.Size() == 2*spoolAckSlot {
		t.Fatalf("ack file emptied with a gap left: %v", err)
	}
	s2.Ack(refs2[2]) // record 3: the offset passes 4
	if st, err := os.Stat(acks[0]); err != nil {
		t.Fatal(err)
	} else if st.Size() != 2*spoolAckSlot {
		t.Fatalf("ack file after the gaps closed: %d bytes, want only its slots", st.Size())
	}
	for _, r := range refs2[3:] {
		s2.Ack(r)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if left, _ := filepath.Glob(filepath.Join(dir, "*"+Suffix+"*")); len(left) != 0 {
		t.Fatalf("files left after every record was acknowledged: %v", left)
	}
}
