package tracing

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"path"
	"time"
	"unsafe"

	"github.com/reflowtrace/reflowtrace-go/batch"
	"github.com/reflowtrace/reflowtrace-go/internal/enum"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// ErrInvalidConfig is wrapped by every configuration error; the message
// names the field and the value at fault.
var ErrInvalidConfig = errors.New("tracing: invalid config")

// Defaults of TracingConfig, which DefaultConfig fills in.
const (
	defaultServerURL    = "ws://localhost:8080"
	defaultBatchSize    = 512
	defaultBatchTimeout = 100 * time.Millisecond
	defaultQueueSize    = 8192
	// The retry defaults are Reflow's.
	defaultMaxRetries        = 5
	defaultInitialDelay      = time.Second
	defaultMaxDelay          = 30 * time.Second
	defaultBackoffMultiplier = 2.0
	defaultHealthThreshold   = 30 * time.Second
	defaultDegradeFill       = 0.5
)

// ChecksumMode says when the client fills MessageSnapshot.Checksum, the
// checksum Reflow defines for a message's content ("sha256:" and the hex
// SHA-256 of the content's RFC 8785 canonical JSON, see ContentChecksum).
// It applies only when content is captured (PrivacyConfig.CaptureContent):
// without content there is nothing to checksum. A snapshot whose Checksum
// is already set keeps it in every mode.
//
// Reflow's own client, in the protocol generation that defines the
// checksum, computes it by default for every snapshot it sends (its 0.2
// release leaves it ""). This client computes it by default only for
// captured content and off the recording path, on its consumer goroutine:
// content is not captured unless the user asks (it may be private), and
// canonicalising JSON allocates and costs microseconds, which recording,
// allocation-free and non-blocking, must not pay.
//
// Content that is not one valid JSON text (binary content, or content
// whose MessageSnapshot.ContentCodec is set to anything but "none", whose
// JSON is not at hand) has no canonical JSON, so its Checksum stays "",
// which the protocol reads as "not computed"; the bytes are not
// checksummed as a JSON string, which would be a checksum of a different
// content. Nothing is counted or logged for it.
//
// The modes, their values and names (String, and the checksums setting):
//
//	ChecksumWhenCaptured   0  when_captured
//	ChecksumOff            1  off
//	ChecksumOnRecord       2  on_record
type ChecksumMode uint8

// The checksum modes.
const (
	// ChecksumWhenCaptured computes the checksum of captured content on the
	// client's consumer goroutine, just before the batch is written to the
	// sinks (default). The checksum is of the content as the sinks see it,
	// after redaction; recording costs nothing more.
	ChecksumWhenCaptured ChecksumMode = iota
	// ChecksumOff never computes a checksum: snapshots keep the Checksum
	// they were recorded with ("" unless the user set one).
	ChecksumOff
	// ChecksumOnRecord computes the checksum of captured content on the
	// recording goroutine, after redaction and before the event is
	// queued, for users who want the checksum of exactly the bytes they
	// recorded even if they reuse the content's buffer later. Recording
	// an event with content then allocates and takes as long as
	// ContentChecksum.
	ChecksumOnRecord
)

var checksumNames = enum.Names[ChecksumMode]{
	Type: "ChecksumMode", What: "checksum mode",
	Names:   []string{"when_captured", "off", "on_record"},
	Aliases: map[string]ChecksumMode{"": ChecksumWhenCaptured},
	Err:     ErrInvalidConfig,
}

// String returns "when_captured", "off" or "on_record", the names of the
// environment and tracing.toml files.
func (m ChecksumMode) String() string { return checksumNames.Name(m) }

// MarshalText returns m's name (see String).
func (m ChecksumMode) MarshalText() ([]byte, error) { return checksumNames.Marshal(m) }

// UnmarshalText reads "when_captured", "off" or "on_record"
// (case-insensitive; "" is the default, when_captured); any other name
// gives an error wrapping ErrInvalidConfig.
func (m *ChecksumMode) UnmarshalText(b []byte) error { return checksumNames.Unmarshal(m, b) }

