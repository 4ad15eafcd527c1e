package otlp

import (
	"crypto/tls"
	"fmt"
	"maps"
	"net"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"
	"google.golang.org/grpc/credentials"
)

// DefaultServiceName is the service.name resource attribute of the spans a
// Sink exports unless WithServiceName or WithResource sets another.
const DefaultServiceName = "reflowtrace"

// DefaultMaxTraces is how many traces a Sink remembers by default (see
// WithMaxTraces).
const DefaultMaxTraces = 1024

// Protocol is the OTLP transport a Sink exports with.
type Protocol uint8

// The protocols. The zero value is ProtocolHTTP, the transport the
// OpenTelemetry specification makes the default.
const (
	// ProtocolHTTP is OTLP/HTTP with protobuf bodies (otlptracehttp);
	// default endpoint localhost:4318, path /v1/traces.
	ProtocolHTTP Protocol = iota
	// ProtocolGRPC is OTLP/gRPC (otlptracegrpc); default endpoint
	// localhost:4317.
	ProtocolGRPC
)

// String returns "http/protobuf" or "grpc", the names the OpenTelemetry
// specification gives the protocols.
func (p Protocol) String() string {
	switch p {
	case ProtocolHTTP:
		return "http/protobuf"
	case ProtocolGRPC:
		return "grpc"
	}
	return "Protocol(" + strconv.Itoa(int(p)) + ")"
}

// RetryConfig is how the exporter retries a failed export within one Write,
// Flush or Close: the same settings as otlptracehttp.RetryConfig and
// otlptracegrpc.RetryConfig. The exporter retries only what OTLP marks
// retryable (unavailable, throttled, …) and never past the call's ctx.
type RetryConfig struct {
	// Enabled turns retries on.
	Enabled bool
	// InitialInterval is the wait after the first failure.
	InitialInterval time.Duration
	// MaxInterval caps the wait between two attempts.
	MaxInterval time.Duration
	// MaxElapsedTime is the most time spent on one export, retries
	// included; past it the export fails.
	MaxElapsedTime time.Duration
}

// Option configures a Sink. Options are made by the WithX functions of this
// package; a later option overrides an earlier one of the same kind.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	protocol    Protocol
	endpoint    string
	endpointURL string
	insecure    bool
	tls         *tls.Config
	headers     map[string]string
	timeout     time.Duration
	gzip        bool
	retry       *RetryConfig
	httpOpts    []otlptracehttp.Option
	grpcOpts    []otlptracegrpc.Option
	exporter    sdktrace.SpanExporter
	serviceName string
	resource    *resource.Resource
	maxTraces   int
	logger      *zap.Logger
	meter       metric.MeterProvider
	err         error
}

func (c *config) invalid(option, format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: %s: %s", ErrInvalidOption, option, fmt.Sprintf(format, args...))
	}
}

// WithProtocol selects the transport. Default: ProtocolHTTP.
func WithProtocol(p Protocol) Option {
	return optionFunc(func(c *config) {
		if p != ProtocolHTTP && p != ProtocolGRPC {
			c.invalid("WithProtocol", "unknown protocol %d", uint8(p))
			return
		}
		c.protocol = p
	})
}

// WithEndpoint sets the collector's host and port ("collector:4317"),
// without scheme or path. It overrides WithEndpointURL. Default: the
// exporter's, which honours OTEL_EXPORTER_OTLP_ENDPOINT and
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else localhost:4318 (HTTP) or
// localhost:4317 (gRPC).
func WithEndpoint(hostport string) Option {
	return optionFunc(func(c *config) {
		if _, _, err := net.SplitHostPort(hostport); err != nil {
			c.invalid("WithEndpoint", "%q is not host:port: %v", hostport, err)
			return
		}
		c.endpoint, c.endpointURL = hostport, ""
	})
}

// defaultTracesPath is where an OTLP/HTTP receiver takes traces.
const defaultTracesPath = "/v1/traces"

