package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/internal/compress"
	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// query asks a tracing server what it keeps, one request at a time.
type query struct {
	c      *websocket.Conn
	enc    tracing.Encoder
	detect compress.Detect
}

func dialQuery(ctx context.Context, url string) (*query, error) {
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(compress.MaxMessageSize + 1<<20)
	return &query{c: c}, nil
}

func (q *query) close() { _ = q.c.Close(websocket.StatusNormalClosure, "") }

// ask sends req and returns the server's reply, skipping pushed
// notifications.
func (q *query) ask(ctx context.Context, req tracing.TracingRequest) (tracing.TracingResponse, error) {
	if err := q.c.Write(ctx, websocket.MessageText, q.enc.AppendRequest(nil, req)); err != nil {
		return nil, err
	}
	for {
		typ, data, err := q.c.Read(ctx)
		if err != nil {
			return nil, err
		}
		if typ == websocket.MessageBinary {
			if data, _, err = q.detect.DecodeReply(nil, data); err != nil {
				return nil, err
			}
		}
		resp, err := tracing.DecodeResponse(data)
		if err != nil {
			return nil, err
		}
		if _, ok := resp.(tracing.EventNotification); !ok {
			return resp, nil
		}
	}
}

// generation probes the server's protocol generation: a generation-2
// server echoes the request id of a GetTrace.
func (q *query) generation(ctx context.Context) (tracing.Protocol, error) {
	rid := tracing.NewRequestID()
	resp, err := q.ask(ctx, tracing.GetTrace{RequestID: rid})
	if err != nil {
		return 0, err
	}
	if td, ok := resp.(tracing.TraceData); ok && td.RequestID == rid {
		return tracing.ProtocolV2, nil
	}
	return tracing.ProtocolV1, nil
}

// traceAndSegments returns the trace id and the segments that continue it
// (same execution id, tagged with the trace's id), in segment order.
func (q *query) traceAndSegments(ctx context.Context, id tracing.TraceID) ([]tracing.FlowTrace, error) {
	resp, err := q.ask(ctx, tracing.GetTrace{TraceID: id, RequestID: tracing.NewRequestID()})
	if err != nil {
		return nil, err
	}
	var first *tracing.FlowTrace
	switch r := resp.(type) {
	case tracing.TraceData:
		first = r.Trace
	case tracing.ErrorResponse:
		// A generation-2 server falling back to its legacy reply.
	default:
		return nil, fmt.Errorf("GetTrace %s: unexpected reply %T", id, resp)
	}
	if first == nil {
		return nil, nil
	}
	out := []tracing.FlowTrace{*first}
	exec := first.ExecutionID
	resp, err = q.ask(ctx, tracing.QueryTraces{Query: tracing.TraceQuery{ExecutionID: exec}, RequestID: tracing.NewRequestID()})
	if err != nil {
		return nil, err
	}
	var found []tracing.FlowTrace
	switch r := resp.(type) {
	case tracing.QueryResults:
		found = r.Traces
	case tracing.TracesFound:
		found = r.Traces
	default:
		return nil, fmt.Errorf("QueryTraces: unexpected reply %T", resp)
	}
	for _, t := range found {
		if t.TraceID != id && t.Metadata.Tags[sink.TagSegmentOf] == id.String() {
			out = append(out, t)
		}
	}
	slices.SortStableFunc(out[1:], func(a, b tracing.FlowTrace) int {
		return segment(a) - segment(b)
	})
	return out, nil
}

func segment(t tracing.FlowTrace) int {
	n, _ := strconv.Atoi(t.Metadata.Tags[sink.TagSegment])
	return n
}
