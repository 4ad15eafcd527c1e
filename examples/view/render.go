package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing"
)

//go:embed view.js
var viewJS string

//go:embed view.css
var viewCSS string

// Overview geometry: one lane per actor, overviewBins bins across.
const (
	overviewWidth = 1000
	laneHeight    = 18
	labelWidth    = 110
	overviewBins  = 250
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
<span id="range"></span> <span class="hint">wheel to zoom, drag to pan, click an activation or an arrow to see its causal chain</span></div>
<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="100%" height="{{.TimelineHeight}}" role="img" aria-label="timeline per actor"></svg>
<div id="detail" class="detail">Nothing selected.</div>
</section>
<section class="cols">
<div>
<h2>Actors</h2>
<table id="actors">
<thead><tr><th>actor</th><th>events</th><th>activations</th><th>failures</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr></thead>
<tbody>{{range .Stats}}<tr data-actor="{{.Name}}"><td>{{.Name}}</td><td>{{.Events}}</td><td>{{.Activations}}</td><td{{if .Failures}} class="fail"{{end}}>{{.Failures}}</td><td>{{dur .P50}}</td><td>{{dur .P95}}</td><td>{{dur .P99}}</td><td>{{dur .Max}}</td></tr>
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
}

func (m *model) jsData() jsData {
	d := jsData{
		Span: int64(m.End.Sub(m.Start)), Actors: m.Actors, Chains: map[int][]int{}, Msgs: map[int]string{},
		Events: make([][4]int64, len(m.Events)), IDs: make([]string, len(m.Events)), Targets: map[int][2]string{},
		Acts: make([][6]int64, len(m.Acts)), Flows: make([][5]int64, len(m.Flows)),
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

// render writes the page of m to w.
func render(w io.Writer, m *model) error {
	data, err := json.Marshal(m.jsData()) // escapes <, > and &: safe inside <script>
	if err != nil {
		return err
	}
	p := pageData{
		model: m, CSS: template.CSS(viewCSS), JS: template.JS(viewJS), Data: template.JS(data),
		Overview:       overview(m),
		TimelineHeight: 30 + laneHeight*2*max(len(m.Actors), 1),
		EventCount:     len(m.Events),
		Span:           fmtDur(m.End.Sub(m.Start)),
		StartText:      m.Start.UTC().Format(time.RFC3339Nano),
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
