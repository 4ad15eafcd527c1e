package tracing

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// LoadConfig reads a tracing.toml file and returns DefaultConfig with the
// file's settings applied, validated. A tracing.toml written for Reflow
// loads as it is:
//
//	[tracing]
//	enabled = true
//	server_url = "ws://localhost:8080"
//	batch_size = 50
//	batch_timeout_ms = 1000
//	enable_compression = true        # binary frames, zstd unless set below
//	# This SDK's additions (all optional):
//	compression_algorithm = "zstd"   # the server's: "lz4", "gzip", "brotli" or "auto"
//	protocol = "auto"                # or "v1", "v2"
//	queue_size = 8192
//	queue_policy = "drop"            # or "block"
//	critical_kinds = ["ActorFailed"] # default: the actor lifecycle kinds
//	flow_id = "orders"
//	environment = "production"
//	system_metrics_interval_ms = 0
//	health_threshold_ms = 30000
//
//	[tracing.tags]
//	region = "eu-west-1"
//
//	[tracing.retry]
//	max_retries = 3
//	initial_delay_ms = 500
//	max_delay_ms = 5000
//	backoff_multiplier = 2.0
//
//	[tracing.filters]
//	actor_patterns = ["sensor_*", "processor_*"]
//	exclude_actors = ["debug_*", "test_*"]
//	event_types = ["ActorCreated", "DataFlow", "ActorFailed"]
//
//	[tracing.sampling]
//	strategy = "adaptive"   # "always" (default), "percentage", "every_nth"
//	rate = 0.1              # percentage's rate, adaptive's base rate
//	n = 10                  # every_nth
//	max_rate = 1.0
//	load_threshold = 0.8
//	per_trace = true
//
//	[tracing.privacy]
//	capture_content = false
//	drop_attributes = ["secret_*"]
//	anonymize_actors = true
//	anonymize_attributes = ["user_*"]
//	anonymize_key = "…"
//	checksums = "when_captured"      # or "off", "on_record" (see ChecksumMode)
//
// Every key has an environment variable of the same meaning (see ApplyEnv).
// Durations are whole milliseconds, rates are fractions in [0, 1] (where
// Reflow's SamplingStrategy takes percent), event kinds are protocol names.
// Other top-level tables are ignored, so the [tracing] table may live in a
// larger application file, but the file must have one.
//
// A key LoadConfig does not know is an error naming it (a misspelt key is
// never silently ignored), and so is a value of the wrong type or out of
// range, naming the key and the value (never the anonymize_key's value).
// All such errors are reported together and wrap ErrInvalidConfig; a file
// that cannot be read or parsed gives an error naming the file. On error
// LoadConfig returns the zero TracingConfig.
func LoadConfig(path string) (TracingConfig, error) {
	c, err := loadConfigFile(DefaultConfig(), path)
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		return TracingConfig{}, err
	}
	return c, nil
}

// LoadConfigWithEnv reads a tracing.toml file like LoadConfig, then applies
// the REFLOW_TRACING_* environment variables like ApplyEnv, and validates
// the result once: the environment wins over the file. Code that sets
// fields afterwards wins over both. On error it returns the zero
// TracingConfig.
func LoadConfigWithEnv(path string) (TracingConfig, error) {
	c, err := loadConfigFile(DefaultConfig(), path)
	if err != nil {
		return TracingConfig{}, err
	}
	if c, err = applyEnv(c, os.LookupEnv); err == nil {
		err = c.Validate()
	}
	if err != nil {
		return TracingConfig{}, err
	}
	return c, nil
}

// loadConfigFile reads path and applies it over base without validating.
func loadConfigFile(base TracingConfig, path string) (TracingConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return TracingConfig{}, fmt.Errorf("tracing: load config: %w", err)
	}
	return decodeConfig(base, path, string(data))
}

// The layout of tracing.toml. Leaves are decoded as any, so that a value of
// the wrong type is reported with the value, by applyTOML.
type (
	tomlFile struct {
		Tracing *tomlTracing `toml:"tracing"`
	}
	tomlTracing struct {
		Enabled                 any            `toml:"enabled"`
		ServerURL               any            `toml:"server_url"`
		ServerURLs              any            `toml:"server_urls"`
		BatchSize               any            `toml:"batch_size"`
		BatchTimeoutMS          any            `toml:"batch_timeout_ms"`
		EnableCompression       any            `toml:"enable_compression"`
		CompressionAlgorithm    any            `toml:"compression_algorithm"`
		Protocol                any            `toml:"protocol"`
		QueueSize               any            `toml:"queue_size"`
		QueuePolicy             any            `toml:"queue_policy"`
		CriticalKinds           any            `toml:"critical_kinds"`
		FlowID                  any            `toml:"flow_id"`
		Environment             any            `toml:"environment"`
		Tags                    map[string]any `toml:"tags"`
		SystemMetricsIntervalMS any            `toml:"system_metrics_interval_ms"`
		HealthThresholdMS       any            `toml:"health_threshold_ms"`
		Retry                   struct {
			MaxRetries        any `toml:"max_retries"`
			InitialDelayMS    any `toml:"initial_delay_ms"`
			MaxDelayMS        any `toml:"max_delay_ms"`
			BackoffMultiplier any `toml:"backoff_multiplier"`
		} `toml:"retry"`
		Filters struct {
			ActorPatterns any `toml:"actor_patterns"`
			ExcludeActors any `toml:"exclude_actors"`
			EventTypes    any `toml:"event_types"`
		} `toml:"filters"`
		Sampling struct {
			Strategy      any `toml:"strategy"`
			Rate          any `toml:"rate"`
			N             any `toml:"n"`
			MaxRate       any `toml:"max_rate"`
			LoadThreshold any `toml:"load_threshold"`
			PerTrace      any `toml:"per_trace"`
		} `toml:"sampling"`
		Privacy struct {
			CaptureContent      any `toml:"capture_content"`
			DropAttributes      any `toml:"drop_attributes"`
			AnonymizeActors     any `toml:"anonymize_actors"`
			AnonymizeAttributes any `toml:"anonymize_attributes"`
			AnonymizeKey        any `toml:"anonymize_key"`
			Checksums           any `toml:"checksums"`
		} `toml:"privacy"`
	}
)

