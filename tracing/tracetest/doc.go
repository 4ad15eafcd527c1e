// Package tracetest is a Reflow tracing server for your tests, in the
// spirit of net/http/httptest: Start serves on a loopback port in one call,
// and the server tells what it keeps. Its semantics are the reference
// server's (Reflow's reflow_tracing), for either generation
// (WithGeneration), not an idealised server's: a client that passes against
// it passes against Reflow's own server.
//
//	srv, err := tracetest.Start(ctx, tracetest.WithGeneration(tracetest.Gen2))
//	…
//	defer srv.Close()
//	ws, err := websocket.New(srv.URL())
//	… record, Flush …
//	kept := srv.Kept() // event id → times it appears in what the server keeps
//
// What it keeps, like every backend of the reference server: traces keyed
// by trace id; a StoreTrace replaces the stored trace whole, events
// included (duplicate event ids inside one trace are kept as sent); at most
// 10,000 traces (WithMaxTraces), evicting the oldest start time first; an
// acknowledgement means "accepted into memory".
//
// Generation 1 (the default): StartTrace picks a new id and stores nothing;
// RecordEvent is only forwarded to subscribers; EndTrace is unknown; GetTrace
// and QueryTraces read storage and carry no request id; null metrics and
// snapshots without serialized_data are invalid; a snapshot's
// content_codec, content_format_version and stored_bytes are dropped
// (generation 1 has no fields for them).
//
// Generation 2: StartTrace{trace_id} opens an in-flight trace, replacing
// any in flight under the id, and notes the id against the connection
// (without trace_id the server picks the id); RecordEvent appends to the
// in-flight trace of its id, opening an "unknown" one lazily; EndTrace
// stores it with its status; a connection's close stores as Completed
// whatever is in flight under the ids it started, whichever connection
// started or fed it since (ids started in compressed frames are never
// finalised); GetTrace answers the in-flight trace before the stored one;
// QueryTraces answers the stored page (offset and limit applied), then the
// in-flight traces not in it (their actor filter an exact actor id, the
// backend's a substring), cut to limit; request ids are echoed (or made
// up), and a null or non-UUID request id takes the legacy storage-only
// path.
//
// Both: a query field that is there applies even with its zero value (limit
// 0 answers nothing, flow_id "" matches the traces of flow "", actor_filter
// "" those with an event); only an absent or null one is no constraint. One
// reply per request, in order; "Invalid message format" in the legacy error
// shape for what the server cannot read; GetFlowVersions is a NotFound
// error; Subscribe pushes matching EventNotifications (text frames)
// filtered on actor ids and event types, and the legacy form
// {"Subscribe":{"filter":…}} gets the legacy error "Legacy subscription
// format - use TracingRequest::Subscribe instead" and subscribes nothing;
// GetMetrics answers the reference counters. With compression on
// (WithCompression), binary frames are decompressed with the configured
// algorithm (one that does not decompress drops the connection without a
// reply or close frame) and replies over 1024 bytes are compressed; with it
// off a binary frame is read as uncompressed text, and one that is not
// UTF-8 drops the connection. A message over 16 MiB drops the connection.
//
// GetTrace, Query, Traces, Kept and KeptInTrace read what the server keeps
// exactly as a client asking it would see it; Live counts RecordEvent
// receipts. Faults are injected on command: dropped connections, lost
// acknowledgements, gated or delayed acknowledgements, a reply latency (a
// slow link, SetReplyLatency), error replies, refused connections, a
// stalled peer, a generation-2 close noticed late (SetCloseDelay), a stop
// and restart on the same port. WithFastScan trades the full decode for
// speed in benchmarks and keeps the storage semantics on event ids.
//
// It listens on loopback only. All methods of Server are safe for
// concurrent use; Close stops every goroutine it started.
package tracetest
