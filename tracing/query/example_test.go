package query_test

import (
	"context"
	"fmt"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink/websocket"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/query"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

// Traces a run through the WebSocket sink into a server, then reads it
// back and lists what the server keeps for the flow.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv, err := tracetest.Start(ctx) // any Reflow tracing server
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	cfg := tracing.DefaultConfig()
	cfg.ServerURL, cfg.FlowID = srv.URL(), "orders"
	ws, _ := websocket.New(cfg.ServerURL, websocket.OptionsFromConfig(cfg)...)
	tc, _ := tracing.New(cfg, tracing.WithSink(ws))
	tctx, id, _ := tc.StartTrace(ctx, cfg.FlowID, tracing.FlowVersion{Major: 1})
	tc.ActorStarted(tctx, "validator")
	tc.ActorFailed(tctx, "validator", fmt.Errorf("bad order"))
	_ = tc.EndTrace(tctx, tracing.FailedStatus("bad order"))
	_ = tc.Close(ctx)

	c, err := query.Dial(ctx, srv.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	tr, err := c.Trace(ctx, id)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tr.FlowID, tr.Status, len(tr.Events), "events")
	for t, err := range c.QueryAll(ctx, wire.TraceQuery{FlowID: "orders"}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(t.TraceID == id)
	}
	// Output:
	// orders Failed(bad order) 2 events
	// true
}
