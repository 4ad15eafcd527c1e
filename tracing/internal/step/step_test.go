package step

import (
	"errors"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/internal/uuid"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBeginIsAVersion7IDOfItsTime(t *testing.T) {
	a, b := Begin(), Begin()
	if a.UnixNano == 0 || b.UnixNano < a.UnixNano || b.Mono < a.Mono {
		t.Fatalf("times %d then %d, monotonic readings %d then %d", a.UnixNano, b.UnixNano, a.Mono, b.Mono)
	}
	id := a.ID()
	if id == b.ID() {
		t.Fatalf("two steps got the id %s", uuid.String(id))
	}
	if want := uuid.NewV7(a.UnixNano); id[6]>>4 != 7 || id[8]>>6 != 2 || [8]byte(id[:8]) != [8]byte(want[:8]) {
		t.Fatalf("id %s is not the version 7 id of its time (%s…)", uuid.String(id), uuid.String(want)[:18])
	}
}

func TestEnded(t *testing.T) {
	boom := errors.New("boom")
	for _, tt := range []struct {
		name  string
		nanos int64
		err   error
		want  End
	}{
		{"succeeded", 5, nil, End{Nanos: 5}},
		{"failed", 5, boom, End{Nanos: 5, Failed: true, Error: "boom"}},
		{"clock stepped back", -3, nil, End{}},
	} {
		if got := Ended(tt.nanos, tt.err); got != tt.want {
			t.Errorf("%s: Ended(%d, %v) = %+v, want %+v", tt.name, tt.nanos, tt.err, got, tt.want)
		}
	}
}
