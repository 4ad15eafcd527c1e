package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// envList returns env as os.Environ would.
func envList(env map[string]string) []string {
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	return list
}

// envCases sets every variable to a valid value; each case says how the
// default config changes.
var envCases = []struct {
	name   string
	value  string
	mutate func(*tracing.TracingConfig)
}{
	{"ENABLED", "false", func(c *tracing.TracingConfig) { c.Enabled = false }},
	{"ENABLED", "OFF", func(c *tracing.TracingConfig) { c.Enabled = false }},
	{"ENABLED", "1", func(c *tracing.TracingConfig) {}},
	{"SERVER_URL", "wss://tracing.example:8443", func(c *tracing.TracingConfig) { c.ServerURL = "wss://tracing.example:8443" }},
	{"SERVER_URLS", "wss://a.example:8443,wss://b.example:8443", func(c *tracing.TracingConfig) {
		c.ServerURLs = []string{"wss://a.example:8443", "wss://b.example:8443"}
	}},
	{"BATCH_SIZE", " 100 ", func(c *tracing.TracingConfig) { c.BatchSize = 100 }},
	{"BATCH_TIMEOUT_MS", "2000", func(c *tracing.TracingConfig) { c.BatchTimeout = 2 * time.Second }},
	{"ADAPTIVE_BATCHING", "off", func(c *tracing.TracingConfig) { c.AdaptiveBatching = false }},
	{"MIN_BATCH_SIZE", "8", func(c *tracing.TracingConfig) { c.MinBatchSize = 8 }},
	{"MAX_BATCH_SIZE", "8192", func(c *tracing.TracingConfig) { c.MaxBatchSize = 8192 }},
	{"DEGRADE_FILL", "0.9", func(c *tracing.TracingConfig) { c.DegradeFill = 0.9 }},
	{"DEGRADE_FILL", " OFF ", func(c *tracing.TracingConfig) { c.DegradeFill = -1 }},
	{"COMPRESSION", "true", func(c *tracing.TracingConfig) { c.EnableCompression = true }},
	{"COMPRESSION", "yes", func(c *tracing.TracingConfig) { c.EnableCompression = true }},
	{"MAX_RETRIES", "7", func(c *tracing.TracingConfig) { c.Retry.MaxRetries = 7 }},
	{"MAX_RETRIES", "-1", func(c *tracing.TracingConfig) { c.Retry.MaxRetries = -1 }},
	// ApplyEnv applies the defaults after the variables: 0 becomes
	// 5 then.
	{"MAX_RETRIES", "0", func(c *tracing.TracingConfig) { c.Retry.MaxRetries = 0 }},
	{"MAX_RETRIES", "none", func(c *tracing.TracingConfig) { c.Retry.MaxRetries = retry.NoRetries }},
	{"MAX_RETRIES", " None ", func(c *tracing.TracingConfig) { c.Retry.MaxRetries = retry.NoRetries }},
	{"MAX_RETRIES", "unlimited", func(c *tracing.TracingConfig) { c.Retry.MaxRetries = -1 }},
	{"INITIAL_DELAY_MS", "250", func(c *tracing.TracingConfig) { c.Retry.InitialDelay = 250 * time.Millisecond }},
	{"MAX_DELAY_MS", "60000", func(c *tracing.TracingConfig) { c.Retry.MaxDelay = time.Minute }},
	{"BACKOFF_MULTIPLIER", "1.5", func(c *tracing.TracingConfig) { c.Retry.BackoffMultiplier = 1.5 }},
	{"COMPRESSION_ALGORITHM", "lz4", func(c *tracing.TracingConfig) { c.CompressionAlgorithm = transport.CompressionLZ4 }},
	{"COMPRESSION_ALGORITHM", " Brotli ", func(c *tracing.TracingConfig) { c.CompressionAlgorithm = transport.CompressionBrotli }},
	{"COMPRESSION_ALGORITHM", "gzip", func(c *tracing.TracingConfig) { c.CompressionAlgorithm = transport.CompressionGzip }},
	{"COMPRESSION_ALGORITHM", "auto", func(c *tracing.TracingConfig) { c.CompressionAlgorithm = transport.CompressionAuto }},
	{"COMPRESSION_ALGORITHM", "off", func(c *tracing.TracingConfig) { c.CompressionAlgorithm = transport.CompressionNone }},
	{"COMPRESSION_ALGORITHM", "zstd", func(c *tracing.TracingConfig) { c.CompressionAlgorithm = transport.CompressionZstd }},
	{"PROTOCOL", "v2", func(c *tracing.TracingConfig) { c.Protocol = transport.ProtocolV2 }},
	{"PROTOCOL", "V1", func(c *tracing.TracingConfig) { c.Protocol = transport.ProtocolV1 }},
	{"PROTOCOL", "auto", func(c *tracing.TracingConfig) { c.Protocol = transport.ProtocolAuto }},
	{"QUEUE_SIZE", "65536", func(c *tracing.TracingConfig) { c.QueueSize = 65536 }},
	{"QUEUE_POLICY", "block", func(c *tracing.TracingConfig) { c.QueuePolicy = batch.Block }},
	{"QUEUE_POLICY", "Drop", func(c *tracing.TracingConfig) { c.QueuePolicy = batch.DropNewest }},
	{"QUEUE_POLICY", "drop_newest", func(c *tracing.TracingConfig) { c.QueuePolicy = batch.DropNewest }}, // Policy.String's name
	{"CRITICAL_KINDS", "ActorFailed, DataFlow", func(c *tracing.TracingConfig) {
		c.CriticalKinds = []tracing.EventKind{tracing.KindActorFailed, tracing.KindDataFlow}
	}},
	{"FLOW_ID", "orders", func(c *tracing.TracingConfig) { c.FlowID = "orders" }},
	{"ENVIRONMENT", "staging", func(c *tracing.TracingConfig) { c.Environment = "staging" }},
	{"TAGS", "region=eu, team = core ,empty=", func(c *tracing.TracingConfig) {
		c.Tags = map[string]string{"region": "eu", "team": "core", "empty": ""}
	}},
	{"SYSTEM_METRICS_INTERVAL_MS", "5000", func(c *tracing.TracingConfig) { c.SystemMetricsInterval = 5 * time.Second }},
	{"HEALTH_THRESHOLD_MS", "10000", func(c *tracing.TracingConfig) { c.HealthThreshold = 10 * time.Second }},
	{"ACTOR_PATTERNS", "sensor_*,processor_*", func(c *tracing.TracingConfig) { c.Filters.ActorPatterns = []string{"sensor_*", "processor_*"} }},
	{"EXCLUDE_ACTORS", " debug_* , ,test_*", func(c *tracing.TracingConfig) { c.Filters.ExcludeActors = []string{"debug_*", "test_*"} }},
	{"EVENT_TYPES", "ActorCreated,DataFlow,ActorFailed", func(c *tracing.TracingConfig) {
		c.Filters.EventTypes = []tracing.EventKind{tracing.KindActorCreated, tracing.KindDataFlow, tracing.KindActorFailed}
	}},
	{"SAMPLING_STRATEGY", "always", func(c *tracing.TracingConfig) { c.Sampling.Strategy = "always" }},
	{"SAMPLING_RATE", "0.25", func(c *tracing.TracingConfig) { c.Sampling.Rate = 0.25 }},
	{"SAMPLING_N", "10", func(c *tracing.TracingConfig) { c.Sampling.N = 10 }},
	{"SAMPLING_MAX_RATE", "1", func(c *tracing.TracingConfig) { c.Sampling.MaxRate = 1 }},
	{"SAMPLING_LOAD_THRESHOLD", "0.8", func(c *tracing.TracingConfig) { c.Sampling.LoadThreshold = 0.8 }},
	{"SAMPLING_PER_TRACE", "true", func(c *tracing.TracingConfig) { c.Sampling.PerTrace = true }},
	{"CAPTURE_CONTENT", "true", func(c *tracing.TracingConfig) { c.Privacy.CaptureContent = true }},
	{"DROP_ATTRIBUTES", "secret_*,token", func(c *tracing.TracingConfig) { c.Privacy.DropAttributes = []string{"secret_*", "token"} }},
	{"ANONYMIZE_ACTORS", "true", func(c *tracing.TracingConfig) { c.Privacy.AnonymizeActors = true }},
	{"ANONYMIZE_ATTRIBUTES", "user_*", func(c *tracing.TracingConfig) { c.Privacy.AnonymizeAttributes = []string{"user_*"} }},
	{"ANONYMIZE_KEY", "s3cret", func(c *tracing.TracingConfig) { c.Privacy.AnonymizeKey = "s3cret" }},
	{"CHECKSUMS", "off", func(c *tracing.TracingConfig) { c.Privacy.Checksums = tracing.ChecksumOff }},
	{"CHECKSUMS", " ON_RECORD ", func(c *tracing.TracingConfig) { c.Privacy.Checksums = tracing.ChecksumOnRecord }},
	{"CHECKSUMS", "when_captured", func(c *tracing.TracingConfig) { c.Privacy.Checksums = tracing.ChecksumWhenCaptured }},
}

