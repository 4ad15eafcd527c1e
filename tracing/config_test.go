package tracing

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

func TestDefaultConfigIsValid(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	if !c.Enabled || c.BatchSize != defaultBatchSize || c.Retry.MaxRetries != defaultMaxRetries {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*TracingConfig)
		field  string
	}{
		{"http url", func(c *TracingConfig) { c.ServerURL = "http://x:1" }, "ServerURL"},
		{"no host", func(c *TracingConfig) { c.ServerURL = "ws://" }, "ServerURL"},
		{"negative batch", func(c *TracingConfig) { c.BatchSize = -1 }, "BatchSize"},
		{"negative timeout", func(c *TracingConfig) { c.BatchTimeout = -time.Second }, "BatchTimeout"},
		{"queue smaller than batch", func(c *TracingConfig) { c.QueueSize = 10; c.BatchSize = 20 }, "QueueSize"},
		{"negative min batch", func(c *TracingConfig) { c.MinBatchSize = -1 }, "MinBatchSize"},
		{"min batch above batch", func(c *TracingConfig) { c.MinBatchSize = 1000 }, "MinBatchSize"},
		{"max batch below batch", func(c *TracingConfig) { c.MaxBatchSize = 100 }, "MaxBatchSize"},
		{"max batch above queue", func(c *TracingConfig) { c.MaxBatchSize = 1 << 20 }, "MaxBatchSize"},
		{"degrade fill > 1", func(c *TracingConfig) { c.DegradeFill = 1.5 }, "DegradeFill"},
		{"degrade fill NaN", func(c *TracingConfig) { c.DegradeFill = math.NaN() }, "DegradeFill"},
		{"bad policy", func(c *TracingConfig) { c.QueuePolicy = 9 }, "QueuePolicy"},
		{"bad compression", func(c *TracingConfig) { c.CompressionAlgorithm = transport.CompressionNone + 1 }, "CompressionAlgorithm = CompressionAlgorithm(6)"},
		{"bad protocol", func(c *TracingConfig) { c.Protocol = transport.ProtocolV2 + 1 }, "Protocol = Protocol(3)"},
		{"bad checksums", func(c *TracingConfig) { c.Privacy.Checksums = ChecksumOnRecord + 1 }, "Privacy.Checksums = ChecksumMode(3)"},
		{"max < initial delay", func(c *TracingConfig) { c.Retry.InitialDelay = time.Minute; c.Retry.MaxDelay = time.Second }, "Retry.MaxDelay"},
		{"multiplier < 1", func(c *TracingConfig) { c.Retry.BackoffMultiplier = 0.5 }, "Retry.BackoffMultiplier"},
		{"multiplier NaN", func(c *TracingConfig) { c.Retry.BackoffMultiplier = math.NaN() }, "Retry.BackoffMultiplier"},
		{"critical kind", func(c *TracingConfig) { c.CriticalKinds = []EventKind{99} }, "CriticalKinds[0]"},
		{"strategy", func(c *TracingConfig) { c.Sampling.Strategy = "sometimes" }, "Sampling.Strategy"},
		{"rate > 1", func(c *TracingConfig) { c.Sampling.Strategy = "percentage"; c.Sampling.Rate = 1.5 }, "Sampling.Rate"},
		{"every_nth 0", func(c *TracingConfig) { c.Sampling.Strategy = "every_nth" }, "Sampling.N"},
		{"adaptive threshold", func(c *TracingConfig) { c.Sampling.Strategy = "adaptive"; c.Sampling.MaxRate = 1 }, "Sampling.LoadThreshold"},
		{"glob", func(c *TracingConfig) { c.Filters.ActorPatterns = []string{"ok_*", "[bad"} }, "Filters.ActorPatterns[1]"},
		{"event type", func(c *TracingConfig) { c.Filters.EventTypes = []EventKind{0} }, "Filters.EventTypes[0]"},
		{"anonymize without key", func(c *TracingConfig) { c.Privacy.AnonymizeActors = true }, "Privacy.AnonymizeKey"},
		{"metrics interval", func(c *TracingConfig) { c.SystemMetricsInterval = -1 }, "SystemMetricsInterval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("error %q does not name %s", err, tt.field)
			}
		})
	}
}

func TestValidateHidesURLPassword(t *testing.T) {
	c := DefaultConfig()
	c.ServerURL = "http://user:hunter2@example.invalid:1"
	err := c.Validate()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error must not show the password: %v", err)
	}
}

func TestChecksumModeNames(t *testing.T) {
	for _, m := range []ChecksumMode{ChecksumWhenCaptured, ChecksumOff, ChecksumOnRecord} {
		got, err := checksumNames.Parse(m.String())
		if err != nil || got != m {
			t.Errorf("checksumNames.Parse(%q) = %v, %v; want %v", m.String(), got, err, m)
		}
	}
	if got, err := checksumNames.Parse(""); err != nil || got != ChecksumWhenCaptured {
		t.Errorf(`checksumNames.Parse("") = %v, %v; want the default`, got, err)
	}
	for _, s := range []string{"on", "always", "when-captured", "1"} {
		if _, err := checksumNames.Parse(s); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), strconv.Quote(s)) {
			t.Errorf("checksumNames.Parse(%q) error %v, want ErrInvalidConfig naming it", s, err)
		}
	}
	if got := ChecksumMode(9).String(); got != "ChecksumMode(9)" {
		t.Errorf("String of an unknown mode = %q", got)
	}
}

// TestTextRoundTrip checks that every enum of the config reads back what
// it writes, so that each can be a flag (flag.TextVar), and that a name
// it does not know is an ErrInvalidConfig naming it.
func TestTextRoundTrip(t *testing.T) {
	type text interface {
		MarshalText() ([]byte, error)
	}
	check := func(v text, into interface{ UnmarshalText([]byte) error }, read func() any) {
		t.Helper()
		b, err := v.MarshalText()
		if err != nil {
			t.Fatalf("%v.MarshalText: %v", v, err)
		}
		if err := into.UnmarshalText(b); err != nil || read() != any(v) {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, read(), err, v)
		}
	}
	for m := ChecksumWhenCaptured; m <= ChecksumOnRecord; m++ {
		var got ChecksumMode
		check(m, &got, func() any { return got })
	}
	for k := KindActorCreated; k <= KindCustom; k++ {
		var got EventKind
		check(k, &got, func() any { return got })
	}
	var m ChecksumMode
	if err := m.UnmarshalText([]byte("v9")); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), `"v9"`) {
		t.Errorf("ChecksumMode.UnmarshalText(v9) = %v, want ErrInvalidConfig naming it", err)
	}
	var k EventKind
	if err := k.UnmarshalText([]byte("Nope")); !errors.Is(err, ErrMalformed) {
		t.Errorf("EventKind.UnmarshalText(Nope) = %v, want ErrMalformed", err)
	}
	if _, err := ChecksumMode(9).MarshalText(); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("ChecksumMode(9).MarshalText() = %v, want ErrInvalidConfig", err)
	}
}

// TestDegradeFillOff checks that every negative DegradeFill is valid and
// turns degrading off, as the loaders' "off" (-1) does.
func TestDegradeFillOff(t *testing.T) {
	for _, f := range []float64{-1, -0.5, math.Inf(-1)} {
		c := DefaultConfig()
		c.DegradeFill = f
		if err := c.Validate(); err != nil {
			t.Errorf("DegradeFill %v: Validate = %v, want nil", f, err)
		}
	}
}
