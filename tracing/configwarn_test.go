package tracing

import (
	"reflect"
	"testing"

	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestWarningsSettingsWithoutEffect(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*TracingConfig)
		want   []string
	}{
		{"defaults", func(*TracingConfig) {}, nil},
		{"rate without a strategy", func(c *TracingConfig) { c.Sampling.Rate = 0.5 }, []string{
			"Sampling.Rate = 0.5 has no effect with Sampling.Strategy unset (always)",
		}},
		{"every_nth ignores rates", func(c *TracingConfig) {
			c.Sampling = SamplingConfig{Strategy: "every_nth", N: 3, Rate: 0.1, LoadThreshold: 0.5, PerTrace: true}
		}, []string{
			`Sampling.Rate = 0.1 has no effect with Sampling.Strategy "every_nth"`,
			`Sampling.LoadThreshold = 0.5 has no effect with Sampling.Strategy "every_nth"`,
		}},
		{"adaptive ignores n", func(c *TracingConfig) {
			c.Sampling = SamplingConfig{Strategy: "adaptive", N: 3, Rate: 0.1, MaxRate: 1, LoadThreshold: 0.5}
		}, []string{`Sampling.N = 3 has no effect with Sampling.Strategy "adaptive"`}},
		{"algorithm without compression", func(c *TracingConfig) { c.CompressionAlgorithm = transport.CompressionGzip }, []string{
			`CompressionAlgorithm = "gzip" has no effect without EnableCompression`,
		}},
		{"algorithm with compression", func(c *TracingConfig) { c.CompressionAlgorithm = transport.CompressionGzip; c.EnableCompression = true }, nil},
		{"no algorithm without compression", func(c *TracingConfig) { c.CompressionAlgorithm = transport.CompressionNone }, nil},
		{"checksums without content", func(c *TracingConfig) { c.Privacy.Checksums = ChecksumOnRecord }, []string{
			`Privacy.Checksums = "on_record" has no effect without Privacy.CaptureContent: no content is kept to checksum`,
		}},
		{"key without anonymizing", func(c *TracingConfig) { c.Privacy.AnonymizeKey = "secret-key" }, []string{
			"Privacy.AnonymizeKey has no effect: nothing is anonymized (Privacy.AnonymizeActors, Privacy.AnonymizeAttributes)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			if got := c.Warnings(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Warnings() = %q\nwant %q", got, tt.want)
			}
		})
	}
}

// configWarnings returns the warnings New logs for cfg and sinks.
func configWarnings(t *testing.T, cfg TracingConfig, sinks ...Sink) []string {
	t.Helper()
	core, logs := observer.New(zapcore.WarnLevel)
	opts := []Option{WithLogger(zap.New(core))}
	for _, s := range sinks {
		opts = append(opts, WithSink(s))
	}
	c, err := New(cfg, opts...)
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
