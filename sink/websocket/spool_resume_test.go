package websocket

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink"
)

// fillSpool appends n records named record-0… to a new spool in dir.
func fillSpool(t *testing.T, dir string, n int) *spool {
	t.Helper()
	s, err := openSpool(dir, sink.SyncEvery(1), 0, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := s.append(spoolRecord{events: 1, created: time.Now(), data: fmt.Appendf(nil, "record-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// replayAll hands out and acknowledges every record of s, returning their
// names.
func replayAll(t *testing.T, s *spool) []string {
	t.Helper()
	var got []string
	for {
		rec, ref, _, ok := s.next(time.Time{})
		if !ok {
			return got
		}
		got = append(got, string(rec.data))
		s.ack(ref)
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
		handle func(s *spool, refs []spoolRef)
		want   []string
	}{
		{name: "nothing acknowledged", handle: func(*spool, []spoolRef) {}, want: names(0, 10)},
		{name: "four acknowledged", handle: func(s *spool, refs []spoolRef) {
			for _, r := range refs[:4] {
				s.ack(r)
			}
		}, want: names(4, 10)},
		{name: "a gap", handle: func(s *spool, refs []spoolRef) {
			for _, i := range []int{0, 1, 3, 4} {
				s.ack(refs[i])
			}
		}, want: append(names(2, 3), names(5, 10)...)}, // 3 and 4 were acknowledged
		{name: "gaps acknowledged late", handle: func(s *spool, refs []spoolRef) {
			for _, i := range []int{5, 3, 1, 0} {
				s.ack(refs[i])
			}
		}, want: append(append(names(2, 3), names(4, 5)...), names(6, 10)...)},
		{name: "a gap closed", handle: func(s *spool, refs []spoolRef) {
			for _, i := range []int{1, 3, 0, 2} {
				s.ack(refs[i])
			}
		}, want: names(4, 10)},
		{name: "a released record", handle: func(s *spool, refs []spoolRef) {
			s.ack(refs[0])
			s.release(refs[1])
			s.ack(refs[2])
		}, want: append(names(1, 2), names(3, 10)...)},
		{name: "every record", handle: func(s *spool, refs []spoolRef) {
			for _, r := range refs {
				s.ack(r)
			}
			for {
				_, ref, _, ok := s.next(time.Time{})
				if !ok {
					break
				}
				s.ack(ref)
			}
		}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := fillSpool(t, dir, 10)
			t.Cleanup(func() { _ = s.close() })
			var refs []spoolRef
			for range 6 {
				_, ref, _, ok := s.next(time.Time{})
				if !ok {
					t.Fatal("spool ran out of records")
				}
				refs = append(refs, ref)
			}
			tt.handle(s, refs)
			// A new process; the first one crashed.
			s2, err := openSpool(dir, sink.SyncNever, 0, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			if _, recs, ev := s2.pending(); recs != int64(len(tt.want)) || ev != len(tt.want) {
				t.Errorf("pending records %d, events %d; want %d of each", recs, ev, len(tt.want))
			}
			got := replayAll(t, s2)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("replayed %q, want %q", got, tt.want)
			}
			if err := s2.close(); err != nil {
				t.Fatal(err)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
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
				_, ref, _, _ := s.next(time.Time{})
				s.ack(ref)
			}
			if err := s.close(); err != nil {
				t.Fatal(err)
			}
			acks, _ := filepath.Glob(filepath.Join(dir, "*"+spoolSuffix+spoolAckExt))
			if len(acks) != 1 {
				t.Fatalf("acknowledgement files %v, want one", acks)
			}
			tt.damage(t, acks[0])
			s2, err := openSpool(dir, sink.SyncNever, 0, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.close()
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
	var refs []spoolRef
	for range 6 {
		_, ref, _, _ := s.next(time.Time{})
		refs = append(refs, ref)
	}
	s.ack(refs[2])
	s.ack(refs[4])
	acks, _ := filepath.Glob(filepath.Join(dir, "*"+spoolSuffix+spoolAckExt))
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
	s2, err := openSpool(dir, sink.SyncNever, 0, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"record-0", "record-1", "record-3", "record-5", "record-6", "record-7", "record-8", "record-9"}
	var got []string
	var refs2 []spoolRef
	for {
		rec, ref, _, ok := s2.next(time.Time{})
		if !ok {
			break
		}
		got = append(got, string(rec.data))
		refs2 = append(refs2, ref)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replayed %q, want %q", got, want)
	}
	// Out of order again, past the torn entry, then every record: the
	// list is emptied, then the files go.
	s2.ack(refs2[1])
	if a, _ := readAckFile(acks[0]); len(a.done) != 3 {
		t.Fatalf("entries %v after the torn one was overwritten, want 3", a.done)
	}
	s2.ack(refs2[0]) // record 3 is still out, and 4 done behind it
	if st, err := os.Stat(acks[0]); err != nil || st.Size() == 2*spoolAckSlot {
		t.Fatalf("ack file emptied with a gap left: %v", err)
	}
	s2.ack(refs2[2]) // record 3: the offset passes 4
	if st, err := os.Stat(acks[0]); err != nil {
		t.Fatal(err)
	} else if st.Size() != 2*spoolAckSlot {
		t.Fatalf("ack file after the gaps closed: %d bytes, want only its slots", st.Size())
	}
	for _, r := range refs2[3:] {
		s2.ack(r)
	}
	if err := s2.close(); err != nil {
		t.Fatal(err)
	}
	_ = s.close()
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Fatalf("files left after every record was acknowledged: %v", left)
	}
}
