package tracing

import "sync/atomic"

var (
	global    atomic.Pointer[TracingClient]
	nopClient = NewNop()
)

// SetGlobal makes c the client Global returns; nil restores the disabled
// default. Nothing in this module uses the global client unless a program
// calls SetGlobal: it is a convenience for code that cannot be handed a
// client. The caller still owns c and closes it. Safe for concurrent use.
func SetGlobal(c *TracingClient) { global.Store(c) }

// Global returns the client set by SetGlobal, or a disabled client (see
// NewNop) when none is set. It never returns nil and costs one atomic load.
// Safe for concurrent use.
func Global() *TracingClient {
	if c := global.Load(); c != nil {
		return c
	}
	return nopClient
}
