package actors_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"sync"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/actors"
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

// greeter is an actor: Run is one activation.
type greeter struct{ send actors.SendFunc }

func (g greeter) Run(ctx context.Context) error {
	return g.send(ctx, actors.Send{
		FromActor: "greeter", FromPort: "out", ToActor: "printer", ToPort: "in",
		MessageType: "string", Size: 5, Message: "hello",
	})
}

// The middleware traces a network that has no tracing of its own: wrap
// its registration and its connectors' send function.
func ExampleRegisterMiddleware() {
	ctx := context.Background()
	events := &printSink{}
	client, err := tracing.New(tracing.DefaultConfig(), tracing.WithSink(events))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)

	registered := map[string]actors.Runner{}
	register := actors.RegisterMiddleware(client, func(_ context.Context, name string, actor any) error {
		registered[name] = actor.(actors.Runner)
		return nil
	})
	send := actors.SendMiddleware(client, func(_ context.Context, s actors.Send) error {
		fmt.Println("delivered:", s.Message)
		return nil
	})

	if err := register(ctx, "greeter", greeter{send: send}); err != nil {
		log.Fatal(err)
	}
	if err := registered["greeter"].Run(ctx); err != nil {
		log.Fatal(err)
	}
	if err := client.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	events.print()
	// Output:
	// delivered: hello
	// ActorCreated greeter
	// ActorStarted greeter
	// DataFlow(printer:in) greeter
	// ActorCompleted greeter
}
