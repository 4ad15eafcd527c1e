package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/coder/websocket"
	"github.com/reflowtrace/reflowtrace-go/examples/demo"
	"github.com/reflowtrace/reflowtrace-go/tracing"
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
		if !strings.Contains(page, `<tr data-actor="`+a+`">`) {
			t.Errorf("no stats row for %s", a)
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

// TestBrowserRenders loads pages in headless Chromium and checks that the
// script drew the timeline without errors.
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
			evs := demoEvents(tc.records, 9)
			path := filepath.Join(t.TempDir(), "view.html")
			if err := os.WriteFile(path, []byte(renderString(t, build(tc.name, nil, evs))), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
				"--user-data-dir="+t.TempDir(), "--window-size=1280,900", "--dump-dom", "file://"+path)
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
			acts := regexp.MustCompile(`data-acts="(\d+)"`).FindStringSubmatch(body)
			arrows := regexp.MustCompile(`data-arrows="(\d+)"`).FindStringSubmatch(body)
			if acts == nil || acts[1] == "0" {
				t.Errorf("no activations drawn: %s", body)
			}
			if tc.wantArrows != (arrows != nil && arrows[1] != "0") {
				t.Errorf("arrows %v, want drawn %v", arrows, tc.wantArrows)
			}
			if n := strings.Count(string(dom), `class="act`); n == 0 {
				t.Error("no activation rects in the DOM")
			}
		})
	}
}

// A send that failed is recorded as a DataFlow with an error: the view
// counts it as a failure of its actor, lists it, marks it in the overview
// and draws its arrow (and, without lifecycle events, its activation) red.
func TestFailedSendIsAFailure(t *testing.T) {
	evs := demoEvents(20, 0) // no ActorFailed
	bad := event.DataFlow("enricher", "out", "writer", "in", "Record", 64)
	bad.TraceID, bad.Timestamp = evs[0].TraceID, evs[len(evs)/2].Timestamp
	bad.Data.Error = "send: inbox full"
	bad.Data.PerformanceMetrics.ExecutionTimeNs = 1000
	evs = append(evs, bad)
	m := build("t", nil, evs)
	if len(m.Failures) != 1 || m.Events[m.Failures[0]].EventID != bad.EventID {
		t.Fatalf("failures %v, want the failed send", m.Failures)
	}
	for _, s := range m.Stats {
		if want := map[bool]int{true: 1}[s.Name == "enricher"]; s.Failures != want {
			t.Errorf("%s: %d failures, want %d", s.Name, s.Failures, want)
		}
	}
	page := renderString(t, m)
	if !strings.Contains(page, `<b>enricher</b> (DataFlow → writer:in): send: inbox full</li>`) {
		t.Error("the failed send is not in the failures list")
	}
	if !strings.Contains(page, `<td class="fail">1</td>`) {
		t.Error("the enricher's failure count is not red")
	}
	if n := strings.Count(overviewRe.FindString(page), `class="failure"`); n != 1 {
		t.Errorf("%d failure marks in the overview, want 1", n)
	}
	var d jsData
	if err := json.Unmarshal([]byte(dataRe.FindStringSubmatch(page)[1]), &d); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, f := range d.Flows {
		failed += int(f[4])
	}
	if failed != 1 {
		t.Errorf("%d flows marked failed, want 1", failed)
	}
	// Without lifecycle events the send's activation is the failed one.
	m2 := build("t", nil, []tracing.TraceEvent{bad})
	if len(m2.Acts) != 1 || !m2.Acts[0].failed {
		t.Errorf("DataFlow-only: activations %+v, want one failed", m2.Acts)
	}
	var out bytes.Buffer
	summary(&out, m)
	if !strings.Contains(out.String(), "failures: 1") || !strings.Contains(out.String(), "enricher (DataFlow → writer:in): send: inbox full") {
		t.Errorf("summary:\n%s", out.String())
	}
}
