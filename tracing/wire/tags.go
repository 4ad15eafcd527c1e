package wire

// The metadata tags with which the SDK lays out what it stores on a Reflow
// server (TraceMetadata.Tags of a stored trace).
//
// The segment tags link the segments of a trace too long for one message,
// as the WebSocket sink writes them (every Reflow server replaces a stored
// trace whole, so a trace goes on in segments of one message each): the
// first segment is stored under the trace's own id and carries neither;
// each later one is stored under a trace id of its own, with the same flow
// id and execution id, and carries both. Only the last segment carries the
// trace's final status. The query package reads them back as one trace.
const (
	// TagSegmentOf names the trace a segment belongs to.
	TagSegmentOf = "reflowtrace.segment_of"
	// TagSegment is a segment's number: "1" for the second segment of a
	// trace, "2" for the third, and so on.
	TagSegment = "reflowtrace.segment"
	// TagJoined marks the header of a trace this process joined (see
	// tracing.TracingClient.JoinTrace) and the segments it wrote of it:
	// their status says nothing of the trace's.
	TagJoined = "reflowtrace.joined"
	// TagLinkedTrace is the tag under which a trace started with a ctx
	// that already carried a trace names that trace's id (see
	// tracing.TracingClient.StartTrace): it links, for example, the trace
	// of one message handled by a long-lived actor to the actor's
	// lifecycle trace.
	TagLinkedTrace = "reflowtrace.linked_trace"
)
