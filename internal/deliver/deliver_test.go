package deliver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var errWrite = errors.New("write failed")

// testSink records what it is given. Until gate is closed (if not nil)
// every Write waits for it or for its ctx; entered, if not nil, gets a
// value as each Write starts.
type testSink struct {
	gate     chan struct{}
	entered  chan struct{}
	writeErr error
	flushErr error
	closeErr error

	mu      sync.Mutex
	got     []int    // the events written, in order
	log     []string // "write", "mark N", "flush", "close", in order
	flushes int
	closed  bool
}

func (s *testSink) Write(ctx context.Context, batch []int) error {
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.writeErr != nil {
		return s.writeErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, batch...)
	s.log = append(s.log, "write")
	return nil
}

func (s *testSink) Flush(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes++
	s.log = append(s.log, "flush")
	return s.flushErr
}

func (s *testSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.log = append(s.log, "close")
	return s.closeErr
}

func (s *testSink) ObserveTrace(mark string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, "mark "+mark)
}

func (s *testSink) events() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// waitEvents waits until the sink has n events and fails the test if it
// does not within 10 seconds.
func (s *testSink) waitEvents(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.events()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("sink got %d events, want %d", len(s.events()), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *testSink) entries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// settlements collects what Settled is called with.
type settlements struct {
	mu  sync.Mutex
	n   map[Outcome]int
	all int
	ch  chan Outcome // gets every outcome when not nil
}

func newSettlements() *settlements {
	return &settlements{n: make(map[Outcome]int), ch: make(chan Outcome, 1000)}
}

func (s *settlements) settled(n int, o Outcome, began int64) {
	if began == 0 {
		panic("settled with began 0")
	}
	s.mu.Lock()
	s.n[o] += n
	s.all++
	s.mu.Unlock()
	s.ch <- o
}

func (s *settlements) events(o Outcome) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[o]
}

// wait waits for count settlements and fails the test at its deadline.
func (s *settlements) wait(t *testing.T, count int) {
	t.Helper()
	for range count {
		select {
		case <-s.ch:
		case <-time.After(10 * time.Second):
			t.Fatal("batch not settled")
		}
	}
}

func newGroup(t *testing.T, st *settlements, mod func(*Config[int]), sinks ...*testSink) *Group[int, string] {
	t.Helper()
	cfg := Config[int]{Timeout: time.Hour, LaneSize: 10, Settled: st.settled}
	for _, s := range sinks {
		cfg.Sinks = append(cfg.Sinks, s)
	}
	if mod != nil {
		mod(&cfg)
	}
	g := New[int, string](cfg)
	t.Cleanup(g.Cancel)
	return g
}

func closeGroup(t *testing.T, g *Group[int, string]) {
	t.Helper()
	for i, e := range g.Close(context.Background(), nil) {
		if e.Flush != nil || e.Close != nil {
			t.Fatalf("Close: sink %d: %v, %v", i, e.Flush, e.Close)
		}
	}
}

func TestGroup_OneSink(t *testing.T) {
	st := newSettlements()
	s := &testSink{}
	var failed []int
	g := newGroup(t, st, func(c *Config[int]) {
		c.WriteFailed = func(i, n int, err error) { failed = append(failed, i, n) }
	}, s)
	batch := []int{1, 2, 3}
	g.Write(batch)
	batch[0] = 9 // the caller reuses the batch
	g.Observe("t1")
	if st.events(Delivered) != 3 || st.all != 1 {
		t.Fatalf("settled %v in %d calls, want 3 delivered in 1", st.n, st.all)
	}
	s.writeErr = errWrite
	g.Write([]int{4, 5})
	if st.events(WriteFailed) != 2 || !slices.Equal(failed, []int{0, 2}) {
		t.Fatalf("settled %v, WriteFailed called with %v; want 2 write failed, [0 2]", st.n, failed)
	}
	if c := g.Sink(0); c.Batches != 1 || c.Events != 3 || c.WriteErrors != 1 || c.QueueFull != 0 || c.WritingSince != 0 || c.WriteTime <= 0 {
		t.Fatalf("Sink(0) = %+v", c)
	}
	if tot := g.Total(); tot != g.Sink(0) {
		t.Fatalf("Total() = %+v, want Sink(0) = %+v", tot, g.Sink(0))
	}
	if errs := g.Flush(context.Background()); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("Flush = %v", errs)
	}
	closeGroup(t, g)
	if got, want := s.entries(), []string{"write", "mark t1", "flush", "flush", "close"}; !slices.Equal(got, want) {
		t.Fatalf("sink saw %q, want %q", got, want)
	}
	if got := s.events(); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("sink got %v", got)
	}
	if g.Held() != 0 {
		t.Fatalf("Held() = %d with one sink", g.Held())
	}
}

