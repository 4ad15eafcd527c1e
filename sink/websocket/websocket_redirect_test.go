package websocket

import (
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/reflowtrace/reflowtrace-go/sink/websocket/internal/dial"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// redirectServer records the upgrade requests it gets. It answers a path
// with a redirect when one is set for it, and every other path with 403,
// which ends the sink's dialing at once.
type redirectServer struct {
	*httptest.Server
	mu        sync.Mutex
	redirects map[string]string
	got       []gotRequest
}

type gotRequest struct {
	path   string
	header http.Header
	tls    bool
	user   string // from the Basic credentials, if any
}

func newRedirectServer(t *testing.T, useTLS bool) *redirectServer {
	t.Helper()
	rs := &redirectServer{redirects: map[string]string{}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _, _ := r.BasicAuth()
		rs.mu.Lock()
		rs.got = append(rs.got, gotRequest{path: r.URL.Path, header: r.Header.Clone(), tls: r.TLS != nil, user: user})
		loc, ok := rs.redirects[r.URL.Path]
		rs.mu.Unlock()
		if ok {
			http.Redirect(w, r, loc, http.StatusFound)
			return
		}
		http.Error(w, "forbidden", http.StatusForbidden)
	})
	if useTLS {
		rs.Server = httptest.NewTLSServer(h)
	} else {
		rs.Server = httptest.NewServer(h)
	}
	t.Cleanup(rs.Close)
	return rs
}

// redirect makes the server answer path with a redirect to location.
func (rs *redirectServer) redirect(path, location string) {
	rs.mu.Lock()
	rs.redirects[path] = location
	rs.mu.Unlock()
}

func (rs *redirectServer) requests() []gotRequest {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]gotRequest(nil), rs.got...)
}

// wsURL returns the server's address with scheme ws or wss.
func (rs *redirectServer) wsURL() string {
	return "ws" + strings.TrimPrefix(rs.URL, "http")
}

// caFile writes the server's certificate to a PEM file for TLSOptions.CAFile.
func (rs *redirectServer) caFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rs.Certificate().Raw})
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	redirectKey    = "redirect-api-key-0123456789"
	redirectHeader = "redirect-tenant-secret-value"
)

// credentialsIn lists the credentials h carries.
func credentialsIn(r gotRequest) []string {
	var out []string
	if r.header.Get(DefaultAPIKeyHeader) != "" {
		out = append(out, DefaultAPIKeyHeader)
	}
	if r.header.Get("Authorization") != "" {
		out = append(out, "Authorization")
	}
	if r.header.Get("X-Tenant") != "" {
		out = append(out, "X-Tenant")
	}
	return out
}

// TestWebSocketRedirectRefused checks that a redirect leaving the scheme or
// the host of the server URL is not followed, with or without
// WithRedirectCredentials, and that the dial error names both URLs.
func TestWebSocketRedirectRefused(t *testing.T) {
	tests := []struct {
		name string
		tls  bool   // the server dialed first
		http bool   // the Location has scheme http rather than ws
		path string // of the Location
		opts []Option
	}{
		{name: "wss to http", tls: true, http: true, path: "/", opts: []Option{WithAPIKey(redirectKey)}},
		{name: "wss to ws", tls: true, path: "/", opts: []Option{WithBearerToken(redirectKey)}},
		{
			name: "wss to http with redirect credentials", tls: true, http: true, path: "/?token=" + redirectKey,
			opts: []Option{WithAPIKey(redirectKey), WithRedirectCredentials(true)},
		},
		{
			name: "ws to another port", http: true, path: "/",
			opts: []Option{WithAPIKey(redirectKey), WithHeader("X-Tenant", redirectHeader)},
		},
		{
			name: "ws to another port with redirect credentials", path: "/next",
			opts: []Option{WithBearerToken(redirectKey), WithRedirectCredentials(true)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			other := newRedirectServer(t, false)
			first := newRedirectServer(t, tt.tls)
			target := other.wsURL() + tt.path
			if tt.http {
				target = other.URL + tt.path
			}
			first.redirect("/", target)
			opts := tt.opts
			if tt.tls {
				opts = append(opts, WithTLS(transport.TLSOptions{CAFile: first.caFile(t)}))
			}
			core, logs := observer.New(zap.DebugLevel)
			opts = append(opts, WithLogger(zap.New(core)))
			s, el := newTestSink(t, first.wsURL()+"/?token="+redirectKey, opts...)
			if err := s.Write(ctx, makeEvents(3, tracing.NewTraceID())); err != nil {
				t.Fatal(err)
			}
			err := s.Flush(ctx)
			if got := other.requests(); len(got) != 0 {
				t.Fatalf("the redirect was followed: %s got %d requests, credentials %v", other.URL, len(got), credentialsIn(got[0]))
			}
			if !errors.Is(err, ErrRedirectRefused) || !errors.Is(err, ErrPermanent) {
				t.Fatalf("Flush = %v, want ErrRedirectRefused and ErrPermanent", err)
			}
			if got := first.requests(); len(got) != 1 {
				t.Fatalf("%s got %d requests, want 1 (a refused redirect is not retried)", first.URL, len(got))
			}
			msg := err.Error()
			for _, want := range []string{dial.ShowURL(first.wsURL() + "/"), dial.ShowURL(other.wsURL() + tt.path)} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not name %s", msg, want)
				}
			}
			texts := []string{msg}
			for _, e := range el.all() {
				texts = append(texts, e.Error())
			}
			for _, e := range logs.All() {
				texts = append(texts, e.Message)
				for k, v := range e.ContextMap() {
					texts = append(texts, fmt.Sprint(k, v))
				}
			}
			for _, txt := range texts {
				if strings.Contains(txt, redirectKey) || strings.Contains(txt, redirectHeader) {
					t.Fatalf("a secret leaked: %q", txt)
				}
			}
		})
	}
}