// decodeConfig applies the TOML document doc, read from name, over base.
func decodeConfig(base TracingConfig, name, doc string) (TracingConfig, error) {
	var f tomlFile
	md, err := toml.Decode(doc, &f)
	if err != nil {
		return TracingConfig{}, fmt.Errorf("tracing: load config %s: %w", name, err)
	}
	if f.Tracing == nil {
		return TracingConfig{}, fmt.Errorf("%w: %s: no [tracing] table", ErrInvalidConfig, name)
	}
	var errs []error
	for _, k := range md.Undecoded() {
		// Keys outside [tracing] belong to the application.
		if len(k) > 0 && k[0] == "tracing" {
			errs = append(errs, fmt.Errorf("%w: %s: unknown key %q", ErrInvalidConfig, name, k.String()))
		}
	}
	byKey := make(map[string]*setting, len(settings))
	for i := range settings {
		byKey[settings[i].key] = &settings[i]
	}
	for key, v := range tomlValues("tracing", reflect.ValueOf(f.Tracing).Elem()) {
		st := byKey[key]
		if st == nil {
			panic("tracing: no setting for file key " + key)
		}
		val, why := st.parseTOML(v)
		if why != "" {
			shown := showTOML(v)
			if st.kind == kindSecret {
				shown = "<redacted>"
			}
			errs = append(errs, fmt.Errorf("%w: %s: %s = %s: %s", ErrInvalidConfig, name, key, shown, why))
			continue
		}
		st.set(&base, val)
	}
	if err := errors.Join(errs...); err != nil {
		return TracingConfig{}, err
	}
	return base, nil
}

// tomlValues yields the dotted key and value of every leaf of v (a
// tomlTracing or one of its sections) that the file set.
func tomlValues(prefix string, v reflect.Value) func(yield func(string, any) bool) {
	return func(yield func(string, any) bool) {
		walkTOML(prefix, v, yield)
	}
}

func walkTOML(prefix string, v reflect.Value, yield func(string, any) bool) bool {
	t := v.Type()
	for i := range t.NumField() {
		key := prefix + "." + t.Field(i).Tag.Get("toml")
		fv := v.Field(i)
		switch fv.Kind() {
		case reflect.Struct:
			if !walkTOML(key, fv, yield) {
				return false
			}
			continue
		case reflect.Interface, reflect.Map:
			if fv.IsNil() {
				continue
			}
		}
		if !yield(key, fv.Interface()) {
			return false
		}
	}
	return true
}

// showTOML formats a decoded TOML value for an error message.
func showTOML(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = showTOML(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " = " + showTOML(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case time.Time:
		switch x.Location().String() { // as the TOML decoder names them
		case "date-local":
			return x.Format(time.DateOnly)
		case "time-local":
			return x.Format("15:04:05.999999999")
		case "datetime-local":
			return x.Format("2006-01-02T15:04:05.999999999")
		}
		return x.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// parseTOML converts a decoded TOML value (bool, int64, float64, string,
// []any, map[string]any or a date) like parseString converts an
// environment value.
func (st *setting) parseTOML(v any) (val any, why string) {
	switch st.kind {
	case kindBool:
		if b, ok := v.(bool); ok {
			return b, ""
		}
		return nil, "not a boolean"
	case kindInt, kindRetries:
		if n, ok := v.(int64); ok && n >= math.MinInt && n <= math.MaxInt {
			return st.fromInt(int(n)), ""
		}
		return nil, "not an integer"
	case kindUint:
		if n, ok := v.(int64); ok && n >= 0 {
			return uint64(n), ""
		}
		return nil, "not a non-negative integer"
	case kindFloat:
		switch x := v.(type) {
		case float64:
			return x, ""
		case int64:
			return float64(x), ""
		}
		return nil, "not a number"
	case kindString, kindSecret:
		if s, ok := v.(string); ok {
			return s, ""
		}
		return nil, "not a string"
	case kindMillis:
		if n, ok := v.(int64); ok {
			return millis(n)
		}
		return nil, "not an integer number of milliseconds"
	case kindStrings, kindKinds:
		arr, ok := v.([]any)
		if !ok {
			return nil, "not an array of strings"
		}
		ss := make([]string, len(arr))
		for i, e := range arr {
			if ss[i], ok = e.(string); !ok {
				return nil, "not an array of strings"
			}
		}
		if st.kind == kindKinds {
			return parseKinds(ss)
		}
		return ss, ""
	case kindPolicy:
		if s, ok := v.(string); ok {
			return parsePolicy(s)
		}
		return nil, `not a queue policy (want "drop" or "block")`
	case kindCompression:
		if s, ok := v.(string); ok {
			return parseCompression(s)
		}
		return nil, notCompression
	case kindProtocol:
		if s, ok := v.(string); ok {
			return parseProtocol(s)
		}
		return nil, notProtocol
	case kindChecksums:
		if s, ok := v.(string); ok {
			return parseChecksums(s)
		}
		return nil, notChecksums
	case kindTags:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, "not a table of strings"
		}
		tags := make(map[string]string, len(m))
		for k, e := range m {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Sprintf("tag %q is not a string", k)
			}
			tags[k] = s
		}
		return tags, ""
	}
	panic("tracing: unknown setting kind")
}