// WithEndpointURL sets the collector's URL: http:// (plain text) or
// https:// (TLS), with a path for HTTP ("https://collector:4318/v1/traces";
// no path means /v1/traces). It overrides WithEndpoint. Default: see
// WithEndpoint.
func WithEndpointURL(rawURL string) Option {
	return optionFunc(func(c *config) {
		u, err := url.Parse(rawURL)
		if err != nil {
			c.invalid("WithEndpointURL", "%q: %v", rawURL, err)
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			c.invalid("WithEndpointURL", "%q: scheme must be http or https", rawURL)
			return
		}
		if u.Host == "" {
			c.invalid("WithEndpointURL", "%q has no host", rawURL)
			return
		}
		c.endpointURL, c.endpoint = rawURL, ""
	})
}

// WithInsecure exports in plain text (no TLS). It conflicts with
// WithTLSConfig. Default: TLS, unless the endpoint URL is http:// or the
// OTEL_EXPORTER_OTLP_INSECURE variable says otherwise.
func WithInsecure() Option {
	return optionFunc(func(c *config) { c.insecure = true })
}

// WithTLSConfig sets the TLS client configuration (root CAs, client
// certificate, server name). The Sink keeps a clone of cfg. Default: the
// system roots.
func WithTLSConfig(cfg *tls.Config) Option {
	return optionFunc(func(c *config) {
		if cfg == nil {
			c.invalid("WithTLSConfig", "nil config")
			return
		}
		c.tls = cfg.Clone()
	})
}

// WithHeaders sets headers sent with every export (HTTP headers, or gRPC
// metadata): for example an API key. The Sink keeps a copy of h. Default:
// none, or OTEL_EXPORTER_OTLP_HEADERS.
func WithHeaders(h map[string]string) Option {
	return optionFunc(func(c *config) { c.headers = maps.Clone(h) })
}

// WithTimeout bounds each export attempt, retries included. Default: the
// exporter's, 10s (or OTEL_EXPORTER_OTLP_TIMEOUT).
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.invalid("WithTimeout", "%v is not positive", d)
			return
		}
		c.timeout = d
	})
}

// WithGzip compresses export bodies with gzip. Default: no compression.
func WithGzip() Option {
	return optionFunc(func(c *config) { c.gzip = true })
}

// WithRetry sets how a failed export is retried. Default: the exporter's
// (enabled; 5s initial, 30s maximum interval, 1m in all).
func WithRetry(r RetryConfig) Option {
	return optionFunc(func(c *config) {
		if r.Enabled && (r.InitialInterval < 0 || r.MaxInterval < 0 || r.MaxElapsedTime < 0) {
			c.invalid("WithRetry", "negative interval in %+v", r)
			return
		}
		c.retry = &r
	})
}

// WithHTTPOptions passes further options to otlptracehttp.New, after those
// the Sink derives from its own options. Used with ProtocolHTTP only.
func WithHTTPOptions(opts ...otlptracehttp.Option) Option {
	return optionFunc(func(c *config) { c.httpOpts = append(c.httpOpts, opts...) })
}

// WithGRPCOptions passes further options to otlptracegrpc.New, after those
// the Sink derives from its own options. Used with ProtocolGRPC only.
func WithGRPCOptions(opts ...otlptracegrpc.Option) Option {
	return optionFunc(func(c *config) { c.grpcOpts = append(c.grpcOpts, opts...) })
}

// WithExporter exports through e instead of an OTLP exporter the Sink
// builds (the transport options are then ignored). The Sink owns e: Close
// shuts it down. Default: none.
func WithExporter(e sdktrace.SpanExporter) Option {
	return optionFunc(func(c *config) {
		if e == nil {
			c.invalid("WithExporter", "nil exporter")
			return
		}
		c.exporter = e
	})
}

