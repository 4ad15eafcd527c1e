package websocket

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// BenchmarkDegrade runs the tracing client (defaults: DropNewest, batches
// of 512) with the WebSocket sink (an 8 MiB outage buffer) through an
// outage of the test server: 0.5 s connected, 2 s refused, 1 s back. The
// producer offers degradeRate events per second, one in a hundred
// critical (actor lifecycle and failures), for the whole run. After Close
// it asks the server which events it keeps, by event id, and reports the
// share of the critical and the routine events recorded that the server
// keeps, with the sink degrading at half the buffer (the default) and
// with degrading off. With degrading on the run fails unless the server
// keeps every critical event.
func BenchmarkDegrade(b *testing.B) {
	for _, bc := range []struct {
		name string
		fill float64
	}{{"off", -1}, {"on", tracing.DefaultConfig().DegradeFill}} {
		b.Run("degrade="+bc.name, func(b *testing.B) {
			for range b.N {
				benchDegrade(b, bc.fill)
			}
		})
	}
}

const degradeRate = 100_000

func benchDegrade(b *testing.B, fill float64) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := tracetest.Start(ctx, tracetest.WithFastScan(true))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	cfg := tracing.DefaultConfig()
	cfg.DegradeFill = fill
	opts := append(OptionsFromConfig(cfg),
		WithKeepalive(0, time.Second), WithOutageBuffer(8<<20),
		WithRetry(retry.Policy{MaxRetries: retry.Unlimited, InitialDelay: 20 * time.Millisecond, MaxDelay: 50 * time.Millisecond}))
	ws, err := New(srv.URL(), opts...)
	if err != nil {
		b.Fatal(err)
	}
	c, err := tracing.New(cfg, tracing.WithSink(ws), tracing.WithExportTimeout(5*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	tctx, _, err := c.StartTrace(ctx, "bench", tracing.FlowVersion{Major: 1})
	if err != nil {
		b.Fatal(err)
	}

	var critical, routine []tracing.EventID
	produce := func(d time.Duration) {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		began := time.Now()
		for n := 0; time.Since(began) < d; {
			<-tick.C
			for due := int(time.Since(began).Seconds() * degradeRate); n < due; n++ {
				if n%100 == 0 {
					actor := fmt.Sprintf("actor-%d", n%7)
					if n%200 == 0 {
						critical = append(critical, c.ActorFailed(tctx, actor, fmt.Errorf("step %d", n)))
					} else {
						critical = append(critical, c.ActorStarted(tctx, actor))
					}
					continue
				}
				routine = append(routine, c.DataFlow(tctx, "sensor", "out", "validator", "in", "Reading", uint64(n)))
			}
		}
	}
	produce(500 * time.Millisecond)
	srv.SetRefusing(true, tracetest.RefuseClose)
	srv.KillConnections()
	produce(2 * time.Second)
	srv.SetRefusing(false, tracetest.RefuseClose)
	produce(time.Second)
	if err := c.EndTrace(tctx, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}); err != nil {
		b.Fatal(err)
	}
	_ = c.Close(ctx) // reports the events not delivered, which the metrics count
	m := c.Metrics()
	kept := srv.Kept()
	share := func(ids []tracing.EventID) (float64, int) {
		lost := 0
		for _, id := range ids {
			if kept[id] == 0 {
				lost++
			}
		}
		return 100 * float64(len(ids)-lost) / float64(len(ids)), lost
	}
	critPct, critLost := share(critical)
	routPct, _ := share(routine)
	b.ReportMetric(critPct, "critical_kept_%")
	b.ReportMetric(routPct, "routine_kept_%")
	b.ReportMetric(float64(m.Dropped.Sink[DropDegraded]), "shed_degraded")
	b.ReportMetric(float64(m.Dropped.QueueFull), "dropped_queue_full")
	if fill > 0 && critLost > 0 {
		b.Fatalf("degrading: the server lost %d of %d critical events (dropped %+v; sink %+v)", critLost, len(critical), m.Dropped, ws.Stats())
	}
	if m.Dropped.Sink[DropDegraded] == 0 && fill > 0 {
		b.Fatalf("the outage did not degrade the sink: %+v", m.Dropped)
	}
}
