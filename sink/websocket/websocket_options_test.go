package websocket

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/reflowtrace/reflowtrace-go/retry"
	"github.com/reflowtrace/reflowtrace-go/sink"
	"github.com/reflowtrace/reflowtrace-go/tracing"
	"github.com/reflowtrace/reflowtrace-go/tracing/transport"
)

// closeIfOpen closes a sink a test expected New to refuse.
func closeIfOpen(t *testing.T, s *Sink) {
	t.Helper()
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Close(ctx)
}

func TestNewWebSocketRejectsBadOptions(t *testing.T) {
	const secret = "injected-secret-0123"
	tests := []struct {
		name   string
		url    string
		opts   []Option
		option string // named in the error
	}{
		{name: "header name with LF", opts: []Option{WithHeader("X-Tenant\nX-Evil", "acme")}, option: "WithHeader"},
		{name: "header name with CR", opts: []Option{WithHeader("X-Tenant\r", "acme")}, option: "WithHeader"},
		{name: "header name with space", opts: []Option{WithHeader("X Tenant", "acme")}, option: "WithHeader"},
		{name: "header name with colon", opts: []Option{WithHeader("X-Tenant:", "acme")}, option: "WithHeader"},
		{name: "empty header name", opts: []Option{WithHeader("", "acme")}, option: "WithHeader"},
		{name: "header value with CRLF", opts: []Option{WithHeader("X-Tenant", secret+"\r\nX-Evil: 1")}, option: "WithHeader"},
		{name: "header value with LF", opts: []Option{WithHeader("X-Tenant", secret+"\n")}, option: "WithHeader"},
		{name: "header value with NUL", opts: []Option{WithHeader("X-Tenant", secret+"\x00")}, option: "WithHeader"},
		{name: "api key with CR", opts: []Option{WithAPIKey(secret + "\r")}, option: "WithAPIKey"},
		{name: "api key with LF", opts: []Option{WithAPIKey(secret + "\nX-Evil: 1")}, option: "WithAPIKey"},
		{name: "bearer token with CRLF", opts: []Option{WithBearerToken(secret + "\r\n")}, option: "WithBearerToken"},
		{name: "origin with LF", opts: []Option{WithOrigin("https://app.example\nX-Evil: 1")}, option: "WithOrigin"},
		{name: "api key header with space", opts: []Option{WithAPIKey(secret), WithAPIKeyHeader("X-API Key")}, option: "WithAPIKeyHeader"},
		{name: "api key header with LF", opts: []Option{WithAPIKey(secret), WithAPIKeyHeader("X-API-Key\n")}, option: "WithAPIKeyHeader"},
		{name: "api key header with colon", opts: []Option{WithAPIKeyHeader("X-API-Key:")}, option: "WithAPIKeyHeader"},
		{name: "api key header not ASCII", opts: []Option{WithAPIKeyHeader("X-Clé")}, option: "WithAPIKeyHeader"},
		{name: "empty api key header", opts: []Option{WithAPIKeyHeader("")}, option: "WithAPIKeyHeader"},
		{name: "non-numeric port", url: "ws://127.0.0.1:http/", option: "url"},
		{name: "negative port", url: "ws://127.0.0.1:-1/", option: "url"},
		{name: "no host", url: "ws://:80", option: "url"},
		{name: "no host, user info", url: "ws://reflow@:80/", option: "url"},
		{name: "empty port", url: "ws://127.0.0.1:/", option: "url"},
		{name: "user info with CRLF", url: "ws://u%0d%0a:p@127.0.0.1:1/", option: "url"},
		{name: "failover without host", opts: []Option{WithFailover("ws://:8080/")}, option: "WithFailover"},
		{name: "unknown compression", opts: []Option{WithCompression(transport.CompressionNone + 1)}, option: "WithCompression"},
		{name: "no outage buffer", opts: []Option{WithOutageBuffer(0)}, option: "WithOutageBuffer(0)"},
		{name: "outage buffer of 1 KiB", opts: []Option{WithOutageBuffer(1024)}, option: "WithOutageBuffer(1024)"},
		{name: "outage buffer under 4 KiB", opts: []Option{WithOutageBuffer(4<<10 - 1)}, option: "WithOutageBuffer(4095)"},
		{name: "negative outage buffer", opts: []Option{WithOutageBuffer(-1)}, option: "WithOutageBuffer(-1)"},
		{name: "spool sync every 0 records", opts: []Option{WithSpoolSync(sink.SyncEvery(0))}, option: "WithSpoolSync"},
		{name: "spool sync interval 0", opts: []Option{WithSpoolSync(sink.SyncInterval(0))}, option: "WithSpoolSync"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.url
			if u == "" {
				u = "ws://127.0.0.1:1/"
			}
			s, err := New(u, append([]Option{WithKeepalive(0, time.Second)}, tt.opts...)...)
			closeIfOpen(t, s)
			if !errors.Is(err, sink.ErrInvalidOption) {
				t.Fatalf("New = %v, want an error wrapping ErrInvalidOption", err)
			}
			if s != nil {
				t.Fatal("New returned a sink with its error")
			}
			if msg := err.Error(); !strings.Contains(msg, tt.option) {
				t.Fatalf("error %q does not name %s", msg, tt.option)
			} else if strings.Contains(msg, secret) {
				t.Fatalf("error %q shows the secret", msg)
			}
		})
	}
}

