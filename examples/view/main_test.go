package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/coder/websocket"
	"github.com/reflowtrace/reflowtrace-go/examples/demo"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/attr"
	"github.com/reflowtrace/reflowtrace-go/tracing/event"
	"github.com/reflowtrace/reflowtrace-go/tracing/tracetest"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"github.com/reflowtrace/reflowtrace-go/tracing/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// demoEvents returns the events of a demo run of n records.
func demoEvents(n, failEvery int) []tracing.TraceEvent {
	var out []tracing.TraceEvent
	trace := tracing.NewTraceID()
	p := demo.Pipeline{Messages: n, FailEvery: failEvery, Seed: 7, Start: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	p.Run(context.Background(), func(ev tracing.TraceEvent) {
		ev.TraceID = trace
		out = append(out, ev)
	})
	return out
}

func renderString(t testing.TB, m *model) string {
	t.Helper()
	var b bytes.Buffer
	if err := render(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestPercentile(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(i + 1)
	}
	for _, tc := range []struct{ p, want int }{{50, 50}, {95, 95}, {99, 99}, {100, 100}, {1, 1}} {
		if got := percentile(d, tc.p); got != time.Duration(tc.want) {
			t.Errorf("p%d = %d, want %d", tc.p, got, tc.want)
		}
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("one value: %d", got)
	}
}

func TestModel(t *testing.T) {
	evs := demoEvents(30, 10)
	m := build("t", nil, evs)
	if len(m.Actors) != 5 || m.Actors[0] != "source" {
		t.Fatalf("actors %v", m.Actors)
	}
	// 3 records fail at the validator: source, parser and validator run
	// 30 times, enricher and writer 27.
	want := map[string]int{"source": 30, "parser": 30, "validator": 30, "enricher": 27, "writer": 27}
	for _, s := range m.Stats {
		if s.Activations != want[s.Name] {
			t.Errorf("%s: %d activations, want %d", s.Name, s.Activations, want[s.Name])
		}
		if s.Activations > 0 && !(s.P50 > 0 && s.P50 <= s.P95 && s.P95 <= s.P99 && s.P99 <= s.Max) {
			t.Errorf("%s: percentiles %v %v %v %v", s.Name, s.P50, s.P95, s.P99, s.Max)
		}
	}
	if len(m.Failures) != 3 || m.Stats[2].Failures != 3 {
		t.Errorf("failures %d", len(m.Failures))
	}
	failedActs := 0
	for _, a := range m.Acts {
		if a.failed {
			failedActs++
			if m.Actors[a.actor] != "validator" {
				t.Errorf("failed activation of %s", m.Actors[a.actor])
			}
		}
		if a.end.Before(a.start) {
			t.Errorf("activation ends before it starts")
		}
	}
	if failedActs != 3 {
		t.Errorf("%d failed activations, want 3", failedActs)
	}
	if len(m.Edges) != 4 || m.Edges[0].Messages != 30 {
		t.Errorf("edges %+v", m.Edges)
	}
	// Without lifecycle events, activations come from DataFlow execution
	// times.
	var flows []tracing.TraceEvent
	for _, ev := range evs {
		if ev.Type.Kind == tracing.KindDataFlow {
			flows = append(flows, ev)
		}
	}
	m2 := build("t", nil, flows)
	if len(m2.Acts) != len(flows) {
		t.Errorf("DataFlow-only: %d activations for %d flows", len(m2.Acts), len(flows))
	}
}

type svgNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []svgNode  `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (n *svgNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n *svgNode) walk(f func(*svgNode)) {
	f(n)
	for i := range n.Nodes {
		n.Nodes[i].walk(f)
	}
}

var (
	overviewRe = regexp.MustCompile(`(?s)<svg id="overview".*?</svg>`)
	dataRe     = regexp.MustCompile(`(?s)<script type="application/json" id="trace-data">(.*?)</script>`)
)

func TestRenderStructure(t *testing.T) {
	m := build("demo", nil, demoEvents(60, 9))
	page := renderString(t, m)

	// Self-contained: nothing is fetched.
	for _, bad := range []string{"<script src", "<link", "@import", "url(http", "<img", "<iframe"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, u := range regexp.MustCompile(`https?://[^"'\s<)]+`).FindAllString(page, -1) {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("page names %s", u)
		}
	}

	// The overview is well-formed SVG with one lane per actor and a red
	// mark for the failures.
	raw := overviewRe.FindString(page)
	if raw == "" {
		t.Fatal("no overview svg")
	}
	var root svgNode
	if err := xml.Unmarshal([]byte(raw), &root); err != nil {
		t.Fatalf("overview svg: %v", err)
	}
	var lanes []string
	failures := 0
	root.walk(func(n *svgNode) {
		switch n.attr("class") {
		case "lane":
			lanes = append(lanes, n.attr("data-actor"))
		case "failure":
			for _, c := range n.Nodes {
				if c.XMLName.Local == "title" {
					k, _ := strconv.Atoi(strings.Fields(c.Text)[0])
					failures += k
				}
			}
		}
	})
	if strings.Join(lanes, ",") != strings.Join(demo.Actors, ",") {
		t.Errorf("lanes %v, want %v", lanes, demo.Actors)
	}
	if failures != len(m.Failures) || failures != 6 {
		t.Errorf("overview marks %d failures, the trace has %d", failures, len(m.Failures))
	}

	// Per actor stats and the failures with their messages.
	for _, a := range demo.Actors {
		if !strings.Contains(page, `<tr data-actor="`+a+`"`) {
			t.Errorf("no stats row for %s", a)
		}
	}
	// The actor with failures and the slowest one stand out.
	if !strings.Contains(page, `<tr data-actor="validator" class="has-fail">`) {
		t.Error("the validator's failures do not mark its row")
	}
	if n := strings.Count(page, `<span class="badge">slowest p95</span>`); n != 1 {
		t.Errorf("%d actors marked slowest, want 1", n)
	}
	// The timeline has its canvas of ticks, and every event its row in
	// the event list the script fills.
	for _, want := range []string{`<canvas id="marks"`, `<div id="events" class="events"`, `<div id="ev-body">`, `<select id="f-kind"`, `<input type="checkbox" id="f-fail">`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if n := strings.Count(page, `<li class="fail"`); n != 6 {
		t.Errorf("%d failures listed, want 6", n)
	}
	if !strings.Contains(page, "schema mismatch: field &#34;amount&#34; missing") {
		t.Error("failure message missing")
	}

	// The data the script draws from.
	sub := dataRe.FindStringSubmatch(page)
	if sub == nil {
		t.Fatal("no trace data")
	}
	var d jsData
	if err := json.Unmarshal([]byte(sub[1]), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Events) != len(m.Events) || len(d.Acts) != len(m.Acts) || len(d.Flows) != len(m.Flows) || len(d.Actors) != 5 {
		t.Errorf("data: %d events, %d acts, %d flows", len(d.Events), len(d.Acts), len(d.Flows))
	}
	if len(d.X) != len(m.Events) || d.Lane != timelineLane || d.T0 != [2]int64{m.Start.Unix(), int64(m.Start.Nanosecond())} {
		t.Errorf("data: %d event details, lane %d, start %v", len(d.X), d.Lane, d.T0)
	}
	for i, x := range d.X {
		ev := &m.Events[i]
		str := func(k int64) string {
			if k < 0 {
				return ""
			}
			return d.Str[k]
		}
		if str(x[1]) != ev.Data.Port || (ev.Data.HasMessage && (str(x[2]) != ev.Data.Message.MessageType || x[3] != int64(ev.Data.Message.SizeBytes))) ||
			(x[0] >= 0) != (ev.Data.PerformanceMetrics.ExecutionTimeNs > 0) {
			t.Errorf("event %d (%s): details %v", i, ev.Type, x)
			break
		}
	}
	// Causality survives: every failure has its chain back to the record's
	// first event.
	for _, i := range m.Failures {
		if d.Events[i][3] < 0 || len(d.Chains[i]) < 5 {
			t.Errorf("failure %d: parent %d, chain %v", i, d.Events[i][3], d.Chains[i])
		}
		if d.Msgs[i] == "" {
			t.Errorf("failure %d: no message", i)
		}
	}
}

