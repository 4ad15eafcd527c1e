package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/query"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// list prints the stored traces matching the flow and actor filters, at
// most o.limit.
func list(ctx context.Context, url string, o options, out io.Writer) error {
	c, err := query.Dial(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close()
	flows := o.flows
	if len(flows) == 0 {
		flows = []tracing.FlowID{""}
	}
	actor := ""
	if len(o.actors) > 0 {
		actor = o.actors[0] // the server takes one actor filter
	}
	fmt.Fprintf(out, "%-36s  %-16s  %7s  %-19s  %s\n", "TRACE", "FLOW", "EVENTS", "START", "STATUS")
	n := uint64(0)
	for _, flow := range flows {
		for t, err := range c.QueryAll(ctx, wire.TraceQuery{FlowID: flow, ActorFilter: actor}) {
			if err != nil {
				return err
			}
			if n == o.limit {
				break
			}
			n++
			line := fmt.Sprintf("%-36s  %-16s  %7d  %-19s  %s", t.TraceID, t.FlowID, len(t.Events), t.StartTime.Local().Format(time.DateTime), t.Status)
			if o.color && t.Status.Kind == tracing.StatusFailed {
				line = red + line + reset
			}
			fmt.Fprintln(out, line)
		}
	}
	fmt.Fprintf(out, "%d trace(s)\n", n)
	return nil
}
