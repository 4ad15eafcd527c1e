package tracing

import (
	"reflect"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// fakeSource is a ConfigSource that names the fields it lists as it says,
// as a loader of another format would.
type fakeSource map[string]fakeSetting

type fakeSetting struct {
	name, loc, written string
	set                bool
}

func (f fakeSource) Setting(path string, _ any) (name, loc, written string, set bool) {
	s := f[path]
	return s.name, s.loc, s.written, s.set
}

func (f fakeSource) Warnings() []string { return []string{"a warning of the source"} }

// TestConfigSourceNamesFields checks that Validate, Warnings and New name
// a field as its Source says, and by its Go path where the Source does
// not know it.
func TestConfigSourceNamesFields(t *testing.T) {
	tests := []struct {
		name   string
		src    fakeSource
		mutate func(*TracingConfig)
		want   string
	}{
		{"file key", fakeSource{
			"QueueSize": {"tracing.queue_size", "app.toml:7", "10", true},
			"BatchSize": {"tracing.batch_size", "", "", false},
		}, func(c *TracingConfig) { c.QueueSize, c.BatchSize = 10, 100 },
			"app.toml:7: tracing.queue_size = 10: must be at least tracing.batch_size (100)"},
		{"variable", fakeSource{
			"Retry.MaxDelay": {"RETRY_MAX_DELAY", "", "500", true},
		}, func(c *TracingConfig) { c.Retry.MaxDelay = 500 * 1e6 },
			`RETRY_MAX_DELAY="500": must be at least Retry.InitialDelay (1s)`},
		{"element of a list", fakeSource{
			"ServerURLs": {"tracing.server_urls", "app.toml:2", `["ws://a:1", "http://b:2"]`, true},
		}, func(c *TracingConfig) { c.ServerURLs = []string{"ws://a:1", "http://b:2"} },
			`app.toml:2: tracing.server_urls[1] = "http://b:2": want ws://host:port or wss://host:port`},
		{"unknown to the source", fakeSource{}, func(c *TracingConfig) { c.BatchSize = -1 },
			"BatchSize = -1: must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			c.Source = tt.src
			if err := c.Validate(); err == nil || err.Error() != "tracing: invalid config: "+tt.want {
				t.Fatalf("Validate() = %v\nwant tracing: invalid config: %s", err, tt.want)
			}
		})
	}

	c := DefaultConfig()
	c.Sampling.Rate = 0.5
	c.Protocol = transport.ProtocolV2
	c.Source = fakeSource{
		"Sampling.Rate":     {"sampling.rate", "app.toml:4", "0.5", true},
		"Sampling.Strategy": {"sampling.strategy", "", "", false},
		"Protocol":          {"PROTOCOL", "", "v2", true},
	}
	want := []string{"a warning of the source", "app.toml:4: sampling.rate = 0.5 has no effect with sampling.strategy unset (always)"}
	if got := c.Warnings(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Warnings() = %q\nwant %q", got, want)
	}
	want = append(want, "settings for the connection to a Reflow server do not apply: no sink sends to one (only a WebSocket sink built with websocket.OptionsFromConfig reads them): PROTOCOL")
	if got := configWarnings(t, c, newRecordSink()); !reflect.DeepEqual(got, want) {
		t.Fatalf("New warned %q\nwant %q", got, want)
	}
}
