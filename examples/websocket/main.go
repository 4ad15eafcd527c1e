// Command websocket traces a small actor pipeline into a Reflow tracing
// server over the WebSocket sink, then asks the server what it kept and
// checks it against what was recorded, event by event.
//
// Without -server it starts a compatible server in the process on a
// loopback port, speaking the generation -protocol names (v2 for auto) and
// compressing with -compression; with -server it uses yours (any Reflow
// tracing server, either generation).
//
//	go run ./examples/websocket
//	go run ./examples/websocket -server ws://127.0.0.1:8080 -messages 5000 -ids ids.txt
//	go run ./examples/websocket -mode live -protocol v1 -compression zstd
//
// It prints what was recorded, acknowledged and sent, then how many of the
// recorded events the server keeps, and exits non-zero when any is missing
// or kept twice. In live mode a generation-1 server keeps nothing by
// design (it only forwards events to its subscribers): the check is then
// skipped. -ids writes the id of every recorded event, one per line, so
// that anyone can check them against the server.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink/websocket"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/query"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

type options struct {
	server      string
	messages    int
	mode        websocket.Mode
	protocol    transport.Protocol
	compression transport.CompressionAlgorithm
	ids         string
	timeout     time.Duration
}

func main() {
	var o options
	var mode string
	flag.StringVar(&o.server, "server", "", "ws:// or wss:// address of a Reflow tracing server (default: one in this process)")
	flag.IntVar(&o.messages, "messages", 2000, "messages to push through the pipeline (6 events each)")
	flag.StringVar(&mode, "mode", "store", "what the sink sends: store, live or both")
	flag.TextVar(&o.protocol, "protocol", transport.ProtocolAuto, "server generation: auto (probe each connection), v1 or v2")
	flag.TextVar(&o.compression, "compression", transport.CompressionNone, "binary frames: none, zstd, lz4, gzip, brotli or auto (must match the server's algorithm)")
	flag.StringVar(&o.ids, "ids", "", "write the id of every recorded event to this file, one per line")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up after this long (200000 messages take about 2 minutes on a busy 2-core machine)")
	flag.Parse()
	var err error
	if o.mode, err = parseMode(mode); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if err := run(ctx, o); err != nil {
		log.Fatal(err)
	}
}

func parseMode(s string) (websocket.Mode, error) {
	for _, m := range []websocket.Mode{websocket.ModeStore, websocket.ModeLive, websocket.ModeBoth} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("-mode %q: want store, live or both", s)
}

func run(ctx context.Context, o options) error {
	alg := o.compression
	compress := alg != transport.CompressionNone
	url := o.server
	if url == "" {
		gen := tracetest.Gen2
		if o.protocol == transport.ProtocolV1 {
			gen = tracetest.Gen1
		}
		opts := []tracetest.Option{tracetest.WithGeneration(gen)}
		if compress && alg != transport.CompressionAuto {
			opts = append(opts, tracetest.WithCompression(alg))
		}
		srv, err := tracetest.Start(ctx, opts...)
		if err != nil {
			return err
		}
		defer srv.Close()
		url = srv.URL()
		fmt.Printf("in-process server (generation %d) listening on %s\n", gen, url)
	}

	cfg := tracing.DefaultConfig()
	cfg.ServerURL = url
	cfg.FlowID = "sensor-pipeline"
	cfg.Environment = "example"
	cfg.EnableCompression = compress
	cfg.CompressionAlgorithm = alg
	cfg.Protocol = o.protocol
	cfg.QueueSize = 1 << 16 // the pipeline records in bursts, faster than any server keeps
	opts := append(websocket.OptionsFromConfig(cfg), websocket.WithMode(o.mode))
	ws, err := websocket.New(cfg.ServerURL, opts...)
	if err != nil {
		return err
	}
	client, err := tracing.New(cfg, tracing.WithSink(ws))
	if err != nil {
		return errors.Join(err, ws.Close(ctx))
	}

	tctx, trace, err := client.StartTrace(ctx, cfg.FlowID, tracing.FlowVersion{Major: 1, Timestamp: time.Now()})
	if err != nil {
		return err
	}
	var rec recorder
	pipeline(tctx, client, &rec, o.messages)
	if err := client.EndTrace(tctx, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}); err != nil {
		return err
	}
	flushErr := client.Flush(ctx)

	st := ws.Stats()
	m := client.Metrics()
	fmt.Printf("trace %s, mode %s\n", trace, o.mode)
	fmt.Printf("recorded %d events, delivered %d (acknowledged by the server), dropped %d\n",
		len(rec.ids), m.Delivered, m.Dropped.Total())
	fmt.Printf("frames sent %d, acknowledged %d, resent %d\n", st.FramesSent, st.FramesAcked, st.FramesResent)
	ratio := 0.0
	if st.RawBytes > 0 {
		ratio = float64(st.WireBytes) / float64(st.RawBytes)
	}
	fmt.Printf("bytes: %d raw JSON, %d on the wire (%.0f%%)\n", st.RawBytes, st.WireBytes, 100*ratio)
	if o.ids != "" {
		if err := writeIDs(o.ids, rec.ids); err != nil {
			return err
		}
		fmt.Printf("%d event ids written to %s\n", len(rec.ids), o.ids)
	}
	closeErr := client.Close(ctx)
	if err := errors.Join(flushErr, closeErr); err != nil {
		return err
	}
	return check(ctx, url, trace, o, rec.ids)
}

