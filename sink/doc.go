// Package sink provides the destinations a tracing client ships events to:
// a WebSocket sink speaking the Reflow tracing protocol, a JSON Lines file
// sink, a bounded queryable memory sink and a fan-out sink.
package sink
