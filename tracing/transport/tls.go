package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSOptions configure wss:// connections to a tracing server, for the
// WebSocket sink (websocket.WithTLS) and the query client (query.WithTLS) alike.
// The zero value verifies the server against the system roots. TLS 1.2 is
// the minimum version.
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

// Config reads the files o names and returns the TLS configuration of a
// connection; the error names the field at fault (and never shows a key).
func (o *TLSOptions) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}, ServerName: o.ServerName}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CAFile %s holds no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("CertFile and KeyFile go together")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			// LoadX509KeyPair reports parse failures without the key.
			return nil, fmt.Errorf("client certificate %s: %w", o.CertFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
