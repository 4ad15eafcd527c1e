package header

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestIsToken(t *testing.T) {
	for s, want := range map[string]bool{
		"X-API-Key": true, "a!#$%&'*+-.^_`|~9": true, "": false, "X Key": false, "X:Key": false, "é": false, "X\r\nY": false,
	} {
		if got := IsToken(s); got != want {
			t.Errorf("IsToken(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestIsValue(t *testing.T) {
	for s, want := range map[string]bool{
		"Bearer abc": true, "a\tb": true, "": true, "a\r\nInjected: 1": false, "a\nb": false, "a\x7fb": false, "a\x00": false,
	} {
		if got := IsValue(s); got != want {
			t.Errorf("IsValue(%q) = %v, want %v", s, got, want)
		}
	}
}
