// Package testserver is a Reflow tracing server for tests, benchmarks and
// examples: it speaks the protocol of PROTOCOL.md like the reference server
// (replies in order, StoreTrace persisted by event id, RecordEvent forwarded
// to subscribers, lz4 when configured, the legacy error for invalid
// messages), records what it received by event id, and injects faults on
// command: dropped connections, lost acknowledgements, gated (slow)
// acknowledgements, error replies, refused connections, a stalled peer.
//
// It listens on loopback only. All methods of Server are safe for concurrent
// use; Close stops every goroutine it started.
package testserver
