// Package file is the File sink: a tracing.Sink that writes events as JSON
// Lines, one protocol TraceEvent per line, so that a file can be replayed
// to a tracing server, and ReadFile, which reads such a file (or a set
// rotated by the sink, RotatedFiles) back.
//
// New opens the file; the sink buffers, rotates by size (WithMaxBytes,
// WithMaxFiles), optionally compresses to standard LZ4 frames, readable by
// lz4cat (WithCompression), and syncs by a sink.SyncPolicy (WithSync).
// ReadFile skips and reports, as a *CorruptLineError, a line torn by a
// crash or longer than MaxLineBytes, and reads on.
//
// The sink counts every event of a successful Write as delivered once its
// line reached the file (synced, under a policy that syncs) or as dropped,
// by reason (DropWriteError, DropSyncError), when a write or fsync failed
// first, and reports both to the tracing client (SinkStats), whose
// Metrics then say the same; Flush and Close return a *sink.DroppedError,
// wrapping sink.ErrDropped, for the drops since the last report.
//
// # Concurrency
//
// A Sink is safe for concurrent use: the client calls Write from one
// goroutine, and Flush and Close may come from others at the same time.
// Write encodes its batch before it returns, so the caller may reuse it.
//
// # Shutdown
//
// Close writes what is buffered, ends the LZ4 frame, syncs (unless the
// policy is sink.SyncNever) and closes the file; the work is local and
// bounded, the sink owns no goroutine. Once it has returned, every event
// of a successful Write is counted as delivered or dropped. A second Close
// returns nil. After Close, Write and Flush return errors wrapping
// tracing.ErrClosed.
package file
