package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
)

// summary prints the slowest actors, the failures and the busiest edges.
func summary(w io.Writer, m *model) {
	fmt.Fprintf(w, "%s: %d events, %d actors, %d activations, %d data flows over %s\n",
		m.Title, len(m.Events), len(m.Actors), len(m.Acts), len(m.Flows), fmtDur(m.End.Sub(m.Start)))
	slow := slices.Clone(m.Stats)
	slices.SortFunc(slow, func(a, b actorStats) int { return cmp.Or(cmp.Compare(b.P95, a.P95), cmp.Compare(a.Name, b.Name)) })
	fmt.Fprintln(w, "\nslowest actors (p95)")
	for i, s := range slow {
		if i == 3 || s.Activations == 0 {
			break
		}
		fmt.Fprintf(w, "  %-14s p50 %-8s p95 %-8s p99 %-8s (%d activations)\n", s.Name, fmtDur(s.P50), fmtDur(s.P95), fmtDur(s.P99), s.Activations)
	}
	fmt.Fprintf(w, "\nfailures: %d\n", len(m.Failures))
	for i, e := range m.Failures {
		if i == 3 {
			fmt.Fprintf(w, "  … %d more\n", len(m.Failures)-3)
			break
		}
		ev := &m.Events[e]
		name := ev.ActorID
		if k := what(ev); k != "" {
			name += " (" + k + ")"
		}
		fmt.Fprintf(w, "  +%-8s %s: %s\n", fmtDur(ev.Timestamp.Sub(m.Start)), name, ev.Data.Error)
	}
	fmt.Fprintln(w, "\nbusiest edges")
	for i, e := range m.Edges {
		if i == 3 {
			break
		}
		fmt.Fprintf(w, "  %s → %s: %d messages, %d bytes\n", e.From, e.To, e.Messages, e.Bytes)
	}
}
