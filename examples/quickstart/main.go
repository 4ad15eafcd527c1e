// Command quickstart traces a small actor network written in plain Go.
//
// A sensor emits readings, a scaler transforms them and a printer adds them
// up; the actors are connected by channels. The network has no tracing of
// its own: it is registered and connected through the tracing client's
// middleware, which records the actors' lifecycle and every data flow,
// causally linked, into an in-memory sink. The program then prints what
// was recorded.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

const readings = 20

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := run(ctx); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	mem := sink.NewMemory()
	cfg := tracing.DefaultConfig()
	cfg.FlowID = "quickstart"
	client, err := tracing.New(cfg, tracing.WithSink(mem))
	if err != nil {
		return err
	}

	net := newNetwork(client)
	printer := &printer{}
	for _, a := range []struct {
		name  string
		actor tracing.Runner
	}{
		{"sensor", &sensor{n: readings, out: net.output("sensor", "out")}},
		{"scaler", &scaler{factor: 10, out: net.output("scaler", "out")}},
		{"printer", printer},
	} {
		if err := net.register(ctx, a.name, a.actor); err != nil {
			return err
		}
	}
	net.connect(ctx, "sensor", "out", "scaler", "in")
	net.connect(ctx, "scaler", "out", "printer", "in")
	if err := net.run(ctx); err != nil {
		return err
	}

	if err := client.Flush(ctx); err != nil {
		return err
	}
	fmt.Printf("printer: sum of %d scaled readings = %d\n\n", printer.count, printer.sum)
	events := mem.Events()
	summarize(events)
	printChain(events)
	m := client.Metrics()
	fmt.Printf("\nrecorded %d, delivered %d, dropped %d (queue full %d, write errors %d)\n",
		m.Recorded, m.Delivered, m.EventsDropped, m.Dropped.QueueFull, m.Dropped.WriteError)
	return client.Close(ctx)
}

// summarize prints the events per kind and the data-flow edges.
func summarize(events []tracing.TraceEvent) {
	kinds := map[tracing.EventKind]int{}
	edges := map[string]int{}
	for _, ev := range events {
		kinds[ev.Type.Kind]++
		if ev.Type.Kind == tracing.KindDataFlow {
			edges[fmt.Sprintf("%s.%s -> %s.%s", ev.ActorID, ev.Data.Port, ev.Type.ToActor, ev.Type.ToPort)]++
		}
	}
	fmt.Println("events per kind:")
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		fmt.Printf("  %-16s %3d\n", k, kinds[k])
	}
	fmt.Println("data flow:")
	for _, e := range slices.Sorted(maps.Keys(edges)) {
		fmt.Printf("  %-28s %3d messages\n", e, edges[e])
	}
}

// printChain prints the causes of the printer's last completed run, oldest
// first, from the event's dependency chain.
func printChain(events []tracing.TraceEvent) {
	byID := map[tracing.EventID]tracing.TraceEvent{}
	var last tracing.TraceEvent
	for _, ev := range events {
		byID[ev.EventID] = ev
		if ev.ActorID == "printer" && ev.Type.Kind == tracing.KindActorCompleted {
			last = ev
		}
	}
	fmt.Println("causes of the printer's last run:")
	for _, id := range append(last.Causality.DependencyChain, last.EventID) {
		ev := byID[id]
		fmt.Printf("  %-16s %s\n", ev.Type.Kind, ev.ActorID)
	}
}

// The network: actors are Runners, each run handles one message; the
// connectors are channels.

// envelope is a message in a connector, with the causal position of the
// data-flow event that sent it, so that the receiver's run is caused by it
// and keeps the whole chain of causes.
type envelope struct {
	value int
	cause tracing.Cause
}

type network struct {
	client   *tracing.TracingClient
	register tracing.RegisterFunc
	send     tracing.SendFunc
	actors   map[string]tracing.Runner
	inboxes  map[string]chan envelope // by receiving actor
	routes   map[string]string        // "actor.port" -> receiving actor
	order    []string
}

