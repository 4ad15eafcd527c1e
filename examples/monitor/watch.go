package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log"
	"slices"
	"strings"
	"time"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/query"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

const (
	red   = "\x1b[31m"
	bold  = "\x1b[1m"
	reset = "\x1b[0m"
	home  = "\x1b[H\x1b[2J"
)

// stats are the running counts.
type stats struct {
	start      time.Time
	total      int
	failed     int
	kinds      map[string]int
	actors     map[string]int
	actorFails map[string]int
	edges      map[string]int
	failures   []string // newest last, at most 10
	recent     []string // newest last, at most 12
}

func newStats() *stats {
	return &stats{start: time.Now(), kinds: map[string]int{}, actors: map[string]int{}, actorFails: map[string]int{}, edges: map[string]int{}}
}

// failure reports whether ev records a failure: an ActorFailed, or any
// event that carries an error, such as the DataFlow of a send that failed.
func failure(ev *tracing.TraceEvent) bool {
	return ev.Type.Kind == tracing.KindActorFailed || ev.Data.Error != ""
}

func (s *stats) add(n *wire.EventNotification, line string) {
	ev := &n.Event
	s.total++
	s.kinds[ev.Type.Kind.String()]++
	s.actors[ev.ActorID]++
	if ev.Type.Kind == tracing.KindDataFlow {
		s.edges[ev.ActorID+" → "+ev.Type.ToActor]++
	}
	if failure(ev) {
		s.failed++
		s.actorFails[ev.ActorID]++
		s.failures = keepLast(append(s.failures, line), 10)
	}
	s.recent = keepLast(append(s.recent, line), 12)
}

