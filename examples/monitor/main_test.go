package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func runMonitor(t *testing.T, o options) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if o.poll == 0 && !o.query {
		o.poll = 100 * time.Millisecond
	}
	var out bytes.Buffer
	if err := run(ctx, o, &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestWatchDemo(t *testing.T) {
	out := runMonitor(t, options{duration: 1500 * time.Millisecond})
	for _, want := range []string{"by kind", "ActorStarted", "by actor", "validator", "by edge (DataFlow)", "source → parser", "failures (", "schema mismatch"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("ANSI escapes written to a non-terminal")
	}
}

// -flow is refused without the polls it learns flows from.
func TestFlowNeedsPolls(t *testing.T) {
	err := run(t.Context(), options{flows: []tracing.FlowID{"orders"}, poll: 0}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-flow needs -poll") {
		t.Errorf("run: %v", err)
	}
}

func TestWatchKindFilter(t *testing.T) {
	out := runMonitor(t, options{duration: 1500 * time.Millisecond, kinds: []tracing.EventKind{tracing.KindActorFailed, tracing.KindDataFlow}, actors: []string{"validator"}})
	lines := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, " trace …") && !strings.HasPrefix(l, "  ") {
			lines++
			if !strings.Contains(l, "validator") || !(strings.Contains(l, "ActorFailed") || strings.Contains(l, "DataFlow")) {
				t.Errorf("unfiltered line %q", l)
			}
		}
	}
	if lines == 0 {
		t.Errorf("no events:\n%s", out)
	}
}

func TestWatchJSON(t *testing.T) {
	out := runMonitor(t, options{duration: 1500 * time.Millisecond, json: true})
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		resp, err := wire.DecodeResponse(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d: %v: %s", n+1, err, sc.Text())
		}
		if _, ok := resp.(wire.EventNotification); !ok {
			t.Fatalf("line %d: %T", n+1, resp)
		}
		n++
	}
	if n == 0 {
		t.Error("no notifications")
	}
}

func TestQueryList(t *testing.T) {
	out := runMonitor(t, options{duration: 30 * time.Second, query: true, limit: 100, flows: []tracing.FlowID{"orders"}})
	if !strings.Contains(out, "TRACE") || !strings.Contains(out, "Failed(validator rejected records)") {
		t.Errorf("listing:\n%s", out)
	}
	if strings.Count(out, " orders ") < 3 {
		t.Errorf("fewer than 3 traces listed:\n%s", out)
	}
}

// A send that failed is recorded as a DataFlow with an error: the monitor
// counts it as a failure of its actor and shows it in red.
func TestFailedSendIsAFailure(t *testing.T) {
	ev := event.DataFlow("parser", "out", "validator", "in", "Record", 64)
	ev.Data.Error = "send: inbox full"
	n := wire.EventNotification{TraceID: tracing.NewTraceID(), Event: ev}
	line := eventLine(&n, true)
	if !strings.HasPrefix(line, red) || !strings.Contains(line, "→ validator:in") || !strings.Contains(line, "failed: send: inbox full") {
		t.Errorf("line %q: want it red, with its target and error", line)
	}
	if plain := eventLine(&n, false); strings.Contains(plain, "\x1b[") {
		t.Errorf("line %q: escapes without color", plain)
	}
	st := newStats()
	st.add(&n, line)
	ok := wire.EventNotification{TraceID: n.TraceID, Event: event.DataFlow("parser", "out", "validator", "in", "Record", 64)}
	st.add(&ok, eventLine(&ok, true))
	if st.failed != 1 || st.actorFails["parser"] != 1 || len(st.failures) != 1 || st.failures[0] != line {
		t.Errorf("failed %d, parser's %d, listed %q: want the failed send counted once", st.failed, st.actorFails["parser"], st.failures)
	}
	if l := eventLine(&ok, true); strings.HasPrefix(l, red) {
		t.Errorf("a send that did not fail is red: %q", l)
	}
}