// RetryConfig is Reflow's retry configuration for the connection to the
// server. Zero fields take the defaults above.
type RetryConfig struct {
	// MaxRetries is how many times a failed send or dial is retried before
	// the batch is given up (spooled, when a spool is set). One rule holds
	// here, in tracing.toml (max_retries) and in the environment
	// (REFLOW_TRACING_MAX_RETRIES), and it is retry.Policy's:
	//
	//	0 (or unset)                  the default, 5
	//	n > 0                         n retries
	//	retry.NoRetries ("none")      no retry
	//	negative, -1 ("unlimited")    retry until the retry policy's time
	//	                              limit or the context ends
	//
	// Unlike Reflow's own client, max_retries = 0 in a file does not mean
	// "never retry" (the loaders warn about an explicit 0): write "none".
	MaxRetries int
	// InitialDelay is the first wait. Default: 1s.
	InitialDelay time.Duration
	// MaxDelay caps each wait. Default: 30s.
	MaxDelay time.Duration
	// BackoffMultiplier grows each wait. Default: 2.
	BackoffMultiplier float64
}

// SamplingConfig chooses which routine events are kept. Critical kinds are
// never sampled out.
type SamplingConfig struct {
	// Strategy is "" or "always" (keep everything, default), "percentage",
	// "every_nth" or "adaptive".
	Strategy string
	// Rate is the fraction kept by "percentage" and the base rate of
	// "adaptive", in [0, 1].
	Rate float64
	// N keeps every N'th event under "every_nth".
	N uint64
	// MaxRate is the rate "adaptive" keeps while the queue is below
	// LoadThreshold; BaseRate (Rate) is kept when it is full. In [0, 1].
	MaxRate float64
	// LoadThreshold is the queue fill fraction (0, 1] above which "adaptive"
	// lowers the rate.
	LoadThreshold float64
	// PerTrace makes decisions deterministic per trace, from a hash of
	// the trace id: all events of a sampled trace are kept together, in
	// every process that samples at the same rate, so that no kept event
	// has a sampled-out parent. That holds for "percentage" and
	// "every_nth"; "adaptive" decides at the rate of the moment, so a
	// trace recorded while the rate changes can lose some of its events.
	// Default: false, each event decided alone: the children of a
	// sampled-out event then have a parent no sink receives (see Sampler).
	PerTrace bool
}

// FilterConfig selects events by actor and kind, like Reflow's EventFilter.
// Patterns are path.Match globs ("sensor_*").
//
// The actor is the event's ActorID, as in Reflow's EventFilter: for a
// DataFlow, the sender. A DataFlow from "sensor_1" to "debug_x" is kept by
// ExcludeActors = ["debug_*"]; to select by the receiver too, add a
// WithFilter predicate on Type.ToActor.
type FilterConfig struct {
	// ActorPatterns keeps only events whose ActorID matches one pattern;
	// empty keeps every actor.
	ActorPatterns []string
	// ExcludeActors drops events whose ActorID matches one pattern.
	ExcludeActors []string
	// EventTypes keeps only these kinds; empty keeps every kind.
	EventTypes []EventKind
}

// PrivacyConfig controls what content leaves the process.
type PrivacyConfig struct {
	// CaptureContent keeps MessageSnapshot.SerializedData and StateDiff
	// bytes; off by default, so they are dropped before the queue.
	CaptureContent bool
	// DropAttributes removes custom attributes whose key matches one of these
	// path.Match patterns.
	DropAttributes []string
	// AnonymizeActors replaces actor ids with a keyed hash.
	AnonymizeActors bool
	// AnonymizeAttributes replaces the values of the custom attributes whose
	// key matches one of these patterns with a keyed hash.
	AnonymizeAttributes []string
	// AnonymizeKey keys the hash; required when anything is anonymized.
	// It never appears in logs or errors. An anonymized value is "anon_"
	// and 16 lower-case hex digits of the hash.
	AnonymizeKey string
	// Checksums says when MessageSnapshot.Checksum, a fingerprint of the
	// content, is computed for captured content (see ChecksumMode); with
	// CaptureContent off no checksum is computed. Default:
	// ChecksumWhenCaptured.
	Checksums ChecksumMode
}

