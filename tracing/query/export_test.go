package query

// WithConnectHook calls f each time a connection is ready, before the
// client reads it: after Dial and after every reconnection (the
// subscriptions renewed).
func WithConnectHook(f func()) Option {
	return optionFunc(func(c *config) { c.onConnect = f })
}
