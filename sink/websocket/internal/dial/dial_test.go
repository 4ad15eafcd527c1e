package dial

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"https://example.com/", "https://example.com:443/x", true},
		{"https://EXAMPLE.com/", "https://example.com/x", true},
		{"http://127.0.0.1:80/", "http://127.0.0.1/", true},
		{"http://[::1]:8080/", "http://[::1]:8080/y", true},
		{"https://example.com/", "http://example.com/", false},
		{"https://example.com/", "https://example.com:8443/", false},
		{"https://example.com/", "https://example.org/", false},
		{"http://127.0.0.1:1/", "http://127.0.0.1:2/", false},
		{"http://127.0.0.1/", "http://localhost/", false},
	}
	for _, tt := range tests {
		t.Run(tt.a+" "+tt.b, func(t *testing.T) {
			if got := sameOrigin(mustParse(t, tt.a), mustParse(t, tt.b)); got != tt.want {
				t.Fatalf("sameOrigin = %v, want %v", got, tt.want)
			}
		})
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

func TestRedactHidesSecretsKeepsTheChain(t *testing.T) {
	const key, pass = "api-key-0123456789", "url-password-42"
	d := New(mustParse(t, "wss://user:"+pass+"@example.com/x?token=query-secret"), Config{
		APIKeyHeader: "X-API-Key", APIKey: key, Header: http.Header{"X-Tenant": {"tenant-secret"}},
	})
	cause := errors.New("dial " + key + " " + pass + " query-secret tenant-secret")
	err := d.Redact(fmt.Errorf("wrapped: %w", cause))
	for _, secret := range []string{key, pass, "query-secret", "tenant-secret"} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("%q shows %q", err, secret)
		}
	}
	if !errors.Is(err, cause) {
		t.Fatal("the redacted error lost its chain")
	}
	if d.Redact(nil) != nil {
		t.Fatal("Redact(nil) is not nil")
	}
	if got, want := d.URL(), "wss://example.com/x"; got != want {
		t.Fatalf("URL() = %q, want %q", got, want)
	}
}

func TestShowURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ws://user:pass@example.com:8080/p?q=1#f", "ws://example.com:8080/p"},
		{"wss://example.com", "wss://example.com"},
		{"ws://[::1]:80/x", "ws://[::1]:80/x"},
		{"://bad", "<unparsable URL>"},
	}
	for _, tt := range tests {
		if got := ShowURL(tt.in); got != tt.want {
			t.Errorf("ShowURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