// TracingConfig is what can be written down about a client: Reflow's
// fields (server URL, batch size and timeout, compression, retry, enabled)
// plus the queue, event selection and privacy. Start from DefaultConfig,
// or load it from a tracing.toml file or the environment with package
// config. Zero fields take the defaults.
type TracingConfig struct {
	// Enabled turns recording on. A disabled client costs about a function
	// call per recording. DefaultConfig sets it; the zero TracingConfig is
	// disabled.
	Enabled bool
	// ServerURL is the ws:// or wss:// address of a tracing server, used by
	// the sinks built from this config. Default: "ws://localhost:8080".
	ServerURL string
	// ServerURLs are more servers the WebSocket sink fails over to, in
	// turn, when the one it sends to fails (see websocket.WithFailover).
	// Default: none.
	ServerURLs []string
	// BatchSize is the most events per batch. Default: 512.
	BatchSize int
	// BatchTimeout is how long the oldest event of a batch waits at most.
	// Default: 100ms.
	BatchTimeout time.Duration
	// AdaptiveBatching lets the batch size and timeout follow the link:
	// the client reads the acknowledgement latency its sinks measure
	// (SinkStats.AckLatency) and the events waiting in its queue, and
	// sizes batches to what arrives in one latency (so a slow or busy
	// link gets larger batches, an idle fast one small batches that leave
	// within a millisecond), within [MinBatchSize, MaxBatchSize], with a
	// timeout of that latency, at least 1 ms and at most BatchTimeout.
	// It starts at BatchSize. For the WebSocket sink built from the config
	// it also widens the sink's window of bytes in flight with the latency
	// (websocket.WithAdaptiveWindow), which is what keeps a slow link's
	// throughput. While no sink measures a latency (a file or memory sink
	// alone), the configured BatchSize and BatchTimeout stay in force.
	// DefaultConfig and the loaders of package config turn it on; the
	// zero TracingConfig has it off (see BENCHMARKS.md).
	AdaptiveBatching bool
	// MinBatchSize and MaxBatchSize bound adaptive batching. Default:
	// 64 (at most BatchSize) and an eighth of QueueSize (at most 4096, at
	// least BatchSize; 1024 with the default QueueSize), so that the
	// queue keeps its lanes for concurrent producers. MaxBatchSize is at
	// most QueueSize.
	MinBatchSize, MaxBatchSize int
	// DegradeFill is the fraction of the WebSocket sink's outage buffer
	// (websocket.WithOutageBuffer) past which, while the sink is in an outage
	// (disconnected or stalled), it keeps only critical events (actor
	// lifecycle, failures and errors; see websocket.WithDegradeAt) until the
	// link is back, counting what it sheds as dropped "degraded"
	// (Metrics().Dropped.Sink). A sink with a spool never degrades. Within
	// (0, 1]; a negative value turns it off (degrade_fill = "off" in a
	// tracing.toml file, REFLOW_TRACING_DEGRADE_FILL=off). Default (0):
	// 0.5.
	DegradeFill float64
	// EnableCompression sends large frames as binary frames compressed with
	// CompressionAlgorithm, which must be the algorithm the server is
	// configured with (zstd, the default, for a server on its defaults);
	// with it off every frame is text, which any server reads. Default: off.
	EnableCompression bool
	// CompressionAlgorithm is the server's compression algorithm, used when
	// EnableCompression is on: transport.CompressionZstd (the default and
	// the server's), CompressionLZ4, CompressionGzip, CompressionBrotli, or
	// CompressionAuto to find it out on each connection. CompressionNone
	// sends text frames, as EnableCompression off does.
	CompressionAlgorithm transport.CompressionAlgorithm
	// Protocol is the protocol generation spoken to the server:
	// transport.ProtocolAuto (the default) learns it on each connection;
	// ProtocolV1 or ProtocolV2 fix it.
	Protocol transport.Protocol
	// Retry is the connection retry policy.
	Retry RetryConfig

	// QueueSize is the capacity of the in-memory queue. New allocates all
	// its slots at once: QueueSize rounded up to a power of two, plus an
	// eighth for the priority lane, of about 640 bytes each (QueueMemory
	// says how much: 5.6 MiB for the default). A QueueSize whose slots
	// would take more than 1 GiB (above 1<<20) is rejected by Validate,
	// naming the memory it would take. Default: 8192.
	QueueSize int
	// QueuePolicy is what happens when the queue is full: batch.DropNewest
	// (the default) drops the event being recorded and counts it, so that
	// recording never blocks; batch.Block makes RecordWait wait for room
	// until its context ends, while Record and the per-kind methods still
	// drop when full.
	QueuePolicy batch.Policy
	// CriticalKinds are kept ahead of routine events when something must
	// give; nil means the actor lifecycle kinds (see EventKind.Critical).
	CriticalKinds []EventKind

	Sampling SamplingConfig
	Filters  FilterConfig
	Privacy  PrivacyConfig

	// FlowID names the flow the client traces, used for traces started
	// implicitly and in StoreTrace headers.
	FlowID FlowID
	// Environment and Tags describe this process in trace metadata.
	Environment string
	Tags        map[string]string

	// SystemMetricsInterval, when positive, records a NetworkEvent of
	// actor "system" with event_subtype "system_metric" at this interval.
	SystemMetricsInterval time.Duration
	// HealthThreshold is how long sinks may fail, or one write may hang,
	// before Healthy reports false. Default: 30s.
	HealthThreshold time.Duration

	// Source is where each setting was found (file, line and key, or
	// environment variable), so that Validate, Warnings and New name
	// settings as the user wrote them. It is set by the loaders of
	// package config; nil for a config built in code. A field changed in
	// code after loading is named by its Go path. It is not written as
	// JSON.
	Source ConfigSource `json:"-"`
}

