// Package internal holds what the SDK uses but does not promise to users:
// UUID generation and formatting ([uuid]), a one-read wall clock for event
// timestamps ([clock]), the compiled path.Match patterns of filters and
// privacy rules ([glob]), the keyed hash of anonymization ([anon]), checks
// of HTTP header names and values for upgrade requests ([header]), the
// compression of binary frames with every algorithm a Reflow tracing
// server can be configured with, in the framing of each direction
// ([compress]), write batching for WebSocket connections ([cork]), the
// weight-bounded FIFO and goroutine that feed each sink of a client with
// several ([lane]), the writing of a client's batches to its sinks and the
// pacing of those batches ([deliver], on [lane]), the name tables of the
// configuration enums ([enum]), the decisions of the sampling strategies
// ([sampling]), and the naming of a loaded config's settings as written
// ([settings]). These packages import nothing of the SDK's outside
// internal.
package internal
