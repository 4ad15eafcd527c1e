// Command ingest feeds TraceEvent JSON written by a Reflow runtime into a
// tracing client, so that it takes the same path as recorded events
// (selection, batching, delivery, sinks), and prints what was ingested and
// what was rejected, with the line and reason of each rejection.
//
// Without flags it ingests a small embedded sample (events of both server
// generations, a torn line, a line that is not JSON, an array with a bad
// element) into a memory sink. With -file it reads a file of events (one
// event, an array, or JSON Lines), or standard input for "-"; with -server
// it sends them to a Reflow tracing server.
//
//	go run ./examples/ingest
//	go run ./examples/ingest -file events.jsonl
//	reflow-runtime | go run ./examples/ingest -file - -server ws://127.0.0.1:8080
package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
	"github.com/reflowtrace/reflowtrace-go/sink/memory"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/ingest"
)

//go:embed sample.jsonl
var sample []byte

func main() {
	file := flag.String("file", "", `file of TraceEvent JSON, "-" for standard input (default: an embedded sample)`)
	server := flag.String("server", "", "ws:// or wss:// address of a tracing server (default: a memory sink)")
	flow := flag.String("flow", "ingested", "flow id of the trace the events join")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *file, *server, tracing.FlowID(*flow)); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, path, url string, flow tracing.FlowID) error {
	var in io.Reader = bytes.NewReader(sample)
	name := "the embedded sample"
	switch path {
	case "":
	case "-":
		in, name = os.Stdin, "standard input"
	default:
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in, name = f, path
	}

	cfg := tracing.DefaultConfig()
	cfg.FlowID = flow
	cfg.QueuePolicy = batch.Block // a file can be read faster than any sink keeps
	var s tracing.Sink
	mem, err := memory.New()
	if err != nil {
		return err
	}
	s = mem
	if url != "" {
		ws, err := websocket.New(url, websocket.OptionsFromConfig(cfg)...)
		if err != nil {
			return err
		}
		s = ws
	}
	client, err := tracing.New(cfg, tracing.WithSink(s))
	if err != nil {
		return errors.Join(err, s.Close(ctx))
	}

	tctx, trace, err := client.StartTrace(ctx, flow, tracing.FlowVersion{})
	if err != nil {
		return errors.Join(err, client.Close(ctx))
	}
	st, ingestErr := ingest.Read(tctx, client, in)
	status := tracing.ExecutionStatus{Kind: tracing.StatusCompleted}
	if ingestErr != nil {
		status = tracing.FailedStatus(ingestErr.Error())
	}
	endErr := client.EndTrace(tctx, status)

	fmt.Printf("from %s into trace %s:\n", name, trace)
	fmt.Printf("  ingested %d events, rejected %d, queue full %d\n", st.Events, st.Rejected, st.QueueFull)
	for _, r := range st.Rejects {
		fmt.Printf("  rejected line %d (offset %d): %v\n", r.Line, r.Offset, r.Err)
	}
	if st.Rejected > len(st.Rejects) {
		fmt.Printf("  … and %d more\n", st.Rejected-len(st.Rejects))
	}
	if err := errors.Join(ingestErr, endErr, client.Close(ctx)); err != nil {
		return err
	}
	if url == "" {
		kinds := map[tracing.EventKind]int{}
		for _, ev := range mem.Events() {
			kinds[ev.Type.Kind]++
		}
		fmt.Println("in the memory sink:")
		for _, k := range slices.Sorted(maps.Keys(kinds)) {
			fmt.Printf("  %-16s %3d\n", k, kinds[k])
		}
	}
	m := client.Metrics()
	fmt.Printf("delivered %d, dropped %d\n", m.Delivered, m.Dropped.Total())
	return nil
}
