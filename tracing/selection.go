package tracing

import (
	"reflect"
	"sync"
)

// dropReason says why an event did not reach the queue; 0 means it did.
type dropReason uint8

const (
	keep dropReason = iota
	dropFiltered
	dropSampled
)

// defaultCritical is the set of kinds never sampled out when
// TracingConfig.CriticalKinds is empty: the actor lifecycle and failures.
var defaultCritical = func() kindMask {
	var m kindMask
	for k := KindActorCreated; k <= KindCustom; k++ {
		if k.Critical() {
			m |= 1 << k
		}
	}
	return m
}()

// selector applies, before the queue, what TracingConfig.Filters,
// TracingConfig.Sampling and TracingConfig.Privacy ask for, plus the
// user's predicate and redactor. A nil *selector keeps everything, and so
// does the zero selector: the options (WithFilter, WithSampler,
// WithRedactor) may be applied to either one newSelector built or to a
// zero one.
//
// admit runs in this order: the filter (kinds, excluded actors, included
// actors, the user's predicates), the sampler (skipped for critical
// events), then the redaction (content, dropped attributes, anonymization,
// the user's redactors). So patterns match the real actor ids, and only
// kept events pay for redaction.
type selector struct {
	filter   eventFilter
	sampler  Sampler
	critical kindMask // 0: defaultCritical
	redact   *redactor
}

// newSelector builds the selector for a validated config; it returns nil
// when there is nothing to select or redact. opts are applied in order to
// the result (to a zero selector when there would be nothing to do), like
// the options' selector functions.
func newSelector(cfg *TracingConfig, opts ...func(*selector)) (*selector, error) {
	s := &selector{}
	var err error
	if s.filter, err = newEventFilter(&cfg.Filters); err != nil {
		return nil, err
	}
	if s.sampler, err = samplerFromConfig(&cfg.Sampling); err != nil {
		return nil, err
	}
	for i, k := range cfg.CriticalKinds {
		if !k.Valid() {
			return nil, errInvalidKind("CriticalKinds", i, k)
		}
	}
	s.critical = maskOf(cfg.CriticalKinds)
	r, err := newRedactor(&cfg.Privacy)
	if err != nil {
		return nil, err
	}
	if r.active() {
		s.redact = r
	}
	for _, o := range opts {
		o(s)
	}
	if !s.filter.active() && s.sampler == nil && s.redact == nil {
		return nil, nil
	}
	return s, nil
}

// admit decides whether ev goes to the queue and redacts it in place.
// queueFill is the queue's fill fraction in [0, 1]. It does not allocate
// for the built-in kinds and does not let ev escape (user code gets a
// copy), so the caller's event can live on its stack. The caller fills ev.TraceID before the call, so
// that per-trace sampling sees it.
func (s *selector) admit(ev *TraceEvent, queueFill float64) dropReason {
	if s == nil {
		return keep
	}
	if !s.filter.allows(ev) {
		return dropFiltered
	}
	if s.sampler != nil && !s.isCritical(ev) && !sample(s.sampler, ev, queueFill) {
		return dropSampled
	}
	if s.redact != nil {
		s.redact.apply(ev)
	}
	return keep
}

// inPlace reports whether admit does no more than rejects and the
// built-in redaction: there is no sampler, no user predicate and no user
// redactor. Then an event that rejects lets through is always kept, and
// building it runs no user code, so the client may build it in its queue
// slot (see TracingClient.emit).
func (s *selector) inPlace() bool {
	return s == nil || (s.sampler == nil && len(s.filter.preds) == 0 && (s.redact == nil || len(s.redact.user) == 0))
}

// redactor returns the redactor to apply to kept events, or nil.
func (s *selector) redactor() *redactor {
	if s == nil {
		return nil
	}
	return s.redact
}

