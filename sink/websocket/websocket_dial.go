package websocket

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	cws "github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/internal/cork"
)

// ErrPermanent is wrapped by connection failures that retrying cannot fix:
// the server refused the credentials (401, 403) or TLS failed (untrusted
// or mismatched certificate, refused client certificate).
var ErrPermanent = errors.New("sink: permanent connection failure")

// ErrRedirectRefused is wrapped, together with ErrPermanent, by the dial
// error when the server redirected the upgrade request to another scheme or
// host (host:port), or more than maxRedirects times in a row. The sink
// never follows such a redirect.
var ErrRedirectRefused = errors.New("sink: redirect refused")

// maxRedirects bounds the redirects followed in one dial, as net/http does
// by default.
const maxRedirects = 10

// dialConfig is what a dialer sends with every upgrade request, and how it
// dials.
type dialConfig struct {
	tls                          *tls.Config // for wss://; nil: the system roots
	header                       http.Header // added to every request
	apiKeyHeader, apiKey, bearer string      // the credentials ("" for none)
	origin                       string      // the Origin header, if not ""
	// redirectCreds sends the credentials again after a redirect to
	// another path of the same scheme and host.
	redirectCreds bool
	timeout       time.Duration // bounds one dial
	log           *zap.Logger   // warns of credentials sent in plain text
}

// dialer opens connections to one server.
type dialer struct {
	url     string
	shown   string // url without credentials or query
	tls     *tls.Config
	header  http.Header
	timeout time.Duration
	// credHeaders are the headers removed from a redirected request unless
	// redirectCreds is set; the URL's user info is removed with them.
	credHeaders   []string
	redirectCreds bool
	// secrets are the values hidden in the dialer's errors: the
	// credentials, the URL's user info and query, the headers' values.
	secrets []string
}

// newDialer returns a dialer of u, a ws:// or wss:// URL whose port New
// checked, and logs a Warn when credentials would cross the network
// unencrypted.
func newDialer(u *url.URL, cfg dialConfig) *dialer {
	h := cfg.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if cfg.apiKey != "" {
		h.Set(cfg.apiKeyHeader, cfg.apiKey)
	}
	if cfg.bearer != "" {
		h.Set("Authorization", "Bearer "+cfg.bearer)
	}
	if cfg.origin != "" {
		h.Set("Origin", cfg.origin)
	}
	creds := []string{"Authorization"}
	if cfg.apiKeyHeader != "" {
		creds = append(creds, cfg.apiKeyHeader)
	}
	for k := range cfg.header {
		creds = append(creds, k)
	}
	tlsCfg := cfg.tls
	if tlsCfg == nil {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	}
	d := &dialer{
		url: u.String(), shown: showURL(u.String()), tls: tlsCfg, header: h, timeout: cfg.timeout,
		credHeaders: creds, redirectCreds: cfg.redirectCreds,
		secrets: collectSecrets(u, cfg),
	}
	if plain := plaintextCredentials(u, cfg); len(plain) > 0 && cfg.log != nil {
		cfg.log.Warn("credentials will cross the network unencrypted: use wss://",
			zap.String("url", d.shown), zap.Strings("credentials", plain))
	}
	return d
}

// plaintextCredentials names the credentials a dialer would send over
// ws:// to a host that is not loopback.
func plaintextCredentials(u *url.URL, cfg dialConfig) []string {
	if wsScheme(u.Scheme) != "ws" || isLoopbackHost(u.Hostname()) {
		return nil
	}
	var out []string
	if cfg.apiKey != "" {
		out = append(out, "api key")
	}
	if cfg.bearer != "" {
		out = append(out, "bearer token")
	}
	if u.User != nil {
		out = append(out, "url user info")
	}
	return out
}

