package sink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/coder/websocket"

	"github.com/reflowtrace/reflowtrace-go/internal/cork"
)

// dialer opens connections to the server.
type dialer struct {
	s      *WebSocket
	url    string
	tls    *tls.Config
	header http.Header
}

func newDialer(s *WebSocket, u *url.URL, tlsCfg *tls.Config) *dialer {
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
	return &dialer{s: s, url: u.String(), tls: tlsCfg, header: h}
}

// dial opens one connection. Failures that retrying cannot fix wrap
// ErrPermanent.
func (d *dialer) dial(ctx context.Context) (*wsConn, error) {
	s := d.s
	ctx, cancel := context.WithTimeout(ctx, s.cfg.dialTimeout)
	defer cancel()
	var (
		cc     *cork.Conn
		tlsErr error
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
	c, resp, err := websocket.Dial(ctx, d.url, &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: tr},
		HTTPHeader: d.header.Clone(),
	})
	if err != nil {
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

// isRemoteTLSAlert reports whether the server ended the TLS session with an
// alert, as a server refusing a client certificate does under TLS 1.3.
func isRemoteTLSAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}
