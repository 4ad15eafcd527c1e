package websocket

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/tracing"
)

// WithTLS configures wss:// connections: custom CA, client certificate,
// server name (the same options as the query client's). The files are read
// by New. Default: the system roots, no client certificate.
func WithTLS(o tracing.TLSOptions) Option {
	return wsOptionFunc(func(c *wsConfig) { c.tls = &o })
}

// buildTLS loads the files named by o.
func buildTLS(o *tracing.TLSOptions) (*tls.Config, error) {
	if o == nil {
		return (&tracing.TLSOptions{}).Config()
	}
	cfg, err := o.Config()
	if err != nil {
		return nil, fmt.Errorf("%w: WithTLS: %w", sink.ErrInvalidOption, err)
	}
	return cfg, nil
}

// isTLSPermanent reports whether err is a TLS failure that retrying will
// not fix: an untrusted or mismatched certificate, an alert from the
// server (for example a refused client certificate), or a peer that does
// not speak TLS.
func isTLSPermanent(err error) bool {
	var (
		verr  *tls.CertificateVerificationError
		uerr  x509.UnknownAuthorityError
		herr  x509.HostnameError
		cerr  x509.CertificateInvalidError
		alert tls.AlertError
		rerr  tls.RecordHeaderError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) ||
		errors.As(err, &cerr) || errors.As(err, &alert) || errors.As(err, &rerr)
}
