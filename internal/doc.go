// Package internal holds what the SDK uses but does not promise to users:
// UUID generation and formatting ([uuid]), the lz4 block framing the Reflow
// tracing protocol speaks ([lz4block]), and a compatible tracing server with
// fault injection for tests and examples ([testserver]), and write
// batching for WebSocket connections ([cork]).
package internal
