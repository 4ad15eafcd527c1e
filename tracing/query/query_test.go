package query_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/query"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

func TestReadMethods(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			ctx := testCtx(t)
			srv := startServer(t, ctx, v.opts()...)
			base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
			exec := tracing.NewExecutionID()
			failed := tracing.FailedStatus("boom")
			a := mkTrace("etl", exec, base, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}, "reader", "parser")
			b := mkTrace("etl", tracing.NewExecutionID(), base.Add(time.Hour), failed, "reader", "writer")
			// A trace large enough that every reply carrying it is compressed.
			big := mkTrace("big", tracing.NewExecutionID(), base.Add(2*time.Hour), tracing.ExecutionStatus{Kind: tracing.StatusRunning},
				slices.Repeat([]string{"sensor"}, 200)...)
			newPeer(t, ctx, srv.URL()).store(ctx, a, b, big)

			c := dial(t, ctx, srv.URL())
			want := transport.ProtocolV1
			if v.gen == tracetest.Gen2 {
				want = transport.ProtocolV2
			}
			if got := c.Protocol(); got != want {
				t.Errorf("Protocol() = %v, want %v", got, want)
			}
			for _, tr := range []tracing.FlowTrace{a, b, big} {
				got, err := c.GetTrace(ctx, tr.TraceID)
				if err != nil {
					t.Fatal(err)
				}
				if got == nil || got.TraceID != tr.TraceID || got.FlowID != tr.FlowID || got.Status != tr.Status ||
					!slices.Equal(ids(got.Events), ids(tr.Events)) {
					t.Errorf("GetTrace(%s) = %+v", tr.TraceID, got)
				}
			}
			if got, err := c.GetTrace(ctx, tracing.NewTraceID()); got != nil || err != nil {
				t.Errorf("GetTrace(unknown) = %v, %v; want nil, nil", got, err)
			}

			cases := []struct {
				name string
				q    wire.TraceQuery
				want []tracing.FlowTrace
			}{
				{"all", wire.TraceQuery{}, []tracing.FlowTrace{a, b, big}},
				{"flow", wire.TraceQuery{FlowID: "etl"}, []tracing.FlowTrace{a, b}},
				{"execution", wire.TraceQuery{ExecutionID: exec}, []tracing.FlowTrace{a}},
				{"time range", wire.TraceQuery{HasTimeRange: true, TimeRange: [2]time.Time{base.Add(30 * time.Minute), base.Add(90 * time.Minute)}}, []tracing.FlowTrace{b}},
				{"status", wire.TraceQuery{Status: &failed}, []tracing.FlowTrace{b}},
				{"actor", wire.TraceQuery{ActorFilter: "writ"}, []tracing.FlowTrace{b}},
				{"limit", wire.TraceQuery{FlowID: "etl", Limit: 1}, []tracing.FlowTrace{b}},
				{"offset", wire.TraceQuery{FlowID: "etl", Limit: 1, Offset: 1}, []tracing.FlowTrace{a}},
			}
			for _, tc := range cases {
				res, err := c.QueryTraces(ctx, tc.q)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				var got, wantIDs []tracing.TraceID
				for _, tr := range res.Traces {
					got = append(got, tr.TraceID)
				}
				for _, tr := range tc.want {
					wantIDs = append(wantIDs, tr.TraceID)
				}
				// The reference answers newest start time first.
				slices.Reverse(wantIDs)
				if !slices.Equal(got, wantIDs) {
					t.Errorf("%s: got %v, want %v", tc.name, got, wantIDs)
				}
				if res.TotalCount != uint64(len(res.Traces)) {
					t.Errorf("%s: TotalCount %d for %d traces", tc.name, res.TotalCount, len(res.Traces))
				}
			}

			raw, err := c.GetMetrics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]uint64
			if err := json.Unmarshal(raw, &m); err != nil || m["traces_stored"] != 3 {
				t.Errorf("GetMetrics = %s, %v; want traces_stored 3", raw, err)
			}
			if err := c.Ping(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestQueryAllEndsAmongInFlightTraces pages a generation-2 server that
// holds more matching in-flight traces than a page: the server fills every
// page up with them, so the pages never run short, and QueryAll must end
// all the same, having yielded every stored trace once.
func TestQueryAllEndsAmongInFlightTraces(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t, ctx, tracetest.WithGeneration(tracetest.Gen2))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var stored []tracing.FlowTrace
	for i := range 5 {
		stored = append(stored, mkTrace("paged", tracing.NewExecutionID(), base.Add(time.Duration(i)*time.Minute), tracing.ExecutionStatus{Kind: tracing.StatusCompleted}, "a"))
	}
	p := newPeer(t, ctx, srv.URL())
	p.store(ctx, stored...)
	for range 3 {
		id := tracing.NewTraceID()
		if r, ok := p.ask(ctx, wire.StartTrace{TraceID: id, FlowID: "paged", Version: tracing.FlowVersion{Major: 1}}).(wire.TraceStarted); !ok || r.TraceID != id {
			t.Fatalf("StartTrace: reply %#v", r)
		}
	}
	c := dial(t, ctx, srv.URL())
	for _, limit := range []uint64{1, 2, 3} {
		var got []tracing.FlowTrace
		// Paging on for ever, QueryAll would end at the deadline only.
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		for tr, err := range c.QueryAll(qctx, wire.TraceQuery{FlowID: "paged", Limit: limit}) {
			if err != nil {
				t.Fatalf("limit %d: %v", limit, err)
			}
			got = append(got, tr)
		}
		cancel()
		ids := traceIDs(got)
		if len(ids) != len(got) {
			t.Errorf("limit %d: %d traces, %d distinct", limit, len(got), len(ids))
		}
		for _, tr := range stored {
			if !ids[tr.TraceID] {
				t.Errorf("limit %d: stored trace %s missing", limit, tr.TraceID)
			}
		}
	}
	var all []tracing.FlowTrace
	for tr, err := range c.QueryAll(ctx, wire.TraceQuery{FlowID: "paged"}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, tr)
	}
	if len(all) != 8 {
		t.Errorf("one page: %d traces, want the 5 stored and the 3 in flight", len(all))
	}
}

