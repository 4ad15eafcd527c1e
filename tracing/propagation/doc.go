// Package propagation carries a trace and its cause from one process to
// another in text metadata: HTTP headers, message properties, any
// map[string]string. The sending side injects what its context carries;
// the receiving side extracts it into its own context, and the events it
// records with that context join the sender's trace, with the sender's
// event as parent, the same root cause and the dependency chain continued.
//
// # Format
//
// Two fields are written, and a third forwarded. traceparent follows W3C
// Trace Context, version 00: the 16-byte trace id is the Reflow TraceID,
// the 8-byte parent id is the cause's tracing.EventID.SpanID (the last 8
// bytes of its EventID, a UUIDv7's random half, and the span_id the encoder
// writes for an event that has none of its own), and the flags are 01
// (sampled: this SDK's own selection decides per event, so incoming flags
// are not acted upon). A trace without a cause uses the trace's
// tracing.TraceID.RootSpanID as the parent id. The OTLP sink (module
// sink/otlp) exports each event's span and each trace's root span under
// these same ids, so an OpenTelemetry service in between reads and forwards
// traceparent like any other, and its spans join the trace under the right
// parent.
//
// reflow-trace carries what traceparent cannot, as ;-separated key=value
// pairs, at most MaxHeaderLen bytes:
//
//	v=1;c=<cause event id>;r=<root cause id>;d=<ancestor>.<ancestor>…;e=<execution id>;f=<flow id>
//
// Ids are 32 lower-case hex digits; d lists the cause's ancestors, oldest
// first, at most tracing.MaxDependencyChain-1; f is query-escaped and
// omitted when longer than MaxFlowIDLen. Only c identifies the cause: it
// is used when its span id matches traceparent's parent id, so that a
// service which rewrote traceparent (started its own span) does not get a
// stale cause attributed; the trace id then still comes from traceparent.
//
// tracestate, W3C Trace Context's list of other vendors' state, is not
// written by this SDK but forwarded: Inject writes the tracestate Extract
// found, with the same trace only, as the standard asks of every
// participant. A malformed one (a member not key=value, a control
// character, more than 32 members) is dropped whole; one over 512 bytes
// loses members over 128 bytes first, then members from the end.
//
// # Robustness
//
// Extraction never fails loudly: a missing or malformed traceparent leaves
// the context unchanged, and a malformed or oversized reflow-trace is
// ignored while traceparent's trace is still joined. A reflow-trace whose
// c does not match traceparent's parent id gives no cause, but its flow
// and execution ids are still taken (see TraceContext.Parse).
// TraceContext.Parse reports with an ok bool whether a trace was found.
//
// # OpenTelemetry
//
// TextMapCarrier has the method set of OpenTelemetry's
// go.opentelemetry.io/otel/propagation.TextMapCarrier (Get, Set, Keys), so
// OpenTelemetry's carriers (propagation.MapCarrier,
// propagation.HeaderCarrier) can be passed to Inject and Extract. A
// TraceContext is not itself an OpenTelemetry TextMapPropagator, whose
// methods take OpenTelemetry's carrier type, as this module does not
// import OpenTelemetry: the OTLP sink's otlp.Propagator(TraceContext{})
// returns one, for otel.SetTextMapPropagator or a composite propagator.
// OpenTelemetry's own TraceContext propagator writes the same traceparent
// field: compose one or the other.
//
// # Concurrency
//
// TraceContext is a value with no mutable state, safe for concurrent use.
// The carriers are as safe as the map or header they wrap.
package propagation