func newNetwork(client *tracing.TracingClient) *network {
	n := &network{
		client:  client,
		actors:  map[string]tracing.Runner{},
		inboxes: map[string]chan envelope{},
		routes:  map[string]string{},
	}
	n.register = client.RegisterMiddleware(n.registerActor)
	n.send = client.SendMiddleware(n.deliver)
	return n
}

// registerActor is the network's own registration, which the middleware
// wraps: it receives a traced Runner in place of the actor.
func (n *network) registerActor(_ context.Context, name string, actor any) error {
	r, ok := actor.(tracing.Runner)
	if !ok {
		return fmt.Errorf("actor %q has no Run method", name)
	}
	if _, dup := n.actors[name]; dup {
		return fmt.Errorf("actor %q registered twice", name)
	}
	n.actors[name] = r
	n.inboxes[name] = make(chan envelope, readings)
	n.order = append(n.order, name)
	return nil
}

// connect routes fromActor's fromPort to toActor's toPort.
func (n *network) connect(ctx context.Context, fromActor, fromPort, toActor, toPort string) {
	n.routes[fromActor+"."+fromPort] = toActor
	n.client.PortConnected(ctx, fromActor, fromPort)
	n.client.PortConnected(ctx, toActor, toPort)
}

// deliver is the connector's own send, which the middleware wraps: the ctx
// it gets carries the DataFlow event, which travels with the message.
func (n *network) deliver(ctx context.Context, s tracing.Send) error {
	cause := tracing.CauseFromContext(ctx)
	select {
	case n.inboxes[s.ToActor] <- envelope{value: s.Message.(int), cause: cause}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// output returns the function an actor calls to send on its port.
func (n *network) output(actor, port string) func(ctx context.Context, v int) error {
	return func(ctx context.Context, v int) error {
		to := n.routes[actor+"."+port]
		return n.send(ctx, tracing.Send{
			FromActor: actor, FromPort: port, ToActor: to, ToPort: "in",
			MessageType: "Reading", Size: 8, Message: v,
		})
	}
}

type inputKey struct{}

// input returns the message the network handed to this run.
func input(ctx context.Context) (int, bool) {
	v, ok := ctx.Value(inputKey{}).(int)
	return v, ok
}

// run starts one goroutine per actor: the first actor (the source) runs
// once, the others run once per message in their inbox. A connector is
// closed when its sender is done.
func (n *network) run(ctx context.Context) error {
	errs := make(chan error, len(n.order))
	var wg sync.WaitGroup
	for i, name := range n.order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer n.closeOutputs(name)
			actor := n.actors[name]
			if i == 0 {
				errs <- actor.Run(ctx)
				return
			}
			for env := range n.inboxes[name] {
				mctx := context.WithValue(tracing.ContextWithCause(ctx, env.cause), inputKey{}, env.value)
				if err := actor.Run(mctx); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func (n *network) closeOutputs(actor string) {
	for from, to := range n.routes {
		if len(from) > len(actor) && from[:len(actor)+1] == actor+"." {
			close(n.inboxes[to])
		}
	}
}

// The actors.

type sensor struct {
	n   int
	out func(context.Context, int) error
}

func (s *sensor) Run(ctx context.Context) error {
	for i := 1; i <= s.n; i++ {
		if err := s.out(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

type scaler struct {
	factor int
	out    func(context.Context, int) error
}

func (s *scaler) Run(ctx context.Context) error {
	v, ok := input(ctx)
	if !ok {
		return errors.New("scaler: no input")
	}
	return s.out(ctx, v*s.factor)
}

type printer struct {
	sum, count int
}

func (p *printer) Run(ctx context.Context) error {
	v, ok := input(ctx)
	if !ok {
		return errors.New("printer: no input")
	}
	p.sum += v
	p.count++
	return nil
}