// TestWebSocketRedirectCredentials checks that a redirect to another path
// of the same scheme and host is followed, and that the credentials go with
// it only after WithRedirectCredentials(true).
func TestWebSocketRedirectCredentials(t *testing.T) {
	tests := []struct {
		name      string
		tls       bool
		userInfo  bool
		opts      []Option
		want      []string // credentials at the redirect target
		wantUser  bool
		wantFirst []string // credentials at the first request
	}{
		{
			name:      "api key and header",
			opts:      []Option{WithAPIKey(redirectKey), WithHeader("X-Tenant", redirectHeader)},
			wantFirst: []string{DefaultAPIKeyHeader, "X-Tenant"},
		},
		{
			name: "bearer over tls", tls: true,
			opts:      []Option{WithBearerToken(redirectKey)},
			wantFirst: []string{"Authorization"},
		},
		{
			name: "user info", userInfo: true,
			wantFirst: []string{"Authorization"},
		},
		{
			name:      "api key and header with redirect credentials",
			opts:      []Option{WithAPIKey(redirectKey), WithHeader("X-Tenant", redirectHeader), WithRedirectCredentials(true)},
			want:      []string{DefaultAPIKeyHeader, "X-Tenant"},
			wantFirst: []string{DefaultAPIKeyHeader, "X-Tenant"},
		},
		{
			name: "bearer over tls with redirect credentials", tls: true,
			opts:      []Option{WithBearerToken(redirectKey), WithRedirectCredentials(true)},
			want:      []string{"Authorization"},
			wantFirst: []string{"Authorization"},
		},
		{
			name: "user info with redirect credentials", userInfo: true,
			opts:      []Option{WithRedirectCredentials(true)},
			want:      []string{"Authorization"},
			wantUser:  true,
			wantFirst: []string{"Authorization"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			srv := newRedirectServer(t, tt.tls)
			srv.redirect("/old", "/new")
			opts := tt.opts
			if tt.tls {
				opts = append(opts, WithTLS(transport.TLSOptions{CAFile: srv.caFile(t)}))
			}
			u := srv.wsURL() + "/old"
			if tt.userInfo {
				u = strings.Replace(u, "://", "://reflow-user:"+redirectKey+"@", 1)
			}
			s, _ := newTestSink(t, u, opts...)
			if err := s.Write(ctx, makeEvents(3, tracing.NewTraceID())); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(ctx); !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "403") {
				t.Fatalf("Flush = %v, want the 403 of the redirect target", err)
			}
			got := srv.requests()
			if len(got) != 2 || got[0].path != "/old" || got[1].path != "/new" {
				t.Fatalf("requests %+v, want /old then /new", got)
			}
			if got[1].tls != tt.tls {
				t.Fatalf("redirect target reached with tls=%v", got[1].tls)
			}
			if c := credentialsIn(got[0]); fmt.Sprint(c) != fmt.Sprint(tt.wantFirst) {
				t.Fatalf("first request carries %v, want %v", c, tt.wantFirst)
			}
			if c := credentialsIn(got[1]); fmt.Sprint(c) != fmt.Sprint(tt.want) {
				t.Fatalf("redirect target got credentials %v, want %v", c, tt.want)
			}
			if (got[1].user != "") != tt.wantUser {
				t.Fatalf("redirect target got user %q, want it: %v", got[1].user, tt.wantUser)
			}
		})
	}
}

// TestWebSocketRedirectLoop checks that the sink stops after a bounded
// number of redirects.
func TestWebSocketRedirectLoop(t *testing.T) {
	ctx := testCtx(t)
	srv := newRedirectServer(t, false)
	srv.redirect("/", "/")
	s, _ := newTestSink(t, srv.wsURL()+"/")
	if err := s.Write(ctx, makeEvents(1, tracing.NewTraceID())); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); !errors.Is(err, ErrRedirectRefused) {
		t.Fatalf("Flush = %v, want ErrRedirectRefused", err)
	}
	if n := len(srv.requests()); n != dial.MaxRedirects {
		t.Fatalf("%d requests, want %d", n, dial.MaxRedirects)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