// TestEventDetails: what the event list does not show of an event is in
// the details the page shows for it.
func TestEventDetails(t *testing.T) {
	evs, state := withEveryKind(demoEvents(5, 0))
	m := build("t", nil, evs)
	var d jsData
	if err := json.Unmarshal([]byte(dataRe.FindStringSubmatch(renderString(t, m))[1]), &d); err != nil {
		t.Fatal(err)
	}
	want := map[tracing.EventKind][2]string{
		tracing.KindStateChanged: {"state diff", "Full, 2 bytes before, 7 after"},
		tracing.KindCustom:       {"entries", "3"},
		tracing.KindNetworkEvent: {"phase", "rebalance"},
	}
	for i := range m.Events {
		ev := &m.Events[i]
		w, ok := want[ev.Type.Kind]
		if !ok {
			if ev.Type.Kind == tracing.KindDataFlow && ev.Data.PerformanceMetrics.QueueDepth > 0 && !slices.Contains(d.More[i], [2]string{"queue depth", strconv.FormatUint(ev.Data.PerformanceMetrics.QueueDepth, 10)}) {
				t.Errorf("DataFlow %d: details %v lack its queue depth", i, d.More[i])
			}
			continue
		}
		if !slices.Contains(d.More[i], w) {
			t.Errorf("%s: details %v, want %v", ev.Type.Kind, d.More[i], w)
		}
		if ev.Type.Kind == tracing.KindStateChanged && ev.EventID != state {
			t.Error("another StateChanged")
		}
		if ev.Type.Kind == tracing.KindCustom && d.Str[d.X[i][4]] != "evicted" {
			t.Errorf("custom name %v", d.X[i])
		}
	}
}

