// Package tracing is the heart of the SDK: the Reflow event model
// ([TraceEvent] and the protocol's other types), its wire codec, and the
// client that records events and ships them in batches to a [Sink].
//
// The types keep the names of the Reflow tracing protocol, so what the
// Reflow documentation describes is found here: [TraceEvent],
// [TraceEventType], [TraceEventData], [MessageSnapshot], [StateDiff],
// [PerformanceMetrics], [CausalityInfo], [FlowTrace], [TraceID], [EventID].
//
// Events are value types with typed fields: ids are 16-byte arrays, the
// first few custom attributes live inline, and building one of the built-in
// kinds (see [ActorCreated], [DataFlow], …) allocates nothing.
package tracing