// check asks the server for the trace (its segments joined) and compares
// what it keeps with ids.
func check(ctx context.Context, url string, trace tracing.TraceID, o options, ids []tracing.EventID) error {
	q, err := query.Dial(ctx, url)
	if err != nil {
		return fmt.Errorf("query the server: %w", err)
	}
	defer q.Close()
	gen := q.Protocol()
	if o.mode == websocket.ModeLive && gen == transport.ProtocolV1 {
		fmt.Println("live mode on a generation-1 server: events are forwarded to subscribers, not kept; nothing to check")
		return nil
	}
	t, err := q.Trace(ctx, trace)
	if err != nil {
		return fmt.Errorf("query the server: %w", err)
	}
	kept := map[tracing.EventID]int{}
	status := "none"
	if t != nil {
		for _, ev := range t.Events {
			kept[ev.EventID]++
		}
		status = t.Status.String()
	}
	missing, twice := 0, 0
	for _, id := range ids {
		switch kept[id] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	fmt.Printf("server (generation %s) keeps %d of %d recorded events, status %s; %d missing, %d kept more than once\n",
		gen, len(ids)-missing, len(ids), status, missing, twice)
	if missing > 0 || twice > 0 {
		return fmt.Errorf("the server does not keep every recorded event exactly once")
	}
	return nil
}

func writeIDs(path string, ids []tracing.EventID) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, id := range ids {
		fmt.Fprintln(w, id)
	}
	return errors.Join(w.Flush(), f.Close())
}

// recorder keeps the id of every event recorded.
type recorder struct {
	mu  sync.Mutex
	ids []tracing.EventID
}

func (r *recorder) add(id tracing.EventID) tracing.EventID {
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.mu.Unlock()
	return id
}

// pipeline runs sensor -> scaler -> printer, one message at a time,
// recording what each actor does as it does it.
func pipeline(ctx context.Context, c *tracing.TracingClient, r *recorder, messages int) {
	actors := []string{"sensor", "scaler", "printer"}
	for _, a := range actors {
		r.add(c.ActorCreated(ctx, a))
	}
	r.add(c.PortConnected(ctx, "sensor", "out"))
	r.add(c.PortConnected(ctx, "scaler", "in"))
	r.add(c.PortConnected(ctx, "scaler", "out"))
	r.add(c.PortConnected(ctx, "printer", "in"))
	sum := 0
	for i := range messages {
		r.add(c.ActorStarted(ctx, "sensor"))
		r.add(c.DataFlow(ctx, "sensor", "out", "scaler", "in", "Reading", 8))
		r.add(c.MessageReceived(ctx, "scaler", "in", "Reading", 8))
		r.add(c.DataFlow(ctx, "scaler", "out", "printer", "in", "Scaled", 8))
		r.add(c.MessageReceived(ctx, "printer", "in", "Scaled", 8))
		sum += 10 * i
		r.add(c.ActorCompleted(ctx, "sensor"))
		if (i+1)%5000 == 0 {
			// A pipeline faster than any server: let the queue drain
			// rather than drop.
			if err := c.Flush(ctx); err != nil {
				fmt.Println("flush:", err)
			}
		}
	}
	for _, a := range actors {
		r.add(c.ActorCompleted(ctx, a))
	}
	fmt.Printf("pipeline done: %d messages, sum %d\n", messages, sum)
}