// WithServiceName sets the service.name resource attribute. Default:
// DefaultServiceName.
func WithServiceName(name string) Option {
	return optionFunc(func(c *config) {
		if name == "" {
			c.invalid("WithServiceName", "empty name")
			return
		}
		c.serviceName = name
	})
}

// WithResource merges r into the resource of every exported span; r's
// attributes win over the service name. Default: service.name only.
func WithResource(r *resource.Resource) Option {
	return optionFunc(func(c *config) { c.resource = r })
}

// WithMaxTraces bounds how many traces the Sink remembers (to name their
// root spans and export each root once). When it is full, the trace heard
// of least recently is forgotten: its root span is exported first if it
// was not yet and the trace is not one this process only joined. The ids
// of as many forgotten traces are kept apart, so that events of one that
// come later get no second root span. Default: DefaultMaxTraces.
func WithMaxTraces(n int) Option {
	return optionFunc(func(c *config) {
		if n <= 0 {
			c.invalid("WithMaxTraces", "%d is not positive", n)
			return
		}
		c.maxTraces = n
	})
}

// WithLogger sets the logger (named "sink.otlp"). Default: zap.NewNop().
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithMeterProvider records the duration of every export in the histogram
// reflowtrace.otlp.export.duration (unit s, attribute outcome = "ok" or
// "error") on a meter of mp. Default: none.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meter = mp })
}

func newConfig(opts []Option) (*config, error) {
	c := &config{serviceName: DefaultServiceName, maxTraces: DefaultMaxTraces, logger: zap.NewNop()}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	if c.insecure && c.tls != nil {
		return nil, fmt.Errorf("%w: WithInsecure and WithTLSConfig both given", ErrInvalidOption)
	}
	return c, nil
}

func (c *config) httpOptions() []otlptracehttp.Option {
	var o []otlptracehttp.Option
	if c.endpoint != "" {
		o = append(o, otlptracehttp.WithEndpoint(c.endpoint))
	}
	if c.endpointURL != "" {
		o = append(o, otlptracehttp.WithEndpointURL(c.endpointURL))
		if u, err := url.Parse(c.endpointURL); err == nil && u.Path == "" {
			// otlptracehttp would post to "/".
			o = append(o, otlptracehttp.WithURLPath(defaultTracesPath))
		}
	}
	if c.insecure {
		o = append(o, otlptracehttp.WithInsecure())
	}
	if c.tls != nil {
		o = append(o, otlptracehttp.WithTLSClientConfig(c.tls))
	}
	if c.headers != nil {
		o = append(o, otlptracehttp.WithHeaders(c.headers))
	}
	if c.timeout > 0 {
		o = append(o, otlptracehttp.WithTimeout(c.timeout))
	}
	if c.gzip {
		o = append(o, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	}
	if c.retry != nil {
		o = append(o, otlptracehttp.WithRetry(otlptracehttp.RetryConfig(*c.retry)))
	}
	return append(o, c.httpOpts...)
}

func (c *config) grpcOptions() []otlptracegrpc.Option {
	var o []otlptracegrpc.Option
	if c.endpoint != "" {
		o = append(o, otlptracegrpc.WithEndpoint(c.endpoint))
	}
	if c.endpointURL != "" {
		o = append(o, otlptracegrpc.WithEndpointURL(c.endpointURL))
	}
	if c.insecure {
		o = append(o, otlptracegrpc.WithInsecure())
	}
	if c.tls != nil {
		o = append(o, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(c.tls)))
	}
	if c.headers != nil {
		o = append(o, otlptracegrpc.WithHeaders(c.headers))
	}
	if c.timeout > 0 {
		o = append(o, otlptracegrpc.WithTimeout(c.timeout))
	}
	if c.gzip {
		o = append(o, otlptracegrpc.WithCompressor("gzip"))
	}
	if c.retry != nil {
		o = append(o, otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig(*c.retry)))
	}
	return append(o, c.grpcOpts...)
}