// DefaultConfig returns an enabled configuration with every default set.
func DefaultConfig() TracingConfig {
	c := TracingConfig{Enabled: true, AdaptiveBatching: true}
	c.setDefaults()
	return c
}

func (c *TracingConfig) setDefaults() {
	if c.ServerURL == "" {
		c.ServerURL = defaultServerURL
	}
	if c.BatchSize == 0 {
		c.BatchSize = defaultBatchSize
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = defaultBatchTimeout
	}
	if c.QueueSize == 0 {
		c.QueueSize = defaultQueueSize
	}
	if c.Retry.MaxRetries == 0 {
		c.Retry.MaxRetries = defaultMaxRetries
	}
	if c.Retry.InitialDelay == 0 {
		c.Retry.InitialDelay = defaultInitialDelay
	}
	if c.Retry.MaxDelay == 0 {
		c.Retry.MaxDelay = defaultMaxDelay
	}
	if c.Retry.BackoffMultiplier == 0 {
		c.Retry.BackoffMultiplier = defaultBackoffMultiplier
	}
	if c.HealthThreshold == 0 {
		c.HealthThreshold = defaultHealthThreshold
	}
	if c.DegradeFill == 0 {
		c.DegradeFill = defaultDegradeFill
	}
	if c.FlowID == "" {
		c.FlowID = "default"
	}
}

// WithDefaults returns c with every zero field set to its default.
func (c TracingConfig) WithDefaults() TracingConfig {
	c.setDefaults()
	return c
}

// Validate checks every field (after defaults are applied) and returns an
// error naming each bad field, its value and what is wanted, wrapping
// ErrInvalidConfig; all problems are reported together (errors.Join). A
// field that a loader set (see Source) and code did not change since is
// named as the user wrote it: by file, line and key
// (`tracing.toml:4: tracing.queue_size = 10: must be at least
// tracing.batch_size (512)`) or by environment variable; other fields by
// their Go path (`QueueSize = 10: must be at least BatchSize (512)`).
func (c TracingConfig) Validate() error {
	c.setDefaults()
	var errs []error
	for _, p := range c.problems() {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, c.describe(p.path, p.value), p.why))
	}
	return errors.Join(errs...)
}

