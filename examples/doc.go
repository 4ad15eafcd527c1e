// Package examples holds runnable programs, one folder each; every one runs
// with `go run ./examples/<name>` and needs no setup:
//
//   - quickstart: two runs of a small actor network, each in its own
//     trace, and a long-lived actor they share, traced through the
//     middleware and envelopes into the memory sink, with a summary of
//     what was recorded.
//   - websocket: the same network shipped over the Reflow tracing protocol
//     to an in-process compatible server (or a real one with -server).
//   - replay: a file written by the file sink replayed to a server.
//   - ingest: TraceEvent JSON written by a Reflow runtime (a file, standard
//     input or an embedded sample) fed through a client, with what was
//     rejected and why.
package examples
