package tracing_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"sync"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// printSink is a minimal Sink for the examples: it keeps a copy of each
// event. Programs use the sinks of package sink.
type printSink struct {
	mu     sync.Mutex
	events []tracing.TraceEvent
}

func (s *printSink) Write(_ context.Context, batch []tracing.TraceEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range batch {
		ev.Causality.DependencyChain = append([]tracing.EventID(nil), ev.Causality.DependencyChain...)
		s.events = append(s.events, ev)
	}
	return nil
}

func (s *printSink) Flush(context.Context) error { return nil }
func (s *printSink) Close(context.Context) error { return nil }

// print prints the events in the order they happened: critical events
// (the actor lifecycle) are delivered ahead of routine ones.
func (s *printSink) print() {
	s.mu.Lock()
	defer s.mu.Unlock()
	slices.SortStableFunc(s.events, func(a, b tracing.TraceEvent) int { return a.Timestamp.Compare(b.Timestamp) })
	for _, ev := range s.events {
		fmt.Println(ev.Type, ev.ActorID)
	}
}

// find returns the event with id.
func (s *printSink) find(id tracing.EventID) tracing.TraceEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range s.events {
		if ev.EventID == id {
			return ev
		}
	}
	return tracing.TraceEvent{}
}

func Example() {
	ctx := context.Background()
	events := &printSink{}
	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(events))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)

	client.ActorCreated(ctx, "sensor")
	client.DataFlow(ctx, "sensor", "out", "validator", "in", "Reading", 256)
	if err := client.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	events.print()
	m := client.Metrics()
	fmt.Println("recorded", m.Recorded, "delivered", m.Delivered, "dropped", m.EventsDropped)
	// Output:
	// ActorCreated sensor
	// DataFlow(validator:in) sensor
	// recorded 2 delivered 2 dropped 0
}

// Causality rides the context: an event recorded with a context that
// carries another event is its child.
func ExampleContextWithEvent() {
	ctx := context.Background()
	events := &printSink{}
	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(events))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)

	started := client.ActorStarted(ctx, "sensor")
	ctx = tracing.ContextWithEvent(ctx, started)
	sent := client.DataFlow(ctx, "sensor", "out", "validator", "in", "Reading", 256)
	ctx = tracing.ContextWithEvent(ctx, sent)
	received := client.ActorStarted(ctx, "validator")
	if err := client.Flush(ctx); err != nil {
		log.Fatal(err)
	}

	last := events.find(received)
	fmt.Println("parent is the data flow:", last.Causality.ParentEventID == sent)
	fmt.Println("root cause is the sensor's start:", last.Causality.RootCauseEventID == started)
	fmt.Println("ancestors:", len(last.Causality.DependencyChain))
	// Output:
	// parent is the data flow: true
	// root cause is the sensor's start: true
	// ancestors: 2
}
