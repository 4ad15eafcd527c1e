// Package wire is the Reflow tracing protocol on the wire: its requests
// ([StartTrace], [RecordEvent], [StoreTrace], [GetTrace], …), its replies
// ([EventRecorded], [TraceStored], [TraceData], [ErrorResponse], …), the
// [Encoder] that writes them and the event model of package tracing as
// JSON, and the decoders that read them back ([DecodeRequest],
// [DecodeResponse], [DecodeResponseFrame] for compressed binary frames).
// It is what Reflow keeps in its reflow_tracing_protocol crate; the sinks,
// the read client (package query) and the test server (package tracetest)
// are built on it, and a user needs it only to speak the protocol
// directly.
//
// The [Encoder] appends a message's JSON to a byte slice, with no
// reflection and no allocation per event, and always produces a message a
// compatible server accepts: non-finite floats become 0, invalid UTF-8 is
// replaced, nil collections are written empty. It writes the generation-1
// form unless its Protocol says the server reads generation 2. The
// decoders read messages as strictly as the reference server does, and
// their errors wrap tracing.ErrMalformed and say what was wrong and where.
// [Marshal] and [Unmarshal] do the same for one value of the event model.
//
// An Encoder is not safe for concurrent use: keep one per goroutine. The
// decoders are.
package wire