// problems returns what Validate rejects in c, whose defaults are set.
func (c *TracingConfig) problems() []problem {
	var ps []problem
	bad := func(field string, v any, why string) {
		ps = append(ps, problem{path: field, value: fmt.Sprint(v), why: why})
	}
	for i, s := range c.ServerURLs {
		if u, err := url.Parse(s); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			bad(fmt.Sprintf("ServerURLs[%d]", i), redactURL(s), "want ws://host:port or wss://host:port")
		}
	}
	if u, err := url.Parse(c.ServerURL); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		bad("ServerURL", redactURL(c.ServerURL), "want ws://host:port or wss://host:port")
	}
	if c.BatchSize < 1 {
		bad("BatchSize", c.BatchSize, "must be at least 1")
	}
	if c.BatchTimeout < 0 {
		bad("BatchTimeout", c.BatchTimeout, "must not be negative")
	}
	switch {
	case c.MinBatchSize < 0:
		bad("MinBatchSize", c.MinBatchSize, "must not be negative")
	case c.MinBatchSize > c.BatchSize && c.BatchSize > 0:
		bad("MinBatchSize", c.MinBatchSize, fmt.Sprintf("must be at most %s (%d)", c.ref("BatchSize"), c.BatchSize))
	}
	switch {
	case c.MaxBatchSize < 0:
		bad("MaxBatchSize", c.MaxBatchSize, "must not be negative")
	case c.MaxBatchSize > 0 && c.MaxBatchSize < max(c.MinBatchSize, c.BatchSize):
		bad("MaxBatchSize", c.MaxBatchSize, fmt.Sprintf("must be at least %s (%d) and %s (%d)",
			c.ref("MinBatchSize"), c.MinBatchSize, c.ref("BatchSize"), c.BatchSize))
	case c.MaxBatchSize > c.QueueSize && c.QueueSize > 0:
		bad("MaxBatchSize", c.MaxBatchSize, fmt.Sprintf("must be at most %s (%d)", c.ref("QueueSize"), c.QueueSize))
	}
	if f := c.DegradeFill; !(f < 0) && !(f > 0 && f <= 1) {
		bad("DegradeFill", f, "must be within (0, 1], or negative for off")
	}
	switch m := c.QueueMemory(); {
	case c.QueueSize < 1:
		bad("QueueSize", c.QueueSize, "must be at least 1")
	case c.QueueSize < c.BatchSize:
		bad("QueueSize", c.QueueSize, fmt.Sprintf("must be at least %s (%d)", c.ref("BatchSize"), c.BatchSize))
	case m < 0 || m > maxQueueMemory:
		// The queue allocates all its slots (QueueSize rounded up to a
		// power of two, plus the priority lane) when the client starts.
		if m < 0 {
			bad("QueueSize", c.QueueSize, fmt.Sprintf("more than the %d slots a queue can have: want at most %d", batch.MaxCapacity, maxQueueSize))
		} else {
			bad("QueueSize", c.QueueSize, fmt.Sprintf("the queue would take %s of event slots, more than the limit of %s: want at most %d",
				formatBytes(m), formatBytes(maxQueueMemory), maxQueueSize))
		}
	}
	if c.CompressionAlgorithm > transport.CompressionNone {
		bad("CompressionAlgorithm", c.CompressionAlgorithm, "want CompressionZstd, CompressionLZ4, CompressionGzip, CompressionBrotli, CompressionAuto or CompressionNone")
	}
	if c.Protocol > transport.ProtocolV2 {
		bad("Protocol", c.Protocol, "want ProtocolAuto, ProtocolV1 or ProtocolV2")
	}
	if c.Privacy.Checksums > ChecksumOnRecord {
		bad("Privacy.Checksums", c.Privacy.Checksums, "want ChecksumWhenCaptured, ChecksumOff or ChecksumOnRecord")
	}
	if c.QueuePolicy > batch.Block {
		bad("QueuePolicy", c.QueuePolicy, "want batch.DropNewest or batch.Block")
	}
	if c.Retry.InitialDelay < 0 {
		bad("Retry.InitialDelay", c.Retry.InitialDelay, "must not be negative")
	}
	if c.Retry.MaxDelay < c.Retry.InitialDelay {
		bad("Retry.MaxDelay", c.Retry.MaxDelay, fmt.Sprintf("must be at least %s (%v)", c.ref("Retry.InitialDelay"), c.Retry.InitialDelay))
	}
	if m := c.Retry.BackoffMultiplier; m < 1 || math.IsNaN(m) || math.IsInf(m, 0) {
		bad("Retry.BackoffMultiplier", m, "must be a finite number >= 1")
	}
	for i, k := range c.CriticalKinds {
		if !k.Valid() {
			bad(fmt.Sprintf("CriticalKinds[%d]", i), k, "unknown event kind")
		}
	}
	strategy := fmt.Sprintf("%s %q", c.ref("Sampling.Strategy"), c.Sampling.Strategy)
	switch c.Sampling.Strategy {
	case "", "always", "percentage", "every_nth", "adaptive":
	default:
		bad("Sampling.Strategy", fmt.Sprintf("%q", c.Sampling.Strategy), `want "always", "percentage", "every_nth" or "adaptive"`)
	}
	unit := func(field string, v float64) {
		if !(v >= 0 && v <= 1) {
			bad(field, v, "must be within [0, 1]")
		}
	}
	unit("Sampling.Rate", c.Sampling.Rate)
	unit("Sampling.MaxRate", c.Sampling.MaxRate)
	switch c.Sampling.Strategy {
	case "every_nth":
		if c.Sampling.N < 1 {
			bad("Sampling.N", c.Sampling.N, "must be at least 1 with "+strategy)
		}
	case "adaptive":
		if t := c.Sampling.LoadThreshold; !(t > 0 && t <= 1) {
			bad("Sampling.LoadThreshold", t, "must be within (0, 1] with "+strategy)
		}
		if c.Sampling.MaxRate < c.Sampling.Rate {
			bad("Sampling.MaxRate", c.Sampling.MaxRate, fmt.Sprintf("must be at least %s (%v)", c.ref("Sampling.Rate"), c.Sampling.Rate))
		}
	}
	globs := func(field string, pats []string) {
		for i, p := range pats {
			if _, err := path.Match(p, ""); err != nil {
				bad(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q", p), "malformed pattern")
			}
		}
	}
	globs("Filters.ActorPatterns", c.Filters.ActorPatterns)
	globs("Filters.ExcludeActors", c.Filters.ExcludeActors)
	globs("Privacy.DropAttributes", c.Privacy.DropAttributes)
	globs("Privacy.AnonymizeAttributes", c.Privacy.AnonymizeAttributes)
	for i, k := range c.Filters.EventTypes {
		if !k.Valid() {
			bad(fmt.Sprintf("Filters.EventTypes[%d]", i), k, "unknown event kind")
		}
	}
	if (c.Privacy.AnonymizeActors || len(c.Privacy.AnonymizeAttributes) > 0) && c.Privacy.AnonymizeKey == "" {
		bad("Privacy.AnonymizeKey", `""`, "required when anonymizing")
	}
	if c.SystemMetricsInterval < 0 {
		bad("SystemMetricsInterval", c.SystemMetricsInterval, "must not be negative")
	}
	if c.HealthThreshold < 0 {
		bad("HealthThreshold", c.HealthThreshold, "must not be negative")
	}
	return ps
}

