package query

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// DefaultPageSize is the page size of QueryAll for a query without Limit.
const DefaultPageSize = 100

// Result is the answer to a QueryTraces.
type Result struct {
	// Traces are the matching traces of the page: on the reference
	// server, the stored ones newest start time first, then (generation
	// 2) the in-flight ones not among them, in no set order.
	Traces []tracing.FlowTrace
	// TotalCount is the server's total_count. The reference server of both
	// generations counts the traces of this page (after Limit and Offset),
	// not every match; a legacy reply has none and gets len(Traces).
	TotalCount uint64
}

// GetTrace returns the trace the server keeps under id (on generation 2,
// also a trace still in flight), or nil, nil when it has none. A trace
// split into segments comes back as its first segment: see Trace.
func (c *Client) GetTrace(ctx context.Context, id tracing.TraceID) (*tracing.FlowTrace, error) {
	resp, err := c.roundTrip(ctx, func(rid wire.RequestID) wire.TracingRequest {
		return wire.GetTrace{TraceID: id, RequestID: rid}
	})
	if err != nil {
		if notFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("query: GetTrace %s: %w", id, err)
	}
	td, ok := resp.(wire.TraceData)
	if !ok {
		return nil, fmt.Errorf("query: GetTrace %s: %w %T", id, ErrUnexpectedReply, resp)
	}
	return td.Trace, nil
}

// notFound reports whether err is the legacy "trace not found" reply.
func notFound(err error) bool {
	se, ok := err.(*wire.ServerError)
	return ok && (se.Code == wire.CodeNotFound || strings.HasPrefix(se.Message, "Trace not found"))
}

// QueryTraces returns one page of the traces matching q: every filter of
// TraceQuery is sent (flow id, execution id, time range, status, actor
// filter), and Limit and Offset select the page.
func (c *Client) QueryTraces(ctx context.Context, q wire.TraceQuery) (Result, error) {
	resp, err := c.roundTrip(ctx, func(rid wire.RequestID) wire.TracingRequest {
		return wire.QueryTraces{Query: q, RequestID: rid}
	})
	if err != nil {
		return Result{}, fmt.Errorf("query: QueryTraces: %w", err)
	}
	switch r := resp.(type) {
	case wire.QueryResults:
		return Result{Traces: r.Traces, TotalCount: r.TotalCount}, nil
	case wire.TracesFound:
		return Result{Traces: r.Traces, TotalCount: uint64(len(r.Traces))}, nil
	}
	return Result{}, fmt.Errorf("query: QueryTraces: %w %T", ErrUnexpectedReply, resp)
}

// QueryAll yields every trace matching q, page by page from q.Offset (each
// range over the sequence starts there again; ranges may run at once), with
// pages of q.Limit traces (DefaultPageSize when 0); it stops after a page
// that is not full, or at the first error, which it yields with a zero
// trace. A trace already yielded is not yielded again, even when traces
// stored meanwhile shift the pages.
//
// A generation-2 server pages only its stored traces and fills every page
// up with the matching in-flight traces: once the stored ones are done,
// its pages repeat the same in-flight traces. So QueryAll also stops after
// two full pages in a row that bring no trace it has not yielded; the
// in-flight traces such a server leaves out of every page are not yielded.
func (c *Client) QueryAll(ctx context.Context, q wire.TraceQuery) iter.Seq2[tracing.FlowTrace, error] {
	return func(yield func(tracing.FlowTrace, error) bool) {
		q := q // each range over the sequence pages on its own
		if q.Limit == 0 {
			q.Limit = DefaultPageSize
		}
		seen := map[tracing.TraceID]struct{}{}
		for stale := 0; stale < 2; {
			res, err := c.QueryTraces(ctx, q)
			if err != nil {
				yield(tracing.FlowTrace{}, fmt.Errorf("offset %d: %w", q.Offset, err))
				return
			}
			stale++
			for _, t := range res.Traces {
				if _, dup := seen[t.TraceID]; dup {
					continue
				}
				seen[t.TraceID] = struct{}{}
				stale = 0
				if !yield(t, nil) {
					return
				}
			}
			if uint64(len(res.Traces)) < q.Limit {
				return
			}
			q.Offset += q.Limit
		}
	}
}

