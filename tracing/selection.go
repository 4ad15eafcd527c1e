package tracing

// dropReason says why an event did not reach the queue; 0 means it did.
type dropReason uint8

const (
	keep dropReason = iota
	dropFiltered
	dropSampled
)

// selector applies, before the queue, what TracingConfig.Filters,
// TracingConfig.Sampling and TracingConfig.Privacy ask for, plus the
// user's predicate and redactor. A nil *selector keeps everything.
type selector struct{}

// newSelector builds the selector for a validated config; it returns nil
// when there is nothing to select or redact.
func newSelector(cfg *TracingConfig) (*selector, error) { return nil, nil }

// admit decides whether ev goes to the queue and redacts it in place.
// queueFill is the queue's fill fraction in [0, 1]. It must not allocate
// for the built-in kinds.
func (s *selector) admit(ev *TraceEvent, queueFill float64) dropReason {
	if s == nil {
		return keep
	}
	return keep
}
