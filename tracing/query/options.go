package query

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/internal/header"
	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// Defaults of the options.
const (
	// DefaultDialTimeout bounds one connection attempt, the probe and the
	// renewal of the subscriptions included.
	DefaultDialTimeout = 10 * time.Second
	// DefaultWriteTimeout bounds the write of one request.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultSubscriptionBuffer is how many notifications a subscription
	// holds for its consumer before it drops new ones.
	DefaultSubscriptionBuffer = 1024
	// DefaultAPIKeyHeader is the header WithAPIKey uses, as the sink's.
	DefaultAPIKeyHeader = "X-API-Key"
)

// ErrInvalidOption is wrapped by Dial's error for an option or URL it
// cannot use; the error names it.
var ErrInvalidOption = errors.New("query: invalid option")

// Option configures a Client. Options are applied in order; a later one
// overrides an earlier one of the same kind.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	tls          *tls.Config
	apiKey       string
	apiKeyHeader string
	bearer       string
	header       http.Header
	log          *zap.Logger
	policy       retry.Policy
	retryOpts    []retry.Option
	dialTimeout  time.Duration
	writeTimeout time.Duration
	subBuffer    int
	onConnect    func() // tests: called once a connection is ready
	errs         []error
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		header:       http.Header{},
		log:          zap.NewNop(),
		dialTimeout:  DefaultDialTimeout,
		writeTimeout: DefaultWriteTimeout,
		subBuffer:    DefaultSubscriptionBuffer,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	if c.log == nil {
		c.errs = append(c.errs, fmt.Errorf("%w: WithLogger: nil logger", ErrInvalidOption))
	}
	if c.apiKeyHeader == "" {
		c.apiKeyHeader = DefaultAPIKeyHeader
	}
	if !header.IsToken(c.apiKeyHeader) {
		c.errs = append(c.errs, fmt.Errorf("%w: WithAPIKeyHeader(%q): must be a header name (an RFC 7230 token)", ErrInvalidOption, c.apiKeyHeader))
	}
	for _, o := range []struct{ name, value string }{{"WithAPIKey", c.apiKey}, {"WithBearerToken", c.bearer}} {
		if !header.IsValue(o.value) {
			c.errs = append(c.errs, fmt.Errorf("%w: %s: holds a control character (CR, LF or another), which cannot go in a header", ErrInvalidOption, o.name))
		}
	}
	if c.apiKey != "" && c.bearer != "" {
		c.errs = append(c.errs, fmt.Errorf("%w: WithAPIKey and WithBearerToken both set", ErrInvalidOption))
	}
	if c.apiKey != "" {
		c.header.Set(c.apiKeyHeader, c.apiKey)
	}
	if c.bearer != "" {
		c.header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.dialTimeout <= 0 {
		c.errs = append(c.errs, fmt.Errorf("%w: WithDialTimeout: %v, want > 0", ErrInvalidOption, c.dialTimeout))
	}
	if c.subBuffer < 1 || c.subBuffer > maxSubscriptionBuffer {
		c.errs = append(c.errs, fmt.Errorf("%w: WithSubscriptionBuffer: %d, want 1 to %d", ErrInvalidOption, c.subBuffer, maxSubscriptionBuffer))
	}
	if err := c.policy.Validate(); err != nil {
		c.errs = append(c.errs, fmt.Errorf("%w: WithRetry: %w", ErrInvalidOption, err))
	}
	return c, errors.Join(c.errs...)
}

// WithTLS configures wss:// connections: custom CA, client certificate,
// server name, read by Dial; the same options as the WebSocket sink's
// (websocket.WithTLS). Default: the system roots, TLS 1.2 at least.
func WithTLS(o transport.TLSOptions) Option {
	return optionFunc(func(c *config) {
		cfg, err := o.Config()
		if err != nil {
			c.errs = append(c.errs, fmt.Errorf("%w: WithTLS: %w", ErrInvalidOption, err))
			return
		}
		c.tls = cfg
	})
}

// WithHeader adds a header to the upgrade request of every connection; as
// the sink's, a name that is not an RFC 7230 token or a value with a
// control character (CR, LF) is refused by Dial, naming the header.
// Default: none.
func WithHeader(key, value string) Option {
	return optionFunc(func(c *config) {
		if !header.IsToken(key) {
			c.errs = append(c.errs, fmt.Errorf("%w: WithHeader(%q, …): the name must be an RFC 7230 token", ErrInvalidOption, key))
			return
		}
		if !header.IsValue(value) {
			c.errs = append(c.errs, fmt.Errorf("%w: WithHeader(%q, …): the value holds a control character (CR, LF or another)", ErrInvalidOption, key))
			return
		}
		c.header.Add(key, value)
	})
}

// WithAPIKey sends key in the API key header (WithAPIKeyHeader) on every
// connection, as the sink's option of the same name does. The key never
// appears in logs or errors. Default: none.
func WithAPIKey(key string) Option {
	return optionFunc(func(c *config) { c.apiKey = key })
}

// WithAPIKeyHeader names the header carrying the API key. Default:
// DefaultAPIKeyHeader.
func WithAPIKeyHeader(name string) Option {
	return optionFunc(func(c *config) { c.apiKeyHeader = name })
}

// WithBearerToken sends "Authorization: Bearer token" on every connection,
// as the sink's option of the same name does. Default: none.
func WithBearerToken(token string) Option {
	return optionFunc(func(c *config) { c.bearer = token })
}

// WithLogger sets the logger, named "query". Default: zap.NewNop().
func WithLogger(log *zap.Logger) Option {
	return optionFunc(func(c *config) {
		c.log = nil
		if log != nil {
			c.log = log.Named("query")
		}
	})
}

// WithRetry sets the policy for reconnecting after the connection dropped,
// and retry options (a fake timer in tests, a notify hook). Default: the
// zero retry.Policy (Reflow's defaults: 5 retries from 1 s, doubling up to
// 30 s).
func WithRetry(p retry.Policy, opts ...retry.Option) Option {
	return optionFunc(func(c *config) {
		c.policy = p
		c.retryOpts = opts
	})
}

// WithDialTimeout bounds one connection attempt, from the TCP dial to the
// end of the probe and the renewal of the subscriptions. Default:
// DefaultDialTimeout.
func WithDialTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.dialTimeout = d })
}

// WithSubscriptionBuffer sets how many notifications each subscription
// holds for its consumer, from 1 to 1<<20 (a subscription allocates its
// buffer, about 650 bytes a notification, when it starts); when it is
// full, new ones are dropped and counted. Default:
// DefaultSubscriptionBuffer.
func WithSubscriptionBuffer(n int) Option {
	return optionFunc(func(c *config) { c.subBuffer = n })
}

// maxSubscriptionBuffer is the largest buffer WithSubscriptionBuffer
// accepts.
const maxSubscriptionBuffer = 1 << 20