func TestWebSocketOptionsAccepted(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
	}{
		{name: "every token character", opts: []Option{WithHeader("!#$%&'*+-.^_`|~09AZaz", "v")}},
		{name: "value with tab, space and UTF-8", opts: []Option{WithHeader("X-Tenant", "ac\tme café")}},
		{name: "empty header value", opts: []Option{WithHeader("X-Tenant", "")}},
		{name: "api key header", opts: []Option{WithAPIKey("k3y/+=="), WithAPIKeyHeader("X-Reflow-Key")}},
		{name: "bearer token", opts: []Option{WithBearerToken("eyJhbGciOi.J9.x-y_z")}},
		{name: "smallest outage buffer", opts: []Option{WithOutageBuffer(4 << 10)}},
		{name: "smallest frame", opts: []Option{WithMaxFrameBytes(1 << 10)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := newWSConfig(tt.opts); err != nil {
				t.Fatalf("newWSConfig: %v", err)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"ws://127.0.0.1:8080/", true},
		{"ws://127.0.0.1:1/", true},
		{"wss://[::1]:65535/", true},
		{"ws://127.0.0.1:0080/", true},
		{"ws://127.0.0.1/", true},
		{"wss://tracing.example.com/", true},
		{"ws://127.0.0.1:99999/", false},
		{"ws://127.0.0.1:65536/", false},
		{"wss://[::1]:0/", false},
		{"ws://127.0.0.1:00000000000000000000065536/", false},
		{"ws://:80/", false},
		{"wss://:443", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := checkURL(mustParse(t, tt.url))
			if tt.ok {
				if err != nil {
					t.Fatalf("checkURL = %v", err)
				}
				return
			}
			if !errors.Is(err, sink.ErrInvalidOption) || !strings.Contains(err.Error(), "url") {
				t.Fatalf("checkURL = %v, want an error wrapping ErrInvalidOption naming the url", err)
			}
		})
	}
}

// TestWebSocketPortOutOfRange checks that a port beyond 65535 is refused
// once, not dialed again and again: by New, or at the latest by
// the first dial, as a permanent failure.
func TestWebSocketPortOutOfRange(t *testing.T) {
	ctx := testCtx(t)
	timer := &instantTimer{}
	s, err := New("ws://127.0.0.1:99999/",
		WithRetry(retry.Policy{MaxRetries: retry.Unlimited, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}),
		WithRetryOptions(retry.WithTimer(timer)), WithKeepalive(0, time.Second))
	if err != nil {
		if !errors.Is(err, sink.ErrInvalidOption) || !strings.Contains(err.Error(), "url") {
			t.Fatalf("New = %v, want an error wrapping ErrInvalidOption naming the url", err)
		}
		return
	}
	defer closeIfOpen(t, s)
	if err := s.Write(ctx, makeEvents(1, tracing.NewTraceID())); err != nil {
		t.Fatal(err)
	}
	err = s.Flush(ctx)
	if !errors.Is(err, ErrPermanent) || !errors.Is(err, sink.ErrInvalidOption) || !strings.Contains(err.Error(), "99999") {
		t.Fatalf("Flush = %v, want a permanent error wrapping ErrInvalidOption naming the port", err)
	}
	if n := timer.starts(); n != 0 {
		t.Fatalf("the dial was retried %d times", n)
	}
}

