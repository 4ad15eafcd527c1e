// Package spool is the WebSocket sink's disk buffer: an append-only store
// of frames in segment files, replayed oldest first by the same or a later
// sink that opens the directory, and deleted segment by segment once every
// record of a segment was acknowledged.
//
// Open scans what an earlier sink left (skipping and counting damaged
// records, never failing on them); Append writes a Record; Next hands out
// the oldest record not replayed yet with a Ref, which Ack marks delivered
// and Release gives back for a later sink. Acknowledgements are kept in
// files beside the segments, so that a later process resumes after them;
// a damaged segment is renamed with DamagedExt and left for a person to
// inspect. Appends, acknowledgements and Sync follow a sink.SyncPolicy.
// spool.go describes the file layout.
//
// One Spool at a time has a directory open: Open takes its LockName file
// (flock, or an unshared open on Windows), which the operating system
// releases when the process ends, and refuses with ErrInUse while another
// holds it.
//
// A Spool is safe for concurrent use. Close syncs and closes its files;
// the records not acknowledged stay on disk for the next sink.
package spool