// rejects reports whether an event of the given kind and actor would be
// dropped as filtered whatever else it holds: it applies the kind and actor
// parts of TracingConfig.Filters, not the user's predicates. Recording
// methods that build the event themselves call it first, so that an event
// that is filtered out costs neither an id nor a clock read; they count a
// true answer as filtered. A nil selector rejects nothing.
func (s *selector) rejects(kind EventKind, actorID string) bool {
	if s == nil {
		return false
	}
	f := &s.filter
	return (f.kinds != 0 && !f.kinds.has(kind)) ||
		(len(f.exclude) > 0 && f.exclude.Match(actorID)) ||
		(len(f.include) > 0 && !f.include.Match(actorID))
}

// scratchEvents holds the copies of events handed to user code (predicates,
// samplers, redactors). User code receives a pointer, and a pointer that
// reaches unknown code escapes to the heap: passing a pooled copy instead
// keeps the caller's event on its stack, so recording does not allocate.
var scratchEvents = sync.Pool{New: func() any { return new(TraceEvent) }}

// getScratch returns a pooled copy of *ev.
func getScratch(ev *TraceEvent) *TraceEvent {
	sc := scratchEvents.Get().(*TraceEvent)
	*sc = *ev
	return sc
}

// putScratch clears sc (so the pool keeps no event data alive) and returns
// it to the pool.
func putScratch(sc *TraceEvent) {
	*sc = TraceEvent{}
	scratchEvents.Put(sc)
}

// isCritical reports whether ev must never be sampled out: its kind is
// critical, or it reports a failure.
func (s *selector) isCritical(ev *TraceEvent) bool {
	m := s.critical
	if m == 0 {
		m = defaultCritical
	}
	return m.has(ev.Type.Kind) || ev.Type.Kind == KindActorFailed || ev.Data.Error != ""
}

// WithFilter adds a predicate that every event must pass to be recorded:
// when pred returns false the event is dropped before the queue and counted
// as filtered. It runs after TracingConfig.Filters, on the event as
// recorded (before sampling and redaction), on the goroutine that records,
// so it must be fast, safe for concurrent use and must not modify the
// event. Several WithFilter options add up: an event must pass them all.
// Default: none. A nil pred is an error.
func WithFilter(pred func(*TraceEvent) bool) Option {
	return optionFunc(func(o *options) {
		if pred == nil {
			o.invalid("WithFilter", "nil predicate")
			return
		}
		o.selectorOpts = append(o.selectorOpts, func(s *selector) {
			s.filter.preds = append(s.filter.preds, pred)
		})
	})
}

// WithSampler sets a Sampler of the caller's own that decides which routine
// events are kept, replacing what TracingConfig.Sampling describes (code
// wins over configuration); the built-in strategies (percentage,
// every_nth, adaptive, per trace) are chosen in TracingConfig.Sampling.
// Critical events and failures are never passed to it. Default: the
// sampler of TracingConfig.Sampling, which keeps everything unless a
// strategy is set. A nil Sampler, also a nil pointer of a Sampler type,
// keeps every event.
func WithSampler(smp Sampler) Option {
	if v := reflect.ValueOf(smp); v.Kind() == reflect.Pointer && v.IsNil() {
		smp = nil
	}
	return optionFunc(func(o *options) {
		o.selectorOpts = append(o.selectorOpts, func(s *selector) { s.sampler = smp })
	})
}

// WithRedactor adds a function that may change every kept event in place,
// after the built-in redaction of TracingConfig.Privacy and just before
// the event is queued: nothing leaves the process without passing it. It
// runs on the goroutine that records, so it must be fast and safe for
// concurrent use; it must not keep ev or replace slices it does not own
// with shared ones. Several WithRedactor options run in order. Default:
// none. A nil function is an error.
func WithRedactor(f func(ev *TraceEvent)) Option {
	return optionFunc(func(o *options) {
		if f == nil {
			o.invalid("WithRedactor", "nil function")
			return
		}
		o.selectorOpts = append(o.selectorOpts, func(s *selector) {
			if s.redact == nil {
				s.redact = &redactor{}
			}
			s.redact.user = append(s.redact.user, f)
		})
	})
}
