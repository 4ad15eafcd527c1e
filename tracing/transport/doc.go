// Package transport holds the settings of a connection to a Reflow
// tracing server that the client's configuration
// (tracing.TracingConfig), the WebSocket sink and the query client
// share: the protocol generation ([Protocol]), the algorithm of
// compressed binary frames ([CompressionAlgorithm]) and TLS
// ([TLSOptions]).
//
// The enums read and write their names as text, so that they can be
// flags (flag.TextVar) or fields of an encoded configuration; an unknown
// name gives an error wrapping [ErrInvalid].
package transport

import "errors"

// ErrInvalid is wrapped by the errors of UnmarshalText and MarshalText for
// a name or value that is no setting.
var ErrInvalid = errors.New("transport: invalid setting")
