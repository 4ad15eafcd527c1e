// Package memory is the Memory sink: a tracing.Sink that keeps the most
// recent events in the process, bounded (WithCapacity), for tests and for
// in-process inspection. Query selects what it holds by trace, actor, kind
// and time; WaitFor waits until it has received a number of events.
//
// # Concurrency
//
// A Sink is safe for concurrent use. Write stores deep copies of the
// events (byte slices, dependency chains and attribute values included),
// so the caller may reuse its batch as soon as Write returns; Events and
// Query return deep copies too.
//
// # Shutdown
//
// Close owns no goroutine to stop: it marks the sink closed and wakes
// every WaitFor. A
// second Close returns nil. After Close, Write and Flush return errors
// wrapping tracing.ErrClosed, while Events, Query, Len, Stats and Reset
// keep working on what was stored.
package memory