func TestRenderEscapes(t *testing.T) {
	evs := []tracing.TraceEvent{
		event.ActorStarted(`</script><script>alert(1)</script>`),
		event.ActorFailed(`</script><script>alert(1)</script>`, `<img src=x onerror=alert(2)>`),
	}
	for i := range evs {
		evs[i].EventID = tracing.NewEventID()
		evs[i].Timestamp = time.Unix(int64(i), 0)
	}
	page := renderString(t, build("<b>title</b>", nil, evs))
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") || strings.Contains(page, "<b>title") {
		t.Error("user text reaches the page unescaped")
	}
	if strings.Count(page, "<script") != 2 {
		t.Errorf("%d script elements, want 2", strings.Count(page, "<script"))
	}
}

func TestLargeTrace(t *testing.T) {
	evs := demoEvents(1000, 50) // about 13,000 events
	if len(evs) < 10000 {
		t.Fatalf("%d events", len(evs))
	}
	m := build("large", nil, evs)
	page := renderString(t, m)
	// The overview does not grow with the trace.
	if n := len(overviewRe.FindString(page)); n > 120_000 {
		t.Errorf("overview svg of %d bytes", n)
	}
	if n := len(page); n > 4<<20 {
		t.Errorf("page of %d bytes", n)
	}
}

func BenchmarkRender10k(b *testing.B) {
	evs := demoEvents(770, 50)
	b.ReportAllocs()
	for b.Loop() {
		var buf bytes.Buffer
		if err := render(&buf, build("bench", nil, evs)); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRunDemoAndFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(ctx, options{out: filepath.Join(dir, "view.html"), messages: 50}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"slowest actors (p95)", "failures: 2", "validator: record 17", "busiest edges", "source → parser: 50 messages"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, "view.html"))
	if err != nil || !bytes.Contains(page, []byte(`<svg id="overview"`)) {
		t.Fatalf("view.html: %v", err)
	}
}

func TestFetchFromServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for _, gen := range []tracetest.Generation{tracetest.Gen1, tracetest.Gen2} {
		srv, err := tracetest.Start(ctx, tracetest.WithGeneration(gen), tracetest.WithCompression(transport.CompressionZstd))
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		evs := demoEvents(20, 7)
		tr := tracing.FlowTrace{TraceID: evs[0].TraceID, FlowID: "orders", ExecutionID: tracing.NewExecutionID(),
			StartTime: evs[0].Timestamp, Status: tracing.FailedStatus("x"), Events: evs}
		ws, _, err := websocket.Dial(ctx, srv.URL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var enc wire.Encoder
		if err := ws.Write(ctx, websocket.MessageText, enc.AppendRequest(nil, wire.StoreTrace{Trace: tr})); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ws.Read(ctx); err != nil {
			t.Fatal(err)
		}
		_ = ws.CloseNow()
		for _, o := range []options{{server: srv.URL(), trace: tr.TraceID.String()}, {server: srv.URL(), execution: tr.ExecutionID.String()}} {
			o.out = filepath.Join(t.TempDir(), "v.html")
			var out bytes.Buffer
			if err := run(ctx, o, &out); err != nil {
				t.Fatalf("gen %d %+v: %v", gen, o, err)
			}
			if !strings.Contains(out.String(), "failures: 2") || !strings.Contains(out.String(), "orders · trace "+tr.TraceID.String()) {
				t.Errorf("gen %d: summary:\n%s", gen, out.String())
			}
		}
	}
}

// browser finds a Chromium or Chrome binary.
func browser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// withEveryKind adds to a demo trace one event of each kind the pipeline
// does not record, on actors of their own and spread over the trace, and
// a send that failed; it returns the events and the StateChanged's id.
func withEveryKind(evs []tracing.TraceEvent) ([]tracing.TraceEvent, tracing.EventID) {
	start, end := evs[0].Timestamp, evs[len(evs)-1].Timestamp
	extra := []tracing.TraceEvent{
		event.ActorCreated("cache"),
		event.PortConnected("cache", "in"),
		event.MessageReceived("cache", "in", "Record", 100),
		event.StateChanged("cache", tracing.StateDiff{DiffType: tracing.DiffFull, Before: []byte("{}"), After: []byte(`{"n":1}`)}),
		event.MessageSent("cache", "out", "Ack", 8),
		event.Custom("cache", "evicted", attr.Int("entries", 3)),
		event.PortDisconnected("cache", "in"),
		event.ActorStarted("cache"), // never completes
		event.NetworkEvent("network", attr.String("phase", "rebalance")),
		event.DataFlow("writer", "out", "archive", "in", "Record", 64),
	}
	extra[len(extra)-1].Data.Error = "send: inbox full"
	for i := range extra {
		extra[i].TraceID = evs[0].TraceID
		extra[i].Timestamp = start.Add(end.Sub(start) * time.Duration(i+1) / time.Duration(len(extra)+1))
	}
	return append(evs, extra...), extra[3].EventID
}

