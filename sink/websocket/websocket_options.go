package websocket

import (
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/internal/header"
	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/dial"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// Defaults of the WebSocket sink.
const (
	// DefaultMaxFrameBytes bounds every frame the sink sends, below the
	// protocol's 16 MiB maximum message size.
	DefaultMaxFrameBytes = 16<<20 - 64<<10
	// DefaultCompressionThreshold is the smallest frame compressed when
	// compression is on.
	DefaultCompressionThreshold = 1024
	// DefaultMaxInFlightFrames and DefaultMaxInFlightBytes bound the frames
	// sent and not acknowledged yet.
	DefaultMaxInFlightFrames = 1024
	DefaultMaxInFlightBytes  = 8 << 20
	// DefaultOutageBufferBytes bounds the memory the sink holds for
	// events not acknowledged yet (see WithOutageBuffer).
	DefaultOutageBufferBytes = 64 << 20
	// DefaultKeepaliveInterval and DefaultKeepaliveTimeout: a WebSocket ping
	// every interval; a peer that does not answer within the timeout is
	// taken for dead and the connection is redialed.
	DefaultKeepaliveInterval = 15 * time.Second
	DefaultKeepaliveTimeout  = 10 * time.Second
	// DefaultDialTimeout bounds one connection attempt (TCP, TLS and the
	// WebSocket upgrade).
	DefaultDialTimeout = 10 * time.Second
	// DefaultWriteTimeout bounds writing the frames of one turn to the
	// connection.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultSpoolMaxBytes and DefaultSpoolMaxAge limit the spool.
	DefaultSpoolMaxBytes = 1 << 30
	DefaultSpoolMaxAge   = 24 * time.Hour
	// DefaultAPIKeyHeader carries the API key set by WithAPIKey.
	DefaultAPIKeyHeader = "X-API-Key"
)

const (
	// minFrameBytes is the smallest limit WithMaxFrameBytes takes.
	minFrameBytes = 1 << 10
	// minOutageBufferBytes is the smallest limit WithOutageBuffer takes:
	// a trace segment holds at most a quarter of it, which must hold an
	// event as large as the smallest frame.
	minOutageBufferBytes = 4 * minFrameBytes
)

// Mode chooses the messages the WebSocket sink sends.
//
// The modes, their values and names (String):
//
//	ModeStore   0  store
//	ModeLive    1  live
//	ModeBoth    2  both
type Mode uint8

// The WebSocket sink modes.
const (
	// ModeStore keeps every event through StoreTrace, on both generations
	// (default): each store carries all the events of its trace segment
	// so far, since the server replaces a stored trace whole.
	ModeStore Mode = iota
	// ModeLive sends one RecordEvent per event, which the server forwards
	// to its subscribers. Generation 1 keeps none of them. Generation 2
	// appends them to the trace, and the sink ends each segment with one
	// StoreTrace of the segment's events that gives it its full header
	// (execution id, and the tags that link the segments of a long trace).
	ModeLive
	// ModeBoth does both: kept on both generations and forwarded.
	ModeBoth
)

// String returns "store", "live" or "both".
func (m Mode) String() string {
	switch m {
	case ModeStore:
		return "store"
	case ModeLive:
		return "live"
	case ModeBoth:
		return "both"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

func (m Mode) store() bool { return m == ModeStore || m == ModeBoth }
func (m Mode) live() bool  { return m == ModeLive || m == ModeBoth }

// Option configures a WebSocket sink. Build options with the WithX
// functions that return an Option.
type Option interface{ applyWebSocket(*wsConfig) }

type wsOptionFunc func(*wsConfig)

func (f wsOptionFunc) applyWebSocket(c *wsConfig) { f(c) }

type wsConfig struct {
	log           *zap.Logger
	onError       func(error)
	mode          Mode
	maxFrame      int
	compress      bool
	alg           transport.CompressionAlgorithm
	compressMin   int
	inflight      int
	inflightB     int
	outageB       int
	keepalive     time.Duration
	keepaliveTO   time.Duration
	dialTimeout   time.Duration
	writeTimeout  time.Duration
	policy        retry.Policy
	retryOpts     []retry.Option
	spoolDir      string
	spoolSync     sink.SyncPolicy
	spoolMaxB     int64
	spoolMaxAge   time.Duration
	storeDelay    time.Duration
	protocol      transport.Protocol
	failover      []string
	tls           *transport.TLSOptions
	apiKey        string
	apiKeyHeader  string
	bearer        string
	header        http.Header
	origin        string
	redirectCreds bool
	flowID        tracing.FlowID
	version       tracing.FlowVersion
	execID        tracing.ExecutionID
	meta          tracing.TraceMetadata
	metaSet       bool
	env           string
	tags          map[string]string
	now           func() time.Time
	// adaptiveWindow widens the window with the acknowledgement latency;
	// degradeFill is WithDegradeAt's fraction (0: off).
	adaptiveWindow bool
	degradeFill    float64
}

func newWSConfig(opts []Option) (*wsConfig, error) {
	c := &wsConfig{
		log:            zap.NewNop(),
		maxFrame:       DefaultMaxFrameBytes,
		compressMin:    DefaultCompressionThreshold,
		inflight:       DefaultMaxInFlightFrames,
		inflightB:      DefaultMaxInFlightBytes,
		outageB:        DefaultOutageBufferBytes,
		adaptiveWindow: true,
		keepalive:      DefaultKeepaliveInterval,
		keepaliveTO:    DefaultKeepaliveTimeout,
		dialTimeout:    DefaultDialTimeout,
		writeTimeout:   DefaultWriteTimeout,
		policy:         retry.DefaultPolicy(),
		spoolSync:      sink.SyncInterval(time.Second),
		spoolMaxB:      DefaultSpoolMaxBytes,
		spoolMaxAge:    DefaultSpoolMaxAge,
		storeDelay:     DefaultStoreDelay,
		apiKeyHeader:   DefaultAPIKeyHeader,
		header:         http.Header{},
		flowID:         "default",
		now:            time.Now,
		degradeFill:    DefaultDegradeFill,
	}
	for _, o := range opts {
		if o != nil {
			o.applyWebSocket(c)
		}
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	var errs []error
	bad := func(name string, v any, why string) {
		errs = append(errs, fmt.Errorf("%w: %s(%v): %s", sink.ErrInvalidOption, name, v, why))
	}
	if c.mode > ModeBoth {
		bad("WithMode", c.mode, "want ModeStore, ModeLive or ModeBoth")
	}
	if c.maxFrame < minFrameBytes || c.maxFrame > 16<<20-1 {
		bad("WithMaxFrameBytes", c.maxFrame, "want 1 KiB up to 16 MiB - 1")
	}
	if c.alg > transport.CompressionNone {
		bad("WithCompression", c.alg, "want zstd, lz4, gzip, brotli, auto or none")
	}
	if c.compressMin < 0 {
		bad("WithCompressionThreshold", c.compressMin, "must not be negative")
	}
	if c.inflight < 1 || c.inflightB < 1 {
		bad("WithMaxInFlight", fmt.Sprintf("%d, %d", c.inflight, c.inflightB), "both must be at least 1")
	}
	if c.outageB < minOutageBufferBytes {
		bad("WithOutageBuffer", c.outageB, fmt.Sprintf("want at least %d bytes: a trace segment holds at most a quarter of the limit, "+
			"which must hold an event as large as the smallest frame (WithMaxFrameBytes takes %d)", minOutageBufferBytes, minFrameBytes))
	}
	if c.keepalive < 0 || c.keepaliveTO <= 0 && c.keepalive > 0 {
		bad("WithKeepalive", fmt.Sprintf("%v, %v", c.keepalive, c.keepaliveTO), "interval must not be negative and timeout must be positive")
	}
	if c.protocol > transport.ProtocolV2 {
		bad("WithProtocol", c.protocol, "want transport.ProtocolAuto, ProtocolV1 or ProtocolV2")
	}
	if f := c.degradeFill; !(f >= 0 && f <= 1) {
		bad("WithDegradeAt", f, "want a fraction within [0, 1] (0 turns it off)")
	}
	if c.storeDelay <= 0 {
		bad("WithStoreDelay", c.storeDelay, "must be positive")
	}
	if c.dialTimeout <= 0 {
		bad("WithDialTimeout", c.dialTimeout, "must be positive")
	}
	if c.writeTimeout <= 0 {
		bad("WithWriteTimeout", c.writeTimeout, "must be positive")
	}
	if err := c.policy.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: WithRetry: %w", sink.ErrInvalidOption, err))
	}
	if err := c.spoolSync.Validate("WithSpoolSync"); err != nil {
		errs = append(errs, err)
	}
	if c.spoolMaxB < 0 || c.spoolMaxAge < 0 {
		bad("WithSpoolLimits", fmt.Sprintf("%d, %v", c.spoolMaxB, c.spoolMaxAge), "must not be negative")
	}
	// Values net/http would refuse at every dial, or that would split the
	// upgrade request, are refused here. Secrets are named, never shown.
	if !header.IsToken(c.apiKeyHeader) {
		bad("WithAPIKeyHeader", fmt.Sprintf("%q", c.apiKeyHeader), "must be a header name (an RFC 7230 token)")
	}
	for _, o := range []struct{ name, value string }{
		{"WithAPIKey", c.apiKey}, {"WithBearerToken", c.bearer}, {"WithOrigin", c.origin},
	} {
		if !header.IsValue(o.value) {
			errs = append(errs, fmt.Errorf("%w: %s: holds a control character (CR, LF or another), which cannot go in a header", sink.ErrInvalidOption, o.name))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.header)) {
		if !header.IsToken(k) {
			errs = append(errs, fmt.Errorf("%w: WithHeader(%q, …): the name must be an RFC 7230 token", sink.ErrInvalidOption, k))
		}
		for _, v := range c.header[k] {
			if !header.IsValue(v) {
				errs = append(errs, fmt.Errorf("%w: WithHeader(%q, …): the value holds a control character (CR, LF or another)", sink.ErrInvalidOption, k))
				break
			}
		}
	}
	if c.apiKey != "" && c.bearer != "" {
		errs = append(errs, fmt.Errorf("%w: WithAPIKey and WithBearerToken both set", sink.ErrInvalidOption))
	}
	if !c.metaSet {
		c.meta.Hostname, _ = os.Hostname()
		c.meta.ProcessID = uint32(os.Getpid())
	}
	if c.env != "" {
		c.meta.Environment = c.env
	}
	if c.tags != nil {
		c.meta.Tags = c.tags
	}
	if c.meta.Environment == "" {
		c.meta.Environment = "development"
	}
	if c.execID.IsZero() {
		c.execID = tracing.NewExecutionID()
	}
	return c, errors.Join(errs...)
}

// dialConfig is what the dialers take of c.
func (c *wsConfig) dialConfig(tlsCfg *tls.Config) dial.Config {
	return dial.Config{
		TLS: tlsCfg, Header: c.header, APIKeyHeader: c.apiKeyHeader, APIKey: c.apiKey, Bearer: c.bearer,
		Origin: c.origin, RedirectCredentials: c.redirectCreds, Timeout: c.dialTimeout,
	}
}

// checkURL checks the parts of a server URL that url.Parse leaves alone:
// the host, which must not be empty (url.Parse takes "ws://:80" for a
// URL with a port and no host); the port, which must be within 1 to
// 65535 when given, and not empty after a colon; and the credentials,
// which must hold no control character.
func checkURL(u *url.URL) error {
	if u.Hostname() == "" {
		return fmt.Errorf("%w: url %q: no host: want ws://host:port or wss://host:port", sink.ErrInvalidOption, dial.ShowURL(u.String()))
	}
	if strings.HasSuffix(u.Host, ":") {
		return fmt.Errorf("%w: url %q: empty port: want ws://host:port or wss://host:port", sink.ErrInvalidOption, dial.ShowURL(u.String()))
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		if !header.IsValue(u.User.Username()) || !header.IsValue(pass) {
			return fmt.Errorf("%w: url %q: the credentials hold a control character", sink.ErrInvalidOption, dial.ShowURL(u.String()))
		}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("%w: url %q: port %s is not within 1 to 65535", sink.ErrInvalidOption, dial.ShowURL(u.String()), p)
		}
	}
	return nil
}

// WithMode chooses store (StoreTrace), live (RecordEvent) or both.
// Default: ModeStore.
func WithMode(m Mode) Option {
	return wsOptionFunc(func(c *wsConfig) { c.mode = m })
}

// WithLogger sets the logger of the WebSocket sink; it logs as
// "sink.websocket". Default: zap.NewNop().
func WithLogger(log *zap.Logger) Option {
	return wsOptionFunc(func(c *wsConfig) { c.log = log })
}

// WithErrorHandler calls h with every error the sink meets in the
// background: server rejections, events too large for a frame, lost
// connections, dropped events. h is called from the sink's goroutines and
// from Write; it must not block or call the sink. Default: none.
func WithErrorHandler(h func(error)) Option {
	return wsOptionFunc(func(c *wsConfig) { c.onError = h })
}

// WithMaxFrameBytes bounds the size of every frame (the uncompressed JSON).
// Batches that would exceed it are split; an event too large on its own is
// dropped and reported. Valid from 1 KiB to 16 MiB - 1. Default:
// DefaultMaxFrameBytes.
func WithMaxFrameBytes(n int) Option {
	return wsOptionFunc(func(c *wsConfig) { c.maxFrame = n })
}

// WithCompression chooses the algorithm the WebSocket sink
// compresses frames with; transport.CompressionNone turns compression off.
// Default: transport.CompressionNone.
//
// The sink sends frames of at least WithCompressionThreshold bytes as
// binary frames compressed with alg, which must be the server's
// algorithm: transport.CompressionZstd (a server's default),
// CompressionLZ4, CompressionGzip or CompressionBrotli, or
// CompressionAuto, which tries each in turn, one connection each. A server
// decompresses binary frames with its one configured algorithm and drops
// the connection on any other, so the sink checks the algorithm on every
// connection with a compressed Ping first: on a mismatch it logs one error
// naming the algorithm and sends text frames, which every server reads.
// Replies are decoded whatever algorithm the server compressed them with.
func WithCompression(alg transport.CompressionAlgorithm) Option {
	return wsOptionFunc(func(c *wsConfig) {
		c.alg, c.compress = alg, alg != transport.CompressionNone
	})
}

// WithCompressionThreshold sets the smallest frame the WebSocket sink
// compresses when WithCompression chose an algorithm; smaller frames go
// as text. Default: DefaultCompressionThreshold.
func WithCompressionThreshold(n int) Option {
	return wsOptionFunc(func(c *wsConfig) { c.compressMin = n })
}

// WithMaxInFlight bounds the frames sent and not acknowledged yet, by count
// and by bytes; while connected, Write waits when as much again is queued.
// Default: DefaultMaxInFlightFrames, DefaultMaxInFlightBytes.
func WithMaxInFlight(frames, bytes int) Option {
	return wsOptionFunc(func(c *wsConfig) { c.inflight, c.inflightB = frames, bytes })
}

// WithOutageBuffer bounds, in bytes, the memory the sink holds for
// sending and re-sending events: in store mode the JSON of the events of
// every trace segment not yet acknowledged in full (each StoreTrace must
// carry all events of its segment, since the server replaces a stored
// trace whole), and while the server is unreachable the live frames
// waiting for it. When it is reached, Write first seals the largest
// segments, then waits (so the client's queue and its policy decide),
// and only when its context ends drops routine events (counted as
// DropOutageBufferFull) and keeps critical ones; when an outage degrades
// the sink meanwhile (WithDegradeAt), its routine events are dropped at
// once, as DropDegraded. A segment holds at most a quarter of the
// limit. The limit counts what the sink holds by capacity,
// each byte once: a store being sent or waiting for its acknowledgement
// refers to its segment's JSON instead of copying it, and the sink reuses
// the memory of acknowledged segments for new ones; compression's
// buffers are counted too. The Go heap the sink takes stays within about
// the limit plus a few MiB (measured at its peak, while the server was
// slow, dropped connections or was down: 18-20 MiB at 16 MiB, 66 MiB at 64
// MiB), not counting the client's queue; with compression on, the
// compressor's own state adds about 5 (lz4) to 8 MiB (zstd).
//
// The limit must be at least 4 KiB, four times the smallest frame
// WithMaxFrameBytes takes, since a segment holds at most a quarter of it;
// New refuses less. An event larger than a quarter of the limit (or than
// the frame limit) is dropped, counted as DropTooLarge and reported: to
// keep every event that fits in a frame, give at least four times
// WithMaxFrameBytes. Default: DefaultOutageBufferBytes.
func WithOutageBuffer(bytes int) Option {
	return wsOptionFunc(func(c *wsConfig) { c.outageB = bytes })
}

// WithAdaptiveWindow widens the window of bytes in flight (WithMaxInFlight)
// with the acknowledgement latency the sink measures: above 10 ms it grows
// in proportion, so that a slow link carries as many bytes per second as a
// fast one (the configured bytes per 10 ms), up to half the outage buffer
// (WithOutageBuffer), which still bounds all the memory the sink holds; it
// comes back down as the latency does. OptionsFromConfig sets it from
// TracingConfig.AdaptiveBatching. Default: on (BENCHMARKS.md: at 50 ms a
// fixed window of the default size carries less than half of what the
// adaptive one does).
func WithAdaptiveWindow(on bool) Option {
	return wsOptionFunc(func(c *wsConfig) { c.adaptiveWindow = on })
}

// WithDegradeAt makes the sink keep only critical events while it is in an
// outage (disconnected with no acknowledgement or connection for 500 ms,
// so that a server that only drops connections is not an outage, or
// connected with frames outstanding and no
// acknowledgement for 10 s, or 8 times the acknowledgement latency if
// that is longer) and holds at least fill (a fraction of
// WithOutageBuffer) for sending: routine events are shed at once in Write,
// counted as DropDegraded, instead of filling the rest of the buffer and
// making Write wait, so that the room left, and the client's queue, stay
// for critical events (a Write already waiting for room when the outage
// starts sheds its routine events then, and its critical events go on
// at once into a reserve of a quarter of the limit above it, and beyond
// that wait for room as WithOutageBuffer says): actor lifecycle events
// (ActorCreated, ActorStarted, ActorCompleted, ActorFailed), events with
// an error, and events whose
// "status" attribute is "failed". Traces' starts and ends always go. The
// sink keeps every event again once it is connected, acknowledgements come
// and the frames waiting to be sent or acknowledged take less than fill
// again (the state changes at the start of a Write). A sink with a spool
// (WithSpoolDir) never degrades: what memory cannot hold goes to disk,
// where routine events are refused before critical ones when it is full.
// Stats().Degraded tells the state. 0 turns it off. Default:
// DefaultDegradeFill.
func WithDegradeAt(fill float64) Option {
	return wsOptionFunc(func(c *wsConfig) { c.degradeFill = fill })
}

// WithFailover names more servers, after the one New was given,
// for the sink to move to when the one it sends to fails (refused,
// dropped, or timing out): it sends to one server at a time, tries the
// next one on each failed dial or lost connection, and so comes back to
// the first in turn, with the retry policy's backoff. Frames not
// acknowledged move with it. Every StoreTrace carries all the events of
// its trace segment, so each server holds complete copies of the segments
// it received: a trace spread over two servers is found by asking both
// for its trace id (or its execution id) and taking, for each trace id,
// the copy with the most events. Credentials and TLS options apply to
// every server; New logs one Warn naming every server over which they
// would go unencrypted (see WithAPIKey). Default: none.
func WithFailover(urls ...string) Option {
	return wsOptionFunc(func(c *wsConfig) { c.failover = append(c.failover, urls...) })
}

// WithProtocol sets the protocol generation the sink speaks, instead of
// learning it on every connection with a probe that reads nothing and
// changes nothing (transport.ProtocolAuto, the default).
func WithProtocol(p transport.Protocol) Option {
	return wsOptionFunc(func(c *wsConfig) { c.protocol = p })
}

// WithStoreDelay bounds how long, in store mode, an event of a slowly
// growing trace waits before a StoreTrace carries it; the wait grows by
// this much per MiB of the trace's segment, so that a long, slow trace is
// not re-sent whole every time. A fast trace is stored as soon as it has
// doubled since its last store, and Flush and Close store everything.
// Default: DefaultStoreDelay.
func WithStoreDelay(d time.Duration) Option {
	return wsOptionFunc(func(c *wsConfig) { c.storeDelay = d })
}

// WithKeepalive pings the server every interval; a server that does not
// answer within timeout is taken for dead and the connection is redialed.
// An interval of 0 disables pings. Default: DefaultKeepaliveInterval,
// DefaultKeepaliveTimeout.
func WithKeepalive(interval, timeout time.Duration) Option {
	return wsOptionFunc(func(c *wsConfig) { c.keepalive, c.keepaliveTO = interval, timeout })
}

// WithDialTimeout bounds one connection attempt. Default:
// DefaultDialTimeout.
func WithDialTimeout(d time.Duration) Option {
	return wsOptionFunc(func(c *wsConfig) { c.dialTimeout = d })
}

// WithWriteTimeout bounds writing a turn of frames to the connection; a
// write that takes longer closes the connection. Default:
// DefaultWriteTimeout.
func WithWriteTimeout(d time.Duration) Option {
	return wsOptionFunc(func(c *wsConfig) { c.writeTimeout = d })
}

// WithRetry sets the reconnection policy. Frames waiting in memory when a
// whole round of retries failed are spooled (with a spool) or dropped and
// counted; the sink then starts another round. Default:
// retry.DefaultPolicy().
func WithRetry(p retry.Policy) Option {
	return wsOptionFunc(func(c *wsConfig) { c.policy = p })
}

// WithRetryOptions passes options to every retry.Policy.Do the sink runs,
// for example retry.WithTimer in tests. Default: none.
func WithRetryOptions(opts ...retry.Option) Option {
	return wsOptionFunc(func(c *wsConfig) { c.retryOpts = append(c.retryOpts, opts...) })
}

// WithSpoolDir keeps on disk, in dir, what the sink cannot deliver: the
// frames waiting when a round of reconnection attempts gives up, and those
// not acknowledged at Close (each trace segment as one StoreTrace of all
// its events). They are replayed oldest first when the server is back,
// before newer frames, also by a later sink opening the same dir, which
// resumes after the last record acknowledged (NNN.spool.ack files) and
// sets damaged segments aside (NNN.spool.damaged). One sink at a time
// uses a dir: it holds the dir's LOCK file from New to Close (released by
// the operating system however its process ends), and New fails with an
// error wrapping ErrSpoolInUse while another sink holds it. Default: none
// (what cannot be delivered is dropped and counted).
func WithSpoolDir(dir string) Option {
	return wsOptionFunc(func(c *wsConfig) { c.spoolDir = dir })
}

// WithSpoolSync chooses when the spool fsyncs (see SyncPolicy; a record
// is one spooled frame). Default: SyncInterval(time.Second), which also
// syncs on Flush, when a segment is finished and at Close.
func WithSpoolSync(p sink.SyncPolicy) Option {
	return wsOptionFunc(func(c *wsConfig) { c.spoolSync = p })
}

// WithSpoolLimits bounds the spool by bytes and by record age; 0 means no
// limit. When full, routine events are refused before critical ones (the
// last eighth is kept for critical events); records older than maxAge are
// dropped at replay. Both count drops. Default: DefaultSpoolMaxBytes,
// DefaultSpoolMaxAge.
func WithSpoolLimits(maxBytes int64, maxAge time.Duration) Option {
	return wsOptionFunc(func(c *wsConfig) { c.spoolMaxB, c.spoolMaxAge = maxBytes, maxAge })
}

// WithAPIKey sends key in the API key header (DefaultAPIKeyHeader unless
// WithAPIKeyHeader says otherwise) on every connection. The key never
// appears in logs, errors or Stats. New refuses a key holding CR,
// LF or another control character, and logs a Warn when the key would go
// over ws:// to a host that is not loopback. Default: none.
func WithAPIKey(key string) Option {
	return wsOptionFunc(func(c *wsConfig) { c.apiKey = key })
}

// WithAPIKeyHeader names the header carrying the API key. New
// refuses a name that is not an RFC 7230 token. Default:
// DefaultAPIKeyHeader.
func WithAPIKeyHeader(name string) Option {
	return wsOptionFunc(func(c *wsConfig) { c.apiKeyHeader = name })
}

// WithBearerToken sends "Authorization: Bearer token" on every connection.
// The token never appears in logs, errors or Stats. New refuses a
// token holding CR, LF or another control character, and logs a Warn when
// the token would go over ws:// to a host that is not loopback. Default:
// none.
func WithBearerToken(token string) Option {
	return wsOptionFunc(func(c *wsConfig) { c.bearer = token })
}

// WithHeader adds a header to the WebSocket upgrade request. Its value is
// treated as a secret in logs and errors. New refuses a key that
// is not an RFC 7230 token and a value holding CR, LF or another control
// character, and logs a Warn when a header whose name says it carries
// credentials (Cookie, the API key header, or a name holding "auth",
// "token", "key", "secret", "passw", "session" or "credential", such as
// Authorization or X-API-Key) would go over ws:// to a host that is not
// loopback. Default: none.
func WithHeader(key, value string) Option {
	return wsOptionFunc(func(c *wsConfig) { c.header.Add(key, value) })
}

// WithRedirectCredentials sends the credentials again after the server
// redirects the upgrade request to another path of the same scheme and
// host: the API key, the bearer token, the headers given with WithHeader
// and the URL's user info. Whatever it says, the sink never follows a
// redirect to another scheme (wss to ws included) or host:port; the dial
// then fails with an error wrapping ErrRedirectRefused and ErrPermanent.
// Default: false, a redirect is followed without the credentials, so a
// server that requires them refuses the redirected request.
func WithRedirectCredentials(on bool) Option {
	return wsOptionFunc(func(c *wsConfig) { c.redirectCreds = on })
}

// WithOrigin sets the Origin header of the upgrade request. New
// refuses a value holding CR, LF or another control character. Default:
// none.
func WithOrigin(origin string) Option {
	return wsOptionFunc(func(c *wsConfig) { c.origin = origin })
}

// WithFlowID names the flow in the StoreTrace header of events whose trace
// the sink was not told about. Default: "default".
func WithFlowID(id tracing.FlowID) Option {
	return wsOptionFunc(func(c *wsConfig) { c.flowID = id })
}

// WithFlowVersion sets the version in those headers. Default: 0.0.0.
func WithFlowVersion(v tracing.FlowVersion) Option {
	return wsOptionFunc(func(c *wsConfig) { c.version = v })
}

// WithTraceMetadata sets the metadata in those headers. Default: this
// host's name and process id, environment "development", no tags.
func WithTraceMetadata(m tracing.TraceMetadata) Option {
	return wsOptionFunc(func(c *wsConfig) { c.meta, c.metaSet = m, true })
}

// WithEnvironment sets the metadata's environment. Default:
// "development".
func WithEnvironment(env string) Option {
	return wsOptionFunc(func(c *wsConfig) { c.env = env })
}

// WithTags sets the metadata's tags. Default: none.
func WithTags(tags map[string]string) Option {
	return wsOptionFunc(func(c *wsConfig) { c.tags = tags })
}

// withClock replaces the clock used for spool ages, for tests.
func withClock(now func() time.Time) Option {
	return wsOptionFunc(func(c *wsConfig) { c.now = now })
}

// OptionsFromConfig returns the options cfg implies for a
// WebSocket sink: compression (WithCompression of cfg.CompressionAlgorithm
// when cfg.EnableCompression is set, else of transport.CompressionNone), the
// protocol generation, the retry policy, the flow id, the adaptive window
// (AdaptiveBatching), degrading during an outage (DegradeFill),
// environment and tags. Use it as
// websocket.New(cfg.ServerURL, websocket.OptionsFromConfig(cfg)...).
func OptionsFromConfig(cfg tracing.TracingConfig) []Option {
	cfg = cfg.WithDefaults()
	p := retry.DefaultPolicy()
	switch p.MaxRetries = cfg.Retry.MaxRetries; {
	case p.MaxRetries == retry.NoRetries:
		p.MaxRetries = retry.NoRetries
	case p.MaxRetries < 0:
		p.MaxRetries = retry.Unlimited
	}
	p.InitialDelay = cfg.Retry.InitialDelay
	p.MaxDelay = cfg.Retry.MaxDelay
	p.BackoffMultiplier = cfg.Retry.BackoffMultiplier
	alg := transport.CompressionNone
	if cfg.EnableCompression {
		alg = cfg.CompressionAlgorithm
	}
	opts := []Option{
		WithCompression(alg),
		WithProtocol(cfg.Protocol),
		WithFailover(cfg.ServerURLs...),
		WithRetry(p),
		WithFlowID(cfg.FlowID),
		WithAdaptiveWindow(cfg.AdaptiveBatching),
		WithDegradeAt(max(cfg.DegradeFill, 0)), // negative: 0, off
	}
	if cfg.Environment != "" {
		opts = append(opts, WithEnvironment(cfg.Environment))
	}
	if cfg.Tags != nil {
		opts = append(opts, WithTags(cfg.Tags))
	}
	return opts
}
