// Command monitor is a live terminal view of a Reflow tracing server's
// event stream, in the spirit of Reflow's monitoring client: it shows each
// event the server sees and keeps a running count per event kind, per
// actor and per edge of the data-flow graph (DataFlow events: actor →
// to_actor), with failures highlighted (ActorFailed, and any event that
// carries an error, such as a send that failed).
//
// It follows both what the server pushes and what it stores. Reflow's
// server pushes notifications only for RecordEvent, which the WebSocket
// sink sends only in its live modes; with the default store mode the
// server keeps everything and pushes nothing. So besides subscribing, the
// monitor reads the stored traces every -poll (default 1s; 0 turns it
// off): those that started since it began, and those still running. An
// event that arrives both ways is shown once, by event id; what the server
// stored before the monitor began is not shown.
//
//	go run ./examples/monitor                       # an in-process server and a demo pipeline, a few seconds
//	go run ./examples/monitor -server ws://127.0.0.1:8080 -actor parser,validator
//	go run ./examples/monitor -server ws://127.0.0.1:8080 -kind ActorFailed -json | jq .
//	go run ./examples/monitor -server ws://127.0.0.1:8080 -query -flow etl
//
// Without -server it starts a compatible server in the process and a small
// traced pipeline that feeds it through the tracing client and the
// WebSocket sink (ModeBoth, so that notifications flow), and stops after
// -duration (default 5s). -query lists the stored traces instead of
// watching; -json prints each event as one notification, one per line
// (events read from storage too, with the id of the trace they belong to).
//
// -flow needs the polls: a notification does not name its flow, so the
// monitor learns each trace's flow from what the server stores. A
// notification whose trace the server has not stored within 10s (10
// polls, if longer) is not shown, and counted at the end: on a generation
// 1 server that is every event sent in live mode, which it never keeps.
//
// When stdout is a terminal the view is redrawn in place, failures in red;
// otherwise each event is one line and the counts come at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// defaultPoll is the default of -poll.
const defaultPoll = time.Second

type options struct {
	server   string
	actors   []string
	kinds    []tracing.EventKind
	flows    []tracing.FlowID
	query    bool
	limit    uint64
	json     bool
	duration time.Duration
	poll     time.Duration
	color    bool
	redraw   bool
	// afterPoll, when set, is called after each poll round with the
	// number of rounds so far (tests wait on it).
	afterPoll func(rounds int)
	// flowWait, when above 0, is how long a notification waits for its
	// trace's flow with -flow (pendingTimeout otherwise).
	flowWait time.Duration
}

func main() {
	var o options
	var actors, kinds, flows string
	flag.StringVar(&o.server, "server", "", "ws:// or wss:// address of a Reflow tracing server (default: one in this process, fed by a demo pipeline)")
	flag.StringVar(&actors, "actor", "", "only these actors (comma-separated)")
	flag.StringVar(&kinds, "kind", "", "only these event kinds (comma-separated, e.g. ActorFailed,DataFlow)")
	flag.StringVar(&flows, "flow", "", "only these flows (comma-separated)")
	flag.BoolVar(&o.query, "query", false, "list the stored traces (id, flow, status, events, start) instead of watching")
	flag.Uint64Var(&o.limit, "limit", 100, "with -query: at most this many traces")
	flag.BoolVar(&o.json, "json", false, "print each notification as one line of protocol JSON")
	flag.DurationVar(&o.duration, "duration", -1, "stop after this long (default: 5s without -server, until interrupted with one)")
	flag.DurationVar(&o.poll, "poll", defaultPoll, "read what the server stores this often (0: only what it pushes)")
	flag.Parse()
	o.actors = split(actors)
	for _, k := range split(kinds) {
		var kind tracing.EventKind
		if err := kind.UnmarshalText([]byte(k)); err != nil {
			log.Fatalf("-kind: %v", err)
		}
		o.kinds = append(o.kinds, kind)
	}
	for _, f := range split(flows) {
		o.flows = append(o.flows, tracing.FlowID(f))
	}
	if o.duration < 0 {
		o.duration = 0
		if o.server == "" {
			o.duration = 5 * time.Second
		}
	}
	o.color = isTerminal(os.Stdout) && os.Getenv("NO_COLOR") == ""
	o.redraw = o.color && !o.json
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// run watches (or, with -query, lists) until ctx ends or the duration
// passed.
func run(ctx context.Context, o options, out io.Writer) error {
	if !o.query && len(o.flows) > 0 && o.poll <= 0 {
		return errors.New("-flow needs -poll above 0: notifications name no flow, only the stored traces do")
	}
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	url := o.server
	if url == "" {
		d, err := startDemo(ctx, o.query)
		if err != nil {
			return err
		}
		defer d.close()
		url = d.url
		if !o.json {
			fmt.Fprintf(out, "in-process server on %s, fed by a demo pipeline\n", url)
		}
	}
	if o.query {
		return list(ctx, url, o, out)
	}
	return watch(ctx, url, o, out)
}
