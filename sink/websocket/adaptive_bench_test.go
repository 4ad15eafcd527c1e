package websocket

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
)

// BenchmarkAdaptiveBatching runs the tracing client with the WebSocket sink
// (store mode) against the test server while the server's reply latency
// steps from 1 ms to 50 ms and back (tracetest.SetReplyLatency), with one
// producer offering a fixed rate of events per second (Block policy, so what
// the client cannot take slows it down) into 32 concurrent traces of 200
// events each. Per phase it reports the events the server acknowledged
// per second; for the adaptive variants also the batch size in force at
// the end of each phase and how long after the latency came back down
// the batch size was back at or below the default for good (sampled every
// millisecond until the end of the phase); for every variant the
// acknowledgement latency the sink measured at the end of each phase,
// which includes the time frames queue behind each other on the link.
// After the run it checks that the server keeps every recorded event once
// (the server keeps up to a million traces, so that none is evicted).
//
// The variants: fixed (AdaptiveBatching and WithAdaptiveWindow off:
// batches of 512 and the 8 MiB window), adaptive (the defaults:
// AdaptiveBatching sizes the batches and, through OptionsFromConfig,
// widens the sink's window), and each half alone: batching (the client's
// batch size and timeout only) and window (WithAdaptiveWindow only).
//
// Two links: full offers 500,000 events/s with the sink's default window
// (8 MiB in flight, which carries about 130,000 events/s at 50 ms); scaled
// offers 10,000 events/s with a 256 KiB window (about 4,000 events/s at
// 50 ms), the same ratios at a fiftieth of the rate, so that on a machine
// too busy to encode, send and scan 500,000 events/s the link, not the
// processor, is what binds at 50 ms.
func BenchmarkAdaptiveBatching(b *testing.B) {
	for _, link := range []struct {
		name   string
		rate   int
		window int
	}{{"full", 500_000, DefaultMaxInFlightBytes}, {"scaled", 10_000, 256 << 10}} {
		for _, bc := range []struct {
			name            string
			batching, wider bool
		}{
			{"fixed", false, false},
			{"adaptive", true, true},
			{"batching", true, false},
			{"window", false, true},
		} {
			b.Run(link.name+"/"+bc.name, func(b *testing.B) {
				for range b.N {
					benchAdaptive(b, link.rate, link.window, bc.batching, bc.wider)
				}
			})
		}
	}
}

// adaptivePhase is how long each latency lasts; the first settle of it is
// not measured.
const (
	adaptivePhase  = 2 * time.Second
	adaptiveSettle = 500 * time.Millisecond
)

func benchAdaptive(b *testing.B, rate, window int, batching, wider bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := tracetest.Start(ctx, tracetest.WithFastScan(true), tracetest.WithMaxTraces(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	var latency atomic.Int64
	latency.Store(int64(time.Millisecond))
	srv.SetReplyLatency(func() time.Duration { return time.Duration(latency.Load()) })

	cfg := tracing.DefaultConfig()
	cfg.AdaptiveBatching = batching
	cfg.QueuePolicy = batch.Block
	opts := append(OptionsFromConfig(cfg), WithKeepalive(0, time.Second),
		WithAdaptiveWindow(wider), WithMaxInFlight(DefaultMaxInFlightFrames, window))
	ws, err := New(srv.URL(), opts...)
	if err != nil {
		b.Fatal(err)
	}
	c, err := tracing.New(cfg, tracing.WithSink(ws))
	if err != nil {
		b.Fatal(err)
	}

	stop := make(chan struct{})
	produced := make(chan error, 1)
	go func() { produced <- produceTraces(ctx, c, stop, 32, 200, rate) }()

	phases := []struct {
		name string
		lat  time.Duration
	}{{"1ms", time.Millisecond}, {"50ms", 50 * time.Millisecond}, {"1ms-after", time.Millisecond}}
	for i, ph := range phases {
		latency.Store(int64(ph.lat))
		start := time.Now()
		var a0 uint64
		var t0 time.Time
		var big time.Duration // when a batch above the default was last seen
		for time.Since(start) < adaptivePhase {
			if t0.IsZero() && time.Since(start) >= adaptiveSettle {
				a0, t0 = ws.SinkStats().Acknowledged, time.Now()
			}
			if c.Metrics().BatchSize > tracing.DefaultConfig().BatchSize {
				big = time.Since(start)
			}
			time.Sleep(time.Millisecond)
		}
		st, el := ws.SinkStats(), time.Since(t0)
		b.ReportMetric(float64(st.Acknowledged-a0)/el.Seconds(), "ack_ev/s_"+ph.name)
		b.ReportMetric(float64(st.AckLatency.Microseconds())/1000, "ack_ms_"+ph.name)
		if i == 2 && batching {
			b.ReportMetric(float64(big.Milliseconds()), "ms_to_small_batches")
		}
		if batching {
			b.ReportMetric(float64(c.Metrics().BatchSize), "batch_"+ph.name)
		}
	}
	close(stop)
	if err := <-produced; err != nil {
		b.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		b.Fatal(err)
	}
	m := c.Metrics()
	kept := srv.Kept()
	if uint64(len(kept)) != m.Recorded || m.Delivered != m.Recorded {
		b.Fatalf("server keeps %d distinct events, client recorded %d and delivered %d; dropped %+v, by the sink %v",
			len(kept), m.Recorded, m.Delivered, m.Dropped, ws.SinkStats().Dropped)
	}
	for id, n := range kept {
		if n != 1 {
			b.Fatalf("event %s kept %d times", id, n)
		}
	}
}

// produceTraces records data flows at rate events per second (catching up
// at most 10 ms when it falls behind) into traces concurrent traces of per
// events each, ending each (and starting the next) when it is full, until
// stop is closed; then it ends the open traces.
func produceTraces(ctx context.Context, c *tracing.TracingClient, stop <-chan struct{}, traces, per, rate int) error {
	type open struct {
		ctx context.Context
		n   int
	}
	start := func() (open, error) {
		tctx, _, err := c.StartTrace(ctx, "bench", tracing.FlowVersion{Major: 1})
		return open{ctx: tctx}, err
	}
	trs := make([]open, traces)
	for i := range trs {
		var err error
		if trs[i], err = start(); err != nil {
			return err
		}
	}
	completed := tracing.ExecutionStatus{Kind: tracing.StatusCompleted}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	began, due := time.Now(), 0
	for i := 0; ; i++ {
		for i >= due {
			select {
			case <-stop:
				for _, t := range trs {
					if err := c.EndTrace(t.ctx, completed); err != nil {
						return err
					}
				}
				return nil
			case <-tick.C:
			}
			due = int(time.Since(began).Seconds() * float64(rate))
			due = min(due, i+rate/100) // at most 10 ms behind
		}
		t := &trs[i%traces]
		ev := event.DataFlow("sensor", "out", "validator", "in", "Reading", uint64(i))
		ev.Data.CustomAttributes.Add(attr.Int("seq", i), attr.String("unit", "celsius"))
		if err := c.RecordWait(t.ctx, ev); err != nil {
			return err
		}
		if t.n++; t.n == per {
			if err := c.EndTrace(t.ctx, completed); err != nil {
				return err
			}
			var err error
			if *t, err = start(); err != nil {
				return err
			}
		}
	}
}
