package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/reflowtrace/reflowtrace-go/batch"
	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// envPrefix starts the name of every environment variable the loaders
// read.
const envPrefix = "REFLOW_TRACING_"

// FromEnv returns tracing.DefaultConfig with the REFLOW_TRACING_*
// environment variables applied, validated, as ApplyEnv does. Like
// Reflow's TracingConfig::from_env, tracing is enabled unless
// REFLOW_TRACING_ENABLED says otherwise.
func FromEnv() (tracing.TracingConfig, error) { return ApplyEnv(tracing.DefaultConfig()) }

// ApplyEnv returns c with every REFLOW_TRACING_* variable that is set
// (and not empty) applied over it (see the package documentation for the
// list), validated, with its defaults filled in. Use it to layer the
// environment over a file or over a config built in code or by a loader
// of your own (whose TracingConfig.Source keeps naming the fields the
// environment does not set):
//
//	cfg, err := config.Load("tracing.toml") // file over defaults
//	if err != nil { ... }
//	cfg, err = config.ApplyEnv(cfg)         // environment over file
//	if err != nil { ... }
//	cfg.BatchSize = 100                     // code wins
//
// (LoadWithEnv does the first two steps.) Every malformed variable, and
// every problem TracingConfig.Validate finds, is reported in one error
// wrapping tracing.ErrInvalidConfig that names the variables and their
// values (`REFLOW_TRACING_BATCH_SIZE="abc": want an integer`,
// `REFLOW_TRACING_QUEUE_SIZE="5": must be at least
// REFLOW_TRACING_BATCH_SIZE (10)`); the value of
// REFLOW_TRACING_ANONYMIZE_KEY never appears. On error ApplyEnv returns
// the zero TracingConfig. A variable that names no setting is a warning
// (TracingConfig.Warnings, which tracing.New logs) naming the nearest
// known variable.
func ApplyEnv(c tracing.TracingConfig) (tracing.TracingConfig, error) {
	c, err := applyEnv(c, os.Environ())
	if err := errors.Join(err, c.Validate()); err != nil {
		return tracing.TracingConfig{}, err
	}
	return c.WithDefaults(), nil
}

// applyEnv applies the REFLOW_TRACING_* variables of environ (as
// os.Environ returns them) without validating, recording where each
// setting came from and a warning for each variable it does not know. It
// returns c with what it could apply, and the errors of the others.
func applyEnv(c tracing.TracingConfig, environ []string) (tracing.TracingConfig, error) {
	vars := make(map[string]string)
	var unknown []string
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) {
			continue
		}
		vars[name] = value
		if settingByEnv(name) == nil {
			unknown = append(unknown, name)
		}
	}
	loadedEnv(&c)
	sort.Strings(unknown)
	for _, name := range unknown {
		warn(&c, unknownName(name, "environment variable", envNames()))
	}
	var errs []error
	for i := range settings {
		st := &settings[i]
		s, ok := vars[st.env]
		if !ok || s == "" {
			continue
		}
		shown := strconv.Quote(s)
		if st.kind == kindSecret {
			shown = redacted
		}
		v, why := st.parseString(s)
		if why != "" {
			errs = append(errs, fmt.Errorf("%w: %s=%s: %s", tracing.ErrInvalidConfig, st.env, shown, why))
			continue
		}
		st.set(&c, v)
		record(&c, i, origin{shown: shown})
		if m := st.zeroMeans(v); m != "" {
			warn(&c, fmt.Sprintf("%s=%s: means %s", st.env, shown, m))
		}
	}
	return c, errors.Join(errs...)
}

// redacted stands for a secret value in messages.
const redacted = "<redacted>"

// defaultMaxRetries is the retries a max_retries of 0 stands for.
var defaultMaxRetries = tracing.DefaultConfig().Retry.MaxRetries