// QueueMemory returns the bytes of event slots the client's queue holds
// for c (defaults applied): QueueSize rounded up to a power of two, plus a
// priority lane of an eighth of that, at the size of a TraceEvent and its
// sequence number each. New allocates it all at once and keeps it until
// Close; what events point to (strings, content) is not counted. Validate
// rejects a config for which it exceeds batch.MaxMemory (1 GiB). It
// returns -1 when QueueSize is negative or above batch.MaxCapacity.
func (c TracingConfig) QueueMemory() int64 {
	c.setDefaults()
	return queueConfig(&c).MemoryBytes(unsafe.Sizeof(TraceEvent{}))
}

// queueConfig returns the batch.Config of the client's queue for c, whose
// defaults are set.
func queueConfig(c *TracingConfig) batch.Config {
	return batch.Config{
		Capacity: c.QueueSize,
		MaxBatch: c.BatchSize,
		Timeout:  c.BatchTimeout,
		Policy:   c.QueuePolicy,
		// An event is ~600 bytes, most of them zero: clearing each slot
		// after its batch and writing it again when it is reused would
		// touch every byte twice. What an event points to then stays
		// reachable until its slot is reused, except captured content,
		// which handle drops once the sinks have written it.
		ClearOnReuse: true,
	}
}

// maxQueueMemory is the most bytes of event slots a client's queue may
// hold (see TracingConfig.QueueMemory).
const maxQueueMemory = batch.MaxMemory

// maxQueueSize is the largest QueueSize whose queue fits maxQueueMemory.
var maxQueueSize = func() int {
	for n := 1; ; n *= 2 {
		if m := (TracingConfig{QueueSize: 2 * n}).QueueMemory(); m < 0 || m > maxQueueMemory {
			return n
		}
	}
}()

// formatBytes writes n in the largest binary unit that keeps it >= 1.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 5 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTPE"[i])
}

// redactURL hides a password in a URL before it is shown in an error.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("%q", "<unparsable URL>")
	}
	return fmt.Sprintf("%q", u.Redacted())
}