func TestQueryAllPages(t *testing.T) {
	for _, gen := range []tracetest.Generation{tracetest.Gen1, tracetest.Gen2} {
		t.Run(gen.String(), func(t *testing.T) {
			ctx := testCtx(t)
			srv := startServer(t, ctx, tracetest.WithGeneration(gen))
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var traces []tracing.FlowTrace
			for i := range 25 {
				traces = append(traces, mkTrace("paged", tracing.NewExecutionID(), base.Add(time.Duration(i)*time.Minute), tracing.ExecutionStatus{Kind: tracing.StatusCompleted}, "a"))
			}
			newPeer(t, ctx, srv.URL()).store(ctx, append(traces, mkTrace("other", tracing.NewExecutionID(), base, tracing.ExecutionStatus{}, "a"))...)
			c := dial(t, ctx, srv.URL())
			for _, limit := range []uint64{0, 1, 10, 25, 30} {
				var got []tracing.FlowTrace
				for tr, err := range c.QueryAll(ctx, wire.TraceQuery{FlowID: "paged", Limit: limit}) {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, tr)
				}
				if len(got) != 25 || len(traceIDs(got)) != 25 {
					t.Errorf("limit %d: %d traces, %d distinct; want 25", limit, len(got), len(traceIDs(got)))
				}
				for id := range traceIDs(traces) {
					if !traceIDs(got)[id] {
						t.Errorf("limit %d: trace %s missing", limit, id)
					}
				}
			}
			// Stopping early stops asking.
			n := 0
			for range c.QueryAll(ctx, wire.TraceQuery{FlowID: "paged", Limit: 2}) {
				n++
				if n == 3 {
					break
				}
			}
			if n != 3 {
				t.Errorf("early break: %d", n)
			}
		})
	}
}

