// Command replay sends the events of a file written by the file sink to a
// Reflow tracing server, through the WebSocket sink in store mode, and
// prints how many events were read, sent, acknowledged and skipped as
// corrupt.
//
// Without flags it writes a small demo file set (rotated, with a line torn
// as a crash leaves it) to a temporary directory with the file sink, starts
// a compatible test server in the process on a loopback port and replays
// the set to it. With -file it reads your file (and its rotated
// predecessors, oldest first; plain or lz4); with -server it sends to your
// server.
//
//	go run ./examples/replay
//	go run ./examples/replay -file trace.jsonl -server ws://127.0.0.1:8080
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/reflowtrace/reflowtrace-go/sink/file"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

func main() {
	file := flag.String("file", "", "file written by the file sink (default: a demo file in a temporary directory)")
	server := flag.String("server", "", "ws:// or wss:// address of a tracing server (default: an in-process test server)")
	batchSize := flag.Int("batch", tracing.DefaultConfig().BatchSize, "events per StoreTrace message")
	useLZ4 := flag.Bool("lz4", false, "write the demo file lz4-compressed")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *file, *server, *batchSize, *useLZ4); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, path, url string, batchSize int, useLZ4 bool) error {
	if batchSize <= 0 {
		return fmt.Errorf("replay: -batch %d: want at least 1", batchSize)
	}
	if path == "" {
		dir, err := os.MkdirTemp("", "replay")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "trace.jsonl")
		if err := writeDemo(ctx, path, useLZ4); err != nil {
			return err
		}
		files, err := file.RotatedFiles(path)
		if err != nil {
			return err
		}
		fmt.Printf("demo file set: %d files at %s\n", len(files), path)
	}

	var srv *tracetest.Server
	if url == "" {
		var err error
		srv, err = tracetest.Start(ctx)
		if err != nil {
			return err
		}
		defer srv.Close()
		url = srv.URL()
		fmt.Println("test server listening on", url)
	}

	ws, err := websocket.New(url, websocket.WithMode(websocket.ModeStore))
	if err != nil {
		return err
	}
	read, sent, corrupt, err := replay(ctx, path, ws, batchSize)
	if err != nil {
		return errors.Join(err, ws.Close(ctx))
	}
	ferr := ws.Flush(ctx) // every batch acknowledged, or the error
	st := ws.Stats()
	if err := errors.Join(ferr, ws.Close(ctx)); err != nil {
		return err
	}

	fmt.Printf("read %d events, sent %d, acknowledged %d, skipped %d corrupt lines\n",
		read, sent, st.EventsDelivered, corrupt)
	if srv != nil {
		fmt.Printf("the server keeps %d distinct events\n", len(srv.Kept()))
	}
	return nil
}

// replay reads the file set at path and writes its events to s in batches.
func replay(ctx context.Context, path string, s tracing.Sink, batchSize int) (read, sent, corrupt int, err error) {
	batch := make([]tracing.TraceEvent, 0, batchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := s.Write(ctx, batch); err != nil {
			return err
		}
		sent += len(batch)
		clear(batch) // the sink copied what it needs
		batch = batch[:0]
		return nil
	}
	for ev, rerr := range file.ReadFile(path) {
		var bad *file.CorruptLineError
		switch {
		case errors.As(rerr, &bad):
			corrupt++
			fmt.Println("skipped:", bad)
			continue
		case rerr != nil:
			return read, sent, corrupt, rerr
		}
		read++
		batch = append(batch, ev)
		if len(batch) == batchSize {
			if err := flush(); err != nil {
				return read, sent, corrupt, err
			}
		}
	}
	return read, sent, corrupt, flush()
}

// writeDemo writes the trace of a small pipeline with the file sink,
// rotating every 64 KiB, then tears the live file's last line as a crash
// during a write would.
func writeDemo(ctx context.Context, path string, useLZ4 bool) error {
	opts := []file.Option{file.WithMaxBytes(64 << 10), file.WithMaxFiles(10)}
	if useLZ4 {
		opts = append(opts, file.WithCompression(transport.CompressionLZ4))
	}
	f, err := file.New(path, opts...)
	if err != nil {
		return err
	}
	trace := tracing.NewTraceID()
	const messages = 300
	batch := make([]tracing.TraceEvent, 0, 64)
	for i := range messages {
		for _, ev := range []tracing.TraceEvent{
			event.MessageSent("sensor", "out", "Reading", 64),
			event.DataFlow("sensor", "out", "validator", "in", "Reading", 64),
			event.MessageReceived("validator", "in", "Reading", 64),
		} {
			ev.TraceID = trace
			ev.Data.PerformanceMetrics.QueueDepth = uint64(i % 7)
			batch = append(batch, ev)
		}
		if len(batch) >= 60 {
			if err := f.Write(ctx, batch); err != nil {
				return errors.Join(err, f.Close(ctx))
			}
			batch = batch[:0]
		}
	}
	if err := errors.Join(f.Write(ctx, batch), f.Close(ctx)); err != nil {
		return err
	}
	if useLZ4 {
		return nil // a torn lz4 frame is shown by the tests
	}
	torn, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, werr := torn.WriteString(`{"trace_id":"` + trace.String() + `","event_id":"0191f3b2-7c4e`)
	return errors.Join(werr, torn.Close())
}
