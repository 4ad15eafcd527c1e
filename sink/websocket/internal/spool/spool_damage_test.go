package spool

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink"
)

// recordSpans returns the offsets [start, end) of the records of an
// undamaged segment file.
func recordSpans(t *testing.T, path string) [][2]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]int
	for off := len(spoolMagic); off < len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		out = append(out, [2]int{off, off + spoolHeaderLen + n})
		off += spoolHeaderLen + n
	}
	return out
}

// onlySegment returns the path of the one segment file in dir.
func onlySegment(t *testing.T, dir string) string {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+Suffix))
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	return segs[0]
}

func rewrite(t *testing.T, path string, change func(b []byte, spans [][2]int) []byte) {
	t.Helper()
	spans := recordSpans(t, path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, change(b, spans), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSpoolDamageResync damages one record of a segment of three (holding
// 5, 6 and 7 events) and checks that the healthy records around it are
// replayed, that the loss is counted (in events when the damaged record's
// header can still be trusted) and that the segment is moved aside, never
// deleted.
func TestSpoolDamageResync(t *testing.T) {
	tests := []struct {
		name        string
		damage      func(b []byte, spans [][2]int) []byte
		want        []string // records replayed
		corrupt     int64    // records counted as lost
		lostEvents  int64    // events counted as lost
		quarantined bool
	}{
		{
			name:   "intact",
			damage: func(b []byte, _ [][2]int) []byte { return b },
			want:   []string{"record-0", "record-1", "record-2"},
		},
		{
			name: "payload byte flipped in the middle record",
			damage: func(b []byte, s [][2]int) []byte {
				b[s[1][1]-2] ^= 0xff
				return b
			},
			want: []string{"record-0", "record-2"}, corrupt: 1, lostEvents: 6, quarantined: true,
		},
		{
			name: "length of the middle record unreadable",
			damage: func(b []byte, s [][2]int) []byte {
				binary.LittleEndian.PutUint32(b[s[1][0]:], 0xfffffff0)
				return b
			},
			want: []string{"record-0", "record-2"}, corrupt: 1, quarantined: true,
		},
		{
			name: "length of the middle record too short",
			damage: func(b []byte, s [][2]int) []byte {
				binary.LittleEndian.PutUint32(b[s[1][0]:], spoolMetaLen+1)
				return b
			},
			want: []string{"record-0", "record-2"}, corrupt: 1, quarantined: true,
		},
		{
			name: "middle record zeroed",
			damage: func(b []byte, s [][2]int) []byte {
				clear(b[s[1][0]:s[1][1]])
				return b
			},
			want: []string{"record-0", "record-2"}, corrupt: 1, quarantined: true,
		},
		{
			name: "first record's checksum flipped",
			damage: func(b []byte, s [][2]int) []byte {
				b[s[0][0]+4] ^= 0x01
				return b
			},
			want: []string{"record-1", "record-2"}, corrupt: 1, lostEvents: 5, quarantined: true,
		},
		{
			name: "bad magic",
			damage: func(b []byte, _ [][2]int) []byte {
				b[0] = 'X'
				return b
			},
			want: []string{"record-0", "record-1", "record-2"}, quarantined: true,
		},
		{
			name: "garbage between records",
			damage: func(b []byte, s [][2]int) []byte {
				junk := bytes.Repeat([]byte{0xab}, 37)
				return append(append(append([]byte(nil), b[:s[1][0]]...), junk...), b[s[1][0]:]...)
			},
			want: []string{"record-0", "record-1", "record-2"}, corrupt: 1, quarantined: true,
		},
		{
			name: "torn tail",
			damage: func(b []byte, s [][2]int) []byte {
				return b[:s[2][0]+spoolHeaderLen+spoolMetaLen+2]
			},
			want: []string{"record-0", "record-1"}, corrupt: 1, lostEvents: 7, quarantined: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, sink.SyncNever, 0, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				rec := Record{Events: 5 + i, Created: time.Now(), Data: fmt.Appendf(nil, "record-%d", i)}
				if err := s.Append(rec); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			path := onlySegment(t, dir)
			rewrite(t, path, tt.damage)
			damaged, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			s2, err := Open(dir, sink.SyncNever, 0, time.Now)
			if err != nil {
				t.Fatalf("open after damage: %v", err)
			}
			var got []string
			for {
				rec, ref, _, ok := s2.Next(time.Time{})
				if !ok {
					break
				}
				got = append(got, string(rec.Data))
				s2.Ack(ref)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("replayed %q, want %q", got, tt.want)
			}
			st := s2.Stats()
			if st.CorruptRecords != tt.corrupt || st.LostEvents != tt.lostEvents {
				t.Errorf("corrupt records %d, lost events %d; want %d and %d", st.CorruptRecords, st.LostEvents, tt.corrupt, tt.lostEvents)
			}
			loss := s2.TakeLoss()
			if loss.Records != tt.corrupt || loss.Events != tt.lostEvents {
				t.Errorf("loss to report %+v, want %d records and %d events", loss, tt.corrupt, tt.lostEvents)
			}
			if again := s2.TakeLoss(); again.Records != 0 || again.Events != 0 || len(again.Quarantined) != 0 {
				t.Errorf("loss reported twice: %+v", again)
			}
			if err := s2.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("segment %s still in place after its records were acknowledged (%v)", path, err)
			}
			kept, err := os.ReadFile(path + DamagedExt)
			switch {
			case tt.quarantined && err != nil:
				t.Fatalf("damaged segment not kept aside: %v", err)
			case tt.quarantined && !bytes.Equal(kept, damaged):
				t.Fatal("the segment kept aside differs from the damaged one")
			case tt.quarantined && (len(loss.Quarantined) != 1 || loss.Quarantined[0] != path+DamagedExt):
				t.Errorf("quarantined files reported %q, want %s", loss.Quarantined, path+DamagedExt)
			case !tt.quarantined && err == nil:
				t.Fatal("an intact segment was kept aside as damaged")
			}
			// A later spool neither replays nor deletes what was set aside.
			s3, err := Open(dir, sink.SyncNever, 0, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, ok := s3.Next(time.Time{}); ok {
				t.Error("a later spool replayed records again")
			}
			if err := s3.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path + DamagedExt); tt.quarantined && err != nil {
				t.Errorf("damaged segment gone after a later spool: %v", err)
			}
		})
	}
}

// TestSpoolDamageNewSegmentIDs checks that a spool whose only segments
// were set aside numbers its new segments after them, so that a later
// damaged segment never takes the name of an earlier one.
func TestSpoolDamageNewSegmentIDs(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, sink.SyncNever, 0, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(Record{Events: 1, Created: time.Now(), Data: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := onlySegment(t, dir)
	rewrite(t, path, func(b []byte, _ [][2]int) []byte { b[len(b)-1] ^= 1; return b })
	s2, err := Open(dir, sink.SyncNever, 0, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Append(Record{Events: 1, Created: time.Now(), Data: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if p := onlySegment(t, dir); p <= path {
		t.Fatalf("new segment %s does not sort after the damaged %s", p, path)
	}
}
