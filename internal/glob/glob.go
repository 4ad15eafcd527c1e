// Package glob matches strings against path.Match patterns compiled once.
// A compiled pattern gives exactly the answers path.Match gives, including
// that '*' never matches '/', and matching never allocates: the common
// shapes ("lit", "*", "lit*", "*lit") are matched without path.Match.
package glob

import (
	"path"
	"strings"
)

// kind is how a compiled pattern is matched.
type kind uint8

const (
	exact   kind = iota // no metacharacters: s == lit
	star                // "*": any string without '/'
	prefix              // "lit*"
	suffix              // "*lit"
	general             // anything else: path.Match
)

// Pattern is a path.Match pattern compiled by Compile. The zero Pattern
// matches only the empty string.
type Pattern struct {
	kind    kind
	lit     string // the literal part for the fast paths
	pattern string // the whole pattern for general
}

// Compile checks p with path.Match and picks the cheapest way to match it.
// The error is path.ErrBadPattern for a malformed pattern.
func Compile(p string) (Pattern, error) {
	if _, err := path.Match(p, ""); err != nil {
		return Pattern{}, err
	}
	meta := func(s string) bool { return strings.ContainsAny(s, `*?[\`) }
	switch {
	case !meta(p):
		return Pattern{kind: exact, lit: p}, nil
	case p == "*":
		return Pattern{kind: star}, nil
	case strings.HasSuffix(p, "*") && !meta(p[:len(p)-1]):
		return Pattern{kind: prefix, lit: p[:len(p)-1]}, nil
	case strings.HasPrefix(p, "*") && !meta(p[1:]):
		return Pattern{kind: suffix, lit: p[1:]}, nil
	}
	return Pattern{kind: general, pattern: p}, nil
}

// Match reports whether s matches the pattern, as path.Match would.
func (g *Pattern) Match(s string) bool {
	switch g.kind {
	case exact:
		return s == g.lit
	case star:
		return strings.IndexByte(s, '/') < 0
	case prefix:
		return strings.HasPrefix(s, g.lit) && strings.IndexByte(s[len(g.lit):], '/') < 0
	case suffix:
		return strings.HasSuffix(s, g.lit) && strings.IndexByte(s[:len(s)-len(g.lit)], '/') < 0
	}
	ok, _ := path.Match(g.pattern, s) // checked in Compile
	return ok
}

// Set matches a string against several patterns; the empty Set matches
// nothing.
type Set []Pattern

// Match reports whether s matches at least one pattern of the set.
func (gs Set) Match(s string) bool {
	for i := range gs {
		if gs[i].Match(s) {
			return true
		}
	}
	return false
}
