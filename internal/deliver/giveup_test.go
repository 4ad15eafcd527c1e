package deliver

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// deafSink is a Sink whose Write, Flush or Close (stage) ignores ctx and
// blocks until the test closes release.
type deafSink struct {
	stage   string
	entered chan struct{} // closed when the stage's call starts blocking
	release chan struct{}
	once    sync.Once
}

func newDeafSink(stage string) *deafSink {
	return &deafSink{stage: stage, entered: make(chan struct{}), release: make(chan struct{})}
}

func (s *deafSink) block(stage string) {
	if stage == s.stage {
		s.once.Do(func() { close(s.entered) })
		<-s.release
	}
}

func (s *deafSink) Write(context.Context, []int) error { s.block("write"); return nil }
func (s *deafSink) Flush(context.Context) error        { s.block("flush"); return nil }
func (s *deafSink) Close(context.Context) error        { s.block("close"); return nil }

// within fails the test unless fn returns within 2s.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatalf("%s still blocked after 2s", what)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("%s returned after %v, before its ctx of 200ms ended", what, d)
	}
}

// TestGroup_FlushReturnsAtCtxWhenSinkIgnoresIt checks that the Flush of
// a Group with one sink returns ctx's error when ctx ends, though the
// sink's Flush ignores it, and that the sink's Flush finishes later on its
// own goroutine.
func TestGroup_FlushReturnsAtCtxWhenSinkIgnoresIt(t *testing.T) {
	st := newSettlements()
	s := newDeafSink("flush")
	flushed := make(chan int, 1)
	g := New[int, string](Config[int]{Sinks: []Sink[int]{s}, Timeout: time.Hour, Settled: st.settled, Flushed: func(i int) { flushed <- i }})
	t.Cleanup(g.Cancel)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	var errs []error
	within(t, "Flush", func() { errs = g.Flush(ctx) })
	if len(errs) != 1 || !errors.Is(errs[0], context.DeadlineExceeded) {
		t.Fatalf("Flush = %v, want ctx's error", errs)
	}
	close(s.release)
	if i := <-flushed; i != 0 {
		t.Fatalf("Flushed(%d)", i)
	}
	closeGroup(t, g)
}

// TestGroup_CloseGivesUpOnBusySink checks that Close returns once giveUp
// is closed, reporting Busy the sink whose Write, Flush or Close ignores
// ctx and the others' results, and that the busy sink's goroutine
// finishes once the sink returns, calling ClosedLate.
func TestGroup_CloseGivesUpOnBusySink(t *testing.T) {
	for _, tt := range []struct {
		name  string
		stage string
		sinks int
	}{
		{name: "one sink, flush", stage: "flush", sinks: 1},
		{name: "one sink, close", stage: "close", sinks: 1},
		{name: "two sinks, write", stage: "write", sinks: 2},
		{name: "two sinks, flush", stage: "flush", sinks: 2},
		{name: "two sinks, close", stage: "close", sinks: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newSettlements()
			deaf := newDeafSink(tt.stage)
			sinks := []Sink[int]{deaf}
			other := &testSink{}
			if tt.sinks == 2 {
				sinks = append(sinks, other)
			}
			late := make(chan int, 1)
			g := New[int, string](Config[int]{Sinks: sinks, Timeout: time.Hour, LaneSize: 10, Settled: st.settled,
				ClosedLate: func(i int, e CloseErrors) { late <- i }})
			t.Cleanup(g.Cancel)
			if tt.stage == "write" {
				g.Write([]int{1, 2})
				<-deaf.entered
			}
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			giveUp := make(chan struct{})
			stop := context.AfterFunc(ctx, func() { close(giveUp) })
			defer stop()
			var errs []CloseErrors
			within(t, "Close", func() { errs = g.Close(ctx, giveUp) })
			if len(errs) != tt.sinks || !errs[0].Busy || errs[0].Flush != nil || errs[0].Close != nil {
				t.Fatalf("Close = %+v, want sink 0 busy", errs)
			}
			if tt.sinks == 2 {
				if errs[1] != (CloseErrors{}) {
					t.Fatalf("Close = %+v, want sink 1 closed", errs)
				}
				if got := other.entries(); len(got) < 2 || got[len(got)-1] != "close" {
					t.Fatalf("the other sink saw %q, want it closed", got)
				}
			}
			close(deaf.release)
			if i := <-late; i != 0 {
				t.Fatalf("ClosedLate(%d), want 0", i)
			}
			if tt.stage == "write" {
				// The busy sink wrote the batch after all: it is settled
				// once, as its sinks' writes say.
				st.wait(t, 1)
				if st.events(Delivered) != 2 {
					t.Fatalf("settled %v, want 2 delivered", st.n)
				}
			}
		})
	}
}
