package tracing

import (
	"fmt"

	"github.com/reflowtrace/reflowtrace-go/internal/glob"
)

// compileGlobs compiles every pattern; field names the config field in
// errors.
func compileGlobs(field string, patterns []string) (glob.Set, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	gs := make(glob.Set, 0, len(patterns))
	for i, p := range patterns {
		g, err := glob.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %s[%d]: pattern %q: %w", ErrInvalidConfig, field, i, p, err)
		}
		gs = append(gs, g)
	}
	return gs, nil
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
	exclude glob.Set
	include glob.Set
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
	if len(f.exclude) > 0 && f.exclude.Match(ev.ActorID) {
		return false
	}
	if len(f.include) > 0 && !f.include.Match(ev.ActorID) {
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
