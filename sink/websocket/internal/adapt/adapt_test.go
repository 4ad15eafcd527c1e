package adapt

import (
	"slices"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
)

func TestNoteAckSmoothsTheLatency(t *testing.T) {
	l := New(Config{Window: 1 << 20, Buffer: 64 << 20})
	if l.Latency() != 0 {
		t.Fatalf("latency %v before the first acknowledgement", l.Latency())
	}
	l.NoteAck(40 * time.Millisecond)
	if got := l.Latency(); got != 40*time.Millisecond {
		t.Fatalf("first latency %v, want 40ms", got)
	}
	l.NoteAck(20 * time.Millisecond)
	if got := l.Latency(); got != 30*time.Millisecond {
		t.Fatalf("smoothed latency %v, want 30ms (each new one weighs a half)", got)
	}
	l = New(Config{Window: 1 << 20})
	l.NoteAck(-time.Second) // a clock step back
	if got := l.Latency(); got != 1 {
		t.Fatalf("latency %v after a negative one, want 1ns (never 0 once measured)", got)
	}
	if got := l.Window(); got != 1<<20 {
		t.Fatalf("window %d without the adaptive window, want the configured one", got)
	}
}

func TestWindowGrowsWithTheLatency(t *testing.T) {
	const base, buffer = 1 << 20, 64 << 20
	for _, tc := range []struct {
		lat  time.Duration
		want int
	}{
		{time.Millisecond, base},
		{windowRefLatency, base},
		{4 * windowRefLatency, 4 * base},
		{100 * windowRefLatency, buffer / 2}, // at most half the buffer
	} {
		l := New(Config{Window: base, Adaptive: true, Buffer: buffer})
		if got := l.Window(); got != base {
			t.Fatalf("window %d before the first acknowledgement, want %d", got, base)
		}
		l.NoteAck(tc.lat)
		if got := l.Window(); got != tc.want {
			t.Errorf("latency %v: window %d, want %d", tc.lat, got, tc.want)
		}
	}
	// A buffer smaller than twice the window never shrinks the window.
	l := New(Config{Window: base, Adaptive: true, Buffer: base})
	l.NoteAck(time.Second)
	if got := l.Window(); got != base {
		t.Fatalf("small buffer: window %d, want %d", got, base)
	}
}

func TestDegradeInAnOutageUntilTheBacklogDrains(t *testing.T) {
	const buffer = 1000
	l := New(Config{Window: 100, Buffer: buffer, DegradeFill: 0.5})
	step := func(st State, want, wantChanged bool) {
		t.Helper()
		got, changed := l.Degrade(st)
		if got != want || changed != wantChanged || l.Degraded() != want {
			t.Fatalf("Degrade(%+v) = %v, %v (Degraded %v), want %v, %v", st, got, changed, l.Degraded(), want, wantChanged)
		}
	}
	// Disconnected within the grace, or below the fill: no outage to shed for.
	step(State{Idle: DegradeGrace, Held: buffer}, false, false)
	step(State{Idle: time.Minute, Held: buffer/2 - 1}, false, false)
	// Connected and acknowledging slowly is no outage either.
	step(State{Connected: true, Outstanding: true, Idle: degradeStall, Held: buffer}, false, false)
	// Nor is a server that the last dial reached, which dropped the
	// connection since, however long the sink waits to dial again.
	step(State{Reachable: true, Idle: time.Minute, Held: buffer}, false, false)
	step(State{Reachable: true, Outstanding: true, Idle: time.Minute, Held: buffer}, false, false)
	// Disconnected past the grace, holding the fill: degraded.
	step(State{Idle: DegradeGrace + 1, Held: buffer / 2}, true, true)
	step(State{Idle: time.Minute, Held: buffer}, true, false)
	// Back, but the backlog still takes the fill: degraded until it drains.
	step(State{Connected: true, Outstanding: true, Backlog: buffer / 2}, true, false)
	step(State{Connected: true, Outstanding: true, Backlog: buffer/2 - 1}, false, true)
	// Connected with frames outstanding and no acknowledgement for the stall.
	step(State{Connected: true, Outstanding: true, Idle: degradeStall + 1, Held: buffer}, true, true)
}

func TestDegradeStallGrowsWithTheLatency(t *testing.T) {
	l := New(Config{Window: 100, Buffer: 1000, DegradeFill: 0.5})
	l.NoteAck(2 * time.Second) // a stall of 8 latencies: 16s
	st := State{Connected: true, Outstanding: true, Idle: 15 * time.Second, Held: 1000}
	if got, _ := l.Degrade(st); got {
		t.Fatal("degraded within 8 acknowledgement latencies")
	}
	st.Idle = 17 * time.Second
	if got, _ := l.Degrade(st); !got {
		t.Fatal("not degraded past 8 acknowledgement latencies")
	}
}

func TestDegradeOff(t *testing.T) {
	l := New(Config{Window: 100, Buffer: 1000})
	if got, changed := l.Degrade(State{Idle: time.Hour, Held: 1 << 30}); got || changed {
		t.Fatalf("degraded with DegradeFill 0: %v, %v", got, changed)
	}
}

func TestCriticalEvents(t *testing.T) {
	withErr := event.DataFlow("a", "out", "b", "in", "M", 1)
	withErr.Data.Error = "timeout"
	kept := []tracing.TraceEvent{
		event.ActorCreated("a"), event.ActorStarted("a"), event.ActorCompleted("a"),
		event.ActorFailed("a", "boom"), withErr,
		event.Custom("a", "step", attr.String("status", "Failed")),
	}
	shed := []tracing.TraceEvent{
		event.DataFlow("sensor", "out", "validator", "in", "Reading", 1),
		event.Custom("a", "step", attr.String("status", "ok")),
		event.Custom("a", "step", attr.Int("status", 1)),
	}
	for i := range kept {
		if !Critical(&kept[i]) {
			t.Errorf("%v not critical", kept[i].Type)
		}
	}
	for i := range shed {
		if Critical(&shed[i]) {
			t.Errorf("%v critical", shed[i].Type)
		}
	}
}

func TestAppendCriticalKeepsTheOrder(t *testing.T) {
	routine := event.DataFlow("sensor", "out", "validator", "in", "Reading", 1)
	batch := []tracing.TraceEvent{routine, event.ActorStarted("a"), routine, routine, event.ActorFailed("a", "boom")}
	before := slices.Clone(batch)
	kept, dropped := AppendCritical(nil, batch)
	if dropped != 3 || len(kept) != 2 || kept[0].Type != event.ActorStarted("a").Type || kept[1].Type != event.ActorFailed("a", "boom").Type {
		t.Fatalf("AppendCritical = %v, %d; want ActorStarted, ActorFailed and 3 dropped", kept, dropped)
	}
	for i := range batch {
		if batch[i].Type != before[i].Type {
			t.Fatalf("AppendCritical changed its batch at %d: %v, was %v", i, batch[i].Type, before[i].Type)
		}
	}
	prefix := []tracing.TraceEvent{routine}
	if kept, dropped := AppendCritical(prefix, batch); len(kept) != 3 || dropped != 3 {
		t.Fatalf("AppendCritical after one event = %d events, %d dropped; want 3 and 3", len(kept), dropped)
	}
	if kept, dropped := AppendCritical(nil, nil); len(kept) != 0 || dropped != 0 {
		t.Fatalf("AppendCritical(nil, nil) = %v, %d", kept, dropped)
	}
}
