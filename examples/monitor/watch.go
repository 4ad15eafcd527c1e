package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/query"
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

// watch subscribes and shows the stream until ctx ends.
func watch(ctx context.Context, url string, o options, out io.Writer) error {
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
	if !o.json && !o.redraw {
		fmt.Fprintf(out, "subscribed (server generation %s)\n", c.Protocol())
	}
	flows := newFlowCache(c)
	st := newStats()
	var enc wire.Encoder
	var tick <-chan time.Time
	if o.redraw {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	var buf []byte
loop:
	for {
		select {
		case n, ok := <-sub.Events():
			if !ok {
				if err := sub.Err(); err != nil && ctx.Err() == nil {
					return err
				}
				break loop
			}
			if len(o.kinds) > 0 && !slices.Contains(o.kinds, n.Event.Type.Kind) {
				continue
			}
			if len(o.flows) > 0 && !slices.Contains(o.flows, flows.get(ctx, n.TraceID)) {
				continue
			}
			line := eventLine(&n, o.color)
			st.add(&n, line)
			switch {
			case o.json:
				buf = enc.AppendResponse(buf[:0], n)
				buf = append(buf, '\n')
				if _, err := out.Write(buf); err != nil {
					return err
				}
			case !o.redraw:
				fmt.Fprintln(out, line)
			}
		case <-tick:
			render(out, st, sub, c, true)
		case <-ctx.Done():
			break loop
		}
	}
	if !o.json {
		render(out, st, sub, c, o.redraw)
	}
	return nil
}

// render writes the counts; redraw clears the screen first and shows the
// recent events.
func render(w io.Writer, st *stats, sub *query.Subscription, c *query.Client, redraw bool) {
	var b strings.Builder
	if redraw {
		b.WriteString(home)
		fmt.Fprintf(&b, "%sReflow trace monitor%s  %s  generation %s  %d events in %v",
			bold, reset, time.Now().Format("15:04:05"), c.Protocol(), st.total, time.Since(st.start).Round(time.Second))
	} else {
		fmt.Fprintf(&b, "\n%d events in %v", st.total, time.Since(st.start).Round(time.Millisecond))
	}
	fmt.Fprintf(&b, ", %d dropped (slow consumer), %d resubscriptions\n", sub.Dropped(), sub.Resubscribed())
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
	_, _ = io.WriteString(w, b.String())
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

// flowCache maps trace ids to flow ids, asking the server once per trace
// (again after a second while it does not know the trace).
type flowCache struct {
	c     *query.Client
	known map[tracing.TraceID]tracing.FlowID
	miss  map[tracing.TraceID]time.Time
}

func newFlowCache(c *query.Client) *flowCache {
	return &flowCache{c: c, known: map[tracing.TraceID]tracing.FlowID{}, miss: map[tracing.TraceID]time.Time{}}
}

func (f *flowCache) get(ctx context.Context, id tracing.TraceID) tracing.FlowID {
	if flow, ok := f.known[id]; ok {
		return flow
	}
	if t, ok := f.miss[id]; ok && time.Since(t) < time.Second {
		return ""
	}
	tr, err := f.c.GetTrace(ctx, id)
	if err != nil || tr == nil {
		f.miss[id] = time.Now()
		return ""
	}
	f.known[id] = tr.FlowID
	return tr.FlowID
}
