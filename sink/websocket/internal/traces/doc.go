// Package traces keeps, for the WebSocket sink, the headers of the traces
// the tracing client started and ended (tracing.TraceObserver): the
// flow, execution, version, metadata and status every StoreTrace of a
// trace carries, a default header for a trace the sink was not told
// about, and the ended traces whose final store is still to be sent.
package traces
