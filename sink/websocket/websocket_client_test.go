package websocket

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// TestWebSocketThroughClient runs a trace through a tracing client: the
// server keeps every event once, with the trace's header and final
// status, and the client's Delivered is what the server keeps.
func TestWebSocketThroughClient(t *testing.T) {
	for _, gen := range generations {
		for _, mode := range modes {
			if !keeps(gen, mode) {
				continue
			}
			t.Run(gen.String()+"/"+mode.String(), func(t *testing.T) {
				ctx := testCtx(t)
				srv := startServer(t, append(lz4Server(true), tracetest.WithGeneration(gen))...)
				cfg := tracing.DefaultConfig()
				cfg.ServerURL = srv.URL()
				cfg.EnableCompression = true
				cfg.FlowID = "e2e"
				ws, _ := newTestSink(t, cfg.ServerURL, append(OptionsFromConfig(cfg), WithMode(mode))...)
				client, err := tracing.New(cfg, tracing.WithSink(ws))
				if err != nil {
					t.Fatal(err)
				}
				ctx, trace, err := client.StartTrace(ctx, "e2e", tracing.FlowVersion{Major: 2})
				if err != nil {
					t.Fatal(err)
				}
				var want []tracing.EventID
				for i := range 300 {
					want = append(want, client.DataFlow(ctx, "a", "out", "b", "in", "Msg", uint64(i)))
				}
				want = append(want, client.ActorCompleted(ctx, "a"))
				if err := client.EndTrace(ctx, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}); err != nil {
					t.Fatal(err)
				}
				if err := client.Close(ctx); err != nil {
					t.Fatalf("client Close: %v", err)
				}
				assertKeptOnce(t, srv, want)
				got := srv.GetTrace(trace)
				if got == nil || got.FlowID != "e2e" || got.Status.Kind != tracing.StatusCompleted || got.EndTime.IsZero() {
					t.Fatalf("kept trace header %+v", got)
				}
				if mode == ModeStore && got.Version.Major != 2 {
					t.Fatalf("kept trace version %v, want 2.0.0", got.Version)
				}
				m := client.Metrics()
				if kept := uint64(len(srv.Kept())); m.Delivered != kept || m.Recorded != kept || m.Dropped.Total() != 0 {
					t.Fatalf("metrics: recorded %d, delivered %d, dropped %+v; the server keeps %d", m.Recorded, m.Delivered, m.Dropped, kept)
				}
			})
		}
	}
}

// TestWebSocketThroughClientServerDown runs a client whose server refuses
// every connection: the client becomes unhealthy, Close reports every
// recorded event as dropped, and the metrics say nothing was delivered.
func TestWebSocketThroughClientServerDown(t *testing.T) {
	for _, gen := range generations {
		t.Run(gen.String(), func(t *testing.T) {
			ctx := testCtx(t)
			srv := startServer(t, tracetest.WithGeneration(gen))
			srv.SetRefusing(true, tracetest.Refuse503)
			cfg := tracing.DefaultConfig()
			cfg.ServerURL = srv.URL()
			cfg.HealthThreshold = 20 * time.Millisecond
			ws, _ := newTestSink(t, cfg.ServerURL)
			client, err := tracing.New(cfg, tracing.WithSink(ws))
			if err != nil {
				t.Fatal(err)
			}
			tctx, _, err := client.StartTrace(ctx, "down", tracing.FlowVersion{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 200 {
				client.DataFlow(tctx, "a", "out", "b", "in", "Msg", uint64(i))
			}
			if err := client.EndTrace(tctx, tracing.FailedStatus("no server")); err != nil {
				t.Fatal(err)
			}
			// Unhealthy once the sink has been unable to deliver for longer
			// than the threshold.
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for client.Healthy() {
				select {
				case <-tick.C:
				case <-ctx.Done():
					t.Fatalf("client still healthy with its server down; sink stats %+v", ws.SinkStats())
				}
			}
			// Close gives up when its context ends.
			cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			err = client.Close(cctx)
			m := client.Metrics()
			var de *DroppedError
			if !errors.Is(err, ErrDropped) || !errors.As(err, &de) {
				t.Fatalf("Close = %v, want a *DroppedError", err)
			}
			if m.Recorded != 200 || de.Events != m.Recorded {
				t.Fatalf("Close reported %d dropped events of %d recorded: %v", de.Events, m.Recorded, err)
			}
			var inSink uint64
			for _, n := range m.Dropped.Sink {
				inSink += n
			}
			if m.Delivered != 0 || inSink != m.Recorded {
				t.Fatalf("metrics: delivered %d, dropped in the sink %v, recorded %d", m.Delivered, m.Dropped.Sink, m.Recorded)
			}
			if n := len(srv.Kept()); n != 0 {
				t.Fatalf("a refusing server keeps %d events", n)
			}
		})
	}
}
