package websocket

import (
	"crypto/tls"
	"fmt"

	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// WithTLS configures wss:// connections: custom CA, client certificate,
// server name (the same options as the query client's). The files are read
// by New. Default: the system roots, no client certificate.
func WithTLS(o transport.TLSOptions) Option {
	return wsOptionFunc(func(c *wsConfig) { c.tls = &o })
}

// buildTLS loads the files named by o.
func buildTLS(o *transport.TLSOptions) (*tls.Config, error) {
	if o == nil {
		return (&transport.TLSOptions{}).Config()
	}
	cfg, err := o.Config()
	if err != nil {
		return nil, fmt.Errorf("%w: WithTLS: %w", sink.ErrInvalidOption, err)
	}
	return cfg, nil
}
