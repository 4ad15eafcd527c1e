// Package internal holds what the SDK uses but does not promise to users:
// UUID generation and formatting ([uuid]), a one-read wall clock for event
// timestamps ([clock]), the lz4 block framing the Reflow tracing protocol
// speaks ([lz4block]), write batching for WebSocket connections ([cork]),
// and a compatible tracing server with fault injection for tests and
// examples ([testserver]).
package internal
