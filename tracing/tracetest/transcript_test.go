package tracetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// transcriptDir holds the replies of Reflow's own server, both generations,
// every compression setting (PROTOCOL.md, "Two generations").
var transcriptDir = filepath.Join("..", "wire", "testdata", "reference-transcripts")

type transcriptStep struct {
	Step      string `json:"step"`
	SentKind  string `json:"sent_kind"`
	Sent      string `json:"sent"`
	ReplyKind string `json:"reply_kind"`
	Reply     string `json:"reply"`
}

func readTranscript(t *testing.T, path string) []transcriptStep {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []transcriptStep
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var s transcriptStep
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`)
)

// normalizer replaces what a server generates (ids, its clock, its process
// id) by placeholders, so that the replies of two servers compare equal
// when they agree on everything else. Generated ids are numbered in order
// of first appearance, so the same generated id must come back in the same
// places.
type normalizer struct {
	sent string // every message sent, concatenated
	ids  map[string]string
}

func (n *normalizer) value(v any) any {
	switch v := v.(type) {
	case string:
		if strings.Contains(n.sent, `"`+v+`"`) {
			return v
		}
		if uuidRE.MatchString(v) {
			p, ok := n.ids[v]
			if !ok {
				p = "<id-" + string(rune('A'+len(n.ids))) + ">"
				n.ids[v] = p
			}
			return p
		}
		if timeRE.MatchString(v) {
			return "<now>"
		}
		return v
	case []any:
		for i := range v {
			v[i] = n.value(v[i])
		}
		return v
	case map[string]any:
		if v["hostname"] == "unknown" {
			if _, ok := v["process_id"]; ok {
				v["process_id"] = "<pid>" // the generation-2 server's own metadata
			}
		}
		for k := range v {
			v[k] = n.value(v[k])
		}
		return v
	}
	return v
}

func (n *normalizer) reply(t *testing.T, data string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		t.Fatalf("reply %s: %v", data, err)
	}
	return n.value(v)
}

// TestTranscriptReplay replays every reference transcript's messages
// against a server of the same generation and compression setting, on one
// connection, and checks that each reply equals the reference server's
// (as JSON values, modulo generated ids, timestamps and process id) and
// comes in the same kind of frame.
func TestTranscriptReplay(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(transcriptDir, "*.jsonl"))
	if err != nil || len(paths) != 10 {
		t.Fatalf("found %d transcripts (%v), want 10", len(paths), err)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".jsonl")
		t.Run(name, func(t *testing.T) {
			gen, algName, _ := strings.Cut(name, "-")
			opts := []Option{WithGeneration(Gen1)}
			if gen == "gen2" {
				opts = []Option{WithGeneration(Gen2)}
			}
			if algName != "none" {
				var alg transport.CompressionAlgorithm
				if err := alg.UnmarshalText([]byte(algName)); err != nil {
					t.Fatal(err)
				}
				opts = append(opts, WithCompression(alg))
			}
			ctx := testCtx(t)
			s := start(t, ctx, opts...)
			c := dial(t, ctx, s, nil)
			steps := readTranscript(t, path)
			var sent strings.Builder
			for _, st := range steps {
				sent.WriteString(st.Sent)
			}
			ours := &normalizer{sent: sent.String(), ids: map[string]string{}}
			theirs := &normalizer{sent: sent.String(), ids: map[string]string{}}
			for i, st := range steps {
				if strings.HasPrefix(st.ReplyKind, "skipped") {
					continue
				}
				c.sendRaw([]byte(st.Sent), st.SentKind == "binary")
				if st.ReplyKind == "none" {
					c.expectDropped()
					return
				}
				got, binary := c.recvRaw()
				if binary != (st.ReplyKind == "binary") {
					t.Errorf("step %d %q: reply binary=%v, want %s frame (%d bytes)", i, st.Step, binary, st.ReplyKind, len(got))
				}
				g, w := ours.reply(t, string(got)), theirs.reply(t, st.Reply)
				if d := diff("", g, w, nil); len(d) > 0 {
					t.Errorf("step %d %q: reply differs from the reference's:\n%s", i, st.Step, strings.Join(d[:min(len(d), 8)], "\n"))
				}
			}
		})
	}
}

// diff returns the paths where got and want differ, with both values.
func diff(path string, got, want any, out []string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				out = append(out, fmt.Sprintf("  %s.%s: missing, want %v", path, k, short(wv)))
			case !wok:
				out = append(out, fmt.Sprintf("  %s.%s: got %v, want no such field", path, k, short(gv)))
			default:
				out = diff(path+"."+k, gv, wv, out)
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			break
		}
		for i := range w {
			out = diff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i], out)
		}
		return out
	}
	if !reflect.DeepEqual(got, want) {
		out = append(out, fmt.Sprintf("  %s: got %v, want %v", path, short(got), short(want)))
	}
	return out
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 160 {
		return string(b[:160]) + "…"
	}
	return string(b)
}
