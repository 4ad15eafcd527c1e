package anon

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var form = regexp.MustCompile(`^anon_[0-9a-f]{16}$`)

func TestHashIsTheKeyedHMAC(t *testing.T) {
	key := []byte("secret")
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("alice"))
	want := "anon_" + hex.EncodeToString(mac.Sum(nil)[:8])
	h := New("anon_", key)
	key[0] = 'X' // New keeps a copy
	if got := h.Hash("alice"); got != want {
		t.Fatalf("Hash(alice) = %q, want %q", got, want)
	}
	if other := New("anon_", []byte("other")).Hash("alice"); other == want {
		t.Fatal("two keys gave the same form")
	}
}

func TestCacheIsBounded(t *testing.T) {
	h := New("anon_", []byte("k"))
	if h.Cached("") != "" {
		t.Fatal("the empty string was hashed")
	}
	for i := range MaxCached + 50 {
		s := fmt.Sprintf("actor_%d", i)
		if got, want := h.Cached(s), h.Hash(s); got != want {
			t.Fatalf("Cached(%q) = %q, want %q", s, got, want)
		}
	}
	if n := h.cached(); n != MaxCached {
		t.Fatalf("cache holds %d, want %d", n, MaxCached)
	}
	s := fmt.Sprintf("actor_%d", MaxCached+10) // past the bound
	first := h.Cached(s)
	if again := h.Cached(s); again != first || !form.MatchString(first) {
		t.Fatalf("uncached string hashed to %q, then %q", first, again)
	}
	if n := testing.AllocsPerRun(100, func() { h.Cached("actor_1") }); n != 0 {
		t.Fatalf("a cached string allocates %v times", n)
	}
}

func TestConcurrentUse(t *testing.T) {
	h := New("anon_", []byte("k"))
	want := h.Hash("x")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				h.Cached(fmt.Sprintf("a%d_%d", g, i))
				if got := h.Cached("x"); got != want {
					t.Errorf("Cached(x) = %q, want %q", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestHashAllocatesOnlyItsResult(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers")
	}
	h := New("anon_", []byte("k"))
	if n := testing.AllocsPerRun(100, func() { h.Hash("alice") }); n > 1 {
		t.Fatalf("Hash allocates %v times, want 1", n)
	}
}
