package tracing

import (
	"fmt"
	"path"
	"strings"
)

// globKind is how a compiled pattern is matched.
type globKind uint8

const (
	globExact   globKind = iota // no metacharacters: s == lit
	globAny                     // "*": any string without '/'
	globPrefix                  // "lit*"
	globSuffix                  // "*lit"
	globGeneral                 // anything else: path.Match
)

// glob is a path.Match pattern compiled once. The fast paths give exactly
// the answers path.Match gives, including that '*' never matches '/'.
type glob struct {
	kind    globKind
	lit     string // the literal part for the fast paths
	pattern string // the whole pattern for globGeneral
}

// compileGlob checks p with path.Match and picks the cheapest way to match
// it.
func compileGlob(p string) (glob, error) {
	if _, err := path.Match(p, ""); err != nil {
		return glob{}, fmt.Errorf("%w: pattern %q: %w", ErrInvalidConfig, p, err)
	}
	meta := func(s string) bool { return strings.ContainsAny(s, `*?[\`) }
	switch {
	case !meta(p):
		return glob{kind: globExact, lit: p}, nil
	case p == "*":
		return glob{kind: globAny}, nil
	case strings.HasSuffix(p, "*") && !meta(p[:len(p)-1]):
		return glob{kind: globPrefix, lit: p[:len(p)-1]}, nil
	case strings.HasPrefix(p, "*") && !meta(p[1:]):
		return glob{kind: globSuffix, lit: p[1:]}, nil
	}
	return glob{kind: globGeneral, pattern: p}, nil
}

// match reports whether s matches the pattern, as path.Match(pattern, s)
// would. It does not allocate.
func (g *glob) match(s string) bool {
	switch g.kind {
	case globExact:
		return s == g.lit
	case globAny:
		return strings.IndexByte(s, '/') < 0
	case globPrefix:
		return strings.HasPrefix(s, g.lit) && strings.IndexByte(s[len(g.lit):], '/') < 0
	case globSuffix:
		return strings.HasSuffix(s, g.lit) && strings.IndexByte(s[:len(s)-len(g.lit)], '/') < 0
	}
	ok, _ := path.Match(g.pattern, s) // checked in compileGlob
	return ok
}

// globSet matches a string against several patterns.
type globSet []glob

// compileGlobs compiles every pattern; field names the config field in
// errors.
func compileGlobs(field string, patterns []string) (globSet, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	gs := make(globSet, 0, len(patterns))
	for i, p := range patterns {
		g, err := compileGlob(p)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		gs = append(gs, g)
	}
	return gs, nil
}

// match reports whether s matches at least one pattern.
func (gs globSet) match(s string) bool {
	for i := range gs {
		if gs[i].match(s) {
			return true
		}
	}
	return false
}

func errInvalidKind(field string, i int, k EventKind) error {
	return fmt.Errorf("%w: %s[%d] = %v: unknown event kind", ErrInvalidConfig, field, i, k)
}

// kindMask is a set of event kinds, one bit per EventKind. The zero mask
// is the empty set.
type kindMask uint32

// maskOf returns the set of kinds.
func maskOf(kinds []EventKind) kindMask {
	var m kindMask
	for _, k := range kinds {
		if k.Valid() {
			m |= 1 << k
		}
	}
	return m
}

// has reports whether k is in m. Invalid kinds are never in a mask.
func (m kindMask) has(k EventKind) bool { return k < 32 && m&(1<<k) != 0 }

// eventFilter is the compiled form of FilterConfig plus the user's
// predicates. It has Reflow's EventFilter semantics: an event is kept when
// its kind is among EventTypes (or EventTypes is empty), its ActorID
// matches no exclude pattern, matches one include pattern (or there are
// none), and every predicate returns true.
type eventFilter struct {
	kinds   kindMask // 0: every kind
	exclude globSet
	include globSet
	preds   []func(*TraceEvent) bool
}

func newEventFilter(c *FilterConfig) (eventFilter, error) {
	var f eventFilter
	var err error
	if f.include, err = compileGlobs("Filters.ActorPatterns", c.ActorPatterns); err != nil {
		return f, err
	}
	if f.exclude, err = compileGlobs("Filters.ExcludeActors", c.ExcludeActors); err != nil {
		return f, err
	}
	for i, k := range c.EventTypes {
		if !k.Valid() {
			return f, errInvalidKind("Filters.EventTypes", i, k)
		}
	}
	f.kinds = maskOf(c.EventTypes)
	return f, nil
}

// active reports whether the filter can drop anything.
func (f *eventFilter) active() bool {
	return f.kinds != 0 || len(f.exclude) > 0 || len(f.include) > 0 || len(f.preds) > 0
}

// allows reports whether ev passes the filter. It does not allocate (the
// user's predicates aside) and does not let ev escape.
func (f *eventFilter) allows(ev *TraceEvent) bool {
	if f.kinds != 0 && !f.kinds.has(ev.Type.Kind) {
		return false
	}
	if len(f.exclude) > 0 && f.exclude.match(ev.ActorID) {
		return false
	}
	if len(f.include) > 0 && !f.include.match(ev.ActorID) {
		return false
	}
	if len(f.preds) == 0 {
		return true
	}
	// The predicates get a scratch copy, so that ev does not escape.
	sc := getScratch(ev)
	defer putScratch(sc)
	for _, p := range f.preds {
		if !p(sc) {
			return false
		}
	}
	return true
}
