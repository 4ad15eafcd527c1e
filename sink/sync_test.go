package sink

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSyncPolicyString(t *testing.T) {
	tests := []struct {
		name string
		p    SyncPolicy
		want string
	}{
		{name: "zero", p: SyncPolicy{}, want: "on flush"},
		{name: "on flush", p: SyncOnFlush, want: "on flush"},
		{name: "never", p: SyncNever, want: "never"},
		{name: "every", p: SyncEvery(3), want: "every 3 records"},
		{name: "interval", p: SyncInterval(2 * time.Second), want: "every 2s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSyncPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		p      SyncPolicy
		wantIn string // "" for a valid policy
	}{
		{name: "on flush", p: SyncOnFlush},
		{name: "never", p: SyncNever},
		{name: "every 1", p: SyncEvery(1)},
		{name: "interval", p: SyncInterval(time.Millisecond)},
		{name: "every 0", p: SyncEvery(0), wantIn: "WithSync(every 0 records)"},
		{name: "every -1", p: SyncEvery(-1), wantIn: "WithSync(every -1 records)"},
		{name: "interval 0", p: SyncInterval(0), wantIn: "WithSync(every 0s)"},
		{name: "interval negative", p: SyncInterval(-time.Second), wantIn: "WithSync(every -1s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate("WithSync")
			if tt.wantIn == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Fatalf("Validate = %v, want ErrInvalidOption naming %q", err, tt.wantIn)
			}
		})
	}
}

func TestSyncPolicySyncs(t *testing.T) {
	for _, p := range []SyncPolicy{SyncOnFlush, SyncEvery(1), SyncInterval(time.Second)} {
		if !p.Syncs() {
			t.Errorf("%v: Syncs() = false", p)
		}
	}
	if SyncNever.Syncs() {
		t.Error("SyncNever: Syncs() = true")
	}
}

func TestSyncTracker(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name string
		p    SyncPolicy
		// at holds the offset of each record from start, want whether
		// the tracker asks for a sync after it (the caller then syncs).
		at   []time.Duration
		want []bool
	}{
		{name: "on flush", p: SyncOnFlush, at: []time.Duration{0, time.Hour, 2 * time.Hour}, want: []bool{false, false, false}},
		{name: "never", p: SyncNever, at: []time.Duration{0, time.Hour}, want: []bool{false, false}},
		{name: "every 1", p: SyncEvery(1), at: []time.Duration{0, 0, 0}, want: []bool{true, true, true}},
		{name: "every 3", p: SyncEvery(3), at: []time.Duration{0, 0, 0, 0, 0, 0, 0}, want: []bool{false, false, true, false, false, true, false}},
		{
			name: "interval", p: SyncInterval(time.Second),
			at:   []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second},
			want: []bool{false, false, true, false, true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st SyncTracker
			st.Synced(start)
			for i, d := range tt.at {
				now := start.Add(d)
				got := st.Record(tt.p, now)
				if got != tt.want[i] {
					t.Fatalf("record %d at +%v: Record = %v, want %v", i, d, got, tt.want[i])
				}
				if got {
					st.Synced(now)
				}
			}
		})
	}
}