// TestWebSocketPlaintextCredentialsWarning checks the one Warn New logs
// when credentials would cross the network unencrypted: whichever option
// gave them, and once for all the servers, naming those it concerns.
func TestWebSocketPlaintextCredentialsWarning(t *testing.T) {
	const secret = "plaintext-secret-0123"
	tests := []struct {
		name     string
		url      string
		opts     []Option
		warnURLs []string // the urls the one Warn names; none: no Warn
	}{
		{name: "api key over ws", url: "ws://tracing.example.com:8080/", opts: []Option{WithAPIKey(secret)}, warnURLs: []string{"ws://tracing.example.com:8080/"}},
		{name: "bearer over ws", url: "ws://10.1.2.3/", opts: []Option{WithBearerToken(secret)}, warnURLs: []string{"ws://10.1.2.3/"}},
		{name: "user info over ws", url: "ws://reflow:" + secret + "@tracing.example.com/", warnURLs: []string{"ws://tracing.example.com/"}},
		{name: "user name over ws", url: "ws://" + secret + "@[2001:db8::1]:80/", warnURLs: []string{"ws://[2001:db8::1]:80/"}},
		{name: "authorization header over ws", url: "ws://tracing.example.com/", opts: []Option{WithHeader("Authorization", "Bearer "+secret)}, warnURLs: []string{"ws://tracing.example.com/"}},
		{name: "api key header over ws", url: "ws://tracing.example.com/", opts: []Option{WithHeader("x-api-key", secret)}, warnURLs: []string{"ws://tracing.example.com/"}},
		{name: "custom api key header over ws", url: "ws://tracing.example.com/", opts: []Option{WithAPIKeyHeader("X-Reflow"), WithHeader("X-Reflow", secret)}, warnURLs: []string{"ws://tracing.example.com/"}},
		{name: "token header over ws", url: "ws://tracing.example.com/", opts: []Option{WithHeader("X-Auth-Token", secret)}, warnURLs: []string{"ws://tracing.example.com/"}},
		{name: "cookie over ws", url: "ws://tracing.example.com/", opts: []Option{WithHeader("Cookie", "sid="+secret)}, warnURLs: []string{"ws://tracing.example.com/"}},
		{name: "failover servers over ws", url: "ws://a.example.com/",
			opts:     []Option{WithAPIKey(secret), WithFailover("ws://b.example.com/", "ws://c.example.com/")},
			warnURLs: []string{"ws://a.example.com/", "ws://b.example.com/", "ws://c.example.com/"}},
		{name: "failover server over ws", url: "wss://a.example.com/",
			opts:     []Option{WithHeader("Authorization", secret), WithFailover("ws://127.0.0.1:8080/", "ws://c.example.com/", "wss://d.example.com/")},
			warnURLs: []string{"ws://c.example.com/"}},
		{name: "api key over wss", url: "wss://tracing.example.com/", opts: []Option{WithAPIKey(secret)}},
		{name: "authorization header over wss", url: "wss://tracing.example.com/", opts: []Option{WithHeader("Authorization", secret)}},
		{name: "user info over wss", url: "wss://reflow:" + secret + "@tracing.example.com/"},
		{name: "no credentials over ws", url: "ws://tracing.example.com/", opts: []Option{WithOrigin("https://app.example"), WithHeader("X-Tenant", "acme")}},
		{name: "api key to 127.0.0.1", url: "ws://127.0.0.1:8080/", opts: []Option{WithAPIKey(secret)}},
		{name: "api key to 127.8.9.10", url: "ws://127.8.9.10:8080/", opts: []Option{WithAPIKey(secret)}},
		{name: "bearer to ::1", url: "ws://[::1]:8080/", opts: []Option{WithBearerToken(secret)}},
		{name: "authorization header to ::1", url: "ws://[::1]:8080/", opts: []Option{WithHeader("Authorization", secret)}},
		{name: "user info to localhost", url: "ws://reflow:" + secret + "@LocalHost:8080/"},
		{name: "api key to a .localhost name", url: "ws://tracing.localhost/", opts: []Option{WithAPIKey(secret)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := mustParse(t, tt.url)
			cfg, err := newWSConfig(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			core, logs := observer.New(zap.DebugLevel)
			// What New does before it starts dialing, without the
			// dialing: these hosts are not loopback.
			if _, err := newDialers(u, cfg, nil, zap.New(core).Named("sink.websocket")); err != nil {
				t.Fatal(err)
			}
			warns := logs.FilterLevelExact(zapcore.WarnLevel).All()
			want := 0
			if len(tt.warnURLs) > 0 {
				want = 1
			}
			if len(warns) != want {
				t.Fatalf("%d Warn logs, want %d: %v", len(warns), want, warns)
			}
			for _, e := range logs.All() {
				if strings.Contains(e.Message, secret) {
					t.Fatalf("log %q shows the secret", e.Message)
				}
				for k, v := range e.ContextMap() {
					if strings.Contains(k, secret) || strings.Contains(fmt.Sprint(v), secret) {
						t.Fatalf("log field %s=%v shows the secret", k, v)
					}
				}
			}
			if want == 1 {
				if got := fmt.Sprint(warns[0].ContextMap()["urls"]); got != fmt.Sprint(tt.warnURLs) {
					t.Fatalf("the Warn log names the urls %s, want %v", got, tt.warnURLs)
				}
			}
		})
	}
}
