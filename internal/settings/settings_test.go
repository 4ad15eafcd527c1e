package settings

import (
	"testing"
	"time"
)

type retry struct {
	MaxDelay time.Duration
}

type config struct {
	BatchSize  int
	ServerURLs []string
	Retry      retry
	hidden     int
}

// source names the fields it lists as it says and records the values it
// was asked about.
type source struct {
	settings map[string]setting
	asked    map[string]any
}

type setting struct {
	name, loc, written string
	set                bool
}

func (s *source) Setting(path string, value any) (name, loc, written string, set bool) {
	s.asked[path] = value
	f := s.settings[path]
	return f.name, f.loc, f.written, f.set
}

func newSource(settings map[string]setting) *source {
	return &source{settings: settings, asked: map[string]any{}}
}

func TestValue(t *testing.T) {
	c := &config{BatchSize: 7, ServerURLs: []string{"ws://a:1"}, Retry: retry{MaxDelay: time.Second}, hidden: 3}
	tests := []struct {
		path string
		want any
		ok   bool
	}{
		{"BatchSize", 7, true},
		{"Retry.MaxDelay", time.Second, true},
		{"Retry", retry{time.Second}, true},
		{"Missing", nil, false},
		{"Retry.Missing", nil, false},
		{"BatchSize.Deeper", nil, false},
		{"hidden", nil, false},
	}
	for _, tt := range tests {
		got, ok := Value(c, tt.path)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("Value(%q) = %v, %v, want %v, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
	if got, ok := Value(c, "ServerURLs"); !ok || got.([]string)[0] != "ws://a:1" {
		t.Errorf("Value(ServerURLs) = %v, %v", got, ok)
	}
}

func TestRef(t *testing.T) {
	c := &config{BatchSize: 0, ServerURLs: []string{"ws://a:1", "http://b:2"}}
	src := newSource(map[string]setting{
		"BatchSize":      {"tracing.batch_size", "t.toml:3", "0", true},
		"ServerURLs":     {"tracing.server_urls", "t.toml:2", `["ws://a:1", "http://b:2"]`, true},
		"Retry.MaxDelay": {"RETRY_MAX_DELAY", "", "500", true},
		"Retry":          {"tracing.retry", "", "", false},
	})
	n := Names{Source: src, Config: c}
	tests := []struct {
		path string
		want Ref
	}{
		{"BatchSize", Ref{Loc: "t.toml:3", Name: "tracing.batch_size", Set: true, Written: "0"}},
		{"ServerURLs[1]", Ref{Loc: "t.toml:2", Name: "tracing.server_urls[1]", Set: true}},
		{"Retry.MaxDelay", Ref{Name: "RETRY_MAX_DELAY", Env: true, Set: true, Written: "500"}},
		{"Retry", Ref{Name: "tracing.retry"}},
		{"QueueSize", Ref{Name: "QueueSize"}}, // not a field
		{"hidden", Ref{Name: "hidden"}},       // not exported
		{"ServerURLs[0]", Ref{Loc: "t.toml:2", Name: "tracing.server_urls[0]", Set: true}},
	}
	for _, tt := range tests {
		if got := n.Ref(tt.path); got != tt.want {
			t.Errorf("Ref(%q) = %+v, want %+v", tt.path, got, tt.want)
		}
	}
	if v, ok := src.asked["ServerURLs"].([]string); !ok || len(v) != 2 {
		t.Errorf("the source was asked about ServerURLs with %v, want the whole list", src.asked["ServerURLs"])
	}
	if _, asked := src.asked["QueueSize"]; asked {
		t.Error("the source was asked about a field the config does not have")
	}
	unknown := Names{Source: newSource(nil), Config: c}
	if got := unknown.Ref("BatchSize"); got != (Ref{Name: "BatchSize"}) {
		t.Errorf("Ref of a field the source does not know = %+v", got)
	}
	if got := (Names{Config: c}).Ref("ServerURLs[1]"); got != (Ref{Name: "ServerURLs[1]"}) {
		t.Errorf("Ref without a source = %+v", got)
	}
}

func TestNameAndDescribe(t *testing.T) {
	c := &config{}
	n := Names{Config: c, Source: newSource(map[string]setting{
		"BatchSize":      {"tracing.batch_size", "t.toml:3", "0", true},
		"ServerURLs":     {"SERVER_URLS", "", `"ws://a:1,http://b:2"`, true},
		"Retry.MaxDelay": {"RETRY_MAX_DELAY", "", "", true},
		"Retry":          {"tracing.retry", "", "", false},
	})}
	tests := []struct {
		path, shown string
		name, want  string
	}{
		{"BatchSize", "-1", "tracing.batch_size", "t.toml:3: tracing.batch_size = 0"},
		{"Retry.MaxDelay", "500ms", "RETRY_MAX_DELAY", `RETRY_MAX_DELAY="500ms"`},
		{"Retry.MaxDelay", `"quoted"`, "RETRY_MAX_DELAY", `RETRY_MAX_DELAY="quoted"`},
		{"ServerURLs[1]", `"http://b:2"`, "SERVER_URLS[1]", `SERVER_URLS[1]="http://b:2"`},
		{"ServerURLs", "[a b]", "SERVER_URLS", `SERVER_URLS="ws://a:1,http://b:2"`},
		{"Retry", "{0}", "tracing.retry", "tracing.retry = {0}"},
		{"QueueSize", "10", "QueueSize", "QueueSize = 10"},
	}
	for _, tt := range tests {
		if got := n.Name(tt.path); got != tt.name {
			t.Errorf("Name(%q) = %q, want %q", tt.path, got, tt.name)
		}
		if got := n.Describe(tt.path, tt.shown); got != tt.want {
			t.Errorf("Describe(%q, %q) = %q, want %q", tt.path, tt.shown, got, tt.want)
		}
	}
	if got := (Names{Config: c}).Describe("Retry.MaxDelay", "1s"); got != "Retry.MaxDelay = 1s" {
		t.Errorf("Describe without a source = %q", got)
	}
}
