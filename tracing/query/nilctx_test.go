package query_test

import (
	"context"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/query"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// TestNilContextNeverEnds checks that every call of the client takes a nil
// ctx as one that never ends, and that a nil *Client closes as a no-op.
// (The test binary's -timeout bounds it.)
func TestNilContextNeverEnds(t *testing.T) {
	srv := startServer(t, testCtx(t))
	var nilCtx context.Context
	c, err := query.Dial(nilCtx, srv.URL())
	if err != nil {
		t.Fatalf("Dial(nil): %v", err)
	}
	defer c.Close()
	if err := c.Ping(nilCtx); err != nil {
		t.Errorf("Ping(nil): %v", err)
	}
	if tr, err := c.GetTrace(nilCtx, tracing.NewTraceID()); err != nil || tr != nil {
		t.Errorf("GetTrace(nil) = %v, %v; want nil, nil", tr, err)
	}
	if tr, err := c.Trace(nilCtx, tracing.NewTraceID()); err != nil || tr != nil {
		t.Errorf("Trace(nil) = %v, %v; want nil, nil", tr, err)
	}
	if _, err := c.QueryTraces(nilCtx, wire.TraceQuery{}); err != nil {
		t.Errorf("QueryTraces(nil): %v", err)
	}
	for _, err := range c.QueryAll(nilCtx, wire.TraceQuery{}) {
		if err != nil {
			t.Errorf("QueryAll(nil): %v", err)
		}
	}
	if _, err := c.GetMetrics(nilCtx); err != nil {
		t.Errorf("GetMetrics(nil): %v", err)
	}
	sub, err := c.Subscribe(nilCtx, wire.SubscriptionFilters{})
	if err != nil {
		t.Fatalf("Subscribe(nil): %v", err)
	}
	if err := sub.Close(nilCtx); err != nil {
		t.Errorf("Subscription.Close(nil): %v", err)
	}
	var none *query.Client
	if err := none.Close(); err != nil {
		t.Errorf("nil Client's Close: %v", err)
	}
}
