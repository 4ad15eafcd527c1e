// Package adapt fits the WebSocket sink to its link to the server.
//
// A Link smooths the time the server takes to acknowledge a frame
// (NoteAck, Latency), widens the window of bytes in flight with that
// latency when the sink's adaptive window is on (Window), and decides,
// from what the sink tells it of its connection and its memory, when an
// outage degrades the sink to keeping only critical events and when the
// link is back (Degrade). Critical and AppendCritical tell which events a
// degraded sink keeps.
//
// The package keeps no state beyond its Links, which are safe for
// concurrent use; it logs nothing and counts no drops: the sink does.
package adapt
