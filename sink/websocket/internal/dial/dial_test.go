package dial

import (
	"net/url"
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
