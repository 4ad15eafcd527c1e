package compress

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// step is one line of a reference transcript: what a Reflow server
// answered, byte for byte (testdata/transcripts, copied from the SDK's
// shared reference transcripts).
type step struct {
	Step      string `json:"step"`
	SentKind  string `json:"sent_kind"`
	Sent      string `json:"sent"`
	ReplyKind string `json:"reply_kind"`
	ReplyB64  string `json:"reply_b64"`
	Reply     string `json:"reply"`
}

var algorithms = []Algorithm{Zstd, LZ4, Gzip, Brotli}

// readTranscript returns the steps of testdata/transcripts/name.
func readTranscript(tb testing.TB, name string) []step {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", "transcripts", name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var steps []step
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s step
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		steps = append(steps, s)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return steps
}

// binaryReplies returns the compressed replies of a transcript with their
// decompressed JSON.
func binaryReplies(tb testing.TB, name string) (frames [][]byte, replies []string) {
	tb.Helper()
	for _, s := range readTranscript(tb, name) {
		if s.ReplyKind != "binary" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(s.ReplyB64)
		if err != nil {
			tb.Fatalf("%s, %s: %v", name, s.Step, err)
		}
		frames = append(frames, b)
		replies = append(replies, s.Reply)
	}
	return frames, replies
}

// traceTemplate is a FlowTrace and one of its events, split so that
// traceJSON can fill in any number of varied events.
type traceTemplate struct {
	head, tail string // the trace before and after the events' array content
	event      string // a format for one event: id, timestamp, parent id, time, depth, actor, span, attribute
}

var (
	templateOnce sync.Once
	template     traceTemplate
	templateErr  error
)

// loadTemplate builds the template from the first StoreTrace a reference
// transcript sends.
func loadTemplate(tb testing.TB) traceTemplate {
	tb.Helper()
	templateOnce.Do(func() { template, templateErr = buildTemplate(readTranscript(tb, "gen1-zstd.jsonl")) })
	if templateErr != nil {
		tb.Fatal(templateErr)
	}
	return template
}

func buildTemplate(steps []step) (traceTemplate, error) {
	for _, s := range steps {
		var msg struct {
			StoreTrace *struct {
				Trace json.RawMessage `json:"trace"`
			}
		}
		if json.Unmarshal([]byte(s.Sent), &msg) != nil || msg.StoreTrace == nil {
			continue
		}
		var trace bytes.Buffer
		if err := json.Compact(&trace, msg.StoreTrace.Trace); err != nil {
			return traceTemplate{}, err
		}
		var events struct {
			Events []json.RawMessage `json:"events"`
		}
		if err := json.Unmarshal(trace.Bytes(), &events); err != nil || len(events.Events) == 0 {
			return traceTemplate{}, fmt.Errorf("StoreTrace without events: %v", err)
		}
		var ev struct {
			EventID   string `json:"event_id"`
			Timestamp string `json:"timestamp"`
		}
		if err := json.Unmarshal(events.Events[0], &ev); err != nil {
			return traceTemplate{}, err
		}
		t := trace.String()
		start := strings.Index(t, `"events":[`) + len(`"events":[`)
		end := strings.Index(t, `],"metadata"`)
		if start < len(`"events":[`) || end < start {
			return traceTemplate{}, fmt.Errorf("no events array in %s", t)
		}
		event := strings.NewReplacer(
			`"event_id":"`+ev.EventID+`"`, `"event_id":"%[1]s"`,
			`"root_cause_event_id":"`+ev.EventID+`"`, `"root_cause_event_id":"%[1]s"`,
			`"timestamp":"`+ev.Timestamp+`"`, `"timestamp":"%[2]s"`,
			`"parent_event_id":null`, `"parent_event_id":"%[3]s"`,
			`"execution_time_ns":1500`, `"execution_time_ns":%[4]d`,
			`"queue_depth":3`, `"queue_depth":%[5]d`,
			`"actor_id":"sensor"`, `"actor_id":"%[6]s"`,
			`"span_id":"a1b2c3d4e5f60718"`, `"span_id":"%016[7]x"`,
			`"custom_attributes":{"k":"v"}`, `"custom_attributes":{"k":"v%[8]d"}`,
		).Replace(string(events.Events[0]))
		return traceTemplate{head: t[:start], tail: t[end:], event: event}, nil
	}
	return traceTemplate{}, fmt.Errorf("no StoreTrace in the transcript")
}

// traceJSON returns the template's trace with n events that differ in
// their ids, parents, timestamps, metrics, actors, spans and attributes,
// the same for the same n.
func traceJSON(tb testing.TB, n int) []byte {
	t := loadTemplate(tb)
	r := rand.New(rand.NewPCG(3, uint64(n)))
	actors := []string{"sensor", "validator", "transformer", "sink", "router_7"}
	out := []byte(t.head)
	parent := "0191f3b2-7c4e-7a10-9d2f-000000000000"
	for i := range n {
		if i > 0 {
			out = append(out, ',')
		}
		id := fmt.Sprintf("0191f3b2-7c4e-7%03x-9d2f-%012x", r.IntN(1<<12), r.Uint64()&(1<<48-1))
		ts := fmt.Sprintf("2026-12-01T10:%02d:%02d.%06dZ", i/3600%60, i/60%60, r.IntN(1e6))
		out = fmt.Appendf(out, t.event, id, ts, parent, 500+r.IntN(1e6), r.IntN(64), actors[r.IntN(len(actors))], r.Uint64(), r.IntN(1000))
		parent = id
	}
	return append(out, t.tail...)
}

// storeTraceJSON returns a StoreTrace request carrying n events.
func storeTraceJSON(tb testing.TB, n int) []byte {
	out := append([]byte(`{"StoreTrace":{"trace":`), traceJSON(tb, n)...)
	return append(out, "}}"...)
}

// traceDataOf returns a TraceData reply of at least size bytes.
func traceDataOf(tb testing.TB, size int) []byte {
	one := len(traceJSON(tb, 2)) - len(traceJSON(tb, 1))
	out := append([]byte(`{"TraceData":{"trace":`), traceJSON(tb, size/one+1)...)
	return append(out, "}}"...)
}

// randomBytes returns n incompressible bytes, the same for the same n.
func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(2, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// sameJSON reports whether a and b hold the same JSON value.
func sameJSON(tb testing.TB, a, b []byte) bool {
	tb.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		tb.Fatalf("invalid JSON %.80q: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		tb.Fatalf("invalid JSON %.80q: %v", b, err)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}
