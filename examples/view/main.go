// Command view renders one trace as a single self-contained HTML file (no
// network, no external scripts or fonts): a timeline per actor with each
// activation's duration, data flows between actors as arrows, failures in
// red with their message (an ActorFailed, or any event that carries an
// error, such as a send that failed), the causal chain of a clicked event,
// and per actor counts and latency percentiles. It also prints a short summary:
// the slowest actors, the failures and the busiest edges.
//
//	go run ./examples/view                                  # a demo trace with a failing actor
//	go run ./examples/view -file trace.jsonl -out trace.html
//	go run ./examples/view -server ws://127.0.0.1:8080 -trace 0191f3b2-…
//	go run ./examples/view -server ws://127.0.0.1:8080 -execution 0191f3b2-…
//
// -file reads a file written by the File sink (file.ReadFile; -trace picks
// one trace when it holds several). -server fetches the trace with the
// query client, its segments joined. With no source it generates a demo
// trace into a temporary file and renders that.
//
// Every event is on the page twice: as a tick on its actor's lane under
// the activations (coloured by kind, failures red and taller), and as a
// row of the event list below the timeline (time, kind, actor, port or
// target, message, duration, error), which filters by kind, actor, text
// and failures and sorts by column. Clicking a tick, a row, an activation
// or an arrow shows that event's details and its causal chain; #event=N
// in the address opens the page on event N, #failure on the first
// failure. The actors table marks the slowest actor (by p95) and those
// with failures.
//
// The page draws only what is in view, ticks on a canvas, bins dense
// stretches of activations and keeps only a screenful of the list's rows
// in the document, so a trace of tens of thousands of events stays quick
// to open.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/reflowtrace/reflowtrace-go/examples/demo"
	"github.com/reflowtrace/reflowtrace-go/sink/file"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/query"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

type options struct {
	file      string
	server    string
	trace     string
	execution string
	out       string
	messages  int
	timeout   time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.file, "file", "", "a file written by the File sink")
	flag.StringVar(&o.server, "server", "", "ws:// or wss:// address of a Reflow tracing server to fetch the trace from")
	flag.StringVar(&o.trace, "trace", "", "the trace id (with -server, or to pick one trace of -file)")
	flag.StringVar(&o.execution, "execution", "", "with -server: the execution id of the trace")
	flag.StringVar(&o.out, "out", "view.html", "the HTML file to write")
	flag.IntVar(&o.messages, "messages", 200, "without -file and -server: records through the demo pipeline")
	flag.DurationVar(&o.timeout, "timeout", time.Minute, "give up after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if err := run(ctx, o, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	m, err := load(ctx, o, out)
	if err != nil {
		return err
	}
	f, err := os.Create(o.out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := errors.Join(render(w, m), w.Flush(), f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	summary(out, m)
	fmt.Fprintf(out, "\nwrote %s (%d events, %d actors)\n", o.out, len(m.Events), len(m.Actors))
	return nil
}

// load reads the trace the options name.
func load(ctx context.Context, o options, out io.Writer) (*model, error) {
	var want tracing.TraceID
	if o.trace != "" {
		id, err := tracing.ParseTraceID(o.trace)
		if err != nil {
			return nil, fmt.Errorf("-trace: %w", err)
		}
		want = id
	}
	switch {
	case o.server != "":
		return fetch(ctx, o, want)
	case o.file == "":
		dir, err := os.MkdirTemp("", "reflow-view-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		o.file = filepath.Join(dir, "demo.jsonl")
		if err := writeDemo(ctx, o.file, o.messages); err != nil {
			return nil, fmt.Errorf("demo trace: %w", err)
		}
		fmt.Fprintf(out, "demo trace: %d records through %v, written by the File sink\n", o.messages, demo.Actors)
	}
	return readFile(o.file, want)
}

// readFile reads the events of one trace from a File sink's file: want,
// or the trace of the first event.
func readFile(path string, want tracing.TraceID) (*model, error) {
	var events []tracing.TraceEvent
	for ev, err := range file.ReadFile(path) {
		var corrupt *file.CorruptLineError
		if errors.As(err, &corrupt) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if want.IsZero() {
			want = ev.TraceID
		}
		if ev.TraceID == want || ev.TraceID.IsZero() {
			events = append(events, ev)
		}
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("%s: no events of trace %s", path, want)
	}
	title := filepath.Base(path)
	if !want.IsZero() {
		title += " · trace " + want.String()
	}
	return build(title, nil, events), nil
}

// fetch reads the trace from a server, by trace id or execution id.
func fetch(ctx context.Context, o options, want tracing.TraceID) (*model, error) {
	c, err := query.Dial(ctx, o.server)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if want.IsZero() {
		if o.execution == "" {
			return nil, errors.New("-server needs -trace or -execution")
		}
		exec, err := tracing.ParseExecutionID(o.execution)
		if err != nil {
			return nil, fmt.Errorf("-execution: %w", err)
		}
		for t, err := range c.QueryAll(ctx, wire.TraceQuery{ExecutionID: exec}) {
			if err != nil {
				return nil, err
			}
			if _, seg := t.Metadata.Tags[wire.TagSegmentOf]; !seg {
				want = t.TraceID
				break
			}
		}
		if want.IsZero() {
			return nil, fmt.Errorf("no trace of execution %s on %s", exec, o.server)
		}
	}
	tr, err := c.Trace(ctx, want)
	if err != nil {
		return nil, err
	}
	if tr == nil {
		return nil, fmt.Errorf("no trace %s on %s", want, o.server)
	}
	return build(string(tr.FlowID)+" · trace "+tr.TraceID.String(), tr, tr.Events), nil
}

// writeDemo records a demo run into a File sink at path.
func writeDemo(ctx context.Context, path string, messages int) error {
	fs, err := file.New(path)
	if err != nil {
		return err
	}
	cfg := tracing.DefaultConfig()
	cfg.FlowID = "orders"
	cfg.QueueSize = 1 << 16
	c, err := tracing.New(cfg, tracing.WithSink(fs))
	if err != nil {
		return errors.Join(err, fs.Close(ctx))
	}
	tctx, _, err := c.StartTrace(ctx, cfg.FlowID, tracing.FlowVersion{Major: 1})
	if err != nil {
		return errors.Join(err, c.Close(ctx))
	}
	p := demo.Pipeline{Messages: messages, FailEvery: 17, Seed: 1}
	p.Run(ctx, func(ev tracing.TraceEvent) {
		if err := c.RecordWait(tctx, ev); err != nil {
			log.Print(err)
		}
	})
	return errors.Join(c.EndTrace(tctx, tracing.FailedStatus("validator rejected records")), c.Close(ctx))
}
