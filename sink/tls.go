package sink

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSOptions configure wss:// connections. The zero value verifies the
// server against the system roots. TLS 1.2 is the minimum version.
type TLSOptions struct {
	// CAFile is a PEM file of the certificate authorities trusted to sign
	// the server's certificate, instead of the system roots. Default: none.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// servers that require mutual TLS. Both or neither. Default: none.
	CertFile string
	KeyFile  string
	// ServerName overrides the name the server's certificate is checked
	// against. Default: the URL's host.
	ServerName string
}

// WithTLS configures wss:// connections: custom CA, client certificate,
// server name. The files are read by NewWebSocket. Default: the system
// roots, no client certificate.
func WithTLS(o TLSOptions) WebSocketOption {
	return wsOptionFunc(func(c *wsConfig) { c.tls = &o })
}

// buildTLS loads the files named by o.
func buildTLS(o *TLSOptions) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if o == nil {
		return cfg, nil
	}
	cfg.ServerName = o.ServerName
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: WithTLS: CAFile: %w", ErrInvalidOption, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: WithTLS: CAFile %s holds no PEM certificate", ErrInvalidOption, o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, fmt.Errorf("%w: WithTLS: CertFile and KeyFile go together", ErrInvalidOption)
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			// The key's content never appears: LoadX509KeyPair reports
			// parse failures without it.
			return nil, fmt.Errorf("%w: WithTLS: client certificate %s: %w", ErrInvalidOption, o.CertFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
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
