// Command websocket ships the trace of a small actor pipeline to a Reflow
// tracing server over the WebSocket sink, with lz4 compression on, and
// prints what was delivered, acknowledged and sent on the wire.
//
// Without flags it starts a compatible test server in the process on a
// loopback port (configured with lz4, like a server with
// algorithm = "lz4"); with -server it uses yours.
//
//	go run ./examples/websocket
//	go run ./examples/websocket -server ws://127.0.0.1:8080 -messages 5000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/reflowtrace/reflowtrace-go/internal/testserver"
	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

func main() {
	server := flag.String("server", "", "ws:// or wss:// address of a tracing server configured with lz4 (default: an in-process test server)")
	messages := flag.Int("messages", 2000, "messages to push through the pipeline")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, *server, *messages); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, url string, messages int) error {
	var srv *testserver.Server
	if url == "" {
		var err error
		srv, err = testserver.Start(ctx, testserver.WithLZ4(true))
		if err != nil {
			return err
		}
		defer srv.Close()
		url = srv.URL()
		fmt.Println("test server listening on", url)
	}

	cfg := tracing.DefaultConfig()
	cfg.ServerURL = url
	cfg.FlowID = "sensor-pipeline"
	cfg.EnableCompression = true
	cfg.Environment = "example"
	cfg.QueueSize = 1 << 16 // the pipeline records in bursts
	ws, err := sink.NewWebSocket(cfg.ServerURL, sink.WebSocketOptionsFromConfig(cfg)...)
	if err != nil {
		return err
	}
	client, err := tracing.New(cfg, tracing.WithSink(ws))
	if err != nil {
		return errors.Join(err, ws.Close(ctx))
	}

	trace, err := client.StartTrace(ctx, cfg.FlowID, tracing.FlowVersion{Major: 1, Timestamp: time.Now()})
	if err != nil {
		return err
	}
	pipeline(ctx, client, messages)
	if err := client.EndTrace(ctx, tracing.ExecutionStatus{Kind: tracing.StatusCompleted}); err != nil {
		return err
	}
	if err := client.Flush(ctx); err != nil {
		return err
	}

	st := ws.Stats()
	m := client.Metrics()
	fmt.Printf("trace %s\n", trace)
	fmt.Printf("recorded %d events, delivered %d (acknowledged by the server)\n", m.Recorded, st.EventsDelivered)
	fmt.Printf("frames sent %d, acknowledged %d, resent %d\n", st.FramesSent, st.FramesAcked, st.FramesResent)
	ratio := 0.0
	if st.RawBytes > 0 {
		ratio = float64(st.WireBytes) / float64(st.RawBytes)
	}
	fmt.Printf("bytes: %d raw JSON, %d on the wire (%.0f%%)\n", st.RawBytes, st.WireBytes, 100*ratio)
	if srv != nil {
		fmt.Printf("server stored %d distinct events\n", len(srv.Events()))
	}
	return client.Close(ctx)
}

// pipeline runs sensor -> scaler -> printer, one message at a time,
// recording what each actor does as it does it.
func pipeline(ctx context.Context, c *tracing.TracingClient, messages int) {
	actors := []string{"sensor", "scaler", "printer"}
	for _, a := range actors {
		c.ActorCreated(ctx, a)
	}
	c.PortConnected(ctx, "sensor", "out")
	c.PortConnected(ctx, "scaler", "in")
	c.PortConnected(ctx, "scaler", "out")
	c.PortConnected(ctx, "printer", "in")
	sum := 0
	for i := range messages {
		c.ActorStarted(ctx, "sensor")
		c.DataFlow(ctx, "sensor", "out", "scaler", "in", "Reading", 8)
		c.MessageReceived(ctx, "scaler", "in", "Reading", 8)
		c.DataFlow(ctx, "scaler", "out", "printer", "in", "Scaled", 8)
		c.MessageReceived(ctx, "printer", "in", "Scaled", 8)
		sum += 10 * i
		c.ActorCompleted(ctx, "sensor")
	}
	for _, a := range actors {
		c.ActorCompleted(ctx, a)
	}
	fmt.Printf("pipeline done: %d messages, sum %d\n", messages, sum)
}