func TestApplyEnvEveryVariable(t *testing.T) {
	for _, tt := range envCases {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			got, err := applyEnv(tracing.DefaultConfig(), envList(map[string]string{envPrefix + tt.name: tt.value}))
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
}

// TestEveryVariableIsTestedAndDocumented checks that every setting has
// a case in envCases and a line in the package documentation's table of
// variables and in its sample file.
func TestEveryVariableIsTestedAndDocumented(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, c := range envCases {
		tested[envPrefix+c.name] = true
	}
	for _, st := range settings {
		if !tested[st.env] {
			t.Errorf("%s has no case in envCases", st.env)
		}
		if !strings.Contains(string(src), "//\t"+st.env+" ") {
			t.Errorf("%s is missing from the package documentation's table", st.env)
		}
		line := "//\t" + st.key[strings.LastIndexByte(st.key, '.')+1:] + " = "
		if st.kind == kindTags {
			line = "//\t[" + st.key + "]"
		}
		if !strings.Contains(string(src), line) {
			t.Errorf("%s is missing from the package documentation's file", st.key)
		}
	}
}

func TestApplyEnvRejectsMalformedValues(t *testing.T) {
	tests := []struct {
		name, value, why string
	}{
		{"ENABLED", "maybe", "want a boolean (true/false, 1/0, yes/no or on/off)"},
		{"BATCH_SIZE", "abc", "want an integer"},
		{"BATCH_SIZE", "1.5", "want an integer"},
		{"BATCH_SIZE", "99999999999999999999", "want an integer"},
		{"BATCH_TIMEOUT_MS", "1s", "want an integer number of milliseconds"},
		{"ADAPTIVE_BATCHING", "adaptive", "want a boolean"},
		{"MIN_BATCH_SIZE", "small", "want an integer"},
		{"MAX_BATCH_SIZE", "1e3", "want an integer"},
		{"DEGRADE_FILL", "50%", `want a fraction in (0, 1] or "off"`},
		{"BATCH_TIMEOUT_MS", "9223372036854775", "want at most 9223372036854 milliseconds"},
		{"COMPRESSION", "lz4", "want a boolean"},
		{"MAX_RETRIES", "many", `want an integer, "none" or "unlimited"`},
		{"INITIAL_DELAY_MS", "0.5", "want an integer number of milliseconds"},
		{"MAX_DELAY_MS", "soon", "want an integer number of milliseconds"},
		{"BACKOFF_MULTIPLIER", "double", "want a number"},
		{"BACKOFF_MULTIPLIER", "NaN", "want a finite number"},
		{"BACKOFF_MULTIPLIER", "+Inf", "want a finite number"},
		{"DEGRADE_FILL", "nan", `want a fraction in (0, 1] or "off"`},
		{"SAMPLING_RATE", "Inf", "want a finite number"},
		{"COMPRESSION_ALGORITHM", "snappy", `want a compression algorithm ("zstd", "lz4", "gzip", "brotli", "auto" or "none")`},
		{"COMPRESSION_ALGORITHM", "true", "want a compression algorithm"},
		{"PROTOCOL", "v3", `want a protocol ("auto", "v1" or "v2")`},
		{"QUEUE_SIZE", "big", "want an integer"},
		{"QUEUE_POLICY", "wait", "want a queue policy"},
		{"CRITICAL_KINDS", "ActorFailed,Crash", `unknown event kind "Crash"`},
		{"TAGS", "region", `tag "region": want key=value`},
		{"TAGS", "=eu", `tag "=eu": want key=value`},
		{"SYSTEM_METRICS_INTERVAL_MS", "often", "want an integer number of milliseconds"},
		{"HEALTH_THRESHOLD_MS", "-", "want an integer number of milliseconds"},
		{"EVENT_TYPES", "actorcreated", `unknown event kind "actorcreated"`},
		{"SAMPLING_RATE", "ten percent", "want a number"},
		{"SAMPLING_N", "-3", "want a non-negative integer"},
		{"SAMPLING_MAX_RATE", "max", "want a number"},
		{"SAMPLING_LOAD_THRESHOLD", "high", "want a number"},
		{"SAMPLING_PER_TRACE", "sometimes", "want a boolean"},
		{"CAPTURE_CONTENT", "all", "want a boolean"},
		{"ANONYMIZE_ACTORS", "2", "want a boolean"},
		{"CHECKSUMS", "on", `want a checksum mode ("when_captured", "off" or "on_record")`},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			name := envPrefix + tt.name
			_, err := applyEnv(tracing.DefaultConfig(), envList(map[string]string{name: tt.value}))
			if !errors.Is(err, tracing.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
			want := name + "=" + `"` + tt.value + `": ` + tt.why
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %q, want it to contain %q", err, want)
			}
			if !strings.HasPrefix(err.Error(), "tracing: invalid config: ") {
				t.Fatalf("err = %q, want it to start as ErrInvalidConfig does", err)
			}
		})
	}
}

