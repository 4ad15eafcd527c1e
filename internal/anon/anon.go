// Package anon replaces strings with a keyed hash: a prefix and 16
// lower-case hex digits of their HMAC-SHA256 under a secret key. The form
// is stable for a key, differs across keys and cannot be reversed without
// the key. A Hasher is safe for concurrent use.
package anon

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"
	"sync/atomic"
)

// MaxCached bounds how many strings keep their hashed form cached.
const MaxCached = 1024

// Hasher hashes strings under one key. Cached hashes up to MaxCached
// strings, so that hashing a string seen before does not allocate.
type Hasher struct {
	prefix string
	macs   sync.Pool // of *mac

	// cache maps a string to its hashed form. It is replaced, never
	// modified: readers load it without locking.
	cache atomic.Pointer[map[string]string]
	mu    sync.Mutex // serialises replacements of cache
}

// mac is an HMAC with the buffers one Hash reuses.
type mac struct {
	h            hash.Hash
	in, sum, out []byte
}

// New returns a Hasher keyed by a copy of key whose forms start with
// prefix.
func New(prefix string, key []byte) *Hasher {
	key = append([]byte(nil), key...)
	h := &Hasher{prefix: prefix}
	h.macs.New = func() any { return &mac{h: hmac.New(sha256.New, key)} }
	m := map[string]string{}
	h.cache.Store(&m)
	return h
}

// Hash returns the hashed form of s; it allocates the result.
func (h *Hasher) Hash(s string) string {
	m := h.macs.Get().(*mac)
	m.h.Reset()
	m.in = append(m.in[:0], s...)
	m.h.Write(m.in)
	m.sum = m.h.Sum(m.sum[:0])
	m.out = hex.AppendEncode(append(m.out[:0], h.prefix...), m.sum[:8])
	out := string(m.out)
	h.macs.Put(m)
	return out
}

// Cached returns Hash(s), from the cache when s is there, and keeps it
// there while the cache holds fewer than MaxCached strings. The empty
// string stays empty.
func (h *Hasher) Cached(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := (*h.cache.Load())[s]; ok {
		return v
	}
	v := h.Hash(s)
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.cache.Load()
	if len(old) < MaxCached {
		m := make(map[string]string, len(old)+1)
		for k, x := range old {
			m[k] = x
		}
		m[s] = v
		h.cache.Store(&m)
	}
	return v
}

// cached reports how many strings the cache holds.
func (h *Hasher) cached() int { return len(*h.cache.Load()) }
