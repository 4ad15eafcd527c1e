package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

func configFixture(name string) string { return filepath.Join("testdata", name) }

func TestLoadReflowDocsFile(t *testing.T) {
	c, err := Load(configFixture("reflow_docs.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := tracing.DefaultConfig()
	want.ServerURL = "ws://localhost:8080"
	want.BatchSize = 50
	want.BatchTimeout = time.Second
	want.EnableCompression = true
	want.Retry = tracing.RetryConfig{MaxRetries: 3, InitialDelay: 500 * time.Millisecond, MaxDelay: 5 * time.Second, BackoffMultiplier: 2}
	want.Filters = tracing.FilterConfig{
		ActorPatterns: []string{"sensor_*", "processor_*"},
		ExcludeActors: []string{"debug_*", "test_*"},
		EventTypes:    []tracing.EventKind{tracing.KindActorCreated, tracing.KindDataFlow, tracing.KindActorFailed},
	}
	if !reflect.DeepEqual(plain(c), want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
	// Reflow's enable_compression = true means the server's default
	// algorithm.
	if c.CompressionAlgorithm != transport.CompressionZstd {
		t.Fatalf("CompressionAlgorithm = %v, want zstd", c.CompressionAlgorithm)
	}
}

func TestLoadEveryKey(t *testing.T) {
	c, err := Load(configFixture("full.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := tracing.TracingConfig{
		Enabled:              false,
		ServerURL:            "wss://tracing.example.com:8443",
		ServerURLs:           []string{"wss://standby.example.com:8443"},
		BatchSize:            200,
		BatchTimeout:         5 * time.Second,
		AdaptiveBatching:     false,
		MinBatchSize:         32,
		MaxBatchSize:         2048,
		DegradeFill:          0.75,
		EnableCompression:    true,
		CompressionAlgorithm: transport.CompressionBrotli,
		Protocol:             transport.ProtocolV1,
		Retry:                tracing.RetryConfig{MaxRetries: -1, InitialDelay: 100 * time.Millisecond, MaxDelay: 45 * time.Second, BackoffMultiplier: 1.5},
		QueueSize:            16384,
		QueuePolicy:          batch.Block,
		CriticalKinds:        []tracing.EventKind{tracing.KindActorFailed, tracing.KindDataFlow},
		Sampling:             tracing.SamplingConfig{Strategy: "adaptive", Rate: 0.1, N: 4, MaxRate: 1, LoadThreshold: 0.75, PerTrace: true},
		Filters: tracing.FilterConfig{
			ActorPatterns: []string{"sensor_*"},
			ExcludeActors: []string{"debug_*"},
			EventTypes:    []tracing.EventKind{tracing.KindActorCreated, tracing.KindActorFailed, tracing.KindDataFlow, tracing.KindMessageSent},
		},
		Privacy: tracing.PrivacyConfig{
			CaptureContent: true, DropAttributes: []string{"secret_*"}, AnonymizeActors: true,
			AnonymizeAttributes: []string{"user_*", "ip"}, AnonymizeKey: "file-key",
			Checksums: tracing.ChecksumOnRecord,
		},
		FlowID:                "orders",
		Environment:           "production",
		Tags:                  map[string]string{"region": "eu-west-1", "team": "core"},
		SystemMetricsInterval: 10 * time.Second,
		HealthThreshold:       time.Minute,
	}
	if !reflect.DeepEqual(plain(c), want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
	// The fixture sets every setting to something other than its default,
	// so each key is seen to take effect.
	def := tracing.DefaultConfig()
	for _, st := range settings {
		if reflect.DeepEqual(reflect.ValueOf(st.field(&c)).Elem().Interface(), reflect.ValueOf(st.field(&def)).Elem().Interface()) {
			t.Errorf("full.toml leaves %s at its default", st.key)
		}
	}
}

// tomlDoc writes one key of the tracing file with the given TOML value.
func tomlDoc(key, value string) string {
	table, leaf := key[:strings.LastIndexByte(key, '.')], key[strings.LastIndexByte(key, '.')+1:]
	return "[" + table + "]\n" + leaf + " = " + value + "\n"
}

func TestDecodeConfigEveryKey(t *testing.T) {
	tests := []struct {
		key    string
		value  string
		mutate func(*tracing.TracingConfig)
	}{
		{"tracing.enabled", "false", func(c *tracing.TracingConfig) { c.Enabled = false }},
		{"tracing.server_url", `"ws://127.0.0.1:1"`, func(c *tracing.TracingConfig) { c.ServerURL = "ws://127.0.0.1:1" }},
		{"tracing.server_urls", `["ws://127.0.0.1:2", "ws://127.0.0.1:3"]`, func(c *tracing.TracingConfig) { c.ServerURLs = []string{"ws://127.0.0.1:2", "ws://127.0.0.1:3"} }},
		{"tracing.batch_size", "7", func(c *tracing.TracingConfig) { c.BatchSize = 7 }},
		{"tracing.batch_timeout_ms", "250", func(c *tracing.TracingConfig) { c.BatchTimeout = 250 * time.Millisecond }},
		{"tracing.adaptive_batching", "false", func(c *tracing.TracingConfig) { c.AdaptiveBatching = false }},
		{"tracing.min_batch_size", "16", func(c *tracing.TracingConfig) { c.MinBatchSize = 16 }},
		{"tracing.max_batch_size", "1024", func(c *tracing.TracingConfig) { c.MaxBatchSize = 1024 }},
		{"tracing.degrade_fill", "0.25", func(c *tracing.TracingConfig) { c.DegradeFill = 0.25 }},
		{"tracing.degrade_fill", "1", func(c *tracing.TracingConfig) { c.DegradeFill = 1 }},
		{"tracing.degrade_fill", `"Off"`, func(c *tracing.TracingConfig) { c.DegradeFill = -1 }},
		{"tracing.enable_compression", "true", func(c *tracing.TracingConfig) { c.EnableCompression = true }},
		{"tracing.compression_algorithm", `"gzip"`, func(c *tracing.TracingConfig) { c.CompressionAlgorithm = transport.CompressionGzip }},
		{"tracing.compression_algorithm", `"LZ4"`, func(c *tracing.TracingConfig) { c.CompressionAlgorithm = transport.CompressionLZ4 }},
		{"tracing.compression_algorithm", `"auto"`, func(c *tracing.TracingConfig) { c.CompressionAlgorithm = transport.CompressionAuto }},
		{"tracing.compression_algorithm", `"none"`, func(c *tracing.TracingConfig) { c.CompressionAlgorithm = transport.CompressionNone }},
		{"tracing.protocol", `"v2"`, func(c *tracing.TracingConfig) { c.Protocol = transport.ProtocolV2 }},
		{"tracing.protocol", `"v1"`, func(c *tracing.TracingConfig) { c.Protocol = transport.ProtocolV1 }},
		{"tracing.queue_size", "1024", func(c *tracing.TracingConfig) { c.QueueSize = 1024 }},
		{"tracing.queue_policy", `"block"`, func(c *tracing.TracingConfig) { c.QueuePolicy = batch.Block }},
		{"tracing.critical_kinds", `["StateChanged"]`, func(c *tracing.TracingConfig) { c.CriticalKinds = []tracing.EventKind{tracing.KindStateChanged} }},
		{"tracing.flow_id", `"f"`, func(c *tracing.TracingConfig) { c.FlowID = "f" }},
		{"tracing.environment", `"dev"`, func(c *tracing.TracingConfig) { c.Environment = "dev" }},
		{"tracing.tags", `{ a = "1", b = "2" }`, func(c *tracing.TracingConfig) { c.Tags = map[string]string{"a": "1", "b": "2"} }},
		{"tracing.system_metrics_interval_ms", "1000", func(c *tracing.TracingConfig) { c.SystemMetricsInterval = time.Second }},
		{"tracing.health_threshold_ms", "5000", func(c *tracing.TracingConfig) { c.HealthThreshold = 5 * time.Second }},
		{"tracing.privacy.checksums", `"off"`, func(c *tracing.TracingConfig) { c.Privacy.Checksums = tracing.ChecksumOff }},
		{"tracing.privacy.checksums", `"On_Record"`, func(c *tracing.TracingConfig) { c.Privacy.Checksums = tracing.ChecksumOnRecord }},
		{"tracing.privacy.checksums", `"when_captured"`, func(c *tracing.TracingConfig) { c.Privacy.Checksums = tracing.ChecksumWhenCaptured }},
		{"tracing.retry.max_retries", "2", func(c *tracing.TracingConfig) { c.Retry.MaxRetries = 2 }},
		// The loaders apply the defaults after decoding: 0 becomes
		// 5 then.
		{"tracing.retry.max_retries", "0", func(c *tracing.TracingConfig) { c.Retry.MaxRetries = 0 }},
		{"tracing.retry.max_retries", `"none"`, func(c *tracing.TracingConfig) { c.Retry.MaxRetries = retry.NoRetries }},
		{"tracing.retry.max_retries", `"None"`, func(c *tracing.TracingConfig) { c.Retry.MaxRetries = retry.NoRetries }},
		{"tracing.retry.max_retries", `"unlimited"`, func(c *tracing.TracingConfig) { c.Retry.MaxRetries = -1 }},
		{"tracing.retry.max_retries", "-1", func(c *tracing.TracingConfig) { c.Retry.MaxRetries = -1 }},
		{"tracing.retry.initial_delay_ms", "10", func(c *tracing.TracingConfig) { c.Retry.InitialDelay = 10 * time.Millisecond }},
		{"tracing.retry.max_delay_ms", "100000", func(c *tracing.TracingConfig) { c.Retry.MaxDelay = 100 * time.Second }},
		{"tracing.retry.backoff_multiplier", "3", func(c *tracing.TracingConfig) { c.Retry.BackoffMultiplier = 3 }},
		{"tracing.filters.actor_patterns", `["a*"]`, func(c *tracing.TracingConfig) { c.Filters.ActorPatterns = []string{"a*"} }},
		{"tracing.filters.exclude_actors", `["b*", "c"]`, func(c *tracing.TracingConfig) { c.Filters.ExcludeActors = []string{"b*", "c"} }},
		{"tracing.filters.event_types", `["Custom"]`, func(c *tracing.TracingConfig) { c.Filters.EventTypes = []tracing.EventKind{tracing.KindCustom} }},
		{"tracing.sampling.strategy", `"percentage"`, func(c *tracing.TracingConfig) { c.Sampling.Strategy = "percentage" }},
		{"tracing.sampling.rate", "0.5", func(c *tracing.TracingConfig) { c.Sampling.Rate = 0.5 }},
		{"tracing.sampling.rate", "1", func(c *tracing.TracingConfig) { c.Sampling.Rate = 1 }},
		{"tracing.sampling.n", "3", func(c *tracing.TracingConfig) { c.Sampling.N = 3 }},
		{"tracing.sampling.max_rate", "0.9", func(c *tracing.TracingConfig) { c.Sampling.MaxRate = 0.9 }},
		{"tracing.sampling.load_threshold", "0.7", func(c *tracing.TracingConfig) { c.Sampling.LoadThreshold = 0.7 }},
		{"tracing.sampling.per_trace", "true", func(c *tracing.TracingConfig) { c.Sampling.PerTrace = true }},
		{"tracing.privacy.capture_content", "true", func(c *tracing.TracingConfig) { c.Privacy.CaptureContent = true }},
		{"tracing.privacy.drop_attributes", `["x_*"]`, func(c *tracing.TracingConfig) { c.Privacy.DropAttributes = []string{"x_*"} }},
		{"tracing.privacy.anonymize_actors", "true", func(c *tracing.TracingConfig) { c.Privacy.AnonymizeActors = true }},
		{"tracing.privacy.anonymize_attributes", `["u"]`, func(c *tracing.TracingConfig) { c.Privacy.AnonymizeAttributes = []string{"u"} }},
		{"tracing.privacy.anonymize_key", `"k"`, func(c *tracing.TracingConfig) { c.Privacy.AnonymizeKey = "k" }},
	}
	tested := map[string]bool{}
	for _, tt := range tests {
		tested[tt.key] = true
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			got, _, err := decodeConfig(tracing.DefaultConfig(), "t.toml", tomlDoc(tt.key, tt.value))
			if err != nil {
				t.Fatal(err)
			}
			want := tracing.DefaultConfig()
			tt.mutate(&want)
			if !reflect.DeepEqual(plain(got), want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
	for _, st := range settings {
		if !tested[st.key] {
			t.Errorf("%s has no case", st.key)
		}
	}
}

func TestDecodeConfigRejectsMalformedValues(t *testing.T) {
	tests := []struct {
		key, value, want string
	}{
		{"tracing.enabled", `"yes"`, `tracing.enabled = "yes": want a boolean`},
		{"tracing.server_url", "8080", "tracing.server_url = 8080: want a string"},
		{"tracing.server_urls", `"ws://127.0.0.1:2"`, `tracing.server_urls = "ws://127.0.0.1:2": want an array of strings`},
		{"tracing.batch_size", `"abc"`, `tracing.batch_size = "abc": want an integer`},
		{"tracing.batch_size", "1.5", "tracing.batch_size = 1.5: want an integer"},
		{"tracing.batch_timeout_ms", `"1s"`, `tracing.batch_timeout_ms = "1s": want an integer number of milliseconds`},
		{"tracing.batch_timeout_ms", "9223372036854775807", "tracing.batch_timeout_ms = 9223372036854775807: want at most 9223372036854 milliseconds"},
		{"tracing.enable_compression", "1", "tracing.enable_compression = 1: want a boolean"},
		{"tracing.adaptive_batching", `"on"`, `tracing.adaptive_batching = "on": want a boolean`},
		{"tracing.min_batch_size", "0.5", "tracing.min_batch_size = 0.5: want an integer"},
		{"tracing.max_batch_size", `"4k"`, `tracing.max_batch_size = "4k": want an integer`},
		{"tracing.degrade_fill", `"half"`, `tracing.degrade_fill = "half": want a fraction in (0, 1] or "off"`},
		{"tracing.compression_algorithm", `"snappy"`, `tracing.compression_algorithm = "snappy": want a compression algorithm ("zstd", "lz4", "gzip", "brotli", "auto" or "none")`},
		{"tracing.compression_algorithm", "true", `tracing.compression_algorithm = true: want a compression algorithm`},
		{"tracing.protocol", `"v3"`, `tracing.protocol = "v3": want a protocol ("auto", "v1" or "v2")`},
		{"tracing.protocol", "2", `tracing.protocol = 2: want a protocol`},
		{"tracing.queue_size", "true", "tracing.queue_size = true: want an integer"},
		{"tracing.queue_policy", `"wait"`, `tracing.queue_policy = "wait": want a queue policy`},
		{"tracing.queue_policy", "1", `tracing.queue_policy = 1: want a queue policy`},
		{"tracing.critical_kinds", `"ActorFailed"`, `tracing.critical_kinds = "ActorFailed": want an array of strings`},
		{"tracing.critical_kinds", `["Crash"]`, `tracing.critical_kinds = ["Crash"]: unknown event kind "Crash"`},
		{"tracing.flow_id", "[1]", "tracing.flow_id = [1]: want a string"},
		{"tracing.environment", "false", "tracing.environment = false: want a string"},
		{"tracing.tags", `{ a = 1 }`, `tracing.tags = {a = 1}: tag "a": want a string`},
		{"tracing.system_metrics_interval_ms", "1.0", "tracing.system_metrics_interval_ms = 1.0: want an integer number of milliseconds"},
		{"tracing.health_threshold_ms", `"30s"`, `tracing.health_threshold_ms = "30s": want an integer number of milliseconds`},
		{"tracing.privacy.checksums", `"always"`, `tracing.privacy.checksums = "always": want a checksum mode ("when_captured", "off" or "on_record")`},
		{"tracing.privacy.checksums", "false", `tracing.privacy.checksums = false: want a checksum mode`},
		{"tracing.retry.max_retries", `"3"`, `tracing.retry.max_retries = "3": want an integer`},
		{"tracing.retry.initial_delay_ms", "0.5", "tracing.retry.initial_delay_ms = 0.5: want an integer number of milliseconds"},
		{"tracing.retry.max_delay_ms", "1979-05-27", "tracing.retry.max_delay_ms = 1979-05-27: want an integer number of milliseconds"},
		{"tracing.retry.max_delay_ms", "07:32:00", "tracing.retry.max_delay_ms = 07:32:00: want an integer number of milliseconds"},
		{"tracing.retry.max_delay_ms", "1979-05-27T07:32:00", "tracing.retry.max_delay_ms = 1979-05-27T07:32:00: want an integer"},
		{"tracing.retry.max_delay_ms", "1979-05-27T07:32:00Z", "tracing.retry.max_delay_ms = 1979-05-27T07:32:00Z: want an integer"},
		{"tracing.retry.backoff_multiplier", `"2x"`, `tracing.retry.backoff_multiplier = "2x": want a number`},
		{"tracing.retry.backoff_multiplier", "nan", `tracing.retry.backoff_multiplier = nan: want a finite number`},
		{"tracing.sampling.max_rate", "inf", `tracing.sampling.max_rate = inf: want a finite number`},
		{"tracing.degrade_fill", "-inf", `tracing.degrade_fill = -inf: want a fraction in (0, 1] or "off"`},
		{"tracing.filters.actor_patterns", `"sensor_*"`, `tracing.filters.actor_patterns = "sensor_*": want an array of strings`},
		{"tracing.filters.exclude_actors", `["a", 1]`, `tracing.filters.exclude_actors = ["a", 1]: want an array of strings`},
		{"tracing.filters.event_types", `["ActorCreated", "Crash"]`, `tracing.filters.event_types = ["ActorCreated", "Crash"]: unknown event kind "Crash"`},
		{"tracing.sampling.strategy", "1", "tracing.sampling.strategy = 1: want a string"},
		{"tracing.sampling.rate", `"10%"`, `tracing.sampling.rate = "10%": want a number`},
		{"tracing.sampling.n", "-1", "tracing.sampling.n = -1: want a non-negative integer"},
		{"tracing.sampling.max_rate", "true", "tracing.sampling.max_rate = true: want a number"},
		{"tracing.sampling.load_threshold", `"high"`, `tracing.sampling.load_threshold = "high": want a number`},
		{"tracing.sampling.per_trace", `"true"`, `tracing.sampling.per_trace = "true": want a boolean`},
		{"tracing.privacy.capture_content", "0", "tracing.privacy.capture_content = 0: want a boolean"},
		{"tracing.privacy.drop_attributes", `"x"`, `tracing.privacy.drop_attributes = "x": want an array of strings`},
		{"tracing.privacy.anonymize_actors", `"on"`, `tracing.privacy.anonymize_actors = "on": want a boolean`},
		{"tracing.privacy.anonymize_attributes", "[[1]]", "tracing.privacy.anonymize_attributes = [[1]]: want an array of strings"},
		{"tracing.privacy.anonymize_key", "12345", "tracing.privacy.anonymize_key = <redacted>: want a string"},
	}
	tested := map[string]bool{}
	for _, tt := range tests {
		tested[tt.key] = true
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			_, _, err := decodeConfig(tracing.DefaultConfig(), "t.toml", tomlDoc(tt.key, tt.value))
			if !errors.Is(err, tracing.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
			// tomlDoc writes the key on line 2.
			if want := "tracing: invalid config: t.toml:2: " + tt.want; !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %q\nwant it to contain %q", err, want)
			}
		})
	}
	for _, st := range settings {
		if !tested[st.key] {
			t.Errorf("%s has no malformed case", st.key)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		invalid bool     // wraps ErrInvalidConfig
		want    []string // in the message
	}{
		{"unknown keys", "typo.toml", true, []string{
			"typo.toml:3: unknown key tracing.batch_sise: did you mean tracing.batch_size?",
			"typo.toml:6: unknown key tracing.filter.actor_patterns: did you mean tracing.filters.actor_patterns?",
			"typo.toml:9: unknown key tracing.retry.max_retry: did you mean tracing.retry.max_retries?",
		}},
		{"bad values", "bad_values.toml", true, []string{
			`tracing.batch_size = "abc": want an integer`, `tracing.enable_compression = "yes": want a boolean`,
			`tracing.retry.initial_delay_ms = 0.5`, `unknown event kind "Crash"`,
			`tracing.compression_algorithm = "lz4-frame": want a compression algorithm`, `tracing.protocol = "v3": want a protocol`,
		}},
		{"syntax", "syntax_error.toml", true, []string{"syntax_error.toml:2: not valid TOML"}},
		{"missing file", "no_such.toml", false, []string{"config: load: ", "no_such.toml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(configFixture(tt.file))
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, tracing.ErrInvalidConfig) != tt.invalid {
				t.Fatalf("errors.Is(%v, ErrInvalidConfig) = %v", err, !tt.invalid)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q\nwant it to contain %q", err, w)
				}
			}
			if !reflect.DeepEqual(c, tracing.TracingConfig{}) {
				t.Fatalf("config = %+v, want the zero config on error", c)
			}
		})
	}
	if _, err := Load(configFixture("no_such.toml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist", err)
	}
}

func TestDecodeConfigLayout(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // error substring; "" for success
	}{
		{"empty tracing table", "[tracing]\n", ""},
		{"no tracing table", "[server]\nport = 1\n", "no [tracing] table"},
		{"empty document", "", "no [tracing] table"},
		{"misspelt table", "[tracng]\nenabled = true\n", "no [tracing] table"},
		{"unknown section", "[tracing.queue]\nsize = 1\n", "t.toml:2: unknown key tracing.queue.size"},
		{"empty unknown section", "[tracing.retrys]\n", "t.toml:1: unknown key tracing.retrys: did you mean tracing.retry?"},
		{"key in another case", "[tracing]\nBatch_Size = 1\n", "t.toml:2: unknown key tracing.Batch_Size: did you mean tracing.batch_size?"},
		{"misspelt table named", "[tracng]\nenabled = true\n", "no [tracing] table (is [tracng] a misspelling?)"},
		{"array of tables", "[[tracing.retry]]\nmax_retries = 1\n", "t.toml:1: tracing.retry = [{max_retries = 1}]: want a table ([tracing.retry])"},
		{"tracing not a table", "tracing = 1\n", "t.toml:1: tracing = 1: want a table ([tracing])"},
		{"other tables ignored", "[app]\nx = 1\n[tracing]\nbatch_size = 8\n", ""},
		{"dotted keys", "[tracing]\nretry.max_retries = 9\n", ""},
		{"section of the wrong type", "[tracing]\nretry = 5\n", "t.toml:2: tracing.retry = 5: want a table ([tracing.retry])"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decodeConfig(tracing.DefaultConfig(), "t.toml", tt.doc)
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadInLargerFile(t *testing.T) {
	c, err := Load(configFixture("embedded.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ServerURL != "ws://127.0.0.1:9100" || c.BatchSize != 25 {
		t.Fatalf("got %+v", c)
	}
}

func TestLoadValidates(t *testing.T) {
	// Well-formed values that Validate rejects.
	_, _, err := decodeConfig(tracing.DefaultConfig(), "t.toml", "[tracing.sampling]\nstrategy = \"every_nth\"\n")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "tracing.toml")
	writeConfigFile(t, path, "[tracing.sampling]\nstrategy = \"every_nth\"\n")
	want := `tracing: invalid config: tracing.sampling.n = 0: must be at least 1 with tracing.sampling.strategy "every_nth"`
	if _, err := Load(path); !errors.Is(err, tracing.ErrInvalidConfig) || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

// Precedence: file < environment < code.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tracing.toml")
	writeConfigFile(t, path, `[tracing]
server_url = "ws://127.0.0.1:1111"
batch_size = 10
environment = "file"
[tracing.filters]
actor_patterns = ["file_*"]
`)
	t.Setenv(envPrefix+"BATCH_SIZE", "20")
	t.Setenv(envPrefix+"ENVIRONMENT", "env")

	tests := []struct {
		name string
		load func() (tracing.TracingConfig, error)
	}{
		{"LoadWithEnv", func() (tracing.TracingConfig, error) { return LoadWithEnv(path) }},
		{"Load then ApplyEnv", func() (tracing.TracingConfig, error) {
			c, err := Load(path)
			if err != nil {
				return c, err
			}
			return ApplyEnv(c)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.load()
			if err != nil {
				t.Fatal(err)
			}
			if c.ServerURL != "ws://127.0.0.1:1111" || !reflect.DeepEqual(c.Filters.ActorPatterns, []string{"file_*"}) {
				t.Errorf("file settings lost: %+v", c)
			}
			if c.BatchSize != 20 || c.Environment != "env" {
				t.Errorf("environment does not win over the file: batch %d, environment %q", c.BatchSize, c.Environment)
			}
			c.BatchSize = 100 // code wins
			if err := c.Validate(); err != nil || c.BatchSize != 100 {
				t.Errorf("code override: %v", err)
			}
		})
	}
}

func TestLoadWithEnvErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tracing.toml")
	writeConfigFile(t, path, "[tracing]\nbatch_size = 10\n")
	t.Setenv(envPrefix+"QUEUE_SIZE", "lots")
	if _, err := LoadWithEnv(path); err == nil || !strings.Contains(err.Error(), `REFLOW_TRACING_QUEUE_SIZE="lots"`) {
		t.Fatalf("err = %v", err)
	}
	if _, err := LoadWithEnv(filepath.Join(dir, "missing.toml")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	// An environment variable can fix what the file alone gets wrong:
	// validation runs once, on the result.
	writeConfigFile(t, path, "[tracing.sampling]\nstrategy = \"every_nth\"\n")
	t.Setenv(envPrefix+"QUEUE_SIZE", "")
	t.Setenv(envPrefix+"SAMPLING_N", "5")
	c, err := LoadWithEnv(path)
	if err != nil || c.Sampling.N != 5 {
		t.Fatalf("c.Sampling = %+v, err = %v", c.Sampling, err)
	}
}

// plain returns c without what the loaders recorded in it, to compare it
// with a config built in code.
func plain(c tracing.TracingConfig) tracing.TracingConfig {
	c.Source = nil
	return c
}

func writeConfigFile(t *testing.T, path, doc string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLoadReportsEveryProblemTogether checks that one error lists
// every problem of a file, each with the file, line, key, value and what
// is wanted: decoding problems and what Validate rejects alike.
func TestLoadReportsEveryProblemTogether(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracing.toml")
	writeConfigFile(t, path, `[tracing]
batch_size = 100
queue_size = 10
enable_compresion = true
server_url = "http://user:hunter2@example.invalid:1"

[tracing.retry]
initial_delay_ms = "1s"
max_delay_ms = 500
backoff_multiplier = 0.5

[tracing.sampling]
rate = 1.5
`)
	_, err := Load(path)
	if !errors.Is(err, tracing.ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrInvalidConfig", err)
	}
	p := "tracing: invalid config: " + path
	want := []string{
		// Decoding, in line order.
		p + ":4: unknown key tracing.enable_compresion: did you mean tracing.enable_compression?",
		p + `:8: tracing.retry.initial_delay_ms = "1s": want an integer number of milliseconds`,
		// Validation, in field order.
		p + `:5: tracing.server_url = "http://user:xxxxx@example.invalid:1": want ws://host:port or wss://host:port`,
		p + ":3: tracing.queue_size = 10: must be at least tracing.batch_size (100)",
		p + ":9: tracing.retry.max_delay_ms = 500: must be at least tracing.retry.initial_delay_ms (1s)",
		p + ":10: tracing.retry.backoff_multiplier = 0.5: must be a finite number >= 1",
		p + ":13: tracing.sampling.rate = 1.5: must be within [0, 1]",
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Fatalf("err =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The environment's problems join the file's.
	t.Setenv(envPrefix+"BATCH_TIMEOUT_MS", "soon")
	_, err = LoadWithEnv(path)
	if err == nil || !strings.Contains(err.Error(), want[0]) || !strings.Contains(err.Error(), want[6]) ||
		!strings.Contains(err.Error(), `REFLOW_TRACING_BATCH_TIMEOUT_MS="soon": want an integer number of milliseconds`) {
		t.Fatalf("LoadWithEnv: %v", err)
	}
}

// TestValidateNamesFieldsByOrigin checks how Validate names a field of a
// loaded config: by file, line and key while it holds what the file set,
// by its Go path once code changed it, and by its key, without location,
// while it holds its default.
func TestValidateNamesFieldsByOrigin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracing.toml")
	writeConfigFile(t, path, "[tracing]\nbatch_size = 100\nqueue_size = 200\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(*tracing.TracingConfig)
		want   string
	}{
		{"file value, ref changed in code", func(c *tracing.TracingConfig) { c.BatchSize = 300 }, path + ":3: tracing.queue_size = 200: must be at least BatchSize (300)"},
		{"changed in code", func(c *tracing.TracingConfig) { c.QueueSize = 50 }, "QueueSize = 50: must be at least tracing.batch_size (100)"},
		{"default", func(c *tracing.TracingConfig) { c.Sampling.Strategy = "every_nth" }, `tracing.sampling.n = 0: must be at least 1 with Sampling.Strategy "every_nth"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := c
			tt.mutate(&c)
			if err := c.Validate(); err == nil || err.Error() != "tracing: invalid config: "+tt.want {
				t.Fatalf("Validate() = %v\nwant tracing: invalid config: %s", err, tt.want)
			}
		})
	}
}

// TestQueueSizeNamedAsWritten checks that a queue too large for its
// memory limit is reported by the file key or the variable that set it.
func TestQueueSizeNamedAsWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracing.toml")
	writeConfigFile(t, path, "[tracing]\nbatch_size = 10\nqueue_size = 1073741824\n")
	_, err := Load(path)
	if want := path + ":3: tracing.queue_size = 1073741824: the queue would take 716.6 GiB of event slots, more than the limit of 1.0 GiB"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Load: %v\nwant it to contain %q", err, want)
	}
	t.Setenv(envPrefix+"QUEUE_SIZE", "1073741824")
	_, err = FromEnv()
	if want := `REFLOW_TRACING_QUEUE_SIZE="1073741824": the queue would take 716.6 GiB`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("FromEnv: %v\nwant it to contain %q", err, want)
	}
}

func TestAnonymizeKeyNeverInFileErrors(t *testing.T) {
	const key = "file-key-that-must-not-leak"
	_, _, err := decodeConfig(tracing.DefaultConfig(), "x.toml", "[tracing.privacy]\nanonymize_key = [\""+key+"\"]\n")
	if err == nil {
		t.Fatal("decodeConfig accepted an array key")
	}
	if strings.Contains(err.Error(), key) {
		t.Fatalf("key in error: %v", err)
	}
}
