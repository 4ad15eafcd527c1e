package tracing

import "errors"

// ErrMalformed is wrapped by every error of the SDK for input that is not
// valid: a protocol message the decoders of package wire reject, event JSON
// that package ingest skips, content ContentChecksum cannot canonicalise.
// The error says what was wrong and where, e.g. "tracing: malformed
// message: RecordEvent.event.data.performance_metrics.queue_depth: want a
// non-negative integer, got -1".
var ErrMalformed = errors.New("tracing: malformed message")
