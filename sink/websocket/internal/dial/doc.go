// Package dial opens the WebSocket sink's connections to a Reflow tracing
// server and learns what the server speaks.
//
// A Dialer, built by New from a server URL and a Config, opens connections
// to that server with the sink's TLS settings, credentials and headers. It
// follows a redirect of the upgrade request only within the scheme and
// host of the URL, and by default without the credentials; it refuses
// anything else with an error wrapping ErrRedirectRefused and ErrPermanent.
// The failures retrying cannot fix (refused credentials, TLS) wrap
// ErrPermanent; no error of a Dialer shows its secrets (Dialer.Redact
// hides them in other errors of the connection).
//
// Once a connection is open, ProbeProtocol learns the server's protocol
// generation and PingCompressed whether it takes binary frames of an
// algorithm, before anything else reads the connection.
//
// The package keeps no state beyond its Dialers, which are safe for
// concurrent use; the probes use the connection they are given alone.
package dial
