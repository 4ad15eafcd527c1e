package config

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestNearest(t *testing.T) {
	keys := fileKeys()
	tests := []struct {
		name  string
		known []string
		want  string
	}{
		{"REFLOW_TRACING_BATCH_SIZ", envNames(), "REFLOW_TRACING_BATCH_SIZE"},
		{"REFLOW_TRACING_BATCHSIZE", envNames(), "REFLOW_TRACING_BATCH_SIZE"},
		{"REFLOW_TRACING_MAX_RETRY", envNames(), "REFLOW_TRACING_MAX_RETRIES"},
		{"REFLOW_TRACING_SAMPLE_RATE", envNames(), "REFLOW_TRACING_SAMPLING_RATE"},
		{"REFLOW_TRACING_compression", envNames(), "REFLOW_TRACING_COMPRESSION"},
		{"REFLOW_TRACING_URL", envNames(), ""},
		{"REFLOW_TRACING_LOG_LEVEL", envNames(), ""},
		{"tracing.batch_sise", keys, "tracing.batch_size"},
		{"tracing.retry.max_retry", keys, "tracing.retry.max_retries"},
		{"tracing.filter.actor_patterns", keys, "tracing.filters.actor_patterns"},
		{"tracing.Batch_Size", keys, "tracing.batch_size"},
		{"tracing.colour", keys, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nearest(tt.name, tt.known); got != tt.want {
				t.Fatalf("nearest(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestApplyEnvWarnsAboutUnknownVariables(t *testing.T) {
	c, err := applyEnv(tracing.DefaultConfig(), envList(map[string]string{
		envPrefix + "BATCH_SIZ":    "100",
		envPrefix + "LOG_LEVEL":    "debug",
		envPrefix + "BATCH_SIZE":   "50",
		"REFLOW_TRACINGX_BATCH":    "1", // another prefix: not ours
		"OTHER_REFLOW_TRACING_FOO": "1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"unknown environment variable REFLOW_TRACING_BATCH_SIZ: did you mean REFLOW_TRACING_BATCH_SIZE?",
		"unknown environment variable REFLOW_TRACING_LOG_LEVEL",
	}
	if got := c.Warnings(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Warnings() = %q\nwant %q", got, want)
	}
	if c.BatchSize != 50 {
		t.Fatalf("BatchSize = %d: the unknown variable must not apply", c.BatchSize)
	}
}

func TestFromEnvKeepsWarnings(t *testing.T) {
	t.Setenv(envPrefix+"QUEUE_SIZ", "1")
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := "unknown environment variable REFLOW_TRACING_QUEUE_SIZ: did you mean REFLOW_TRACING_QUEUE_SIZE?"
	if !slices.Contains(c.Warnings(), want) {
		t.Fatalf("Warnings() = %q, want it to hold %q", c.Warnings(), want)
	}
	// Copies are independent: a loader working on one does not add to
	// the other.
	d := c
	t.Setenv(envPrefix+"FLOW_IDD", "x")
	d, err = ApplyEnv(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Warnings()) <= len(c.Warnings()) {
		t.Fatalf("ApplyEnv on a copy: %q", d.Warnings())
	}
	if slices.ContainsFunc(c.Warnings(), func(w string) bool { return strings.Contains(w, "FLOW_IDD") }) {
		t.Fatalf("the original config got the copy's warning: %q", c.Warnings())
	}
}

func TestMaxRetriesZeroWarns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracing.toml")
	writeConfigFile(t, path, "[tracing.retry]\nmax_retries = 0\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := path + `:2: tracing.retry.max_retries = 0 means the default, 5 retries (Reflow's own client reads 0 as none): write "none" to never retry`
	if !slices.Contains(c.Warnings(), want) {
		t.Fatalf("Warnings() = %q\nwant it to hold %q", c.Warnings(), want)
	}
	if c.Retry.MaxRetries != defaultMaxRetries {
		t.Fatalf("MaxRetries = %d, want the default", c.Retry.MaxRetries)
	}
	t.Setenv(envPrefix+"MAX_RETRIES", "0")
	c, err = FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want = `REFLOW_TRACING_MAX_RETRIES="0": means the default, 5 retries (Reflow's own client reads 0 as none): write "none" to never retry`
	if !slices.Contains(c.Warnings(), want) {
		t.Fatalf("Warnings() = %q\nwant it to hold %q", c.Warnings(), want)
	}
}

// TestMaxRetriesOneRule checks that max_retries means the same in a file,
// in the environment and in Go.
func TestMaxRetriesOneRule(t *testing.T) {
	tests := []struct {
		file, env string
		goValue   int
		want      int // after defaults
	}{
		{"0", "0", 0, defaultMaxRetries},
		{"3", "3", 3, 3},
		{`"none"`, "none", retry.NoRetries, retry.NoRetries},
		{`"unlimited"`, "unlimited", -1, -1},
		{"-1", "-1", -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tracing.toml")
			writeConfigFile(t, path, "[tracing.retry]\nmax_retries = "+tt.file+"\n")
			fromFile, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Setenv(envPrefix+"MAX_RETRIES", tt.env)
			fromEnv, err := FromEnv()
			if err != nil {
				t.Fatal(err)
			}
			fromGo := tracing.TracingConfig{Retry: tracing.RetryConfig{MaxRetries: tt.goValue}}.WithDefaults()
			for name, got := range map[string]int{"file": fromFile.Retry.MaxRetries, "env": fromEnv.Retry.MaxRetries, "Go": fromGo.Retry.MaxRetries} {
				if got != tt.want {
					t.Errorf("%s: MaxRetries = %d, want %d", name, got, tt.want)
				}
			}
		})
	}
}

func TestWarningsNameFileKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracing.toml")
	writeConfigFile(t, path, "[tracing.sampling]\nrate = 0.25\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{path + ":2: tracing.sampling.rate = 0.25 has no effect with tracing.sampling.strategy unset (always)"}
	if got := c.Warnings(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Warnings() = %q\nwant %q", got, want)
	}
	// Changed in code, the field is named as a field.
	c.Sampling.Rate = 0.5
	want = []string{"Sampling.Rate = 0.5 has no effect with tracing.sampling.strategy unset (always)"}
	if got := c.Warnings(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a change in code, Warnings() = %q\nwant %q", got, want)
	}
}

// nopSink is a sink that discards what it is given.
type nopSink struct{}

func (nopSink) Write(context.Context, []tracing.TraceEvent) error { return nil }
func (nopSink) Flush(context.Context) error                       { return nil }
func (nopSink) Close(context.Context) error                       { return nil }

// serverSink is a test sink that says whether it sends to a server.
type serverSink struct {
	nopSink
	server bool
}

func (s serverSink) SendsToServer() bool { return s.server }

// configWarnings returns the warnings New logs for cfg and sinks.
func configWarnings(t *testing.T, cfg tracing.TracingConfig, sinks ...tracing.Sink) []string {
	t.Helper()
	core, logs := observer.New(zapcore.WarnLevel)
	opts := []tracing.Option{tracing.WithLogger(zap.New(core))}
	for _, s := range sinks {
		opts = append(opts, tracing.WithSink(s))
	}
	c, err := tracing.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	entries := logs.FilterMessage("tracing config has settings that are suspicious or do not apply").All()
	switch len(entries) {
	case 0:
		return nil
	case 1:
		ws, _ := entries[0].ContextMap()["warnings"].([]any)
		out := make([]string, len(ws))
		for i, w := range ws {
			out[i], _ = w.(string)
		}
		return out
	}
	t.Fatalf("New logged the warnings %d times", len(entries))
	return nil
}

func TestNewWarnsAboutServerSettingsWithoutServerSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracing.toml")
	writeConfigFile(t, path, `[tracing]
server_url = "ws://127.0.0.1:9000"
enable_compression = true
batch_size = 10
[tracing.retry]
max_retries = 3
`)
	fromFile, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envPrefix+"PROTOCOL", "v2")
	fromBoth, err := LoadWithEnv(path)
	if err != nil {
		t.Fatal(err)
	}
	inCode := tracing.DefaultConfig()
	inCode.ServerURLs = []string{"ws://127.0.0.1:9001"}

	const lead = "settings for the connection to a Reflow server do not apply: no sink sends to one (only a WebSocket sink built with websocket.OptionsFromConfig reads them): "
	tests := []struct {
		name  string
		cfg   tracing.TracingConfig
		sinks []tracing.Sink
		want  []string
	}{
		{"file, local sink", fromFile, []tracing.Sink{nopSink{}}, []string{
			lead + "tracing.server_url (" + path + ":2), tracing.enable_compression (" + path + ":3), tracing.retry.max_retries (" + path + ":6)",
		}},
		{"file and environment, local sinks", fromBoth, []tracing.Sink{nopSink{}, serverSink{nopSink{}, false}}, []string{
			lead + "tracing.server_url (" + path + ":2), tracing.enable_compression (" + path + ":3), tracing.retry.max_retries (" + path + ":6), REFLOW_TRACING_PROTOCOL",
		}},
		{"code, local sink", inCode, []tracing.Sink{nopSink{}}, []string{lead + "ServerURLs"}},
		{"defaults, local sink", tracing.DefaultConfig(), []tracing.Sink{nopSink{}}, nil},
		{"file, server sink", fromFile, []tracing.Sink{nopSink{}, serverSink{nopSink{}, true}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := configWarnings(t, tt.cfg, tt.sinks...); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("New warned %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestNewLogsLoaderWarnings(t *testing.T) {
	t.Setenv(envPrefix+"BATCH_SIZ", "100")
	cfg, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"unknown environment variable REFLOW_TRACING_BATCH_SIZ: did you mean REFLOW_TRACING_BATCH_SIZE?"}
	if got := configWarnings(t, cfg, nopSink{}); !reflect.DeepEqual(got, want) {
		t.Fatalf("New warned %q\nwant %q", got, want)
	}
}

// TestServerSettingsAreTheServerRows checks that the server-settings
// warning names exactly the settings whose row says they configure the
// connection to a server, once each.
func TestServerSettingsAreTheServerRows(t *testing.T) {
	cfg, err := Load(configFixture("full.toml")) // every setting set
	if err != nil {
		t.Fatal(err)
	}
	cfg.Enabled = true // full.toml disables the client, which has no sinks to warn about then
	var names []string
	for _, st := range settings {
		if st.scope == serverSetting {
			names = append(names, st.key+" ("+configFixture("full.toml"))
		}
	}
	got := configWarnings(t, cfg, nopSink{})
	const lead = "settings for the connection to a Reflow server do not apply: no sink sends to one (only a WebSocket sink built with websocket.OptionsFromConfig reads them): "
	i := slices.IndexFunc(got, func(w string) bool { return strings.HasPrefix(w, lead) })
	if i < 0 {
		t.Fatalf("no server-settings warning in %q", got)
	}
	listed := strings.Split(strings.TrimPrefix(got[i], lead), ", ")
	if len(listed) != len(names) {
		t.Fatalf("warning lists %q\nwant %d settings: %q", listed, len(names), names)
	}
	for j, n := range names {
		if !strings.HasPrefix(listed[j], n+":") {
			t.Errorf("setting %d: %q, want %s:line)", j, listed[j], n)
		}
	}
}

// A 0 that TracingConfig reads as "the default", written where the
// setting's range excludes it, is taken as the default and warned about,
// with the value that does what a 0 might have been meant for.
func TestZeroOutsideRangeWarns(t *testing.T) {
	for _, tt := range []struct {
		key, env, toml string
		file, envWant  string
		got            func(tracing.TracingConfig) float64
		def            float64
	}{
		{"tracing.retry.backoff_multiplier", "BACKOFF_MULTIPLIER", "[tracing.retry]\nbackoff_multiplier = 0.0\n",
			`:2: tracing.retry.backoff_multiplier = 0.0 means the default, 2 (a multiplier must be at least 1): write 1 for waits that do not grow`,
			`REFLOW_TRACING_BACKOFF_MULTIPLIER="0": means the default, 2 (a multiplier must be at least 1): write 1 for waits that do not grow`,
			func(c tracing.TracingConfig) float64 { return c.Retry.BackoffMultiplier }, 2},
		{"tracing.degrade_fill", "DEGRADE_FILL", "[tracing]\ndegrade_fill = 0\n",
			`:2: tracing.degrade_fill = 0 means the default, 0.5 (a fill must be within (0, 1]): write "off" to never degrade`,
			`REFLOW_TRACING_DEGRADE_FILL="0": means the default, 0.5 (a fill must be within (0, 1]): write "off" to never degrade`,
			func(c tracing.TracingConfig) float64 { return c.DegradeFill }, 0.5},
	} {
		t.Run(tt.key, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tracing.toml")
			writeConfigFile(t, path, tt.toml)
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(c.Warnings(), path+tt.file) {
				t.Errorf("Load: Warnings() = %q\nwant it to hold %q", c.Warnings(), path+tt.file)
			}
			if got := tt.got(c.WithDefaults()); got != tt.def {
				t.Errorf("Load: %s = %g, want the default %g", tt.key, got, tt.def)
			}
			t.Setenv(envPrefix+tt.env, "0")
			c, err = FromEnv()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(c.Warnings(), tt.envWant) {
				t.Errorf("FromEnv: Warnings() = %q\nwant it to hold %q", c.Warnings(), tt.envWant)
			}
		})
	}
}