func TestClosedClient(t *testing.T) {
	ctx := testCtx(t)
	srv := startServer(t, ctx)
	c, err := query.Dial(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.Subscribe(ctx, wire.SubscriptionFilters{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, ok := <-sub.Events(); ok {
		t.Error("subscription channel open after Close")
	}
	if !errors.Is(sub.Err(), query.ErrClosed) {
		t.Errorf("sub.Err() = %v, want ErrClosed", sub.Err())
	}
	if err := sub.Close(ctx); err != nil {
		t.Errorf("sub.Close after client Close: %v", err)
	}
	if _, err := c.GetTrace(ctx, tracing.NewTraceID()); !errors.Is(err, query.ErrClosed) {
		t.Errorf("GetTrace after Close: %v", err)
	}
	if _, err := c.QueryTraces(ctx, wire.TraceQuery{}); !errors.Is(err, query.ErrClosed) {
		t.Errorf("QueryTraces after Close: %v", err)
	}
	if _, err := c.Subscribe(ctx, wire.SubscriptionFilters{}); !errors.Is(err, query.ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
}

func TestDialErrors(t *testing.T) {
	ctx := testCtx(t)
	for _, tc := range []struct {
		name string
		url  string
		opts []query.Option
	}{
		{"scheme", "http://127.0.0.1:1", nil},
		{"no host", "ws://", nil},
		{"bad url", "ws://[::1", nil},
		{"dial timeout", "ws://127.0.0.1:1", []query.Option{query.WithDialTimeout(0)}},
		{"buffer", "ws://127.0.0.1:1", []query.Option{query.WithSubscriptionBuffer(0)}},
		{"huge buffer", "ws://127.0.0.1:1", []query.Option{query.WithSubscriptionBuffer(1 << 40)}},
		{"logger", "ws://127.0.0.1:1", []query.Option{query.WithLogger(nil)}},
		{"header", "ws://127.0.0.1:1", []query.Option{query.WithHeader("", "v")}},
		{"header value", "ws://127.0.0.1:1", []query.Option{query.WithHeader("X-A", "v\r\nX-Injected: 1")}},
		{"api key", "ws://127.0.0.1:1", []query.Option{query.WithAPIKey("k\n")}},
		{"api key header", "ws://127.0.0.1:1", []query.Option{query.WithAPIKey("k"), query.WithAPIKeyHeader("X Key")}},
		{"key and token", "ws://127.0.0.1:1", []query.Option{query.WithAPIKey("k"), query.WithBearerToken("t")}},
		{"tls files", "wss://127.0.0.1:1", []query.Option{query.WithTLS(transport.TLSOptions{CAFile: "/nonexistent/ca.pem"})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := query.Dial(ctx, tc.url, tc.opts...); !errors.Is(err, query.ErrInvalidOption) {
				t.Errorf("Dial: %v, want ErrInvalidOption", err)
			}
		})
	}
	srv := startServer(t, ctx)
	url := srv.URL()
	srv.Stop()
	if _, err := query.Dial(ctx, url); err == nil {
		t.Error("Dial of a stopped server succeeded")
	}
}

// TestQueryAllRangedTwice: ranging over the sequence QueryAll returns
// again walks the same pages again, from q.Offset.
func TestQueryAllRangedTwice(t *testing.T) {
	ctx := testCtx(t)
	c := dial(t, ctx, storedTraces(t, ctx, 3))
	seq := c.QueryAll(ctx, wire.TraceQuery{Limit: 2})
	count := func() int {
		n := 0
		for _, err := range seq {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	if n := count(); n != 3 {
		t.Fatalf("first range: %d traces, want 3", n)
	}
	if n := count(); n != 3 {
		t.Errorf("second range over the same QueryAll: %d traces, want 3 (the pages restart from q.Offset)", n)
	}
}

// TestQueryAllRangedAtOnce: two goroutines ranging over one sequence
// QueryAll returns each get every trace, without sharing its page offset
// (-race checks they do not).
func TestQueryAllRangedAtOnce(t *testing.T) {
	ctx := testCtx(t)
	const stored = 6
	c := dial(t, ctx, storedTraces(t, ctx, stored))
	seq := c.QueryAll(ctx, wire.TraceQuery{Limit: 1})
	counts := make(chan int, 2)
	for range 2 {
		go func() {
			n := 0
			for _, err := range seq {
				if err != nil {
					t.Error(err)
					break
				}
				n++
			}
			counts <- n
		}()
	}
	for range 2 {
		select {
		case n := <-counts:
			if n != stored {
				t.Errorf("one of two concurrent ranges saw %d traces, want %d", n, stored)
			}
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

// storedTraces starts a server that keeps n completed traces of flow "f",
// a minute apart, and returns its URL.
func storedTraces(t *testing.T, ctx context.Context, n int) string {
	t.Helper()
	srv := startServer(t, ctx)
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var trs []tracing.FlowTrace
	for i := range n {
		trs = append(trs, mkTrace("f", tracing.NewExecutionID(), base.Add(time.Duration(i)*time.Minute), tracing.ExecutionStatus{Kind: tracing.StatusCompleted}, "a"))
	}
	newPeer(t, ctx, srv.URL()).store(ctx, trs...)
	return srv.URL()
}