// zeroMeans says what v, just read for st, stands for when it is a 0
// that a user may mean literally but that TracingConfig takes as "the
// default"; "" for any other value or setting.
func (st *setting) zeroMeans(v any) string {
	def := tracing.DefaultConfig()
	switch {
	case st.kind == kindRetries && v == 0:
		return fmt.Sprintf("the default, %d retries (Reflow's own client reads 0 as none): write %q to never retry", defaultMaxRetries, "none")
	case st.name == "Retry.BackoffMultiplier" && v == 0.0:
		return fmt.Sprintf("the default, %g (a multiplier must be at least 1): write 1 for waits that do not grow", def.Retry.BackoffMultiplier)
	case st.name == "DegradeFill" && v == 0.0:
		return fmt.Sprintf("the default, %g (a fill must be within (0, 1]): write %q to never degrade", def.DegradeFill, "off")
	}
	return ""
}

// kindNames returns the protocol name of every event kind.
func kindNames() []string {
	var names []string
	for k := tracing.KindActorCreated; k <= tracing.KindCustom; k++ {
		names = append(names, k.String())
	}
	return names
}

// settingKind is the type of a setting's value, as written in the
// environment or in a file.
type settingKind uint8

const (
	kindBool settingKind = iota
	kindInt
	kindRetries // an integer, "none" (NoRetries) or "unlimited"
	kindUint
	kindFloat
	kindFill // a fraction, or "off" (-1)
	kindString
	kindSecret // a string never shown in errors
	kindMillis
	kindStrings
	kindKinds
	kindPolicy
	kindTags
	kindCompression
	kindProtocol
	kindChecksums
)

// settingScope says what a setting configures.
type settingScope bool

const (
	// clientSetting configures the client, whatever its sinks.
	clientSetting settingScope = false
	// serverSetting configures only the connection to a Reflow tracing
	// server, that is the WebSocket sink built from the config (see
	// tracing.ServerSink). tracing.New warns about these settings when
	// no sink sends to a server; a test checks that it names these.
	serverSetting settingScope = true
)

// setting is one field of TracingConfig that the environment and files
// can set.
type setting struct {
	env   string // environment variable
	key   string // dotted key of the tracing.toml file
	name  string // the field's Go path in TracingConfig, as tracing names it
	kind  settingKind
	scope settingScope
	// field returns a pointer to the field in c.
	field func(c *tracing.TracingConfig) any
}

