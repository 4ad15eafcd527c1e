// Package examples holds runnable programs, one folder each; every one runs
// with `go run ./examples/<name>` and needs no setup:
//
//   - quickstart: a small actor network traced through the middleware into
//     the memory sink, with a summary of what was recorded.
//   - websocket: the same network shipped over the Reflow tracing protocol
//     to an in-process compatible server (or a real one with -server).
//   - replay: a file written by the file sink replayed to a server.
package examples
