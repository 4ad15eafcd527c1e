// Package query reads what a Reflow tracing server keeps and streams what
// it sees: the read side of the tracing protocol, for both server
// generations.
//
//	c, err := query.Dial(ctx, "ws://127.0.0.1:8080")
//	if err != nil { … }
//	defer c.Close()
//	tr, err := c.Trace(ctx, id)                 // one trace, its segments joined
//	res, err := c.QueryTraces(ctx, wire.TraceQuery{FlowID: "etl", Limit: 50})
//	sub, err := c.Subscribe(ctx, wire.SubscriptionFilters{ActorIDs: []string{"parser"}})
//	for n := range sub.Events() { … }
//
// A [Client] holds one WebSocket connection. On every connection it first
// learns the server's generation with the probe of the protocol ("Telling
// them apart"), which reads and changes nothing. Requests are sent as text
// frames; replies of any compression algorithm are decoded. Replies are
// matched to requests by request id when the server echoes one
// (generation 2) and by order otherwise; pushed notifications may arrive
// between them.
//
// # Reconnection
//
// When the connection drops, the client reconnects with its retry policy
// ([WithRetry]) and renews the subscriptions on the new connection; a call
// that was waiting for a reply is sent again (every request of this
// package only reads, so resending is harmless). Notifications the server
// pushed while the client was disconnected are lost:
// [Subscription.Resubscribed] counts the renewals. When the policy gives up,
// the subscriptions end with the error and the next call tries again.
//
// # Concurrency
//
// A Client is safe for concurrent use. It owns one goroutine, the
// connection's reader, which never waits for a caller, and one per
// request while it is written; Close stops them. Every call that talks to
// the server takes a ctx; its end abandons the call, not the connection,
// even while the call waits for another one's request to be written or
// for its own (a server that stopped reading): that write goes on, within
// DefaultWriteTimeout.
//
// # Errors
//
// An error reply of the server is a *tracing.ServerError (read it with
// errors.As). Calls on a closed client return an error wrapping
// [ErrClosed]; a call whose connection dropped more often than it may be
// resent returns one wrapping [ErrConnectionLost].
package query
