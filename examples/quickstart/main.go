// Command quickstart traces a small actor network written in plain Go.
//
// Two runs of a pipeline execute at once on one tracing client, each in a
// trace of its own: a sensor emits readings and a scaler transforms them.
// Both runs feed one long-lived printer actor, which adds up what reaches
// it. The actors are connected by channels of tracing.Envelope, which
// carry every message's trace and cause to its receiver, so the printer's
// work lands in the trace of the run that sent it, while the printer's own
// trace holds its lifecycle only. The network has no tracing of its own:
// it registers and connects actors through the client's middleware, which
// records the actors' lifecycle and every data flow, causally linked, into
// an in-memory sink. The program then prints what was recorded: the
// events per trace and kind, the data-flow edges with their messages and
// bytes, the causes of one message, and the client's counters, with its
// drops by reason.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink/memory"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/actors"
)

const (
	runs     = 2
	readings = 10
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run runs the network and writes the summary to out.
func run(ctx context.Context, out io.Writer) error {
	mem, err := memory.New()
	if err != nil {
		return err
	}
	cfg := tracing.DefaultConfig()
	cfg.FlowID = "quickstart"
	client, err := tracing.New(cfg, tracing.WithSink(mem))
	if err != nil {
		return err
	}
	labels := map[tracing.TraceID]string{}

	// The printer lives longer than any run: its trace holds its
	// lifecycle, and each message it handles joins the sender's trace.
	pctx, life, err := client.StartTrace(ctx, "printer", tracing.FlowVersion{Major: 1})
	if err != nil {
		return err
	}
	labels[life] = "printer lifecycle"
	printer := &printer{}
	printerIn := make(chan actors.Envelope[int], readings)
	served := make(chan error, 1)
	go func() { served <- actors.Serve(pctx, client, "printer", printerIn, printer.handle) }()

	var wg sync.WaitGroup
	errs := make([]error, runs)
	for i := range runs {
		rctx, trace, err := client.StartTrace(ctx, "quickstart", tracing.FlowVersion{Major: 1})
		if err != nil {
			return err
		}
		labels[trace] = fmt.Sprintf("run %d", i+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runPipeline(rctx, client, i+1, printerIn)
			status := tracing.ExecutionStatus{Kind: tracing.StatusCompleted}
			if errs[i] != nil {
				status = tracing.FailedStatus(errs[i].Error())
			}
			errs[i] = errors.Join(errs[i], client.EndTrace(rctx, status))
		}()
	}
	wg.Wait()
	close(printerIn)
	if err := errors.Join(append(errs, <-served)...); err != nil {
		return err
	}
	if err := client.EndTrace(pctx, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}); err != nil {
		return err
	}

	if err := client.Flush(ctx); err != nil {
		return err
	}
	events := mem.Events()
	// Close before reading the counters: they are final once it returns.
	if err := client.Close(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "printer: sum of %d scaled readings = %d\n\n", printer.count, printer.sum)
	summarize(out, events, labels)
	printEdges(out, events)
	printChain(out, events)
	printCounters(out, client.Metrics())
	return nil
}

// runPipeline registers, connects and runs one pipeline whose scaler
// sends to out. ctx carries the run's trace.
func runPipeline(ctx context.Context, client *tracing.TracingClient, run int, out chan<- actors.Envelope[int]) error {
	net := newNetwork(client)
	net.inboxes["printer"] = out
	sensor := &sensor{n: readings, base: run * 100, out: net.output("sensor", "scaler")}
	scaler := &scaler{factor: 10, out: net.output("scaler", "printer")}
	if err := net.register(ctx, "sensor", sensor); err != nil {
		return err
	}
	if err := net.register(ctx, "scaler", scaler); err != nil {
		return err
	}
	client.PortConnected(ctx, "sensor", "out")
	client.PortConnected(ctx, "scaler", "out")
	return net.run(ctx)
}

// summarize prints, per trace, the events per kind.
func summarize(out io.Writer, events []tracing.TraceEvent, labels map[tracing.TraceID]string) {
	kinds := map[tracing.TraceID]map[tracing.EventKind]int{}
	for _, ev := range events {
		if kinds[ev.TraceID] == nil {
			kinds[ev.TraceID] = map[tracing.EventKind]int{}
		}
		kinds[ev.TraceID][ev.Type.Kind]++
	}
	for _, id := range slices.SortedFunc(maps.Keys(kinds), func(a, b tracing.TraceID) int {
		return strings.Compare(labels[a], labels[b])
	}) {
		fmt.Fprintf(out, "trace %s (%s):\n", id, labels[id])
		for _, k := range slices.Sorted(maps.Keys(kinds[id])) {
			fmt.Fprintf(out, "  %-16s %3d\n", k, kinds[id][k])
		}
	}
}

// edge is a connection seen in DataFlow events, and what crossed it.
type edge struct {
	from, to        string // actor:port
	messages, bytes uint64
}

// printEdges prints the data-flow edges of every trace, with the messages
// and bytes that crossed each, in the order they were first used.
func printEdges(out io.Writer, events []tracing.TraceEvent) {
	var edges []edge
	at := map[[2]string]int{}
	for _, ev := range events {
		if ev.Type.Kind != tracing.KindDataFlow {
			continue
		}
		key := [2]string{ev.ActorID + ":" + ev.Data.Port, ev.Type.ToActor + ":" + ev.Type.ToPort}
		i, ok := at[key]
		if !ok {
			i = len(edges)
			at[key] = i
			edges = append(edges, edge{from: key[0], to: key[1]})
		}
		edges[i].messages++
		edges[i].bytes += ev.Data.Message.SizeBytes
	}
	fmt.Fprintln(out, "data flows:")
	for _, e := range edges {
		fmt.Fprintf(out, "  %-12s → %-12s %3d messages %5d bytes\n", e.from, e.to, e.messages, e.bytes)
	}
}