// TestGroup_OneSinkCancel checks that a Write cut short by Cancel is
// abandoned, not failed.
func TestGroup_OneSinkCancel(t *testing.T) {
	st := newSettlements()
	s := &testSink{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	g := newGroup(t, st, nil, s)
	go func() {
		<-s.entered
		g.Cancel()
	}()
	g.Write([]int{1, 2})
	if !g.Canceled() || st.events(Abandoned) != 2 {
		t.Fatalf("Canceled() = %v, settled %v; want true, 2 abandoned", g.Canceled(), st.n)
	}
	closeGroup(t, g)
}

// TestGroup_Timeout checks that Write's ctx ends at Config.Timeout.
func TestGroup_Timeout(t *testing.T) {
	st := newSettlements()
	s := &testSink{gate: make(chan struct{})}
	g := newGroup(t, st, func(c *Config[int]) { c.Timeout = time.Millisecond }, s)
	g.Write([]int{1})
	if st.events(WriteFailed) != 1 || g.Sink(0).WriteErrors != 1 {
		t.Fatalf("settled %v, Sink(0) = %+v; want 1 write failed", st.n, g.Sink(0))
	}
	closeGroup(t, g)
}

// TestGroup_SlowSinkHoldsNoOther checks that with several sinks a sink
// whose Write hangs keeps nothing from the others, that its lane misses
// what it has no room for and counts it, and that Close at ctx's end
// abandons what the lane still holds.
func TestGroup_SlowSinkHoldsNoOther(t *testing.T) {
	st := newSettlements()
	stuck := &testSink{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	failing := &testSink{writeErr: errWrite}
	healthy := &testSink{}
	g := newGroup(t, st, nil, stuck, failing, healthy)
	batch := make([]int, 4)
	for i := range 5 { // 20 events: the stuck sink's lane holds 10
		for j := range batch {
			batch[j] = 4*i + j
		}
		g.Write(batch)
		if i == 0 {
			<-stuck.entered // its lane holds nothing now
		}
		// The other sinks write every batch, the stuck one waiting.
		healthy.waitEvents(t, 4*(i+1))
		for g.Sink(1).WriteErrors < uint64(i+1) {
			time.Sleep(time.Millisecond)
		}
	}
	want := make([]int, 20)
	for i := range want {
		want[i] = i
	}
	if got := healthy.events(); !slices.Equal(got, want) {
		t.Fatalf("healthy sink got %v, want %v", got, want)
	}
	// The stuck sink writes the first batch and holds the next two; it
	// misses the last two.
	if c := g.Sink(0); c.QueueFull != 8 || c.WritingSince == 0 {
		t.Fatalf("Sink(0) = %+v, want QueueFull 8 and a Write in progress", c)
	}
	if c := g.Sink(1); c.WriteErrors != 5 {
		t.Fatalf("Sink(1) = %+v, want 5 write errors", c)
	}
	if c := g.Sink(2); c.Events != 20 || c.Batches != 5 {
		t.Fatalf("Sink(2) = %+v, want 20 events in 5 batches", c)
	}
	if tot := g.Total(); tot.QueueFull != 8 || tot.WriteErrors != 5 || tot.Events != 20 || tot.WritingSince != g.Sink(0).WritingSince {
		t.Fatalf("Total() = %+v", tot)
	}
	if g.Held() != 12 {
		t.Fatalf("Held() = %d, want the 12 events the stuck sink holds or writes", g.Held())
	}
	// The missed batches (a write failed too: write failed comes first)
	// are settled; the others wait for the stuck sink.
	st.wait(t, 2)
	if st.events(WriteFailed) != 8 {
		t.Fatalf("settled %v, want 8 write failed", st.n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	errs := g.Close(ctx, nil)
	if len(errs) != 3 || errs[0] != (CloseErrors{}) {
		t.Fatalf("Close = %v", errs)
	}
	if !g.Canceled() || st.events(Abandoned) != 12 || g.Held() != 0 {
		t.Fatalf("after Close: Canceled() = %v, settled %v, Held() = %d; want true, 12 abandoned, 0", g.Canceled(), st.n, g.Held())
	}
	for i, s := range []*testSink{stuck, failing, healthy} {
		if got := s.entries(); len(got) < 2 || !slices.Equal(got[len(got)-2:], []string{"flush", "close"}) {
			t.Fatalf("sink %d saw %q, want a flush and a close last", i, got)
		}
	}
}

// TestGroup_Delivered checks that a batch every sink wrote is settled once,
// as delivered, and that Observe and Flush come to each sink after the
// batches before them.
func TestGroup_Delivered(t *testing.T) {
	st := newSettlements()
	a, b := &testSink{}, &testSink{}
	var flushedMu sync.Mutex
	var flushed []int
	g := newGroup(t, st, func(c *Config[int]) {
		c.Flushed = func(i int) {
			flushedMu.Lock()
			flushed = append(flushed, i)
			flushedMu.Unlock()
		}
	}, a, b)
	g.Write([]int{1, 2})
	g.Observe("t1")
	g.Write([]int{3})
	if errs := g.Flush(context.Background()); !slices.Equal(errs, []error{nil, nil}) {
		t.Fatalf("Flush = %v", errs)
	}
	st.wait(t, 2)
	if st.events(Delivered) != 3 || st.all != 2 {
		t.Fatalf("settled %v in %d calls, want 3 delivered in 2", st.n, st.all)
	}
	closeGroup(t, g)
	slices.Sort(flushed) // every lane has returned
	if !slices.Equal(flushed, []int{0, 1}) {
		t.Fatalf("Flushed called with %v, want 0 and 1", flushed)
	}
	for i, s := range []*testSink{a, b} {
		if got, want := s.entries(), []string{"write", "mark t1", "write", "flush", "flush", "close"}; !slices.Equal(got, want) {
			t.Fatalf("sink %d saw %q, want %q", i, got, want)
		}
	}
	if errs := g.Flush(context.Background()); !errors.Is(errs[0], ErrClosed) || !errors.Is(errs[1], ErrClosed) {
		t.Fatalf("Flush after Close = %v, want ErrClosed", errs)
	}
	g.Write([]int{4})
	if st.events(Missed) != 1 {
		t.Fatalf("Write after Close: settled %v, want 1 missed", st.n)
	}
}

// TestGroup_FlushCtx checks that Flush returns at ctx's end with ctx's
// error for the lanes that had not answered, and the others' answers.
func TestGroup_FlushCtx(t *testing.T) {
	st := newSettlements()
	stuck := &testSink{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	other := &testSink{flushErr: errWrite}
	flushed := make(chan int, 2)
	g := newGroup(t, st, func(c *Config[int]) { c.Flushed = func(i int) { flushed <- i } }, stuck, other)
	g.Write([]int{1})
	<-stuck.entered
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan []error, 1)
	go func() { res <- g.Flush(ctx) }()
	if i := <-flushed; i != 1 {
		t.Fatalf("sink %d flushed, want 1", i)
	}
	cancel()
	errs := <-res
	if len(errs) != 2 || !errors.Is(errs[0], context.Canceled) || !errors.Is(errs[1], errWrite) {
		t.Fatalf("Flush = %v, want [ctx's error, the sink's]", errs)
	}
	close(stuck.gate)
	if errs := g.Close(context.Background(), nil); errs[0] != (CloseErrors{}) || !errors.Is(errs[1].Flush, errWrite) || errs[1].Close != nil {
		t.Fatalf("Close = %v", errs)
	}
	if st.events(Delivered) != 1 {
		t.Fatalf("settled %v, want 1 delivered", st.n)
	}
}

// TestGroup_Block checks that under Block, Write waits for room in a full
// lane instead of missing the batch, and gives up at Cancel.
func TestGroup_Block(t *testing.T) {
	st := newSettlements()
	slow := &testSink{gate: make(chan struct{}), entered: make(chan struct{}, 10)}
	g := newGroup(t, st, func(c *Config[int]) { c.Block = true; c.LaneSize = 2 }, slow, &testSink{})
	g.Write([]int{1, 2})
	<-slow.entered
	g.Write([]int{3, 4}) // held by the lane
	wrote := make(chan struct{})
	go func() {
		g.Write([]int{5, 6}) // waits for room
		close(wrote)
	}()
	select {
	case <-wrote:
		t.Fatal("Write did not wait for room")
	case <-time.After(20 * time.Millisecond):
	}
	slow.gate <- struct{}{} // the first batch is written: room for the third
	<-wrote
	if c := g.Sink(0); c.QueueFull != 0 {
		t.Fatalf("Sink(0) = %+v, want no QueueFull under Block", c)
	}
	<-slow.entered
	wrote = make(chan struct{})
	go func() {
		g.Write([]int{7, 8}) // waits for room until Cancel
		close(wrote)
	}()
	time.Sleep(10 * time.Millisecond)
	g.Cancel()
	<-wrote
	closeGroup(t, g)
	if st.events(Delivered) != 2 || st.events(Abandoned) != 6 || st.events(Missed) != 0 {
		t.Fatalf("settled %v, want 2 delivered and 6 abandoned", st.n)
	}
}

func TestOutcome_String(t *testing.T) {
	for o, want := range map[Outcome]string{Delivered: "delivered", Abandoned: "abandoned", WriteFailed: "write failed", Missed: "missed", 9: "Outcome(9)"} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", uint8(o), got, want)
		}
	}
}

// panicSink panics in every call.
type panicSink struct{}

func (panicSink) Write(context.Context, []int) error { panic("write bug") }
func (panicSink) Flush(context.Context) error        { panic("flush bug") }
func (panicSink) Close(context.Context) error        { panic("close bug") }
func (panicSink) ObserveTrace(string)                { panic("observe bug") }

// TestGroup_SinkPanicFailsItsCall checks that a sink whose methods panic
// fails each call with an error naming the method and the panic, counted
// as a failed write (a mark passed to ObserveTrace is reported lost), and
// holds no other sink back, alone or with others.
func TestGroup_SinkPanicFailsItsCall(t *testing.T) {
	for _, others := range []int{0, 1} {
		t.Run(fmt.Sprintf("others=%d", others), func(t *testing.T) {
			st := newSettlements()
			cfg := Config[int]{Timeout: time.Hour, LaneSize: 10, Settled: st.settled, Sinks: []Sink[int]{panicSink{}}}
			var good *testSink
			if others > 0 {
				good = &testSink{}
				cfg.Sinks = append(cfg.Sinks, good)
			}
			var failed []error
			var mu sync.Mutex
			cfg.WriteFailed = func(_, _ int, err error) {
				mu.Lock()
				failed = append(failed, err)
				mu.Unlock()
			}
			var observeFailed []string
			cfg.ObserveFailed = func(i int, err error) {
				mu.Lock()
				observeFailed = append(observeFailed, fmt.Sprint(i, ": ", err))
				mu.Unlock()
			}
			g := New[int, string](cfg)
			t.Cleanup(g.Cancel)
			g.Announce("t0")
			g.Write([]int{1, 2})
			g.Observe("t1")
			errs := g.Flush(context.Background())
			mu.Lock()
			if want := "0: sink ObserveTrace panicked: observe bug"; len(observeFailed) != 2 || observeFailed[0] != want || observeFailed[1] != want {
				t.Errorf("ObserveFailed with %q, want %q twice", observeFailed, want)
			}
			mu.Unlock()
			if !strings.Contains(fmt.Sprint(errs[0]), "sink Flush panicked: flush bug") {
				t.Errorf("Flush error %v, want the panic", errs[0])
			}
			mu.Lock()
			if len(failed) != 1 || !strings.Contains(failed[0].Error(), "sink Write panicked: write bug") {
				t.Errorf("WriteFailed with %v, want the panic", failed)
			}
			mu.Unlock()
			if c := g.Sink(0); c.WriteErrors != 1 {
				t.Errorf("Sink(0).WriteErrors = %d, want 1", c.WriteErrors)
			}
			ce := g.Close(context.Background(), nil)
			if !strings.Contains(fmt.Sprint(ce[0].Close), "sink Close panicked: close bug") {
				t.Errorf("Close error %v, want the panic", ce[0].Close)
			}
			if good != nil && !slices.Equal(good.events(), []int{1, 2}) {
				t.Errorf("the other sink got %v, want [1 2]", good.events())
			}
			if want := []string{"mark t0", "write", "mark t1", "flush", "flush", "close"}; good != nil && !slices.Equal(good.entries(), want) {
				t.Errorf("the other sink saw %q, want %q", good.entries(), want)
			}
		})
	}
}
