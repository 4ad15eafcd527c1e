// Package websocket is the WebSocket sink: a tracing.Sink that speaks the
// Reflow tracing protocol to a tracing server of either generation and
// keeps every event on it. Each StoreTrace carries all the events of its
// trace segment so far, since the server replaces a stored trace whole;
// the sink matches every request with its reply, reconnects with backoff,
// fails over to other servers (WithFailover), adapts its window to the
// link, degrades to critical events in an outage, and spools to disk
// (WithSpoolDir) what it cannot deliver.
//
// New builds a Sink for one server URL; OptionsFromConfig turns a
// tracing.TracingConfig into the options it implies:
//
//	ws, err := websocket.New(cfg.ServerURL, websocket.OptionsFromConfig(cfg)...)
//	…
//	client, err := tracing.New(cfg, tracing.WithSink(ws))
//
// The Sink type documents the modes (Mode), the memory it holds and what
// its Stats count. Errors it returns wrap ErrPermanent (a connection
// failure retrying cannot fix, ErrRedirectRefused among them),
// ErrEventTooLarge, sink.ErrDropped (through a *sink.DroppedError that
// counts the events by reason), ErrSpoolInUse for a spool directory
// another sink holds, or sink.ErrInvalidOption for an option it refuses.
//
// # Concurrency
//
// The tracing client calls Write from one goroutine; Flush, Close, Stats,
// SinkStats and ObserveTrace are safe for concurrent use with it and with
// each other. Write copies what it keeps before it returns.
//
// # Shutdown
//
// Close sends what is queued, waits for the acknowledgements until its
// context ends, spools what is left when a spool is set, closes the
// connection with a normal closure (waiting at most a second for the
// server's side: Reflow's server sends no close frame back), stops the
// sink's goroutines and reports what was not delivered; it returns by its
// ctx's end. A second Close waits for the first as long as its own ctx
// allows and returns nil. After Close, Write and Flush return errors
// wrapping tracing.ErrClosed.
package websocket
