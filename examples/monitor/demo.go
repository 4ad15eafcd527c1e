package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/reflowtrace/reflowtrace-go/examples/demo"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// demoFeed is an in-process server fed by a traced pipeline.
type demoFeed struct {
	url    string
	srv    *tracetest.Server
	client *tracing.TracingClient
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startDemo starts the server and the pipeline. With stored it first runs
// a few complete traces and flushes them, so that -query finds them; the
// pipeline then goes on in the background, one record every 25 ms.
func startDemo(ctx context.Context, stored bool) (*demoFeed, error) {
	srv, err := tracetest.Start(ctx, tracetest.WithGeneration(tracetest.Gen2))
	if err != nil {
		return nil, err
	}
	cfg := tracing.DefaultConfig()
	cfg.ServerURL = srv.URL()
	cfg.FlowID = "orders"
	cfg.Environment = "demo"
	cfg.BatchTimeout = 50 * time.Millisecond
	ws, err := websocket.New(cfg.ServerURL, append(websocket.OptionsFromConfig(cfg), websocket.WithMode(websocket.ModeBoth))...)
	if err != nil {
		srv.Close()
		return nil, err
	}
	client, err := tracing.New(cfg, tracing.WithSink(ws))
	if err != nil {
		srv.Close()
		return nil, errors.Join(err, ws.Close(ctx))
	}
	d := &demoFeed{url: srv.URL(), srv: srv, client: client}
	runs := 0
	runOnce := func(ctx context.Context, p demo.Pipeline) {
		runs++
		ctx, _, err := client.StartTrace(ctx, cfg.FlowID, tracing.FlowVersion{Major: 1, Minor: uint32(runs)})
		if err != nil {
			return
		}
		failed := p.Run(ctx, func(ev tracing.TraceEvent) { client.Record(ctx, ev) })
		status := tracing.ExecutionStatus{Kind: tracing.StatusCompleted}
		if failed > 0 {
			status = tracing.FailedStatus("validator rejected records")
		}
		_ = client.EndTrace(ctx, status)
	}
	if stored {
		for i := range 3 {
			runOnce(ctx, demo.Pipeline{Messages: 20 + 10*i, FailEvery: 13 + i, Seed: uint64(i)})
		}
		if err := client.Flush(ctx); err != nil {
			d.close()
			return nil, err
		}
	}
	pctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for seed := uint64(10); pctx.Err() == nil; seed++ {
			runOnce(pctx, demo.Pipeline{Messages: 40, FailEvery: 7, Pace: 25 * time.Millisecond, Seed: seed})
		}
	}()
	return d, nil
}

func (d *demoFeed) close() {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.client.Close(ctx)
	d.srv.Close()
}
