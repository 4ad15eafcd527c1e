// Package actors traces an actor network that has no tracing of its own,
// with a tracing.TracingClient:
//
//   - RegisterMiddleware wraps the network's actor registration: it records
//     ActorCreated (or ActorFailed), and an actor with a Run method is
//     registered as a wrapper that records ActorStarted, then
//     ActorCompleted or ActorFailed, around every run;
//   - SendMiddleware wraps the function that sends a message over a
//     connector: it records a DataFlow event per send, with its duration
//     and error;
//   - an Envelope carries a message over a Go channel with its sender's
//     trace and cause (SendEnvelope, ReceiveEnvelope), so what the
//     receiver records is the sender's event's child;
//   - Serve runs a long-lived actor, handling each message in a trace of
//     its own so that no trace grows for the life of the process.
//
// # Middleware chains
//
// RegisterMiddleware and SendMiddleware take the next function and return
// one of the same type, so they compose by nesting: in
// SendMiddleware(a, SendMiddleware(b, send)) the outer wrapper (a's) sees
// the call first and returns last. Each calls
// next exactly once, passes the caller's arguments on unchanged (except the
// registered actor, see RegisterMiddleware) and returns next's error
// unchanged: tracing never fails an actor or a send. When the client is
// disabled each returns next itself, so tracing that is off adds nothing.
//
// # Panics
//
// An actor's run, or a Serve handle, that panics is recorded as
// ActorFailed with the error "panic: " and the panic's value (see
// PanicError), Serve's own trace of the message ends failed and Serve's
// lifecycle ActorFailed; the panic then goes on, as if tracing were not
// there.
package actors