// settings lists everything the loaders read, in the order of the
// package documentation's table of variables.
var settings = [...]setting{
	{envPrefix + "ENABLED", "tracing.enabled", "Enabled", kindBool, clientSetting, func(c *tracing.TracingConfig) any { return &c.Enabled }},
	{envPrefix + "SERVER_URL", "tracing.server_url", "ServerURL", kindString, serverSetting, func(c *tracing.TracingConfig) any { return &c.ServerURL }},
	{envPrefix + "SERVER_URLS", "tracing.server_urls", "ServerURLs", kindStrings, serverSetting, func(c *tracing.TracingConfig) any { return &c.ServerURLs }},
	{envPrefix + "BATCH_SIZE", "tracing.batch_size", "BatchSize", kindInt, clientSetting, func(c *tracing.TracingConfig) any { return &c.BatchSize }},
	{envPrefix + "BATCH_TIMEOUT_MS", "tracing.batch_timeout_ms", "BatchTimeout", kindMillis, clientSetting, func(c *tracing.TracingConfig) any { return &c.BatchTimeout }},
	{envPrefix + "ADAPTIVE_BATCHING", "tracing.adaptive_batching", "AdaptiveBatching", kindBool, clientSetting, func(c *tracing.TracingConfig) any { return &c.AdaptiveBatching }},
	{envPrefix + "MIN_BATCH_SIZE", "tracing.min_batch_size", "MinBatchSize", kindInt, clientSetting, func(c *tracing.TracingConfig) any { return &c.MinBatchSize }},
	{envPrefix + "MAX_BATCH_SIZE", "tracing.max_batch_size", "MaxBatchSize", kindInt, clientSetting, func(c *tracing.TracingConfig) any { return &c.MaxBatchSize }},
	{envPrefix + "DEGRADE_FILL", "tracing.degrade_fill", "DegradeFill", kindFill, serverSetting, func(c *tracing.TracingConfig) any { return &c.DegradeFill }},
	{envPrefix + "COMPRESSION", "tracing.enable_compression", "EnableCompression", kindBool, serverSetting, func(c *tracing.TracingConfig) any { return &c.EnableCompression }},
	{envPrefix + "MAX_RETRIES", "tracing.retry.max_retries", "Retry.MaxRetries", kindRetries, serverSetting, func(c *tracing.TracingConfig) any { return &c.Retry.MaxRetries }},
	{envPrefix + "INITIAL_DELAY_MS", "tracing.retry.initial_delay_ms", "Retry.InitialDelay", kindMillis, serverSetting, func(c *tracing.TracingConfig) any { return &c.Retry.InitialDelay }},
	{envPrefix + "MAX_DELAY_MS", "tracing.retry.max_delay_ms", "Retry.MaxDelay", kindMillis, serverSetting, func(c *tracing.TracingConfig) any { return &c.Retry.MaxDelay }},
	{envPrefix + "BACKOFF_MULTIPLIER", "tracing.retry.backoff_multiplier", "Retry.BackoffMultiplier", kindFloat, serverSetting, func(c *tracing.TracingConfig) any { return &c.Retry.BackoffMultiplier }},
	{envPrefix + "COMPRESSION_ALGORITHM", "tracing.compression_algorithm", "CompressionAlgorithm", kindCompression, serverSetting, func(c *tracing.TracingConfig) any { return &c.CompressionAlgorithm }},
	{envPrefix + "PROTOCOL", "tracing.protocol", "Protocol", kindProtocol, serverSetting, func(c *tracing.TracingConfig) any { return &c.Protocol }},
	{envPrefix + "QUEUE_SIZE", "tracing.queue_size", "QueueSize", kindInt, clientSetting, func(c *tracing.TracingConfig) any { return &c.QueueSize }},
	{envPrefix + "QUEUE_POLICY", "tracing.queue_policy", "QueuePolicy", kindPolicy, clientSetting, func(c *tracing.TracingConfig) any { return &c.QueuePolicy }},
	{envPrefix + "CRITICAL_KINDS", "tracing.critical_kinds", "CriticalKinds", kindKinds, clientSetting, func(c *tracing.TracingConfig) any { return &c.CriticalKinds }},
	{envPrefix + "FLOW_ID", "tracing.flow_id", "FlowID", kindString, clientSetting, func(c *tracing.TracingConfig) any { return &c.FlowID }},
	{envPrefix + "ENVIRONMENT", "tracing.environment", "Environment", kindString, clientSetting, func(c *tracing.TracingConfig) any { return &c.Environment }},
	{envPrefix + "TAGS", "tracing.tags", "Tags", kindTags, clientSetting, func(c *tracing.TracingConfig) any { return &c.Tags }},
	{envPrefix + "SYSTEM_METRICS_INTERVAL_MS", "tracing.system_metrics_interval_ms", "SystemMetricsInterval", kindMillis, clientSetting, func(c *tracing.TracingConfig) any { return &c.SystemMetricsInterval }},
	{envPrefix + "HEALTH_THRESHOLD_MS", "tracing.health_threshold_ms", "HealthThreshold", kindMillis, clientSetting, func(c *tracing.TracingConfig) any { return &c.HealthThreshold }},
	{envPrefix + "ACTOR_PATTERNS", "tracing.filters.actor_patterns", "Filters.ActorPatterns", kindStrings, clientSetting, func(c *tracing.TracingConfig) any { return &c.Filters.ActorPatterns }},
	{envPrefix + "EXCLUDE_ACTORS", "tracing.filters.exclude_actors", "Filters.ExcludeActors", kindStrings, clientSetting, func(c *tracing.TracingConfig) any { return &c.Filters.ExcludeActors }},
	{envPrefix + "EVENT_TYPES", "tracing.filters.event_types", "Filters.EventTypes", kindKinds, clientSetting, func(c *tracing.TracingConfig) any { return &c.Filters.EventTypes }},
	{envPrefix + "SAMPLING_STRATEGY", "tracing.sampling.strategy", "Sampling.Strategy", kindString, clientSetting, func(c *tracing.TracingConfig) any { return &c.Sampling.Strategy }},
	{envPrefix + "SAMPLING_RATE", "tracing.sampling.rate", "Sampling.Rate", kindFloat, clientSetting, func(c *tracing.TracingConfig) any { return &c.Sampling.Rate }},
	{envPrefix + "SAMPLING_N", "tracing.sampling.n", "Sampling.N", kindUint, clientSetting, func(c *tracing.TracingConfig) any { return &c.Sampling.N }},
	{envPrefix + "SAMPLING_MAX_RATE", "tracing.sampling.max_rate", "Sampling.MaxRate", kindFloat, clientSetting, func(c *tracing.TracingConfig) any { return &c.Sampling.MaxRate }},
	{envPrefix + "SAMPLING_LOAD_THRESHOLD", "tracing.sampling.load_threshold", "Sampling.LoadThreshold", kindFloat, clientSetting, func(c *tracing.TracingConfig) any { return &c.Sampling.LoadThreshold }},
	{envPrefix + "SAMPLING_PER_TRACE", "tracing.sampling.per_trace", "Sampling.PerTrace", kindBool, clientSetting, func(c *tracing.TracingConfig) any { return &c.Sampling.PerTrace }},
	{envPrefix + "CAPTURE_CONTENT", "tracing.privacy.capture_content", "Privacy.CaptureContent", kindBool, clientSetting, func(c *tracing.TracingConfig) any { return &c.Privacy.CaptureContent }},
	{envPrefix + "DROP_ATTRIBUTES", "tracing.privacy.drop_attributes", "Privacy.DropAttributes", kindStrings, clientSetting, func(c *tracing.TracingConfig) any { return &c.Privacy.DropAttributes }},
	{envPrefix + "ANONYMIZE_ACTORS", "tracing.privacy.anonymize_actors", "Privacy.AnonymizeActors", kindBool, clientSetting, func(c *tracing.TracingConfig) any { return &c.Privacy.AnonymizeActors }},
	{envPrefix + "ANONYMIZE_ATTRIBUTES", "tracing.privacy.anonymize_attributes", "Privacy.AnonymizeAttributes", kindStrings, clientSetting, func(c *tracing.TracingConfig) any { return &c.Privacy.AnonymizeAttributes }},
	{envPrefix + "ANONYMIZE_KEY", "tracing.privacy.anonymize_key", "Privacy.AnonymizeKey", kindSecret, clientSetting, func(c *tracing.TracingConfig) any { return &c.Privacy.AnonymizeKey }},
	{envPrefix + "CHECKSUMS", "tracing.privacy.checksums", "Privacy.Checksums", kindChecksums, clientSetting, func(c *tracing.TracingConfig) any { return &c.Privacy.Checksums }},
}