// Trace returns the whole trace id: its first segment with the events of
// every later segment appended in order, and the status and end time of
// the last one. A trace stored in one piece comes back as GetTrace returns
// it; id may also name a later segment. When the server no longer keeps
// the first segment (the memory backend evicts the oldest traces first),
// the trace is joined from the segments it still keeps, under the first
// segment's id. It returns nil, nil when the server has no trace id.
//
// Segments are found by their tags. On a generation-2 server a segment
// streamed in the live modes is in flight until its process ends it, and
// an in-flight trace has only what its StartTrace carried, no tags: Trace
// joins such a segment once the sink has stored it with its header (after
// ending it). So while a live-mode trace runs, Trace returns its first
// segment without the events of later segments and of joined processes;
// Subscribe sees them as they are recorded.
func (c *Client) Trace(ctx context.Context, id tracing.TraceID) (*tracing.FlowTrace, error) {
	found, err := c.GetTrace(ctx, id)
	if err != nil || found == nil {
		return found, err
	}
	first, head := found, found.TraceID
	if of, ok := found.Metadata.Tags[wire.TagSegmentOf]; ok {
		if head, err = tracing.ParseTraceID(of); err != nil {
			return nil, fmt.Errorf("query: trace %s: tag %s: %w", id, wire.TagSegmentOf, err)
		}
		if first, err = c.GetTrace(ctx, head); err != nil {
			return nil, err
		}
	}
	var segs []tracing.FlowTrace
	// Two segments a page: each can take a whole 16 MiB message, and a
	// reply over 64 MiB would not be read.
	q := wire.TraceQuery{FlowID: found.FlowID, ExecutionID: found.ExecutionID, Limit: 2}
	for t, err := range c.QueryAll(ctx, q) {
		if err != nil {
			return nil, fmt.Errorf("query: trace %s: segments: %w", head, err)
		}
		if t.TraceID != head && t.Metadata.Tags[wire.TagSegmentOf] == head.String() {
			segs = append(segs, t)
		}
	}
	if first == nil {
		// The first segment is gone (a server evicts the oldest traces
		// first): the trace is what its later segments still hold.
		if !slices.ContainsFunc(segs, func(t tracing.FlowTrace) bool { return t.TraceID == found.TraceID }) {
			segs = append(segs, *found)
		}
		slices.SortStableFunc(segs, func(a, b tracing.FlowTrace) int {
			return cmp.Compare(segmentNumber(&a), segmentNumber(&b))
		})
		rest := segs[0]
		rest.TraceID = head
		first, segs = &rest, segs[1:]
	}
	if len(segs) == 0 {
		return first, nil
	}
	slices.SortStableFunc(segs, func(a, b tracing.FlowTrace) int {
		return cmp.Compare(segmentNumber(&a), segmentNumber(&b))
	})
	out := *first
	out.Events = slices.Clone(first.Events)
	for i := range segs {
		out.Events = append(out.Events, segs[i].Events...)
	}
	// The status is the last segment's, of the process that owns the trace
	// (segments of a process that joined it say nothing of it).
	for i := len(segs) - 1; i >= 0; i-- {
		if segs[i].Metadata.Tags[wire.TagJoined] == "" {
			out.Status, out.EndTime = segs[i].Status, segs[i].EndTime
			break
		}
	}
	out.Metadata.Tags = maps.Clone(first.Metadata.Tags)
	return &out, nil
}

// segmentNumber is the wire.TagSegment of t, or 0.
func segmentNumber(t *tracing.FlowTrace) int {
	n, _ := strconv.Atoi(t.Metadata.Tags[wire.TagSegment])
	return n
}

// GetMetrics returns the server's counters, as the JSON object it sent.
func (c *Client) GetMetrics(ctx context.Context) (json.RawMessage, error) {
	resp, err := c.roundTrip(ctx, func(wire.RequestID) wire.TracingRequest { return wire.GetMetrics{} })
	if err != nil {
		return nil, fmt.Errorf("query: GetMetrics: %w", err)
	}
	m, ok := resp.(wire.Metrics)
	if !ok {
		return nil, fmt.Errorf("query: GetMetrics: %w %T", ErrUnexpectedReply, resp)
	}
	return m.Data, nil
}

// Ping asks the server for a Pong.
func (c *Client) Ping(ctx context.Context) error {
	resp, err := c.roundTrip(ctx, func(wire.RequestID) wire.TracingRequest { return wire.Ping{} })
	if err != nil {
		return fmt.Errorf("query: Ping: %w", err)
	}
	if _, ok := resp.(wire.Pong); !ok {
		return fmt.Errorf("query: Ping: %w %T", ErrUnexpectedReply, resp)
	}
	return nil
}