func TestApplyEnvReportsEveryBadVariable(t *testing.T) {
	_, err := applyEnv(tracing.DefaultConfig(), envList(map[string]string{
		envPrefix + "BATCH_SIZE": "abc", envPrefix + "ENABLED": "perhaps", envPrefix + "QUEUE_SIZE": "12",
	}))
	for _, name := range []string{"REFLOW_TRACING_BATCH_SIZE", "REFLOW_TRACING_ENABLED"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("err = %v, want it to name %s", err, name)
		}
	}
}

func TestApplyEnvIgnoresUnsetAndEmpty(t *testing.T) {
	got, err := applyEnv(tracing.DefaultConfig(), envList(map[string]string{
		envPrefix + "BATCH_SIZE": "", envPrefix + "ACTOR_PATTERNS": "", "REFLOW_TRACING_BATCHSIZE": "1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plain(got), tracing.DefaultConfig()) {
		t.Fatalf("config changed: %+v", got)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(envPrefix+"SERVER_URL", "ws://127.0.0.1:9000")
	t.Setenv(envPrefix+"BATCH_SIZE", "64")
	t.Setenv(envPrefix+"SAMPLING_STRATEGY", "percentage")
	t.Setenv(envPrefix+"SAMPLING_RATE", "0.5")
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := tracing.DefaultConfig()
	want.ServerURL = "ws://127.0.0.1:9000"
	want.BatchSize = 64
	want.Sampling = tracing.SamplingConfig{Strategy: "percentage", Rate: 0.5}
	if !reflect.DeepEqual(plain(c), want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
}

func TestFromEnvErrors(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"BATCH_SIZE", "abc", `tracing: invalid config: REFLOW_TRACING_BATCH_SIZE="abc": want an integer`},
		// Well-formed but invalid values are caught by Validate, which
		// names the variable.
		{"SAMPLING_RATE", "1.5", `tracing: invalid config: REFLOW_TRACING_SAMPLING_RATE="1.5": must be within [0, 1]`},
		{"SERVER_URL", "http://x:1", `tracing: invalid config: REFLOW_TRACING_SERVER_URL="http://x:1": want ws://host:port`},
		{"SERVER_URLS", "ws://x:1,http://y:2", `tracing: invalid config: REFLOW_TRACING_SERVER_URLS[1]="http://y:2": want ws://`},
		{"ACTOR_PATTERNS", "[", `tracing: invalid config: REFLOW_TRACING_ACTOR_PATTERNS[0]="[": malformed pattern`},
		{"QUEUE_SIZE", "1073741824", `tracing: invalid config: REFLOW_TRACING_QUEUE_SIZE="1073741824": the queue would take`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envPrefix+tt.name, tt.value)
			c, err := FromEnv()
			if !errors.Is(err, tracing.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !reflect.DeepEqual(c, tracing.TracingConfig{}) {
				t.Fatalf("config = %+v, want the zero config on error", c)
			}
		})
	}
}

func TestApplyEnvLayersOverBase(t *testing.T) {
	base := tracing.DefaultConfig()
	base.BatchSize = 10
	base.Environment = "from-file"
	base.Filters.ActorPatterns = []string{"file_*"}
	t.Setenv(envPrefix+"ENVIRONMENT", "from-env")
	t.Setenv(envPrefix+"ACTOR_PATTERNS", "env_*")
	c, err := ApplyEnv(base)
	if err != nil {
		t.Fatal(err)
	}
	if c.BatchSize != 10 || c.Environment != "from-env" || !reflect.DeepEqual(c.Filters.ActorPatterns, []string{"env_*"}) {
		t.Fatalf("got %+v", c)
	}
}

func TestAnonymizeKeyNeverInEnvErrors(t *testing.T) {
	const key = "env-key-that-must-not-leak"
	t.Setenv(envPrefix+"ANONYMIZE_KEY", key)
	t.Setenv(envPrefix+"ANONYMIZE_ACTORS", "true")
	t.Setenv(envPrefix+"BATCH_SIZE", "-5")
	t.Setenv(envPrefix+"SAMPLING_N", "x")
	_, err := FromEnv()
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), key) {
		t.Fatalf("key in error: %v", err)
	}
}