func keepLast(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// eventLine is one event, in red when it is a failure and color is on.
func eventLine(n *wire.EventNotification, color bool) string {
	ev := &n.Event
	kind := ev.Type.Kind.String()
	detail := ""
	if ev.Type.Kind == tracing.KindDataFlow {
		detail = "→ " + ev.Type.ToActor + ":" + ev.Type.ToPort
	}
	if d := ev.Data.PerformanceMetrics.ExecutionTimeNs; d > 0 {
		detail += fmt.Sprintf(" (%v)", time.Duration(d))
	}
	if ev.Data.Error != "" {
		detail += "  failed: " + ev.Data.Error
	}
	line := fmt.Sprintf("%s  %-16s %-12s trace …%s  %s", ev.Timestamp.Local().Format("15:04:05.000"), kind, ev.ActorID,
		n.TraceID.String()[28:], strings.TrimSpace(detail))
	if color && failure(ev) {
		return red + line + reset
	}
	return line
}

// pendingTimeout is how long a notification waits for its trace's flow
// (-flow) before it is counted as of an unknown flow: at least 10s.
func pendingTimeout(poll time.Duration) time.Duration { return max(10*time.Second, 10*poll) }

// watcher merges the pushed notifications with the events the polls read
// from storage, and shows each event once (by event id). It runs on the
// goroutine of watch.
type watcher struct {
	o     options
	out   io.Writer
	c     *query.Client
	sub   *query.Subscription
	st    *stats
	start time.Time
	seen  map[tracing.EventID]struct{}
	// flows maps the ids of the traces (and segments) the server stores to
	// their flows; pending holds, by trace, the notifications that wait
	// for their flow with -flow.
	flows       map[tracing.TraceID]tracing.FlowID
	pending     map[tracing.TraceID]*pendingTrace
	unknownFlow int  // notifications not shown: their flow stayed unknown
	baseline    bool // no poll came back yet
	pushed      int  // events shown from notifications
	stored      int  // events shown from storage
	polls       int  // poll rounds that came back
	pollErr     error
	enc         wire.Encoder
	buf         []byte
	err         error // the first write error
}

// pendingTrace holds the notifications of one trace whose flow is not
// known yet.
type pendingTrace struct {
	since  time.Time
	events []wire.EventNotification
}

func newWatcher(o options, out io.Writer, c *query.Client, sub *query.Subscription, start time.Time) *watcher {
	return &watcher{o: o, out: out, c: c, sub: sub, st: newStats(), start: start, seen: map[tracing.EventID]struct{}{},
		flows: map[tracing.TraceID]tracing.FlowID{}, pending: map[tracing.TraceID]*pendingTrace{}, baseline: true}
}

// keep applies the -actor and -kind filters.
func (w *watcher) keep(ev *tracing.TraceEvent) bool {
	return (len(w.o.actors) == 0 || slices.Contains(w.o.actors, ev.ActorID)) &&
		(len(w.o.kinds) == 0 || slices.Contains(w.o.kinds, ev.Type.Kind))
}

// notified takes a pushed notification.
func (w *watcher) notified(n wire.EventNotification) {
	if !w.keep(&n.Event) {
		return
	}
	if len(w.o.flows) > 0 {
		// A notification does not name its flow: the trace's is learned
		// from what the server stores.
		flow, ok := w.flows[n.TraceID]
		if !ok {
			p := w.pending[n.TraceID]
			if p == nil {
				p = &pendingTrace{since: time.Now()}
				w.pending[n.TraceID] = p
			}
			p.events = append(p.events, n)
			return
		}
		if !slices.Contains(w.o.flows, flow) {
			return
		}
	}
	if w.show(&n) {
		w.pushed++
	}
}

// polled takes what a poll round read: the events not shown yet, oldest
// first. On the first round, what the server stored before the monitor
// began is not shown.
func (w *watcher) polled(r pollResult) {
	w.polls++
	if r.err != nil && (w.pollErr == nil || r.err.Error() != w.pollErr.Error()) {
		// Reported when it changes; the next round tries again.
		switch {
		case w.o.json:
			log.Printf("monitor: reading what the server stores: %v", r.err)
		case !w.o.redraw:
			fmt.Fprintf(w.out, "reading what the server stores: %v\n", r.err)
		}
	}
	w.pollErr = r.err
	var fresh []wire.EventNotification
	for i := range r.traces {
		t := &r.traces[i]
		logical, _ := segmentOf(t)
		w.flows[t.TraceID], w.flows[logical] = t.FlowID, t.FlowID
		if len(w.o.flows) > 0 && !slices.Contains(w.o.flows, t.FlowID) {
			continue
		}
		for j := range t.Events {
			ev := &t.Events[j]
			if !w.keep(ev) {
				continue
			}
			if _, dup := w.seen[ev.EventID]; dup {
				continue
			}
			if w.baseline && ev.Timestamp.Before(w.start) {
				w.seen[ev.EventID] = struct{}{}
				continue
			}
			fresh = append(fresh, wire.EventNotification{TraceID: logical, Event: *ev})
		}
	}
	slices.SortStableFunc(fresh, func(a, b wire.EventNotification) int { return a.Event.Timestamp.Compare(b.Event.Timestamp) })
	for i := range fresh {
		if w.show(&fresh[i]) {
			w.stored++
		}
	}
	if r.err == nil {
		w.baseline = false
	}
	timeout := w.o.flowWait
	if timeout <= 0 {
		timeout = pendingTimeout(w.o.poll)
	}
	for id, p := range w.pending {
		flow, ok := w.flows[id]
		switch {
		case ok:
			delete(w.pending, id)
			if slices.Contains(w.o.flows, flow) {
				for i := range p.events {
					if w.show(&p.events[i]) {
						w.pushed++
					}
				}
			}
		case time.Since(p.since) > timeout:
			delete(w.pending, id)
			w.unknownFlow += len(p.events)
		}
	}
}

// wanted returns the traces whose flow the pending notifications wait for.
func (w *watcher) wanted() []tracing.TraceID {
	ids := make([]tracing.TraceID, 0, len(w.pending))
	for id := range w.pending {
		ids = append(ids, id)
	}
	return ids
}

// show writes n unless its event was shown already, and reports whether
// it wrote it.
func (w *watcher) show(n *wire.EventNotification) bool {
	if _, dup := w.seen[n.Event.EventID]; dup {
		return false
	}
	w.seen[n.Event.EventID] = struct{}{}
	line := eventLine(n, w.o.color)
	w.st.add(n, line)
	var err error
	switch {
	case w.o.json:
		w.buf = w.enc.AppendResponse(w.buf[:0], *n)
		w.buf = append(w.buf, '\n')
		_, err = w.out.Write(w.buf)
	case !w.o.redraw:
		_, err = fmt.Fprintln(w.out, line)
	}
	if w.err == nil {
		w.err = err
	}
	return true
}

// watch subscribes to the server's notifications and polls what it stores
// every o.poll (never when 0), and shows every event once until ctx ends.
func watch(ctx context.Context, url string, o options, out io.Writer) error {
	start := time.Now()
	c, err := query.Dial(ctx, url, query.WithRetry(retry.Policy{MaxRetries: retry.Unlimited}))
	if err != nil {
		return err
	}
	defer c.Close()
	f := wire.SubscriptionFilters{ActorIDs: o.actors, FlowIDs: o.flows}
	if len(o.kinds) > 0 && !slices.Contains(o.kinds, tracing.KindDataFlow) {
		// The server matches event types whole; a DataFlow type names its
		// target, so DataFlow is filtered here instead.
		for _, k := range o.kinds {
			f.EventTypes = append(f.EventTypes, tracing.TraceEventType{Kind: k})
		}
	}
	sub, err := c.Subscribe(ctx, f)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Close(context.Background()) }()
	w := newWatcher(o, out, c, sub, start)
	if !o.json && !o.redraw {
		reading := fmt.Sprintf("reading what it stores every %v", o.poll)
		if o.poll <= 0 {
			reading = "not reading what it stores (-poll 0)"
		}
		fmt.Fprintf(out, "subscribed (server generation %s), %s\n", c.Protocol(), reading)
		if len(o.flows) > 0 && c.Protocol() == transport.ProtocolV1 {
			fmt.Fprintln(out, "note: -flow shows only events of traces the server keeps; a generation-1 server keeps nothing sent in live mode (RecordEvent), and its notifications name no flow")
		}
	}
	var tick <-chan time.Time
	if o.redraw {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	// One poll round runs at a time, on its own goroutine, so that
	// notifications are taken while it waits for the server.
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var p *poller
	var pollTick <-chan time.Time
	results := make(chan pollResult, 1)
	inFlight := false
	poll := func() {
		if inFlight {
			return
		}
		inFlight = true
		wanted := w.wanted()
		go func() { results <- p.round(pctx, wanted) }()
	}
	if o.poll > 0 {
		p = newPoller(c, o.flows, o.poll, start)
		t := time.NewTicker(o.poll)
		defer t.Stop()
		pollTick = t.C
		poll()
	}
loop:
	for w.err == nil {
		select {
		case n, ok := <-sub.Events():
			if !ok {
				if err := sub.Err(); err != nil && ctx.Err() == nil {
					w.err = err
				}
				break loop
			}
			w.notified(n)
		case r := <-results:
			inFlight = false
			if r.err != nil && ctx.Err() != nil {
				break loop
			}
			w.polled(r)
			if o.afterPoll != nil {
				o.afterPoll(w.polls)
			}
		case <-pollTick:
			poll()
		case <-tick:
			w.render(true)
		case <-ctx.Done():
			break loop
		}
	}
	cancel()
	if inFlight {
		<-results
	}
	if !o.json {
		w.render(o.redraw)
	}
	return w.err
}

// render writes the counts; redraw clears the screen first and shows the
// recent events.
func (w *watcher) render(redraw bool) {
	st := w.st
	var b strings.Builder
	if redraw {
		b.WriteString(home)
		fmt.Fprintf(&b, "%sReflow trace monitor%s  %s  generation %s  %d events in %v",
			bold, reset, time.Now().Format("15:04:05"), w.c.Protocol(), st.total, time.Since(st.start).Round(time.Second))
	} else {
		fmt.Fprintf(&b, "\n%d events in %v", st.total, time.Since(st.start).Round(time.Millisecond))
	}
	fmt.Fprintf(&b, " (%d pushed, %d read from storage), %d dropped (slow consumer), %d resubscriptions\n",
		w.pushed, w.stored, w.sub.Dropped(), w.sub.Resubscribed())
	if w.pollErr != nil {
		fmt.Fprintf(&b, "last poll: %v\n", w.pollErr)
	}
	if w.unknownFlow > 0 {
		fmt.Fprintf(&b, "%d notifications not shown: -flow could not match them, the server keeps nothing of their traces (on generation 1, what is sent in live mode)\n", w.unknownFlow)
	}
	table(&b, "by kind", st.kinds, 12, nil)
	table(&b, "by actor", st.actors, 10, func(actor string) string {
		if n := st.actorFails[actor]; n > 0 {
			return fmt.Sprintf("  %d failed", n)
		}
		return ""
	})
	table(&b, "by edge (DataFlow)", st.edges, 10, nil)
	if redraw {
		b.WriteString("\nrecent\n")
		for _, l := range st.recent {
			b.WriteString("  " + l + "\n")
		}
	}
	if len(st.failures) > 0 {
		fmt.Fprintf(&b, "\nfailures (%d)\n", st.failed)
		for _, l := range st.failures {
			b.WriteString("  " + l + "\n")
		}
	}
	if _, err := io.WriteString(w.out, b.String()); w.err == nil {
		w.err = err
	}
}

// table writes the n largest counts of m, each followed by what note (if
// not nil) says of its key.
func table(b *strings.Builder, title string, m map[string]int, n int, note func(string) string) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	fmt.Fprintf(b, "\n%s\n", title)
	for i, k := range keys {
		if i == n {
			fmt.Fprintf(b, "  … %d more\n", len(keys)-n)
			break
		}
		fmt.Fprintf(b, "  %-28s %8d", k, m[k])
		if note != nil {
			b.WriteString(note(k))
		}
		b.WriteByte('\n')
	}
}
