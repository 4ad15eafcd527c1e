package tracing

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/reflowtrace/reflowtrace-go/internal/settings"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// Warnings returns what is suspicious in c without being invalid, one
// sentence each, naming settings as the user wrote them (file, line and
// key, or environment variable):
//
//   - a REFLOW_TRACING_* variable that names no setting, with the nearest
//     known one ("did you mean REFLOW_TRACING_BATCH_SIZE?"), found by
//     the loaders of package config (c.Source);
//   - max_retries = 0 written in a file or the environment, which means the
//     default here but "never retry" to Reflow's own client;
//   - settings that have no effect with the others: sampling parameters
//     the strategy does not read, compression_algorithm without
//     enable_compression, checksums or anonymize_key with nothing to apply
//     them to.
//
// New logs them at Warn level, once, on the client's logger, together with
// the server settings that do not apply to the client's sinks (see
// ServerSink). A config built in code has only the last kind. Safe for
// concurrent use.
func (c TracingConfig) Warnings() []string {
	var ws []string
	if c.Source != nil {
		ws = append(ws, c.Source.Warnings()...)
	}
	return append(ws, c.noEffect()...)
}

// noEffect returns a warning for each setting of c that other settings
// make meaningless.
func (c *TracingConfig) noEffect() []string {
	var ws []string
	unused := func(path string, v any, because string) {
		ws = append(ws, fmt.Sprintf("%s has no effect %s", c.describe(path, fmt.Sprint(v)), because))
	}
	sp := &c.Sampling
	strategy := fmt.Sprintf("with %s %q", c.ref("Sampling.Strategy"), sp.Strategy)
	if sp.Strategy == "" {
		strategy = fmt.Sprintf("with %s unset (always)", c.ref("Sampling.Strategy"))
	}
	reads := map[string][]string{
		"":           nil,
		"always":     nil,
		"percentage": {"Sampling.Rate", "Sampling.PerTrace"},
		"every_nth":  {"Sampling.N", "Sampling.PerTrace"},
		"adaptive":   {"Sampling.Rate", "Sampling.MaxRate", "Sampling.LoadThreshold", "Sampling.PerTrace"},
	}
	if read, known := reads[sp.Strategy]; known {
		for _, f := range []struct {
			path string
			v    any
			set  bool
		}{
			{"Sampling.Rate", sp.Rate, sp.Rate != 0},
			{"Sampling.N", sp.N, sp.N != 0},
			{"Sampling.MaxRate", sp.MaxRate, sp.MaxRate != 0},
			{"Sampling.LoadThreshold", sp.LoadThreshold, sp.LoadThreshold != 0},
			{"Sampling.PerTrace", sp.PerTrace, sp.PerTrace},
		} {
			if f.set && !slices.Contains(read, f.path) {
				unused(f.path, f.v, strategy)
			}
		}
	}
	if !c.EnableCompression && c.CompressionAlgorithm != transport.CompressionZstd && c.CompressionAlgorithm != transport.CompressionNone {
		unused("CompressionAlgorithm", fmt.Sprintf("%q", c.CompressionAlgorithm), "without "+c.ref("EnableCompression"))
	}
	p := &c.Privacy
	if !p.CaptureContent && p.Checksums != ChecksumWhenCaptured {
		unused("Privacy.Checksums", fmt.Sprintf("%q", p.Checksums), "without "+c.ref("Privacy.CaptureContent")+": no content is kept to checksum")
	}
	if p.AnonymizeKey != "" && !p.AnonymizeActors && len(p.AnonymizeAttributes) == 0 {
		ws = append(ws, fmt.Sprintf("%s has no effect: nothing is anonymized (%s, %s)",
			c.ref("Privacy.AnonymizeKey"), c.ref("Privacy.AnonymizeActors"), c.ref("Privacy.AnonymizeAttributes")))
	}
	return ws
}

// serverSettings are the paths of the fields that configure only the
// connection to a Reflow tracing server, that is the WebSocket sink built
// from the config (see ServerSink).
var serverSettings = [...]string{
	"ServerURL", "ServerURLs", "DegradeFill", "EnableCompression",
	"Retry.MaxRetries", "Retry.InitialDelay", "Retry.MaxDelay", "Retry.BackoffMultiplier",
	"CompressionAlgorithm", "Protocol",
}

// serverSettingsWarning returns the warning New logs when c sets server
// settings (a loader set them, or they differ from the defaults) and no
// sink sends to a Reflow server, or "".
func (c *TracingConfig) serverSettingsWarning(sinks []Sink) string {
	for _, s := range sinks {
		if ss, ok := s.(ServerSink); ok && ss.SendsToServer() {
			return ""
		}
	}
	def := DefaultConfig()
	var names []string
	for _, path := range serverSettings {
		r := c.names().Ref(path)
		v, _ := settings.Value(c, path)
		d, _ := settings.Value(&def, path)
		if !r.Set && reflect.DeepEqual(v, d) {
			continue
		}
		if r.Loc != "" {
			r.Name += " (" + r.Loc + ")"
		}
		names = append(names, r.Name)
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("settings for the connection to a Reflow server do not apply: no sink sends to one (only a WebSocket sink built with websocket.OptionsFromConfig reads them): %s",
		strings.Join(names, ", "))
}
