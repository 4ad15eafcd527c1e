package websocket

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	cws "github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/reflowtrace/reflowtrace-go/internal/cork"
)

// ErrRedirectRefused is wrapped, together with ErrPermanent, by the dial
// error when the server redirected the upgrade request to another scheme or
// host (host:port), or more than maxRedirects times in a row. The sink
// never follows such a redirect.
var ErrRedirectRefused = errors.New("sink: redirect refused")

// maxRedirects bounds the redirects followed in one dial, as net/http does
// by default.
const maxRedirects = 10

// dialer opens connections to the server.
type dialer struct {
	s      *Sink
	url    string
	shown  string // url without credentials or query
	tls    *tls.Config
	header http.Header
	// credHeaders are the headers removed from a redirected request unless
	// redirectCreds is set; the URL's user info is removed with them.
	credHeaders   []string
	redirectCreds bool
	// urlErr is what is wrong with the URL, if anything: every dial fails
	// with it.
	urlErr error
}

func newDialer(s *Sink, u *url.URL, tlsCfg *tls.Config) *dialer {
	h := s.cfg.header.Clone()
	if s.cfg.apiKey != "" {
		h.Set(s.cfg.apiKeyHeader, s.cfg.apiKey)
	}
	if s.cfg.bearer != "" {
		h.Set("Authorization", "Bearer "+s.cfg.bearer)
	}
	if s.cfg.origin != "" {
		h.Set("Origin", s.cfg.origin)
	}
	creds := []string{"Authorization", s.cfg.apiKeyHeader}
	for k := range s.cfg.header {
		creds = append(creds, k)
	}
	if plain := plaintextCredentials(s.cfg, u); len(plain) > 0 {
		s.log.Warn("credentials will cross the network unencrypted: use wss://",
			zap.String("url", s.shownURL), zap.Strings("credentials", plain))
	}
	return &dialer{
		s: s, url: u.String(), shown: showURL(u.String()), tls: tlsCfg, header: h,
		credHeaders: creds, redirectCreds: s.cfg.redirectCreds,
		urlErr: checkURL(u),
	}
}

// plaintextCredentials names the credentials the sink would send over ws://
// to a host that is not loopback.
func plaintextCredentials(cfg *wsConfig, u *url.URL) []string {
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

// dial opens one connection. Failures that retrying cannot fix wrap
// ErrPermanent.
func (d *dialer) dial(ctx context.Context) (*wsConn, error) {
	s := d.s
	if d.urlErr != nil {
		return nil, fmt.Errorf("%w: dial: %w", ErrPermanent, d.urlErr)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.dialTimeout)
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
			return nil, fmt.Errorf("%w: dial %s: %w", ErrPermanent, s.shownURL, redirErr)
		}
		err = s.redact(err)
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return nil, fmt.Errorf("%w: dial %s: the server refused the credentials (%s)", ErrPermanent, s.shownURL, resp.Status)
		}
		if tlsErr != nil && isTLSPermanent(tlsErr) || isRemoteTLSAlert(err) {
			return nil, fmt.Errorf("%w: dial %s: tls: %w", ErrPermanent, s.shownURL, err)
		}
		if resp != nil {
			return nil, fmt.Errorf("sink: dial %s: upgrade refused (%s): %w", s.shownURL, resp.Status, err)
		}
		return nil, fmt.Errorf("sink: dial %s: %w", s.shownURL, err)
	}
	c.SetReadLimit(17 << 20)
	wc := &wsConn{c: c, cork: cc, dead: make(chan struct{})}
	wc.ctx, wc.cancel = context.WithCancel(s.runCtx)
	return wc, nil
}

// checkRedirect decides on a redirect of the upgrade request: it refuses
// one that leaves the scheme or host of the server URL, or comes after
// maxRedirects others, and removes the credentials from the redirected
// request unless WithRedirectCredentials allows them. via[0] is the first
// request.
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
// info, query or fragment, and with the sink's secrets redacted.
func (d *dialer) show(u *url.URL) string {
	v := *u
	v.Scheme = wsScheme(v.Scheme)
	return (&redactedError{err: errors.New(showURL(v.String())), secrets: d.s.secrets}).Error()
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
