package tracing

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"sync"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
)

var expvarMu sync.Mutex

// PublishExpvar publishes the client's Metrics under name in expvar (and so
// at /debug/vars), computed afresh at every read. expvar cannot unpublish:
// the variable outlives Close and keeps reporting the final counters. It
// returns an error, and publishes nothing, when name is empty or already
// taken. The variable reports the client it was published for. Safe for
// concurrent use.
func (c *TracingClient) PublishExpvar(name string) error {
	if name == "" {
		return errors.New("tracing: publish expvar: empty name")
	}
	expvarMu.Lock()
	defer expvarMu.Unlock()
	if expvar.Get(name) != nil {
		return fmt.Errorf("tracing: publish expvar: name %q already taken", name)
	}
	expvar.Publish(name, expvar.Func(func() any { return c.Metrics() }))
	return nil
}

// Healthy reports whether the sinks are accepting events: false when, for
// longer than TracingConfig.HealthThreshold, every batch failed in at
// least one sink's Write (one sink failing all along is enough, beside
// others that write), when one Sink.Write has been running for longer
// than that (a sink that hangs rather than fails), and after Close. A
// disabled client is healthy. Metrics().Sinks says which sink fails. Safe
// for concurrent use.
func (c *TracingClient) Healthy() bool {
	if c == nil || !c.cfg.Enabled {
		return true
	}
	if c.closed.Load() {
		return false
	}
	now := c.now().UnixNano()
	limit := int64(c.cfg.HealthThreshold)
	if since := c.out.Total().WritingSince; since != 0 && now-since > limit {
		return false
	}
	if since := c.failingSince.Load(); since != 0 && now-since > limit {
		return false
	}
	for _, st := range c.sinkStats() {
		if !st.StalledSince.IsZero() && now-st.StalledSince.UnixNano() > limit {
			return false
		}
	}
	return true
}

// startMonitor starts the goroutine that records a system metric event
// every interval; stopMonitor stops it.
func (c *TracingClient) startMonitor(interval time.Duration) {
	c.monitorStop = make(chan struct{})
	c.monitorDone = make(chan struct{})
	go c.monitor(interval)
}

func (c *TracingClient) stopMonitor() {
	if c.monitorStop == nil {
		return
	}
	close(c.monitorStop)
	<-c.monitorDone
}

// monitor records, every interval, a NetworkEvent with event_subtype
// "system_metric" and the client's recording rate, drops and queue depth:
// Reflow's trace_system_metric.
func (c *TracingClient) monitor(interval time.Duration) {
	defer close(c.monitorDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	last, lastAt := c.recorded(), time.Now()
	for {
		select {
		case <-c.monitorStop:
			return
		case now := <-t.C:
			rec := c.recorded()
			rate := 0.0
			if el := now.Sub(lastAt).Seconds(); el > 0 {
				rate = float64(rec-last) / el
			}
			last, lastAt = rec, now
			c.NetworkEvent(context.Background(), systemActorID,
				attr.String("event_subtype", "system_metric"),
				attr.Float64("events_per_sec", rate),
				attr.Uint64("dropped", c.dropCounts().undelivered()),
				attr.Int("queue_depth", c.queue.Len()))
		}
	}
}
