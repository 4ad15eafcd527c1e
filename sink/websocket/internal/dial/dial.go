package dial

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	cws "github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/internal/cork"
)

// ErrPermanent is wrapped by the dial failures that retrying cannot fix:
// the server refused the credentials (401, 403), TLS failed (untrusted or
// mismatched certificate, refused client certificate) or a redirect was
// refused.
var ErrPermanent = errors.New("sink: permanent connection failure")

// ErrRedirectRefused is wrapped, together with ErrPermanent, by the dial
// error when the server redirected the upgrade request to another scheme or
// host (host:port), or more than MaxRedirects times in a row: a Dialer
// never follows such a redirect.
var ErrRedirectRefused = errors.New("sink: redirect refused")

// MaxRedirects bounds the redirects a Dialer follows in one dial, as
// net/http does by default.
const MaxRedirects = 10

// Config is what a Dialer sends with every upgrade request, and how long
// it dials.
type Config struct {
	// TLS configures wss:// connections; nil stands for the system roots
	// and TLS 1.2 at least.
	TLS *tls.Config
	// Header is added to every upgrade request; its values are secrets.
	Header http.Header
	// APIKey goes in the header APIKeyHeader names, Bearer in
	// "Authorization: Bearer …", Origin in the Origin header; "" sends
	// none.
	APIKeyHeader, APIKey, Bearer, Origin string
	// RedirectCredentials sends the credentials (the API key, the bearer
	// token, Header and the URL's user info) again after a redirect to
	// another path of the same scheme and host; without it they are
	// removed from the redirected request.
	RedirectCredentials bool
	// Timeout bounds one dial: TCP, TLS and the upgrade. It must be
	// positive.
	Timeout time.Duration
}

// Dialer opens WebSocket connections to one server. It is safe for
// concurrent use; it keeps no connection and needs no closing.
type Dialer struct {
	url     string
	shown   string // url without credentials or query
	tls     *tls.Config
	header  http.Header
	timeout time.Duration
	// credHeaders are the headers removed from a redirected request unless
	// redirectCreds is set; the URL's user info is removed with them.
	credHeaders   []string
	redirectCreds bool
	// secrets are the values hidden in the Dialer's errors: the
	// credentials, the URL's user info and query, the headers' values.
	secrets []string
}

// New returns a Dialer of u, a ws:// or wss:// URL whose port the caller
// checked, with cfg's credentials and headers. It logs nothing: the caller
// warns of credentials that would cross the network unencrypted (see
// PlaintextCredentials), once for all its Dialers.
func New(u *url.URL, cfg Config) *Dialer {
	h := cfg.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if cfg.APIKey != "" {
		h.Set(cfg.APIKeyHeader, cfg.APIKey)
	}
	if cfg.Bearer != "" {
		h.Set("Authorization", "Bearer "+cfg.Bearer)
	}
	if cfg.Origin != "" {
		h.Set("Origin", cfg.Origin)
	}
	creds := []string{"Authorization"}
	if cfg.APIKeyHeader != "" {
		creds = append(creds, cfg.APIKeyHeader)
	}
	for k := range cfg.Header {
		creds = append(creds, k)
	}
	tlsCfg := cfg.TLS
	if tlsCfg == nil {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	}
	d := &Dialer{
		url: u.String(), shown: ShowURL(u.String()), tls: tlsCfg, header: h, timeout: cfg.Timeout,
		credHeaders: creds, redirectCreds: cfg.RedirectCredentials,
		secrets: collectSecrets(u, cfg),
	}
	return d
}

// URL returns the server's URL without user info, query or fragment, fit
// for logs and errors.
func (d *Dialer) URL() string { return d.shown }

// PlaintextCredentials names the credentials a Dialer of u with cfg
// would send over ws:// to a host that is not loopback: the API key, the
// bearer token, the URL's user info, and each header of cfg.Header whose
// name says it carries credentials (see credentialHeader), as "header"
// and its name. It returns nil for wss://, a loopback host, or no
// credentials. It never returns a secret.
func PlaintextCredentials(u *url.URL, cfg Config) []string {
	if wsScheme(u.Scheme) != "ws" || isLoopbackHost(u.Hostname()) {
		return nil
	}
	var out []string
	if cfg.APIKey != "" {
		out = append(out, "api key")
	}
	if cfg.Bearer != "" {
		out = append(out, "bearer token")
	}
	if u.User != nil {
		out = append(out, "url user info")
	}
	names := make([]string, 0, len(cfg.Header))
	for k := range cfg.Header {
		if credentialHeader(k, cfg.APIKeyHeader) {
			names = append(names, "header "+http.CanonicalHeaderKey(k))
		}
	}
	slices.Sort(names)
	return append(out, names...)
}

// credentialHeader reports whether a header named name carries
// credentials: Cookie, the API key header (apiKeyHeader), or a name
// holding "auth", "token", "key", "secret", "passw", "session" or
// "credential" in any case (Authorization, Proxy-Authorization, X-API-Key,
// X-Auth-Token, X-Session-Id).
func credentialHeader(name, apiKeyHeader string) bool {
	n := strings.ToLower(name)
	switch {
	case n == "cookie", strings.EqualFold(name, apiKeyHeader):
		return true
	}
	for _, w := range []string{"auth", "token", "key", "secret", "passw", "session", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
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

// Dial opens one connection, within the Timeout, and returns it with the
// corkable network connection under it, through which the caller may
// batch its writes. Failures that retrying cannot fix wrap ErrPermanent
// (and ErrRedirectRefused for a refused redirect); errors name the server
// by its URL and never show the Dialer's secrets.
func (d *Dialer) Dial(ctx context.Context) (*cws.Conn, *cork.Conn, error) {
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
		err = d.Redact(err)
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
// MaxRedirects others, and removes the credentials from the redirected
// request unless redirectCreds allows them. via[0] is the first request.
func (d *Dialer) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= MaxRedirects {
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
// info, query or fragment, and with the Dialer's secrets redacted.
func (d *Dialer) show(u *url.URL) string {
	v := *u
	v.Scheme = wsScheme(v.Scheme)
	return d.Redact(errors.New(ShowURL(v.String()))).Error()
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

// ShowURL returns rawURL without user info, query or fragment, fit for
// logs and errors, or "<unparsable URL>".
func ShowURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparsable URL>"
	}
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return v.String()
}

// collectSecrets returns what a Dialer of u with cfg must never show: the
// credentials, the URL's user info and query values, the headers' values
// (those shorter than 4 bytes would redact too much).
func collectSecrets(u *url.URL, cfg Config) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 4 {
			out = append(out, s)
		}
	}
	add(cfg.APIKey)
	add(cfg.Bearer)
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
	for _, vs := range cfg.Header {
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

// Redact returns err with the Dialer's secrets (the credentials, the
// URL's user info and query, the headers' values) replaced by
// "[REDACTED]" in its message; errors.Is and errors.As see err's chain as
// it was. A nil err stays nil.
func (d *Dialer) Redact(err error) error {
	if err == nil || len(d.secrets) == 0 {
		return err
	}
	return &redactedError{err: err, secrets: d.secrets}
}