// isLoopbackHost reports whether host, a URL's host name, is a loopback
// address or a localhost name (RFC 6761). It does not resolve names.
func isLoopbackHost(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// dial opens one connection and returns it with the corkable connection
// under it. Failures that retrying cannot fix wrap ErrPermanent; errors
// never show the dialer's secrets.
func (d *dialer) dial(ctx context.Context) (*cws.Conn, *cork.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var (
		cc       *cork.Conn
		tlsErr   error
		redirErr error
	)
	nd := &net.Dialer{}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cc = cork.New(c)
			return cc, nil
		},
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			raw, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cfg := d.tls.Clone()
			if cfg.ServerName == "" {
				cfg.ServerName, _, _ = net.SplitHostPort(addr)
			}
			tc := tls.Client(raw, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				raw.Close()
				tlsErr = err
				return nil, err
			}
			cc = cork.New(tc)
			return cc, nil
		},
	}
	defer tr.CloseIdleConnections()
	c, resp, err := cws.Dial(ctx, d.url, &cws.DialOptions{
		HTTPClient: &http.Client{
			Transport: tr,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				redirErr = d.checkRedirect(req, via)
				return redirErr
			},
		},
		HTTPHeader: d.header.Clone(),
	})
	if err != nil {
		if redirErr != nil {
			return nil, nil, fmt.Errorf("%w: dial %s: %w", ErrPermanent, d.shown, redirErr)
		}
		err = d.redact(err)
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return nil, nil, fmt.Errorf("%w: dial %s: the server refused the credentials (%s)", ErrPermanent, d.shown, resp.Status)
		}
		if tlsErr != nil && isTLSPermanent(tlsErr) || isRemoteTLSAlert(err) {
			return nil, nil, fmt.Errorf("%w: dial %s: tls: %w", ErrPermanent, d.shown, err)
		}
		if resp != nil {
			return nil, nil, fmt.Errorf("sink: dial %s: upgrade refused (%s): %w", d.shown, resp.Status, err)
		}
		return nil, nil, fmt.Errorf("sink: dial %s: %w", d.shown, err)
	}
	return c, cc, nil
}

// checkRedirect decides on a redirect of the upgrade request: it refuses
// one that leaves the scheme or host of the server URL, or comes after
// maxRedirects others, and removes the credentials from the redirected
// request unless redirectCreds allows them. via[0] is the first request.
func (d *dialer) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("redirected to %s after %d redirects: %w", d.show(req.URL), len(via), ErrRedirectRefused)
	}
	if !sameOrigin(via[0].URL, req.URL) {
		return fmt.Errorf("redirected to %s, which leaves the scheme or host: %w", d.show(req.URL), ErrRedirectRefused)
	}
	if d.redirectCreds {
		if req.URL.User == nil {
			req.URL.User = via[0].URL.User
		}
		return nil
	}
	for _, k := range d.credHeaders {
		req.Header.Del(k)
	}
	req.URL.User = nil
	return nil
}

// show returns u as a ws:// or wss:// URL fit for errors: without user
// info, query or fragment, and with the dialer's secrets redacted.
func (d *dialer) show(u *url.URL) string {
	v := *u
	v.Scheme = wsScheme(v.Scheme)
	return d.redact(errors.New(showURL(v.String()))).Error()
}

// sameOrigin reports whether a and b have the same scheme (ws and http
// being the same, and wss and https) and the same host and port, the
// scheme's default port standing for an absent one.
func sameOrigin(a, b *url.URL) bool {
	return wsScheme(a.Scheme) == wsScheme(b.Scheme) && hostPort(a) == hostPort(b)
}

// wsScheme maps http and https to ws and wss, in lower case.
func wsScheme(scheme string) string {
	switch s := strings.ToLower(scheme); s {
	case "http":
		return "ws"
	case "https":
		return "wss"
	default:
		return s
	}
}

// hostPort returns u's host in lower case and its port, the scheme's
// default port if u has none.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch wsScheme(u.Scheme) {
		case "ws":
			port = "80"
		case "wss":
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// isRemoteTLSAlert reports whether the server ended the TLS session with an
// alert, as a server refusing a client certificate does under TLS 1.3.
func isRemoteTLSAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
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

// showURL returns rawURL without user info, query or fragment.
func showURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparsable URL>"
	}
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return v.String()
}

// collectSecrets returns what a dialer of u with cfg must never show: the
// credentials, the URL's user info and query values, the headers' values
// (those shorter than 4 bytes would redact too much).
func collectSecrets(u *url.URL, cfg dialConfig) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 4 {
			out = append(out, s)
		}
	}
	add(cfg.apiKey)
	add(cfg.bearer)
	if p, ok := u.User.Password(); ok {
		add(p)
	}
	add(u.User.Username())
	add(u.RawQuery)
	for _, vs := range u.Query() {
		for _, v := range vs {
			add(v)
		}
	}
	for _, vs := range cfg.header {
		for _, v := range vs {
			add(v)
		}
	}
	return out
}

// redactedError hides secrets in the message of an error from the network
// stack, keeping the chain for errors.Is and errors.As.
type redactedError struct {
	err     error
	secrets []string
}

func (e *redactedError) Error() string {
	msg := e.err.Error()
	for _, s := range e.secrets {
		msg = strings.ReplaceAll(msg, s, "[REDACTED]")
	}
	return msg
}

func (e *redactedError) Unwrap() error { return e.err }

// redact returns err with the dialer's secrets hidden in its message.
func (d *dialer) redact(err error) error {
	if err == nil || len(d.secrets) == 0 {
		return err
	}
	return &redactedError{err: err, secrets: d.secrets}
}