// TestBrowserRenders loads pages in headless Chromium and checks that the
// script drew the timeline without errors, a tick for every event and a
// row for every event in the event list (only a screenful of rows in the
// DOM), and that clicking a row or a tick shows that event.
func TestBrowserRenders(t *testing.T) {
	bin := browser()
	if bin == "" {
		t.Skip("no chromium or chrome binary")
	}
	for _, tc := range []struct {
		name       string
		records    int
		wantArrows bool
	}{
		{"demo", 60, true},
		{"large", 800, false}, // 10,000+ events: binned, arrows left for zooming in
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, stateID := withEveryKind(demoEvents(tc.records, 9))
			m := build(tc.name, nil, evs)
			state, row := -1, -1
			for i := range m.Events {
				if m.Events[i].EventID == stateID {
					state = i
				}
				if row < 0 && i > 3 && m.Events[i].Type.Kind == tracing.KindDataFlow {
					row = i // among the first rows, so in the DOM
				}
			}
			page := renderString(t, m)
			// Drive the page as a person would: click a row, then the
			// StateChanged's tick (alone on its lane); and look at the
			// canvas under every event's tick.
			probe := fmt.Sprintf(`<script>(function () {
  var res = {}, v = window.traceView, detail = document.getElementById("detail");
  var r = document.querySelector('#ev-body .ev-row[data-i="%[1]d"]');
  if (r) { r.click(); res.row = v.selected() === %[1]d && detail.textContent.indexOf(%[2]q) >= 0; }
  var p = v.tick(%[3]d), target = p && document.elementFromPoint(p.x, p.y);
  if (target) {
    target.dispatchEvent(new MouseEvent("click", { bubbles: true, clientX: p.x, clientY: p.y }));
    res.tick = v.selected() === %[3]d && detail.textContent.indexOf("StateChanged of cache") >= 0 && detail.textContent.indexOf("state diff") >= 0;
  }
  var c = document.getElementById("marks"), cr = c.getBoundingClientRect(), k = c.width / cr.width;
  var px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data, unmarked = 0;
  for (var i = 0; i < %[4]d; i++) {
    var q = v.tick(i), o = (Math.floor((q.y - cr.top) * k) * c.width + Math.floor((q.x - cr.left) * k)) * 4;
    if (px[o] === 0xe9 && px[o + 1] === 0xec && px[o + 2] === 0xef) unmarked++;
  }
  res.unmarked = unmarked;
  var rows = v.rows(), seen = {};
  rows.forEach(function (i) { seen[i] = true; });
  res.listed = Object.keys(seen).length;
  res.domRows = document.querySelectorAll("#ev-body .ev-row").length;
  document.body.setAttribute("data-probe", JSON.stringify(res));
})();</script></body>`, row, m.Events[row].EventID.String(), state, len(m.Events))
			page = strings.Replace(page, "</body>", probe, 1)
			path := filepath.Join(t.TempDir(), "view.html")
			if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
				t.Fatal(err)
			}
			body := chromium(t, bin, "file://"+path)
			n := strconv.Itoa(len(m.Events))
			for _, name := range []string{"data-events", "data-markers", "data-rows"} {
				if got := bodyAttr(body, name); got != n {
					t.Errorf("%s = %q, want the trace's %s events", name, got, n)
				}
			}
			if acts := bodyAttr(body, "data-acts"); acts == "" || acts == "0" {
				t.Errorf("no activations drawn: %s", body)
			}
			if arrows := bodyAttr(body, "data-arrows"); tc.wantArrows != (arrows != "" && arrows != "0") {
				t.Errorf("arrows %q, want drawn %v", arrows, tc.wantArrows)
			}
			var probeRes struct {
				Row, Tick        bool
				Unmarked, Listed int
				DOMRows          int `json:"domRows"`
			}
			if err := json.Unmarshal([]byte(html.UnescapeString(bodyAttr(body, "data-probe"))), &probeRes); err != nil {
				t.Fatalf("probe: %v: %s", err, body)
			}
			if !probeRes.Row || !probeRes.Tick {
				t.Errorf("clicked a row: shown %v; clicked a tick: shown %v", probeRes.Row, probeRes.Tick)
			}
			if probeRes.Unmarked != 0 {
				t.Errorf("%d events have no tick on the canvas", probeRes.Unmarked)
			}
			if probeRes.Listed != len(m.Events) {
				t.Errorf("%d events in the list, want %d", probeRes.Listed, len(m.Events))
			}
			if probeRes.DOMRows == 0 || probeRes.DOMRows > 100 {
				t.Errorf("%d rows in the DOM: want a screenful", probeRes.DOMRows)
			}
			// Timing belongs in benchmarks; this is for the log.
			t.Logf("%d events: script done %sms, first frame %sms after navigation", len(m.Events), bodyAttr(body, "data-load-ms"), bodyAttr(body, "data-frame-ms"))

			// #event=N opens the page on event N.
			body = chromium(t, bin, "file://"+path+"#event="+strconv.Itoa(state))
			if got := bodyAttr(body, "data-selected"); got != strconv.Itoa(state) {
				t.Errorf("#event=%d: selected %q", state, got)
			}
		})
	}
}

// chromium loads url in headless Chromium and returns the body tag of the
// DOM after the page loaded, failing on a script error.
func chromium(t *testing.T, bin, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--window-size=1280,900", "--dump-dom", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
	}
	body := regexp.MustCompile(`<body[^>]*>`).FindString(string(dom))
	if strings.Contains(body, "data-error") {
		t.Fatalf("script error: %s", body)
	}
	if !strings.Contains(body, `data-rendered="ok"`) {
		t.Fatalf("not rendered: %s", body)
	}
	return body
}

// bodyAttr returns the value of attribute name of the body tag body.
func bodyAttr(body, name string) string {
	m := regexp.MustCompile(` ` + name + `="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}