// printChain prints the causes of the printer's last completed message,
// oldest first, from the event's dependency chain: they cross from the
// sensor through the scaler to the printer, all in one run's trace.
func printChain(out io.Writer, events []tracing.TraceEvent) {
	byID := map[tracing.EventID]tracing.TraceEvent{}
	var last tracing.TraceEvent
	for _, ev := range events {
		byID[ev.EventID] = ev
		if ev.ActorID == "printer" && ev.Type.Kind == tracing.KindActorCompleted && len(ev.Causality.DependencyChain) > 0 {
			last = ev
		}
	}
	fmt.Fprintln(out, "causes of the printer's last message:")
	for _, id := range append(last.Causality.DependencyChain, last.EventID) {
		ev := byID[id]
		fmt.Fprintf(out, "  %-16s %-8s trace %s\n", ev.Type.Kind, ev.ActorID, ev.TraceID)
	}
}

// printCounters prints what the client recorded and delivered, and its
// drops by reason, the sinks' own reasons included.
func printCounters(out io.Writer, m tracing.TracingMetrics) {
	d := m.Dropped
	fmt.Fprintf(out, "\nrecorded %d, delivered %d, dropped %d\n", m.Recorded, m.Delivered, m.EventsDropped)
	fmt.Fprintf(out, "  dropped by reason: queue full %d, closed %d, sampled out %d, filtered %d, write error %d, sink queue full %d",
		d.QueueFull, d.Closed, d.SampledOut, d.Filtered, d.WriteError, d.SinkQueueFull)
	for _, r := range slices.Sorted(maps.Keys(d.Sink)) {
		fmt.Fprintf(out, ", sink %s %d", r, d.Sink[r])
	}
	fmt.Fprintln(out)
}

// The network: the connectors are channels of envelopes, a source actor is
// a Runner that runs once, the others are MessageRunners that run once per
// message.

type network struct {
	client   *tracing.TracingClient
	register actors.RegisterFunc
	send     actors.SendFunc
	actors   []actors.Runner
	handlers map[string]actors.MessageRunner
	inboxes  map[string]chan<- actors.Envelope[int] // by receiving actor
	own      map[string]chan actors.Envelope[int]   // the inboxes the network owns
}

func newNetwork(client *tracing.TracingClient) *network {
	n := &network{
		client:   client,
		handlers: map[string]actors.MessageRunner{},
		inboxes:  map[string]chan<- actors.Envelope[int]{},
		own:      map[string]chan actors.Envelope[int]{},
	}
	n.register = actors.RegisterMiddleware(client, n.registerActor)
	n.send = actors.SendMiddleware(client, n.deliver)
	return n
}

// registerActor is the network's own registration, which the middleware
// wraps: it receives a traced Runner or MessageRunner in place of the
// actor.
func (n *network) registerActor(_ context.Context, name string, actor any) error {
	switch a := actor.(type) {
	case actors.Runner:
		n.actors = append(n.actors, a)
	case actors.MessageRunner:
		n.handlers[name] = a
		in := make(chan actors.Envelope[int], readings)
		n.own[name], n.inboxes[name] = in, in
	default:
		return fmt.Errorf("actor %q has no Run method", name)
	}
	return nil
}

// deliver is the connector's own send, which the middleware wraps: the ctx
// it gets carries the run's trace and the DataFlow event, which travel
// with the message in its envelope.
func (n *network) deliver(ctx context.Context, s actors.Send) error {
	return actors.SendEnvelope(ctx, n.inboxes[s.ToActor], s.Message.(int))
}

// output returns the function an actor calls to send to actor to.
func (n *network) output(from, to string) func(ctx context.Context, v int) error {
	return func(ctx context.Context, v int) error {
		return n.send(ctx, actors.Send{
			FromActor: from, FromPort: "out", ToActor: to, ToPort: "in",
			MessageType: "Reading", Size: 8, Message: v,
		})
	}
}

// run runs the sources once, then the message actors until their inboxes
// are drained.
func (n *network) run(ctx context.Context) error {
	var errs []error
	for _, a := range n.actors {
		errs = append(errs, a.Run(ctx))
	}
	for name, in := range n.own {
		close(in)
		for {
			mctx, v, ok := actors.ReceiveEnvelope(ctx, in)
			if !ok {
				break
			}
			errs = append(errs, n.handlers[name].Run(mctx, v))
		}
	}
	return errors.Join(errs...)
}

// The actors.

type sensor struct {
	n, base int
	out     func(context.Context, int) error
}

func (s *sensor) Run(ctx context.Context) error {
	for i := 1; i <= s.n; i++ {
		if err := s.out(ctx, s.base+i); err != nil {
			return err
		}
	}
	return nil
}

type scaler struct {
	factor int
	out    func(context.Context, int) error
}

func (s *scaler) Run(ctx context.Context, msg any) error {
	v, ok := msg.(int)
	if !ok {
		return fmt.Errorf("scaler: got %T, want int", msg)
	}
	return s.out(ctx, v*s.factor)
}

type printer struct {
	sum, count int
}

// handle is called by tracing.Serve, one message at a time.
func (p *printer) handle(_ context.Context, v int) error {
	p.sum += v
	p.count++
	return nil
}