// get returns the value of the field in c.
func (st *setting) get(c *tracing.TracingConfig) any {
	return reflect.ValueOf(st.field(c)).Elem().Interface()
}

// set stores v, a value parseString or parseTOML returned, in c.
func (st *setting) set(c *tracing.TracingConfig, v any) {
	switch p := st.field(c).(type) {
	case *bool:
		*p = v.(bool)
	case *int:
		*p = v.(int)
	case *uint64:
		*p = v.(uint64)
	case *float64:
		*p = v.(float64)
	case *string:
		*p = v.(string)
	case *tracing.FlowID:
		*p = tracing.FlowID(v.(string))
	case *time.Duration:
		*p = v.(time.Duration)
	case *[]string:
		*p = v.([]string)
	case *[]tracing.EventKind:
		*p = v.([]tracing.EventKind)
	case *batch.Policy:
		*p = v.(batch.Policy)
	case *transport.CompressionAlgorithm:
		*p = v.(transport.CompressionAlgorithm)
	case *transport.Protocol:
		*p = v.(transport.Protocol)
	case *tracing.ChecksumMode:
		*p = v.(tracing.ChecksumMode)
	case *map[string]string:
		*p = v.(map[string]string)
	default:
		panic(fmt.Sprintf("config: setting %s has field type %T", st.key, p))
	}
}

