package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

//go:embed view.js
var viewJS string

//go:embed view.css
var viewCSS string

// Overview geometry: one lane per actor, overviewBins bins across; the
// timeline's lanes are timelineLane high (view.js draws them so).
const (
	overviewWidth = 1000
	laneHeight    = 18
	labelWidth    = 110
	overviewBins  = 250
	timelineLane  = 44
	maxFailures   = 200 // failures listed in the page
)

var page = template.Must(template.New("view").Funcs(template.FuncMap{"dur": fmtDur}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<p class="meta">{{with .Trace}}trace <code>{{.TraceID}}</code> · flow <b>{{.FlowID}}</b> · execution <code>{{.ExecutionID}}</code> · status <b class="{{if eq .Status.Kind 3}}fail{{end}}">{{.Status}}</b> · {{end}}{{.EventCount}} events · {{len .Actors}} actors · {{.Span}} from {{.StartText}}</p>
</header>
<section>
<h2>Overview</h2>
{{.Overview}}
</section>
<section>
<h2>Timeline</h2>
<div class="controls"><button id="zoom-in" type="button">+</button><button id="zoom-out" type="button">−</button><button id="reset" type="button">reset</button>
<span id="range"></span> <span class="hint">wheel to zoom, drag to pan; click an activation, an arrow or an event's tick to see it and its causal chain</span></div>
<div class="legend"><span id="legend"></span><span id="hover" class="hover"></span></div>
<div class="timeline"><canvas id="marks" aria-hidden="true"></canvas><svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="100%" height="{{.TimelineHeight}}" role="img" aria-label="timeline per actor"></svg></div>
<div id="detail" class="detail">Nothing selected.</div>
</section>
<section class="cols">
<div>
<h2>Actors</h2>
<table id="actors">
<thead><tr><th>actor</th><th>events</th><th>activations</th><th>failures</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr></thead>
<tbody>{{range .Stats}}<tr data-actor="{{.Name}}"{{if .Failures}} class="has-fail"{{end}}><td>{{.Name}}{{if eq .Name $.Slowest}} <span class="badge">slowest p95</span>{{end}}</td><td>{{.Events}}</td><td>{{.Activations}}</td><td{{if .Failures}} class="fail"{{end}}>{{.Failures}}</td><td>{{dur .P50}}</td><td{{if eq .Name $.Slowest}} class="slow"{{end}}>{{dur .P95}}</td><td>{{dur .P99}}</td><td>{{dur .Max}}</td></tr>
{{end}}</tbody>
</table>
</div>
<div>
<h2>Edges</h2>
<table id="edges">
<thead><tr><th>from</th><th>to</th><th>messages</th><th>bytes</th></tr></thead>
<tbody>{{range .Edges}}<tr><td>{{.From}}</td><td>{{.To}}</td><td>{{.Messages}}</td><td>{{.Bytes}}</td></tr>
{{end}}</tbody>
</table>
</div>
</section>
<section>
<h2>Events (<span id="ev-total">{{.EventCount}}</span>)</h2>
<div class="controls"><select id="f-kind" aria-label="kind"><option value="">every kind</option></select> <select id="f-actor" aria-label="actor"><option value="">every actor</option></select>
<label><input type="checkbox" id="f-fail"> failures only</label> <input type="search" id="f-text" placeholder="actor, port, message type, error…" size="30" aria-label="search">
<span id="ev-shown"></span> <span class="hint">click a row to see the event; ↑ ↓ move</span></div>
<div id="events" class="events" tabindex="0" role="grid" aria-label="every event of the trace">
<div class="ev-row ev-head" role="row"><span data-sort="time">time</span><span data-sort="kind">kind</span><span data-sort="actor">actor</span><span>port / target</span><span>message</span><span data-sort="dur">duration</span><span>error</span></div>
<div id="ev-body"></div>
</div>
</section>
<section>
<h2>Failures ({{len .Failures}})</h2>
<ol id="failures" class="failures">{{range .Failures}}<li class="fail" data-event="{{.Index}}"><code>{{.Time}}</code> <b>{{.Actor}}</b>{{with .What}} ({{.}}){{end}}: {{.Message}}</li>
{{end}}</ol>{{if .MoreFailures}}<p>… and {{.MoreFailures}} more.</p>{{end}}
</section>
<script type="application/json" id="trace-data">{{.Data}}</script>
<script>{{.JS}}</script>
</body>
</html>
`))

type failureItem struct {
	Index   int
	Time    string
	Actor   string
	What    string // the event, when it is not an ActorFailed: "DataFlow → validator:in"
	Message string
}

// pageData fills the template.
type pageData struct {
	*model
	CSS            template.CSS
	JS             template.JS
	Data           template.JS
	Overview       template.HTML
	TimelineHeight int
	EventCount     int
	Span           string
	StartText      string
	Failures       []failureItem
	MoreFailures   int
	Slowest        string // the actor of the highest p95
}

// jsData is the compact form of the model the script draws from. Times
// are nanoseconds from the trace's start.
type jsData struct {
	Span    int64             `json:"span"`
	Actors  []string          `json:"actors"`
	Kinds   []string          `json:"kinds"`
	Events  [][4]int64        `json:"ev"`    // kind, actor, time, parent index (-1)
	IDs     []string          `json:"ids"`   // event ids
	Chains  map[int][]int     `json:"chain"` // dependency chains, by event index
	Msgs    map[int]string    `json:"msg"`   // error messages, by event index
	Acts    [][6]int64        `json:"acts"`  // actor, start, duration, failed, first event, last event
	Flows   [][5]int64        `json:"flows"` // from, to, time, event, failed
	Targets map[int][2]string `json:"to"`    // DataFlow targets (actor, port), by event index
	// Str holds the strings events share (ports, message types, custom
	// names); X has, per event: the duration in ns (-1 when not
	// measured), the port, the message type, the message size (-1 without
	// a message) and the custom name, strings as indexes in Str (-1 none).
	Str  []string            `json:"str"`
	X    [][5]int64          `json:"x"`
	More map[int][][2]string `json:"more"` // further details (label, value), by event index
	T0   [2]int64            `json:"t0"`   // the trace's start: Unix seconds and nanoseconds
	Lane int                 `json:"lane"` // timelineLane
}

func (m *model) jsData() jsData {
	d := jsData{
		Span: int64(m.End.Sub(m.Start)), Actors: m.Actors, Chains: map[int][]int{}, Msgs: map[int]string{},
		Events: make([][4]int64, len(m.Events)), IDs: make([]string, len(m.Events)), Targets: map[int][2]string{},
		Acts: make([][6]int64, len(m.Acts)), Flows: make([][5]int64, len(m.Flows)),
		X: make([][5]int64, len(m.Events)), More: map[int][][2]string{},
		T0: [2]int64{m.Start.Unix(), int64(m.Start.Nanosecond())}, Lane: timelineLane,
	}
	strs := map[string]int64{}
	str := func(s string) int64 {
		if s == "" {
			return -1
		}
		i, ok := strs[s]
		if !ok {
			i = int64(len(d.Str))
			strs[s] = i
			d.Str = append(d.Str, s)
		}
		return i
	}
	for k := tracing.KindActorCreated; k <= tracing.KindCustom; k++ {
		d.Kinds = append(d.Kinds, k.String())
	}
	index := make(map[tracing.EventID]int, len(m.Events))
	for i := range m.Events {
		index[m.Events[i].EventID] = i
	}
	for i := range m.Events {
		ev := &m.Events[i]
		parent := int64(-1)
		if p, ok := index[ev.Causality.ParentEventID]; ok && !ev.Causality.ParentEventID.IsZero() {
			parent = int64(p)
		}
		d.Events[i] = [4]int64{int64(ev.Type.Kind) - 1, int64(m.actorIdx[ev.ActorID]), int64(ev.Timestamp.Sub(m.Start)), parent}
		d.IDs[i] = ev.EventID.String()
		var chain []int
		for _, id := range ev.Causality.DependencyChain {
			if j, ok := index[id]; ok {
				chain = append(chain, j)
			}
		}
		if len(chain) > 0 {
			d.Chains[i] = chain
		}
		if ev.Data.Error != "" {
			d.Msgs[i] = ev.Data.Error
		}
		if ev.Type.Kind == tracing.KindDataFlow {
			d.Targets[i] = [2]string{ev.Type.ToActor, ev.Type.ToPort}
		}
		x := [5]int64{-1, str(ev.Data.Port), -1, -1, str(ev.Type.Name)}
		if pm := &ev.Data.PerformanceMetrics; pm.Measured(tracing.MetricExecutionTimeNs) && pm.ExecutionTimeNs > 0 {
			x[0] = int64(min(pm.ExecutionTimeNs, 1<<62))
		}
		if ev.Data.HasMessage {
			x[2], x[3] = str(ev.Data.Message.MessageType), int64(min(ev.Data.Message.SizeBytes, 1<<62))
		}
		d.X[i] = x
		if more := details(ev); len(more) > 0 {
			d.More[i] = more
		}
	}
	for i, a := range m.Acts {
		d.Acts[i] = [6]int64{int64(a.actor), int64(a.start.Sub(m.Start)), int64(a.end.Sub(a.start)), b2i(a.failed), int64(a.first), int64(a.last)}
	}
	for i, f := range m.Flows {
		d.Flows[i] = [5]int64{int64(f.from), int64(f.to), int64(f.at.Sub(m.Start)), int64(f.event), b2i(f.failed)}
	}
	return d
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// details are what the event table does not show of ev, as label and
// value: the other measurements, the message's content, the state diff,
// the custom attributes.
func details(ev *tracing.TraceEvent) [][2]string {
	var out [][2]string
	add := func(k, v string) { out = append(out, [2]string{k, v}) }
	pm := &ev.Data.PerformanceMetrics
	if pm.Measured(tracing.MetricQueueDepth) && pm.QueueDepth > 0 {
		add("queue depth", strconv.FormatUint(pm.QueueDepth, 10))
	}
	if pm.Measured(tracing.MetricMemoryUsageBytes) && pm.MemoryUsageBytes > 0 {
		add("memory", strconv.FormatUint(pm.MemoryUsageBytes, 10)+" bytes")
	}
	if pm.Measured(tracing.MetricCPUUsagePercent) && pm.CPUUsagePercent > 0 {
		add("cpu", strconv.FormatFloat(pm.CPUUsagePercent, 'g', 3, 64)+"%")
	}
	if pm.Measured(tracing.MetricThroughputMsgsPerSec) && pm.ThroughputMsgsPerSec > 0 {
		add("throughput", strconv.FormatFloat(pm.ThroughputMsgsPerSec, 'g', 4, 64)+" messages/s")
	}
	if msg := &ev.Data.Message; ev.Data.HasMessage {
		if msg.Checksum != "" {
			add("checksum", msg.Checksum)
		}
		if len(msg.SerializedData) > 0 {
			c := fmt.Sprintf("%d bytes captured", len(msg.SerializedData))
			if msg.ContentCodec != "" {
				c += " (" + msg.ContentCodec + ")"
			}
			add("content", c)
		}
	}
	if sd := &ev.Data.StateDiff; sd.DiffType != 0 {
		add("state diff", fmt.Sprintf("%s, %d bytes before, %d after", sd.DiffType, len(sd.Before), len(sd.After)))
	}
	for kv := range ev.Data.CustomAttributes.All {
		add(kv.Key, kv.Value.String())
	}
	return out
}

// render writes the page of m to w.
func render(w io.Writer, m *model) error {
	data, err := json.Marshal(m.jsData()) // escapes <, > and &: safe inside <script>
	if err != nil {
		return err
	}
	p := pageData{
		model: m, CSS: template.CSS(viewCSS), JS: template.JS(viewJS), Data: template.JS(data),
		Overview:       overview(m),
		TimelineHeight: 30 + timelineLane*max(len(m.Actors), 1),
		EventCount:     len(m.Events),
		Span:           fmtDur(m.End.Sub(m.Start)),
		StartText:      m.Start.UTC().Format(time.RFC3339Nano),
	}
	var slowest time.Duration
	for _, st := range m.Stats {
		if st.Activations > 0 && st.P95 > slowest {
			slowest, p.Slowest = st.P95, st.Name
		}
	}
	for _, i := range m.Failures {
		if len(p.Failures) == maxFailures {
			p.MoreFailures = len(m.Failures) - maxFailures
			break
		}
		ev := &m.Events[i]
		p.Failures = append(p.Failures, failureItem{Index: i, Time: "+" + fmtDur(ev.Timestamp.Sub(m.Start)), Actor: ev.ActorID, What: what(ev), Message: ev.Data.Error})
	}
	return page.Execute(w, p)
}

// overview is a static SVG of the whole trace, aggregated into bins so
// that its size does not grow with the trace: per actor lane, each bin's
// shade is the fraction of its time the actor was busy; failures are red
// marks, one per bin that holds any.
func overview(m *model) template.HTML {
	var b strings.Builder
	h := laneHeight*len(m.Actors) + 20
	fmt.Fprintf(&b, `<svg id="overview" class="overview" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" data-bins="%d">`, overviewWidth, h, overviewBins)
	span := m.End.Sub(m.Start)
	if span <= 0 {
		span = 1
	}
	binW := float64(overviewWidth-labelWidth) / overviewBins
	binT := float64(span) / overviewBins
	busy := make([][]float64, len(m.Actors))
	fails := make([][]int, len(m.Actors))
	for i := range busy {
		busy[i] = make([]float64, overviewBins)
		fails[i] = make([]int, overviewBins)
	}
	for _, a := range m.Acts {
		s, e := float64(a.start.Sub(m.Start)), float64(a.end.Sub(m.Start))
		for bin := int(s / binT); bin < overviewBins && float64(bin)*binT < e; bin++ {
			lo, hi := max(s, float64(bin)*binT), min(e, float64(bin+1)*binT)
			if hi > lo {
				busy[a.actor][bin] += (hi - lo) / binT
			}
		}
	}
	for _, i := range m.Failures {
		ev := &m.Events[i]
		bin := min(int(float64(ev.Timestamp.Sub(m.Start))/binT), overviewBins-1)
		fails[m.actorIdx[ev.ActorID]][bin]++
	}
	for i, name := range m.Actors {
		y := i * laneHeight
		fmt.Fprintf(&b, `<g class="lane" data-actor="%s"><text x="0" y="%d">%s</text><rect class="lane-bg" x="%d" y="%d" width="%d" height="%d"/>`,
			template.HTMLEscapeString(name), y+13, template.HTMLEscapeString(name), labelWidth, y+2, overviewWidth-labelWidth, laneHeight-4)
		for bin, v := range busy[i] {
			if v <= 0 {
				continue
			}
			fmt.Fprintf(&b, `<rect class="busy" x="%.1f" y="%d" width="%.1f" height="%d" fill-opacity="%.2f"/>`,
				labelWidth+float64(bin)*binW, y+2, binW, laneHeight-4, 0.15+0.85*min(v, 1))
		}
		for bin, n := range fails[i] {
			if n == 0 {
				continue
			}
			fmt.Fprintf(&b, `<rect class="failure" x="%.1f" y="%d" width="2" height="%d"><title>%d failure(s)</title></rect>`,
				labelWidth+float64(bin)*binW, y, laneHeight, n)
		}
		b.WriteString(`</g>`)
	}
	fmt.Fprintf(&b, `<text class="axis" x="%d" y="%d">0</text><text class="axis" x="%d" y="%d" text-anchor="end">%s</text></svg>`,
		labelWidth, h-4, overviewWidth, h-4, template.HTMLEscapeString(fmtDur(span)))
	return template.HTML(b.String())
}

// what names a failure that is not an ActorFailed by its kind (and a
// DataFlow's target); "" for an ActorFailed.
func what(ev *tracing.TraceEvent) string {
	switch ev.Type.Kind {
	case tracing.KindActorFailed:
		return ""
	case tracing.KindDataFlow:
		return "DataFlow → " + ev.Type.ToActor + ":" + ev.Type.ToPort
	}
	return ev.Type.Kind.String()
}

// fmtDur writes d with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d)
	case d < time.Millisecond:
		return fmt.Sprintf("%.3gµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.3gs", d.Seconds())
}