// parseString converts an environment value; why is "" on success and
// otherwise says what is wanted, without repeating the value.
func (st *setting) parseString(s string) (v any, why string) {
	switch st.kind {
	case kindBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "1", "t", "true", "yes", "y", "on":
			return true, ""
		case "0", "f", "false", "no", "n", "off":
			return false, ""
		}
		return nil, "want a boolean (true/false, 1/0, yes/no or on/off)"
	case kindInt:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, "want an integer"
		}
		return n, ""
	case kindRetries:
		return parseRetries(strings.TrimSpace(s))
	case kindUint:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, "want a non-negative integer"
		}
		return n, ""
	case kindFloat:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, "want a number"
		}
		return finite(f, "want a finite number")
	case kindFill:
		return parseFill(strings.TrimSpace(s))
	case kindString, kindSecret:
		return s, ""
	case kindMillis:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, wantMillis
		}
		return millis(n)
	case kindStrings:
		return splitList(s), ""
	case kindKinds:
		return parseKinds(splitList(s))
	case kindPolicy:
		return parsePolicy(strings.TrimSpace(s))
	case kindCompression:
		return parseCompression(s)
	case kindProtocol:
		return parseProtocolSetting(s)
	case kindChecksums:
		return parseChecksums(s)
	case kindTags:
		tags := map[string]string{}
		for _, kv := range splitList(s) {
			k, v, ok := strings.Cut(kv, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return nil, fmt.Sprintf("tag %q: want key=value", kv)
			}
			tags[k] = strings.TrimSpace(v)
		}
		return tags, ""
	}
	panic("config: unknown setting kind")
}

// Why a value was refused, for errors.
const (
	wantMillis      = "want an integer number of milliseconds"
	wantRetries     = `want an integer, "none" or "unlimited"`
	wantFill        = `want a fraction in (0, 1] or "off"`
	wantPolicy      = `want a queue policy ("drop", also written "drop_newest", or "block")`
	wantCompression = `want a compression algorithm ("zstd", "lz4", "gzip", "brotli", "auto" or "none")`
	wantProtocol    = `want a protocol ("auto", "v1" or "v2")`
	wantChecksums   = `want a checksum mode ("when_captured", "off" or "on_record")`
)

// millis converts n milliseconds to a Duration, rejecting overflow.
func millis(n int64) (any, string) {
	if n > math.MaxInt64/int64(time.Millisecond) || n < math.MinInt64/int64(time.Millisecond) {
		return nil, fmt.Sprintf("want at most %d milliseconds", math.MaxInt64/int64(time.Millisecond))
	}
	return time.Duration(n) * time.Millisecond, ""
}

// parseRetries reads a max_retries value: an integer, "none" (NoRetries)
// or "unlimited" (-1), with the meaning of RetryConfig.MaxRetries.
func parseRetries(s string) (any, string) {
	switch strings.ToLower(s) {
	case "none":
		return retry.NoRetries, ""
	case "unlimited":
		return -1, ""
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, wantRetries
	}
	return n, ""
}

// parseFill reads a degrade_fill value: a number, or "off" (-1).
func parseFill(s string) (any, string) {
	if strings.EqualFold(s, "off") {
		return -1.0, "" // off
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, wantFill
	}
	return finite(f, wantFill)
}

// finite returns f, or why when f is NaN or infinite: no setting takes
// one, and a NaN would not even equal itself when errors name its origin.
func finite(f float64, why string) (any, string) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, why
	}
	return f, ""
}

// splitList splits a comma-separated list, trimming blanks and dropping
// empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func parseKinds(names []string) (any, string) {
	kinds := make([]tracing.EventKind, 0, len(names))
	for _, n := range names {
		var k tracing.EventKind
		if err := k.UnmarshalText([]byte(n)); err != nil {
			return nil, fmt.Sprintf("unknown event kind %q: want one of %s", n, strings.Join(kindNames(), ", "))
		}
		kinds = append(kinds, k)
	}
	return kinds, ""
}

func parsePolicy(s string) (any, string) {
	switch strings.ToLower(s) {
	case "drop", batch.DropNewest.String():
		return batch.DropNewest, ""
	case "block":
		return batch.Block, ""
	}
	return nil, wantPolicy
}

func parseCompression(s string) (any, string) {
	var a transport.CompressionAlgorithm
	if err := a.UnmarshalText([]byte(s)); err != nil {
		return nil, wantCompression
	}
	return a, ""
}

func parseProtocolSetting(s string) (any, string) {
	var p transport.Protocol
	if err := p.UnmarshalText([]byte(s)); err != nil {
		return nil, wantProtocol
	}
	return p, ""
}

func parseChecksums(s string) (any, string) {
	var m tracing.ChecksumMode
	if err := m.UnmarshalText([]byte(s)); err != nil {
		return nil, wantChecksums
	}
	return m, ""
}
